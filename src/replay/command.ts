import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { EXIT } from "../cli/mod.ts";
import { Metrics } from "../metrics/mod.ts";
import type { Sandbox } from "../sandbox/mod.ts";
import { AosError } from "../errors/mod.ts";
import { findSkillDirs, PROJECT_ROOT } from "../skills/build.ts";
import { SkillRegistry } from "../skills/registry.ts";
import {
  openPostgresStore,
  sha256Hex,
  SqliteStore,
  type Store,
} from "../store/mod.ts";
import {
  finishedRuns,
  type LoadedLog,
  loadFile,
  loadStoreRun,
  logFiles,
} from "./_log_sources.ts";
import {
  compareCertificate,
  makeCertificate,
  readCertificate,
  type ReplayedLog,
} from "./certificate.ts";
import { candidatePin, dryRunLog } from "./dry_run.ts";
import { formatReport } from "./format.ts";
import { DirectoryModules, registryModules } from "./modules.ts";
import { inOrder } from "./_in_order.ts";
import { REPLAY_CONCURRENCY, replayLog } from "./replay.ts";
import { countReplay, replayMetricsText } from "./replay_metrics.ts";
import { replaySandbox } from "./replay_sandbox.ts";

const USAGE = `usage: aos replay [PATH ...] [options]
  PATH             a .jsonl log or a folder of them (default: tests/golden)
  --store FILE|URL also replay every finished run in this SQLite file or
                   PostgreSQL (postgres://…) store
  --runs ID,...    only these runs (repeatable)
  --json           one JSON report a line instead of text
  --concurrency N  logs certified at once (default ${REPLAY_CONCURRENCY}, at most 256);
                   reports still come in the order the logs are listed
  --certificate F  write a determinism certificate of the replay to F
  --metrics F      write the replay metrics (Prometheus text) to F
  --skill N@V      upgrade dry-run: run steps of skill N with version V
                   (from --skills-dir, the project's skills or --store)
                   and report identical, diverged or needs_new_host_call
  --skills-dir D   a skill folder, or a folder of them (repeatable)
  --verify F       re-check a certificate against the logs it names
Exit 0 when every run is identical (or the certificate holds), 1 when not.`;

type Options = {
  store?: string;
  runs?: string[];
  json: boolean;
  certificate?: string;
  metrics?: string;
  skill?: string;
  "skills-dir"?: string[];
  verify?: string;
  concurrency?: string;
};

/** `aos replay`: certifies recorded runs; exit 1 when any diverges. */
export async function replayCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      store: { type: "string" },
      runs: { type: "string", multiple: true },
      json: { type: "boolean", default: false },
      certificate: { type: "string" },
      metrics: { type: "string" },
      skill: { type: "string" },
      "skills-dir": { type: "string", multiple: true },
      verify: { type: "string" },
      concurrency: { type: "string" },
      help: { type: "boolean" },
    },
    allowPositionals: true,
  });
  if (values.help) {
    console.log(USAGE);
    return EXIT.ok;
  }
  const concurrency = Number(values.concurrency ?? REPLAY_CONCURRENCY);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) {
    console.error(
      `aos replay: --concurrency wants a whole number from 1 to 256, not ${values.concurrency}`,
    );
    return EXIT.usage;
  }
  if (values.verify !== undefined && values.skill !== undefined) {
    console.error("aos replay: --verify and --skill do not go together");
    return EXIT.usage;
  }
  const store = values.store === undefined
    ? undefined
    : /^postgres(ql)?:\/\//.test(values.store)
    ? await openPostgresStore(values.store)
    : SqliteStore.open(values.store);
  try {
    const registry = store === undefined
      ? undefined
      : registryModules(await SkillRegistry.open(store));
    const extraDirs = (values["skills-dir"] ?? []).flatMap(skillDirsIn);
    const modules = new DirectoryModules(
      [...findSkillDirs(PROJECT_ROOT, { fixtures: true }), ...extraDirs],
      registry,
    );
    const sandbox = replaySandbox(modules);
    try {
      const context = {
        values,
        positionals,
        store,
        sandbox,
        modules,
        concurrency,
      };
      if (values.verify !== undefined) {
        return await verify(values.verify, context);
      }
      if (values.skill !== undefined) {
        const candidates = extraDirs.length === 0
          ? modules
          : new DirectoryModules(extraDirs, registry);
        return await dryRun(values.skill, candidates, context);
      }
      return await certify(context);
    } finally {
      await sandbox.close();
    }
  } finally {
    await store?.close();
  }
}

interface Context {
  values: Options;
  positionals: string[];
  store: Store | undefined;
  sandbox: Sandbox;
  modules: DirectoryModules;
  /** Logs certified at once (`--concurrency`). */
  concurrency: number;
}

/** A skill folder itself, or the skill folders inside it. */
function skillDirsIn(path: string): string[] {
  const full = resolve(path);
  try {
    Deno.statSync(join(full, "manifest.yaml"));
    return [full];
  } catch {
    return [...Deno.readDirSync(full)]
      .filter((entry) => entry.isDirectory)
      .map((entry) => join(full, entry.name))
      .filter((dir) => {
        try {
          return Deno.statSync(join(dir, "manifest.yaml")).isFile;
        } catch {
          return false;
        }
      })
      .sort();
  }
}

