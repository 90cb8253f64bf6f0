// What every bench table module exports: `export async function run(): Promise<BenchTable>`.
export interface BenchTable {
  readonly title: string;
  /** The table (and any notes) in Markdown, as README's Performance section shows it. */
  readonly markdown: string;
  /** The same figures for machines: written to bench/results/<module>.json. */
  readonly json: unknown;
  /** One line per target the figures miss; the runner exits non-zero if any table has one. */
  readonly missedTargets: string[];
}

export function markdownTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
}
