/** Rows as a plain-text table (column order from the first row), for terminal output. */
export function formatTable(title: string, rows: Array<Record<string, unknown>>): string {
  if (rows.length === 0) return `${title}: (no rows)`;
  const columns = Object.keys(rows[0]!);
  const cells = rows.map((row) => columns.map((column) => cell(row[column])));
  const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [
    `${title} (${rows.length} row${rows.length === 1 ? '' : 's'})`,
    line(columns),
    line(widths.map((w) => '-'.repeat(w))),
    ...cells.map(line),
  ].join('\n');
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (value instanceof Date) return value.toISOString().replace('.000Z', 'Z');
  return String(value);
}