/** The logs named on the command line and in the store, filtered by --runs. */
async function* selectedLogs(context: Context): AsyncGenerator<LoadedLog> {
  const wanted = new Set(
    (context.values.runs ?? []).flatMap((list) => list.split(","))
      .map((id) => id.trim()).filter((id) => id !== ""),
  );
  const keep = (log: LoadedLog) =>
    wanted.size === 0 || wanted.has(log.records[0]?.run_id ?? "");
  const paths = context.positionals.length > 0
    ? context.positionals
    : [join(PROJECT_ROOT, "tests", "golden")];
  for (const file of paths.flatMap(logFiles)) {
    const log = await loadFile(file);
    if (keep(log)) yield log;
  }
  if (context.store !== undefined) {
    for await (const log of finishedRuns(context.store)) {
      if (keep(log)) yield log;
    }
  }
}

function print(context: Context, source: string, report: object): void {
  console.log(
    context.values.json
      ? JSON.stringify({ source, ...report })
      : formatReport(source, report as Parameters<typeof formatReport>[1]),
  );
}

async function certify(context: Context): Promise<number> {
  const metrics = new Metrics({ defaultMetrics: false });
  const replayed: ReplayedLog[] = [];
  await inOrder(
    selectedLogs(context),
    context.concurrency,
    (log) =>
      replayLog(log.records, context.sandbox, { catalog: context.modules }),
    (log, report) => {
      countReplay(metrics, report, { golden: log.golden });
      replayed.push({ source: log.source, records: log.records, report });
      print(context, log.source, report);
    },
  );
  const diverged = replayed.filter((log) => log.report.verdict !== "identical")
    .length;
  if (!context.values.json) {
    console.log(
      `${replayed.length - diverged} identical, ${diverged} diverged`,
    );
  }
  if (context.values.certificate !== undefined) {
    const certificate = makeCertificate(replayed);
    await Deno.writeTextFile(
      context.values.certificate,
      JSON.stringify(certificate, null, 2) + "\n",
    );
    console.error(
      `certificate ${certificate.sha256} written to ${context.values.certificate}`,
    );
  }
  if (context.values.metrics !== undefined) {
    await Deno.writeTextFile(
      context.values.metrics,
      await replayMetricsText(metrics),
    );
  }
  if (diverged === 0) return EXIT.ok;
  const failure = new AosError(
    "REPLAY_DIVERGED",
    `${diverged} of ${replayed.length} logs diverged from their re-execution`,
  );
  console.error(`${failure.code}: ${failure.message}`);
  return EXIT.failure;
}

async function dryRun(
  reference: string,
  candidates: DirectoryModules,
  context: Context,
): Promise<number> {
  const [name, version] = reference.split("@");
  if (name === undefined || name === "" || version === undefined) {
    console.error(`aos replay: --skill wants name@version, not ${reference}`);
    return EXIT.usage;
  }
  const module = await candidates.find(name, version);
  if (module === undefined) {
    console.error(`aos replay: no built skill ${name}@${version} was found`);
    return EXIT.notFound;
  }
  const pin = candidatePin(module, sha256Hex(module.bytes));
  const counts = { identical: 0, diverged: 0, needs_new_host_call: 0 };
  for await (const log of selectedLogs(context)) {
    const report = await dryRunLog(log.records, context.sandbox, {
      candidate: pin,
    });
    counts[report.verdict]++;
    print(context, log.source, report);
  }
  if (!context.values.json) {
    console.log(
      `${name}@${version}: ${counts.identical} identical, ${counts.diverged} diverged, ${counts.needs_new_host_call} need a new host call`,
    );
  }
  return counts.diverged + counts.needs_new_host_call === 0
    ? EXIT.ok
    : EXIT.failure;
}

async function verify(path: string, context: Context): Promise<number> {
  const { certificate, problems } = readCertificate(
    await Deno.readTextFile(path),
  );
  if (certificate !== undefined && problems.length === 0) {
    const replayed: ReplayedLog[] = [];
    for (const certified of certificate.logs) {
      const log = await loadCertified(certified.source, context);
      if (log === undefined) {
        problems.push(`${certified.source}: not found`);
        continue;
      }
      const report = await replayLog(log.records, context.sandbox, {
        catalog: context.modules,
      });
      replayed.push({ source: log.source, records: log.records, report });
    }
    if (problems.length === 0) {
      problems.push(...compareCertificate(certificate, replayed));
    }
  }
  if (problems.length > 0) {
    console.log(`certificate ${path} does not hold:`);
    for (const problem of problems) console.log(`  ${problem}`);
    return EXIT.failure;
  }
  console.log(
    `certificate ${path} holds: ${certificate!.logs.length} logs ${
      certificate!.verdict
    }, sha256 ${certificate!.sha256}`,
  );
  return EXIT.ok;
}

async function loadCertified(
  source: string,
  context: Context,
): Promise<LoadedLog | undefined> {
  if (source.startsWith("store:")) {
    return context.store === undefined
      ? undefined
      : await loadStoreRun(context.store, source.slice("store:".length));
  }
  try {
    return await loadFile(source);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}
