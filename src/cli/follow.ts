import {
  type ApiAnswer,
  type ClientOptions,
  fetchApi,
  ServerUnreachableError,
} from "./client.ts";
import { runPath } from "./_common.ts";
import { serverSentEvents } from "./sse.ts";

/** How a followed run ended, or why following it failed. */
export type FollowOutcome =
  | { ok: true; status: string; digest: string; lastSeq: number }
  | { ok: false; answer: ApiAnswer };

/** Consecutive broken connections tolerated before giving up. */
const RECONNECTS_MAX = 5;

/**
 * Follows a run's log (`/events?follow=1`), calling `onRecord` with every
 * record in order until the run ends. A dropped connection is resumed with
 * `Last-Event-ID`, so no record is missed or repeated.
 */
export async function followRun(
  client: ClientOptions,
  runId: string,
  options: {
    fromSeq?: number;
    onRecord: (record: Record<string, unknown>) => void;
  },
): Promise<FollowOutcome> {
  let lastSeq = (options.fromSeq ?? 0) - 1;
  let broken = 0;
  for (;;) {
    let response: Response;
    try {
      response = await fetchApi(client, {
        method: "GET",
        path: runPath(runId, `/events?follow=1&from_seq=${lastSeq + 1}`),
        headers: {
          accept: "text/event-stream",
          ...(lastSeq >= 0 ? { "last-event-id": String(lastSeq) } : {}),
        },
      });
    } catch (error) {
      if (
        !(error instanceof ServerUnreachableError) || ++broken > RECONNECTS_MAX
      ) {
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
      continue;
    }
    if (response.status !== 200 || response.body === null) {
      const text = await response.text();
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(text);
      } catch {
        body = { text };
      }
      return { ok: false, answer: { status: response.status, body } };
    }
    try {
      for await (const event of serverSentEvents(response.body)) {
        if (event.event === "record") {
          const record = JSON.parse(event.data) as Record<string, unknown>;
          lastSeq = Number(record.seq);
          broken = 0;
          options.onRecord(record);
        } else if (event.event === "end") {
          const end = JSON.parse(event.data) as {
            status: string;
            digest: string;
          };
          return { ok: true, status: end.status, digest: end.digest, lastSeq };
        } else if (event.event === "error") {
          return {
            ok: false,
            answer: { status: 500, body: JSON.parse(event.data) },
          };
        }
      }
    } catch {
      // The connection broke mid-stream; resumed below like a clean end.
    }
    // The stream ended without `end`: the server went away; resume.
    if (++broken > RECONNECTS_MAX) {
      throw new ServerUnreachableError(
        client.url,
        "the event stream kept breaking",
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}
