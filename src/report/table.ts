/** A plain-text table: columns padded to their widest cell, numbers right-aligned. */
export function formatTable(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const numeric = header.map((_, c) => rows.length > 0 && rows.every((r) => typeof r[c] === 'number' || /^-?[\d.]+%?$/.test(String(r[c]))));
  // A loop, not Math.max(...column): a plan's table of 200,000 variants is more arguments than a call takes.
  const widths = header.map(() => 0);
  for (const r of cells) for (let c = 0; c < widths.length; c++) widths[c] = Math.max(widths[c], (r[c] ?? '').length);
  return cells
    .map((r) => r.map((cell, c) => (numeric[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd())
    .join('\n');
}

export function fixed(n: number | undefined, digits = 4): string {
  return n === undefined || Number.isNaN(n) ? '-' : n.toFixed(digits);
}
