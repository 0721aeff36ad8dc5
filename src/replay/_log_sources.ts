import { join, relative, resolve } from "node:path";
import { PROJECT_ROOT } from "../skills/build.ts";
import { isTerminal, type LogRecord, type Store } from "../store/mod.ts";
import { parseLogLines } from "./replay.ts";

/** A recorded run to replay, with where it came from. */
export interface LoadedLog {
  /** A path relative to the working folder, or `store:<run_id>`. */
  source: string;
  records: LogRecord[];
  /** True for a committed golden log (`tests/golden/`). */
  golden: boolean;
}

const GOLDEN = join(PROJECT_ROOT, "tests", "golden");

/** The `.jsonl` files a path names: itself, or those in the folder. */
export function logFiles(path: string): string[] {
  const full = resolve(path);
  if (!Deno.statSync(full).isDirectory) return [full];
  return [...Deno.readDirSync(full)]
    .filter((entry) => entry.isFile && entry.name.endsWith(".jsonl"))
    .map((entry) => join(full, entry.name))
    .sort();
}

/** One log file. */
export async function loadFile(path: string): Promise<LoadedLog> {
  const full = resolve(path);
  const source = relative(Deno.cwd(), full);
  return {
    source,
    records: parseLogLines(await Deno.readTextFile(full), source),
    golden: full.startsWith(GOLDEN + "/"),
  };
}

/** One run of a store, by `store:<run_id>`. */
export async function loadStoreRun(
  store: Store,
  runId: string,
): Promise<LoadedLog | undefined> {
  if (await store.getRun(runId) === undefined) return undefined;
  return {
    source: `store:${runId}`,
    records: await store.readLog(runId),
    golden: false,
  };
}

/** Every finished run of a store, newest first. */
export async function* finishedRuns(
  store: Store,
): AsyncGenerator<LoadedLog> {
  let cursor: string | undefined;
  do {
    const page = await store.listRuns({
      limit: 200,
      ...(cursor === undefined ? {} : { cursor }),
    });
    for (const run of page.runs) {
      if (isTerminal(run.status)) {
        yield {
          source: `store:${run.run_id}`,
          records: await store.readLog(run.run_id),
          golden: false,
        };
      }
    }
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
}
