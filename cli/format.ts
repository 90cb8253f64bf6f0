// Output for people and for scripts: the writer commands print through (so tests capture it), tables
// that fit the terminal, durations and ratios.
import Table from 'cli-table3';
import wrapAnsi from 'wrap-ansi';

export interface Terminal {
  columns(): number;
  rows(): number;
  /** Calls `listener` when the window changes size; returns how to stop. */
  onResize(listener: () => void): () => void;
}

export interface Output {
  /** Redraw a live progress display (a terminal, and neither --json nor --no-progress). */
  readonly isTTY: boolean;
  readonly json: boolean;
  /** The width tables and progress lines must fit: the terminal's, or 80 when writing to a file or pipe. */
  readonly columns: number;
  readonly terminal?: Terminal | undefined;
  write(text: string): void;
  error(text: string): void;
}

/** Columns tables fit when the output is not a terminal, so logs and pasted output read well. */
export const DEFAULT_COLUMNS = 80;
const GAP = 2;
const NARROWEST_COLUMN = 6;

const BORDERLESS = {
  top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
  bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
  left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '',
  middle: ' '.repeat(GAP),
};

type Cell = string | number | boolean | undefined;

export interface TableOptions {
  /** Columns the table must fit: 80 unless the terminal says otherwise. */
  readonly width?: number;
  /** Headers of columns to leave out, in this order, when the table does not fit otherwise. */
  readonly optional?: readonly string[];
}

/**
 * A plain table no wider than `width`: a header (which may span lines), a rule, the rows. When the
 * cells do not fit, columns of prose give way first, widest first, their cells wrapping at spaces;
 * then optional columns are left out. Identifiers are never cut: a copied instance id must work.
 */
export function table(headers: readonly string[], rows: readonly (readonly Cell[])[], options: TableOptions = {}): string {
  const width = options.width ?? DEFAULT_COLUMNS;
  let columns = headers.map((_, index) => index);
  const text = rows.map((row) => headers.map((_, column) => (row[column] === undefined ? '-' : String(row[column]))));
  let widths = fitWidths(headers, text, columns, width);
  for (const header of options.optional ?? []) {
    if (sum(widths) + GAP * (widths.length - 1) <= width) break;
    columns = columns.filter((column) => headers[column] !== header);
    widths = fitWidths(headers, text, columns, width);
  }
  const layout = new Table({
    chars: BORDERLESS,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0, compact: true },
    colWidths: widths,
    wordWrap: true,
    wrapOnWordBoundary: true,
  });
  layout.push(
    columns.map((column) => headers[column] ?? ''),
    widths.map((each) => '-'.repeat(each)),
    ...text.map((row) => columns.map((column) => row[column] ?? '')),
  );
  return layout
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n');
}

function fitWidths(headers: readonly string[], text: readonly string[][], columns: readonly number[], width: number): number[] {
  const linesOf = (column: number) => [headers[column] ?? '', ...text.map((row) => row[column] ?? '')].flatMap((cell) => cell.split('\n'));
  const widths = columns.map((column) => Math.max(...linesOf(column).map((line) => line.length)));
  const prose = columns.map((column) => text.some((row) => (row[column] ?? '').includes(' ')));
  const room = width - GAP * (columns.length - 1);
  while (sum(widths) > room) {
    const candidates = widths.map((each, index) => (prose[index] && each > NARROWEST_COLUMN ? each : 0));
    const widest = candidates.indexOf(Math.max(...candidates));
    if ((candidates[widest] ?? 0) === 0) break;
    widths[widest] = (widths[widest] ?? 0) - 1;
  }
  return widths;
}

const sum = (values: readonly number[]) => values.reduce((total, each) => total + each, 0);

export function duration(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  const minutes = Math.floor(whole / 60);
  return `${String(minutes).padStart(2, '0')}:${String(whole % 60).padStart(2, '0')}`;
}

export function percent(ratio: number): string {
  return `${(ratio * 100).toFixed(ratio === 1 ? 0 : 2)}%`;
}

/** The text cut to `width` columns, marked with "…" where it was cut. */
export function fit(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

/**
 * Prose wrapped at spaces to `width` columns, continuation lines indented by `indent` spaces; a word
 * longer than a line (a URL, an S3 key) is broken where it must be.
 */
export function wrap(text: string, width: number, indent = 0): string {
  const body = wrapAnsi(text, Math.max(20, width - indent), { hard: true, trim: true });
  return body
    .split('\n')
    .map((line, index) => (index === 0 ? line : `${' '.repeat(indent)}${line}`))
    .join('\n');
}
