import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { Runtime } from "../../actors/runtime.ts";
import { toAosError } from "../errors/mod.ts";
import { isTerminal, recordToLine, type Store } from "../store/mod.ts";

/** Options of `streamRunEvents`. */
export interface RunEventStreamOptions {
  runId: string;
  /** First seq to send. */
  fromSeq: number;
  /**
   * How often the store is re-read when this node announced nothing: records
   * appended by another node sharing the store arrive this late at worst.
   */
  pollMs?: number;
  /** Idle time after which a comment line keeps proxies from closing the stream. */
  keepAliveMs?: number;
}

/**
 * Streams a run's records as server-sent events: each record is an
 * `event: record` whose `id` is its seq and whose data is the record's
 * canonical JSON line (what `aos export` writes), so a client resumes with
 * `Last-Event-ID`. Records come from the store, never from memory, so none
 * is skipped or sent twice; this node's appends only wake the reader early.
 * When the run has ended and its last record is sent, an `event: end` with
 * `{ run_id, status, digest }` closes the stream.
 */
export function streamRunEvents(
  c: Context,
  deps: { store: Store; runtime: Runtime },
  options: RunEventStreamOptions,
): Response {
  const { store, runtime } = deps;
  const { runId } = options;
  const pollMs = options.pollMs ?? 1000;
  const keepAliveMs = options.keepAliveMs ?? 15_000;
  return streamSSE(c, async (stream) => {
    let wake: (() => void) | undefined;
    let announced = false;
    const unwatch = runtime.watchRecords(runId, () => {
      announced = true;
      wake?.();
    });
    stream.onAbort(() => wake?.());
    let nextSeq = options.fromSeq;
    let idleMs = 0;
    try {
      while (!stream.aborted) {
        announced = false;
        // The index first: when it says the run has ended, the log read
        // after it holds every record up to its last seq.
        const summary = await store.getRun(runId);
        const records = await store.readLog(runId, { fromSeq: nextSeq });
        // Records are sent only once on disk: a record appended without
        // waiting for the disk may be committed and not yet durable.
        if (records.length > 0) await store.syncBarrier();
        for (const record of records) {
          await stream.writeSSE({
            id: String(record.seq),
            event: "record",
            data: recordToLine(record),
          });
          nextSeq = record.seq + 1;
        }
        if (records.length > 0) idleMs = 0;
        if (
          summary !== undefined && isTerminal(summary.status) &&
          nextSeq > summary.last_seq
        ) {
          await stream.writeSSE({
            event: "end",
            data: JSON.stringify({
              run_id: runId,
              status: summary.status,
              digest: summary.digest,
            }),
          });
          return;
        }
        if (announced || stream.aborted) continue;
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, pollMs);
        });
        wake = undefined;
        clearTimeout(timer);
        idleMs += pollMs;
        if (idleMs >= keepAliveMs) {
          idleMs = 0;
          await stream.write(": keep-alive\n\n");
        }
      }
    } catch (error) {
      await stream.writeSSE({
        event: "error",
        data: JSON.stringify({ error: toAosError(error).toJSON() }),
      });
    } finally {
      unwatch();
    }
  });
}
