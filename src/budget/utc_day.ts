/** The UTC day of an instant, `YYYY-MM-DD`: the period a tenant's daily budget covers. */
export function utcDay(atMs: number): string {
  return new Date(atMs).toISOString().slice(0, 10);
}
