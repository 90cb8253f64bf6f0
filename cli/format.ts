// Plain-text output: tables, durations, and the writer commands print through (so tests capture it).

export interface Output {
  readonly isTTY: boolean;
  readonly json: boolean;
  write(text: string): void;
  error(text: string): void;
}

export function table(headers: readonly string[], rows: readonly (readonly (string | number | boolean | undefined)[])[]): string {
  const cells = [headers, ...rows].map((row) => row.map((cell) => (cell === undefined ? '-' : String(cell))));
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => row[column]?.length ?? 0)));
  const line = (row: string[]) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd();
  return [line(cells[0]!), line(widths.map((width) => '-'.repeat(width))), ...cells.slice(1).map(line)].join('\n');
}

export function duration(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  const minutes = Math.floor(whole / 60);
  return `${String(minutes).padStart(2, '0')}:${String(whole % 60).padStart(2, '0')}`;
}

export function percent(ratio: number): string {
  return `${(ratio * 100).toFixed(ratio === 1 ? 0 : 2)}%`;
}
