import { join } from "node:path";
import {
  DirectoryModules,
  parseLogLines,
  replaySandbox,
} from "../../src/replay/mod.ts";
import type { Sandbox } from "../../src/sandbox/mod.ts";
import { findSkillDirs, PROJECT_ROOT } from "../../src/skills/build.ts";
import {
  emptyHead,
  headAfter,
  type LogRecord,
  sealRecord,
} from "../../src/store/mod.ts";

/** The committed golden logs' folder. */
export const GOLDEN = join(PROJECT_ROOT, "tests", "golden");

/** Names of the golden logs, without `.jsonl`, sorted. */
export function goldenNames(): string[] {
  return [...Deno.readDirSync(GOLDEN)]
    .filter((entry) => entry.name.endsWith(".jsonl"))
    .map((entry) => entry.name.replace(/\.jsonl$/, ""))
    .sort();
}

/** One golden log's records. */
export function golden(name: string): LogRecord[] {
  return parseLogLines(
    Deno.readTextFileSync(join(GOLDEN, `${name}.jsonl`)),
    name,
  );
}

/** Re-seals records from `from` on, as a forger who recomputes hashes would. */
export function reseal(records: LogRecord[], from: number): LogRecord[] {
  const out = records.slice(0, from);
  for (const record of records.slice(from)) {
    const previous = out[out.length - 1];
    const head = previous === undefined
      ? emptyHead(record.run_id)
      : headAfter(previous);
    out.push(
      sealRecord(head, { type: record.type, body: record.body, at: record.at }),
    );
  }
  return out;
}

/**
 * The project's built skill folders (fixtures included), with the folders
 * named in `without` left out and `extra` added.
 */
export function skillModules(
  options: { without?: string[]; extra?: string[] } = {},
): DirectoryModules {
  const dirs = findSkillDirs(PROJECT_ROOT, { fixtures: true }).filter((dir) =>
    !(options.without ?? []).some((name) => dir.endsWith(`/${name}`))
  );
  return new DirectoryModules([...dirs, ...(options.extra ?? [])]);
}

/** Runs `work` with a replay sandbox over `modules`, closed afterwards. */
export async function withReplaySandbox<T>(
  modules: DirectoryModules,
  work: (sandbox: Sandbox) => Promise<T>,
): Promise<T> {
  const sandbox = replaySandbox(modules);
  try {
    return await work(sandbox);
  } finally {
    await sandbox.close();
  }
}
