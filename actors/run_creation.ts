import type { RunLogLimits } from "../src/config/mod.ts";
import {
  headAfter,
  type JsonObject,
  type LogRecord,
  sealRecord,
} from "../src/store/mod.ts";
import { messageOf } from "./run_messages.ts";
import { reduce } from "./run_reducer.ts";
import { recordBytes } from "./run_snapshot.ts";

/**
 * The records a run decides as it is submitted, sealed after its first
 * (`RunSubmitted`, which this validates by folding it): the StepStarted of
 * each step that starts at once without asking anything of the store (no
 * reservation: a step without an estimate, or a run without a ledger).
 * `createRun` writes them with the run (`RunMeta.decided`), so the run's
 * first steps start with its creation instead of after one more write.
 * None when they would pass the log's soft limit: the actor then decides
 * them as it would any other batch, and warns.
 */
export function decidedAtCreation(
  first: LogRecord,
  nowMs: () => number,
  limits?: RunLogLimits,
): LogRecord[] {
  const decided: LogRecord[] = [];
  let reduction = reduce(undefined, messageOf(first));
  let head = headAfter(first);
  let bytes = recordBytes(first);
  for (;;) {
    const next = reduction.effects.find((effect) =>
      effect.kind === "AppendMessage"
    );
    if (next?.kind !== "AppendMessage" || next.message.type !== "StepStarted") {
      return decided;
    }
    const record = sealRecord(head, {
      type: next.message.type,
      body: next.message.body as unknown as JsonObject,
      at: nowMs(),
    });
    bytes += recordBytes(record);
    if (
      limits !== undefined &&
      (decided.length + 2 > limits.softRecords || bytes > limits.softBytes)
    ) return [];
    reduction = reduce(reduction.state, messageOf(record));
    decided.push(record);
    head = headAfter(record);
  }
}
