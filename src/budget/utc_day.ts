const DAY_MS = 86_400_000;

/** The last day named, and the instants it covers: most asks fall on it. */
let cached = { startMs: 0, endMs: 0, day: "" };

/** The UTC day of an instant, `YYYY-MM-DD`: the period a tenant's daily budget covers. */
export function utcDay(atMs: number): string {
  if (atMs >= cached.startMs && atMs < cached.endMs) return cached.day;
  const startMs = Math.floor(atMs / DAY_MS) * DAY_MS;
  const day = new Date(atMs).toISOString().slice(0, 10);
  cached = { startMs, endMs: startMs + DAY_MS, day };
  return day;
}
