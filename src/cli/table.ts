/** Formats rows as an aligned text table with a header line. */
export function formatTable(
  columns: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = columns.map((column, index) =>
    Math.max(column.length, ...rows.map((row) => (row[index] ?? "").length))
  );
  const line = (cells: readonly string[]) =>
    cells.map((cell, index) =>
      index === cells.length - 1 ? cell : cell.padEnd(widths[index]!)
    ).join("  ").trimEnd();
  return [
    line(columns.map((column) => column.toUpperCase())),
    ...rows.map(line),
  ].join("\n");
}
