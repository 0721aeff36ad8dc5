/**
 * Commands that act on a run: `aos signal`, `aos resume`, `aos cancel`
 * and `aos fork`. Each sends one request and prints what the server answered;
 * the server checks what only it can (the run's state), the command what it
 * can before sending (arguments, JSON).
 */
import type { Json } from "../store/mod.ts";
import { callApi } from "./client.ts";
import { callApiRetrying } from "./retrying.ts";
import { EXIT } from "./exit.ts";
import {
  clientFrom,
  help,
  parseCommand,
  refusal,
  runIdArgument,
  runPath,
  UsageError,
} from "./_common.ts";

/**
 * `aos signal <run> <name> [PAYLOAD]`: sends a signal; PAYLOAD is JSON
 * (`--payload-file F` reads it from a file, `-` for stdin), none is null.
 */
export async function signalCommand(args: string[]): Promise<number> {
  const usage =
    "usage: aos signal <run-id> <name> [PAYLOAD-JSON | --payload-file FILE] [--idempotency-key KEY] [--url URL] [--key KEY] [--json]\n  --idempotency-key  send this key (default: a fresh one), so a retried signal is recorded once";
  const { values, positionals } = parseCommand(args, {
    "payload-file": { type: "string" },
    "idempotency-key": { type: "string" },
  });
  if (values.help) return help(usage);
  const [runId, name, payloadText, ...rest] = positionals;
  if (
    runId === undefined || runId.trim() === "" || name === undefined ||
    rest.length > 0
  ) throw new UsageError(usage);
  const file = values["payload-file"];
  if (file !== undefined && payloadText !== undefined) {
    throw new UsageError(
      `give the payload as JSON or as a file, not both\n${usage}`,
    );
  }
  const text = file === undefined ? payloadText : await readText(file);
  const payload = text === undefined
    ? null
    : parseJsonArgument(text, "payload");
  // Retried while the node is busy; the key makes a repeat record nothing.
  const answer = await callApiRetrying(clientFrom(values), {
    method: "POST",
    path: runPath(runId, `/signals/${encodeURIComponent(name)}`),
    json: payload,
    headers: {
      "idempotency-key": values["idempotency-key"] ?? crypto.randomUUID(),
    },
  }, "aos signal");
  if (answer.status !== 202) return refusal(answer);
  if (values.json) {
    console.log(JSON.stringify(answer.body));
  } else if (answer.body.queued === true) {
    console.log(
      `run ${runId} signal ${name} queued: the node running the run has not recorded it yet; it will (run ${
        String(answer.body.status)
      })`,
    );
  } else {
    console.log(
      `run ${runId} signal ${name} recorded (run ${
        String(answer.body.status)
      })`,
    );
  }
  return EXIT.ok;
}

/**
 * `aos resume <run> [--step S] [--params JSON] [--budget-cents N]`: resumes
 * a paused run.
 */
export async function resumeCommand(args: string[]): Promise<number> {
  const usage =
    "usage: aos resume <run-id> [--step STEP] [--params JSON] [--budget-cents N] [--url URL] [--key KEY] [--json]";
  const { values, positionals } = parseCommand(args, {
    step: { type: "string" },
    params: { type: "string" },
    "budget-cents": { type: "string" },
  });
  if (values.help) return help(usage);
  const runId = runIdArgument(positionals, usage);
  const body: Record<string, Json> = {};
  if (values.step !== undefined) body.step = values.step;
  if (values.params !== undefined) {
    body.params = parseJsonArgument(values.params, "--params");
  }
  const cents = values["budget-cents"];
  if (cents !== undefined) {
    const parsed = Number(cents);
    if (!/^\d+$/.test(cents) || !Number.isSafeInteger(parsed)) {
      throw new UsageError(
        `--budget-cents must be a whole number of cents\n${usage}`,
      );
    }
    body.budget_cents = parsed;
  }
  return await postControl(values, runId, "/resume", body);
}

/** `aos cancel <run> [--reason TEXT]`: stops a run. */
export async function cancelCommand(args: string[]): Promise<number> {
  const usage =
    "usage: aos cancel <run-id> [--reason TEXT] [--url URL] [--key KEY] [--json]";
  const { values, positionals } = parseCommand(args, {
    reason: { type: "string" },
  });
  if (values.help) return help(usage);
  const runId = runIdArgument(positionals, usage);
  return await postControl(
    values,
    runId,
    "/cancel",
    values.reason === undefined ? {} : { reason: values.reason },
  );
}

/**
 * `aos fork <run> --from-step S [--overrides JSON]`: a new run from a step
 * of this one, reusing its recorded prefix.
 */
export async function forkCommand(args: string[]): Promise<number> {
  const usage =
    'usage: aos fork <run-id> --from-step STEP [--overrides JSON] [--url URL] [--key KEY] [--json]\n  --overrides: {"<step>": {"params": {...}, "skill": "name@version"}}';
  const { values, positionals } = parseCommand(args, {
    "from-step": { type: "string" },
    overrides: { type: "string" },
  });
  if (values.help) return help(usage);
  const runId = runIdArgument(positionals, usage);
  const fromStep = values["from-step"];
  if (fromStep === undefined) {
    throw new UsageError(`--from-step is required\n${usage}`);
  }
  const body: Record<string, Json> = { from_step: fromStep };
  if (values.overrides !== undefined) {
    body.overrides = parseJsonArgument(values.overrides, "--overrides");
  }
  const answer = await callApi(clientFrom(values), {
    method: "POST",
    path: runPath(runId, "/fork"),
    json: body,
  });
  if (answer.status !== 202) return refusal(answer);
  const fork = answer.body.fork as { from_seq?: unknown } | undefined;
  console.log(
    values.json
      ? JSON.stringify(answer.body)
      : `run ${
        String(answer.body.run_id)
      } forked from ${runId} at ${fromStep} (its first ${
        String(fork?.from_seq)
      } records copied)`,
  );
  return EXIT.ok;
}

/**
 * Posts `json` to the run's `suffix` and prints the run's status from the
 * answer (`--json`: the answer).
 */
async function postControl(
  values: { url?: string; key?: string; json?: boolean },
  runId: string,
  suffix: string,
  json: Json,
): Promise<number> {
  const answer = await callApi(clientFrom(values), {
    method: "POST",
    path: runPath(runId, suffix),
    json,
  });
  if (answer.status !== 202) return refusal(answer);
  console.log(
    values.json
      ? JSON.stringify(answer.body)
      : answer.body.queued === true
      ? `run ${runId} ${
        String(answer.body.status)
      }; queued: the node running the run has not recorded it yet; it will`
      : `run ${runId} ${String(answer.body.status)}`,
  );
  return EXIT.ok;
}

/** JSON text of an argument; a usage error (exit 2) naming it when it is not JSON. */
function parseJsonArgument(text: string, what: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch (error) {
    throw new UsageError(
      `${what} is not JSON: ${error instanceof Error ? error.message : error}`,
    );
  }
}

async function readText(file: string): Promise<string> {
  if (file === "-") return await new Response(Deno.stdin.readable).text();
  try {
    return await Deno.readTextFile(file);
  } catch (error) {
    throw new UsageError(
      `cannot read ${file}: ${error instanceof Error ? error.message : error}`,
    );
  }
}
