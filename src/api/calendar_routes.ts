/**
 * The read side of the mock calendar over HTTP, so a person or a test can
 * see which events a run wrote. It lives beside the service until the API
 * wires it: `calendarRoutes(app, calendar)` in `createApp`.
 *
 * @module
 */
import type { Hono } from "hono";
import { z } from "zod";
import { parseWith } from "./errors.ts";
import type { MockCalendarService } from "../sandbox/services/calendar.ts";

/** `GET /v1/calendars/mock/events`. */
export const eventsQuery = z.object({
  /** Only this calendar's events; every calendar's when absent. */
  calendar: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional(),
}).strict();

/**
 * Adds `GET /v1/calendars/mock/events[?calendar=NAME]`, answering
 * `{ events: StoredEvent[] }` (oldest first). A bad query is
 * VALIDATION_QUERY_INVALID through the app's error handler.
 *
 * @example
 * ```ts
 * const calendar = mockCalendarService();
 * calendarRoutes(app, calendar);
 * const response = await app.request("/v1/calendars/mock/events?calendar=default");
 * ```
 */
export function calendarRoutes(
  app: Hono,
  calendar: Pick<MockCalendarService, "list">,
): Hono {
  app.get("/v1/calendars/mock/events", (c) => {
    const query = parseWith(eventsQuery, c.req.query(), "query");
    return c.json({ events: calendar.list(query.calendar) });
  });
  return app;
}
