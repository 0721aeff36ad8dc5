import { extname } from "node:path";
import type { ApiAnswer, ClientOptions } from "./client.ts";
import { callApiRetrying } from "./retrying.ts";
import { EXIT } from "./exit.ts";
import { followRun } from "./follow.ts";
import {
  clientFrom,
  getJson,
  parseCommand,
  refusal,
  runPath,
  UsageError,
} from "./_common.ts";
import { describeProgress, ProgressLine } from "./progress.ts";
import { formatRecordLine, formatRunView } from "./run_format.ts";

const USAGE =
  `usage: aos run <plan.yaml|plan.json|-> [--wait] [--follow] [--idempotency-key KEY] [--url URL] [--key KEY] [--json]
  --wait             wait for the run to end, then show it; exit 0 only if it succeeded
  --follow           print the run's records as they are written, then show it
  --idempotency-key  send this key (default: a fresh one), so a retried submission starts one run`;

/** Long-poll slice of `--wait`, so the progress line moves. */
const WAIT_SLICE_MS = 2_000;

/**
 * `aos run <plan>`: submits a plan (YAML or JSON, a file or `-` for stdin)
 * and prints the run id; `--wait` and `--follow` stay until the run ends.
 * The submission carries an `Idempotency-Key`, so it is retried safely when
 * the node is full (429) or busy: it never starts the run twice.
 */
export async function runCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, {
    wait: { type: "boolean", default: false },
    follow: { type: "boolean", default: false },
    "idempotency-key": { type: "string" },
  });
  if (values.help) {
    console.log(USAGE);
    return EXIT.ok;
  }
  const [file, ...rest] = positionals;
  if (file === undefined || rest.length > 0) throw new UsageError(USAGE);
  const client = clientFrom(values);
  const plan = await readPlan(file);
  const started = performance.now();
  // `--wait` alone: the submission itself waits for a first slice, so a
  // short run is done in one request (a 200 with its view).
  const answer = await submit(
    client,
    plan,
    values["idempotency-key"] ?? crypto.randomUUID(),
    values.wait && !values.follow ? WAIT_SLICE_MS : undefined,
  );
  if (answer.status !== 202 && answer.status !== 200) return refusal(answer);
  const runId = String(answer.body.run_id);
  if (!values.wait && !values.follow) {
    console.log(values.json ? JSON.stringify(answer.body) : runId);
    return EXIT.ok;
  }
  const progress = new ProgressLine();
  if (answer.status === 200) {
    progress.update(describeProgress(answer.body, performance.now() - started));
  }
  if (values.follow) {
    let records = 0;
    const outcome = await followRun(client, runId, {
      onRecord: (record) => {
        records++;
        if (values.json) console.log(JSON.stringify(record));
        else {
          progress.done();
          console.log(formatRecordLine(record));
        }
        progress.update(
          `${runId}  ${records} records  last ${String(record.type)}  ${
            ((performance.now() - started) / 1000).toFixed(1)
          }s`,
        );
      },
    });
    if (!outcome.ok) return refusal(outcome.answer);
  }
  const view = answer.status === 200
    ? answer
    : await waitForEnd(client, runId, progress, started);
  progress.done();
  if (view.status !== 200) return refusal(view);
  // With --follow --json the records were the output; the view is for --wait.
  if (!(values.follow && values.json)) {
    console.log(
      values.json ? JSON.stringify(view.body) : formatRunView(view.body),
    );
  }
  return view.body.status === "succeeded" ? EXIT.ok : EXIT.failure;
}

async function readPlan(
  file: string,
): Promise<{ body: string; contentType: string }> {
  let body: string;
  try {
    body = file === "-"
      ? await new Response(Deno.stdin.readable).text()
      : await Deno.readTextFile(file);
  } catch (error) {
    throw new UsageError(
      `cannot read ${file}: ${error instanceof Error ? error.message : error}`,
    );
  }
  const json = extname(file).toLowerCase() === ".json" ||
    (file === "-" && body.trimStart().startsWith("{"));
  return {
    body,
    contentType: json ? "application/json" : "application/yaml",
  };
}

function submit(
  client: ClientOptions,
  plan: { body: string; contentType: string },
  key: string,
  endWaitMs: number | undefined,
): Promise<ApiAnswer> {
  return callApiRetrying(client, {
    method: "POST",
    path: endWaitMs === undefined
      ? "/v1/runs"
      : `/v1/runs?wait_ms=${endWaitMs}`,
    text: plan,
    headers: { "idempotency-key": key },
  }, "aos run");
}

/** Long-polls the run until it ends, updating the progress line. */
async function waitForEnd(
  client: ClientOptions,
  runId: string,
  progress: ProgressLine,
  started: number,
): Promise<ApiAnswer> {
  for (;;) {
    const view = await getJson(
      client,
      runPath(runId, `?wait_ms=${WAIT_SLICE_MS}`),
    );
    if (view.status !== 200) return view;
    progress.update(describeProgress(view.body, performance.now() - started));
    if (view.body.status !== "running") return view;
  }
}
