import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { liveClock, liveRandom } from "../deps/mod.ts";
import { AosError } from "../errors/mod.ts";
import { Sandbox } from "../sandbox/mod.ts";
import { findSkillDirs, PROJECT_ROOT } from "../skills/build.ts";
import { SkillRegistry } from "../skills/registry.ts";
import { isTerminal, type LogRecord, SqliteStore } from "../store/mod.ts";
import { formatReport } from "./format.ts";
import { DirectoryModules } from "./modules.ts";
import { parseLogLines, replayLog, type ReplayReport } from "./replay.ts";

const USAGE = `usage: aos replay [PATH ...] [--store FILE] [--json]
  PATH     a .jsonl log or a folder of them (default: tests/golden)
  --store  also replay every finished run in this SQLite store
  --json   one JSON report a line instead of text`;

/** `aos replay`: certifies recorded runs; exit 1 when any diverges. */
export async function replayCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      store: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean" },
    },
    allowPositionals: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const store = values.store === undefined
    ? undefined
    : SqliteStore.open(values.store);
  const registry = store === undefined
    ? undefined
    : await SkillRegistry.open(store);
  const modules = new DirectoryModules(
    findSkillDirs(PROJECT_ROOT, { fixtures: true }),
    registry,
  );
  const sandbox = new Sandbox({
    modules,
    clock: liveClock,
    random: liveRandom,
  });
  let diverged = 0;
  let total = 0;
  const emit = (source: string, report: ReplayReport) => {
    total++;
    if (report.verdict === "diverged") diverged++;
    console.log(
      values.json
        ? JSON.stringify({ source, ...report })
        : formatReport(source, report),
    );
  };
  try {
    const paths = positionals.length > 0
      ? positionals
      : [join(PROJECT_ROOT, "tests", "golden")];
    for (const file of paths.flatMap(logFiles)) {
      const records = parseLogLines(await Deno.readTextFile(file), file);
      emit(relative(Deno.cwd(), file), await replayLog(records, sandbox));
    }
    if (store !== undefined) {
      for await (const [runId, records] of finishedRuns(store)) {
        emit(`store:${runId}`, await replayLog(records, sandbox));
      }
    }
  } finally {
    await sandbox.close();
    await store?.close();
  }
  if (!values.json) {
    console.log(`${total - diverged} identical, ${diverged} diverged`);
  }
  if (diverged === 0) return 0;
  const failure = new AosError(
    "REPLAY_DIVERGED",
    `${diverged} of ${total} logs diverged from their re-execution`,
  );
  console.error(`${failure.code}: ${failure.message}`);
  return 1;
}

function logFiles(path: string): string[] {
  const full = resolve(path);
  if (!Deno.statSync(full).isDirectory) return [full];
  return [...Deno.readDirSync(full)]
    .filter((entry) => entry.isFile && entry.name.endsWith(".jsonl"))
    .map((entry) => join(full, entry.name))
    .sort();
}

async function* finishedRuns(
  store: SqliteStore,
): AsyncGenerator<[string, LogRecord[]]> {
  let cursor: string | undefined;
  do {
    const page = await store.listRuns({
      limit: 200,
      ...(cursor === undefined ? {} : { cursor }),
    });
    for (const run of page.runs) {
      if (isTerminal(run.status)) {
        yield [run.run_id, await store.readLog(run.run_id)];
      }
    }
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
}
