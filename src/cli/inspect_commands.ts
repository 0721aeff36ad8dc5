import { AosError } from "../errors/mod.ts";
import { type LogRecord, recordToLine, verifyChain } from "../store/mod.ts";
import { EXIT } from "./exit.ts";
import { followRun } from "./follow.ts";
import {
  clientFrom,
  getJson,
  help,
  parseCommand,
  refusal,
  runIdArgument,
  runPath,
  UsageError,
} from "./_common.ts";
import {
  formatRecordLine,
  formatRecords,
  formatRunList,
  formatRunView,
} from "./run_format.ts";

/** `aos status <run> [--json]`: a run's status, steps and outputs. */
export async function statusCommand(args: string[]): Promise<number> {
  const usage = "usage: aos status <run-id> [--url URL] [--key KEY] [--json]";
  const { values, positionals } = parseCommand(args, {});
  if (values.help) return help(usage);
  const runId = runIdArgument(positionals, usage);
  const answer = await getJson(clientFrom(values), runPath(runId));
  if (answer.status !== 200) return refusal(answer);
  console.log(
    values.json ? JSON.stringify(answer.body) : formatRunView(answer.body),
  );
  return EXIT.ok;
}

/** `aos events <run> [--follow] [--from-seq N] [--json]`: a run's log. */
export async function eventsCommand(args: string[]): Promise<number> {
  const usage =
    "usage: aos events <run-id> [--follow] [--from-seq N] [--url URL] [--key KEY] [--json]";
  const { values, positionals } = parseCommand(args, {
    follow: { type: "boolean", default: false },
    "from-seq": { type: "string" },
  });
  if (values.help) return help(usage);
  const runId = runIdArgument(positionals, usage);
  const fromSeq = Number(values["from-seq"] ?? "0");
  if (!Number.isSafeInteger(fromSeq) || fromSeq < 0) {
    throw new UsageError(`--from-seq must be a whole number\n${usage}`);
  }
  const client = clientFrom(values);
  if (values.follow) {
    const outcome = await followRun(client, runId, {
      fromSeq,
      onRecord: (record) => {
        console.log(
          values.json ? JSON.stringify(record) : formatRecordLine(record),
        );
      },
    });
    if (!outcome.ok) return refusal(outcome.answer);
    if (!values.json) console.log(`run ${runId} ${outcome.status}`);
    return EXIT.ok;
  }
  const answer = await getJson(
    client,
    runPath(runId, `/events?from_seq=${fromSeq}`),
  );
  if (answer.status !== 200) return refusal(answer);
  const events = answer.body.events as Record<string, unknown>[];
  if (values.json) {
    for (const event of events) console.log(JSON.stringify(event));
  } else {
    console.log(formatRecords(events));
  }
  return EXIT.ok;
}

/**
 * `aos export <run>`: the run's log as JSON lines, one canonical record a
 * line, exactly what `aos replay <file>` certifies. The hash chain is
 * checked before anything is written.
 */
export async function exportCommand(args: string[]): Promise<number> {
  const usage =
    "usage: aos export <run-id> [--url URL] [--key KEY] > run.jsonl";
  const { values, positionals } = parseCommand(args, {});
  if (values.help) return help(usage);
  const runId = runIdArgument(positionals, usage);
  const answer = await getJson(clientFrom(values), runPath(runId, "/events"));
  if (answer.status !== 200) return refusal(answer);
  const records = answer.body.events as LogRecord[];
  const broken = verifyChain(records);
  if (broken !== undefined) {
    const failure = new AosError(
      "STORE_CHAIN_BROKEN",
      `the log of ${runId} the server sent is broken at record ${broken.index} (its ${broken.reason} does not match); nothing written`,
    );
    console.error(`${failure.code}: ${failure.message}`);
    return EXIT.failure;
  }
  const text = records.map((record) => recordToLine(record) + "\n").join("");
  await Deno.stdout.write(new TextEncoder().encode(text));
  return EXIT.ok;
}

/** `aos runs [--status S] [--skill NAME] [--since TIME] [--limit N]`: lists runs. */
export async function runsCommand(args: string[]): Promise<number> {
  const usage =
    "usage: aos runs [--status S] [--skill NAME] [--since TIME] [--before TIME] [--limit N] [--cursor C] [--url URL] [--key KEY] [--json]";
  const { values, positionals } = parseCommand(args, {
    status: { type: "string" },
    skill: { type: "string" },
    since: { type: "string" },
    before: { type: "string" },
    limit: { type: "string" },
    cursor: { type: "string" },
  });
  if (values.help) return help(usage);
  if (positionals.length > 0) throw new UsageError(usage);
  const query = new URLSearchParams();
  for (
    const [name, value] of [
      ["status", values.status],
      ["skill", values.skill],
      ["created_from", values.since],
      ["created_before", values.before],
      ["limit", values.limit],
      ["cursor", values.cursor],
    ] as const
  ) {
    if (value !== undefined) query.set(name, value);
  }
  const answer = await getJson(clientFrom(values), `/v1/runs?${query}`);
  if (answer.status !== 200) return refusal(answer);
  if (values.json) {
    console.log(JSON.stringify(answer.body));
    return EXIT.ok;
  }
  console.log(formatRunList(answer.body.runs as Record<string, unknown>[]));
  if (answer.body.next_cursor !== null) {
    console.log(`more: --cursor ${String(answer.body.next_cursor)}`);
  }
  return EXIT.ok;
}
