/**
 * Writing skills outside this repository: `aos skills new` scaffolds one,
 * `aos skills test` builds it, checks the module the way the host will, and
 * runs its contract through the real sandbox.
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { AosError } from "../errors/mod.ts";
import {
  DEFAULT_SANDBOX_LIMITS,
  hardenModule,
  type HttpGateway,
  type SandboxLimits,
} from "../sandbox/mod.ts";
import { scaffoldFiles } from "./_scaffold.ts";
import { shorten } from "./_json_compare.ts";
import { buildSkillDir, OUT_OF_TREE_ASC_FLAGS, sha256Hex } from "./build.ts";
import {
  type CaseResult,
  contractTestCasesPassed,
  readContract,
  runContract,
} from "./contract.ts";
import { manifestSchema, type SkillManifest } from "./manifest.ts";

/** What `scaffoldSkill` wrote. */
export interface ScaffoldResult {
  /** The skill folder (absolute). */
  dir: string;
  /** The files written, relative to `dir`. */
  files: string[];
}

/**
 * `aos skills new <name> [--dir DIR]`: writes a working AssemblyScript skill
 * called `name` into `dir` (the CLI's default is `./<name>`): manifest,
 * contract with passing cases, README, and `assembly/` sources that depend
 * only on `@extism/as-pdk`. Refuses an invalid name and a `dir` that exists
 * and is not empty.
 *
 * @example
 * ```ts
 * const { dir } = await scaffoldSkill("greeter", "./greeter");
 * const { report } = await testSkillDir(dir); // report.ok === true
 * ```
 */
export async function scaffoldSkill(
  name: string,
  dir: string,
): Promise<ScaffoldResult> {
  const checked = manifestSchema.shape.name.safeParse(name);
  if (!checked.success) {
    throw new Error(
      `invalid skill name "${name}": 1-64 lowercase letters, digits, _ . -`,
    );
  }
  const absolute = resolve(dir);
  if (!await isEmptyOrMissing(absolute)) {
    throw new Error(`${absolute} already exists and is not empty`);
  }
  const files = scaffoldFiles(name);
  for (const file of files) {
    const path = join(absolute, file.path);
    await Deno.mkdir(dirname(path), { recursive: true });
    await Deno.writeTextFile(path, file.text);
  }
  return { dir: absolute, files: files.map((file) => file.path) };
}

async function isEmptyOrMissing(dir: string): Promise<boolean> {
  try {
    for await (const _ of Deno.readDir(dir)) return false;
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return true;
    throw error;
  }
}

/** The stages of `testSkillDir`, in order. */
export type SkillTestStage = "manifest" | "build" | "module" | "contract";

/** How the module was obtained. */
export interface SkillBuildReport {
  /** `assembly/index.ts` → asc; a `Makefile` → make; else the `.wasm` as found. */
  kind: "assemblyscript" | "make" | "prebuilt";
  /** What ran. */
  command: string;
  wasmPath: string;
  bytes: number;
  sha256: string;
  durationMs: number;
}

/** What `aos skills test` found; `--json` prints this. */
export interface SkillTestReport {
  dir: string;
  /** `name@version`, once the manifest is read. */
  skill: string | null;
  /** True when every stage ran and every case passed. */
  ok: boolean;
  build: SkillBuildReport | null;
  /** The checked module: its imports and its memory cap in pages. */
  module: { imports: string[]; memoryMaxPages: number } | null;
  cases: CaseResult[];
  passed: number;
  failed: number;
  /** The stage that stopped the test, with its catalog code when it has one. */
  problem: { stage: SkillTestStage; message: string; code?: string } | null;
  durationMs: number;
}

/** Options of `testSkillDir`. */
export interface SkillTestOptions {
  /** Host ceilings (defaults: the sandbox's), for the module check and the run. */
  limits?: Partial<SandboxLimits>;
  /** Outbound HTTP for skills granted `http`. */
  http?: HttpGateway;
}

/** Stops `testSkillDir` at a stage. */
class StageFailure extends Error {
  constructor(
    readonly stage: SkillTestStage,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/**
 * `aos skills test <dir> [--json]`: reads `manifest.yaml`, builds the module
 * (AssemblyScript when `assembly/index.ts` exists, else `make` when a
 * `Makefile` exists, else the `<name>.wasm` already there), checks it with
 * the sandbox's module policy, and runs `contract.yaml` through the real
 * sandbox. Problems with the skill are reported, not thrown; the exit code
 * follows `report.ok`.
 *
 * @example
 * ```ts
 * const { report, text } = await testSkillDir("tests/fixtures/skills-c/word_count");
 * console.log(text);
 * Deno.exit(report.ok ? 0 : 1);
 * ```
 */
export async function testSkillDir(
  dir: string,
  options: SkillTestOptions = {},
): Promise<{ report: SkillTestReport; text: string }> {
  const started = performance.now();
  const limits = { ...DEFAULT_SANDBOX_LIMITS, ...options.limits };
  const report: SkillTestReport = {
    dir: resolve(dir),
    skill: null,
    ok: false,
    build: null,
    module: null,
    cases: [],
    passed: 0,
    failed: 0,
    problem: null,
    durationMs: 0,
  };
  try {
    const manifest = await readManifestFile(report.dir);
    report.skill = `${manifest.name}@${manifest.version}`;
    report.build = await buildModule(report.dir, manifest);
    const bytes = await Deno.readFile(report.build.wasmPath);
    report.module = checkModuleLikeHost(bytes, manifest, limits);
    const contract = await readContract(join(report.dir, "contract.yaml"))
      .catch((error) => {
        throw new StageFailure("contract", messageOf(error));
      });
    report.cases = await runContract(contract, { bytes, manifest }, options)
      .catch((error) => {
        throw new StageFailure("contract", messageOf(error));
      });
    report.passed = report.cases.filter((result) => result.pass).length;
    report.failed = report.cases.length - report.passed;
    report.ok = contractTestCasesPassed(report.cases);
  } catch (error) {
    if (!(error instanceof StageFailure)) throw error;
    report.problem = {
      stage: error.stage,
      message: error.message,
      ...(error.code === undefined ? {} : { code: error.code }),
    };
  }
  report.durationMs = Math.round(performance.now() - started);
  return { report, text: formatReport(report) };
}

async function readManifestFile(dir: string): Promise<SkillManifest> {
  const path = join(dir, "manifest.yaml");
  let document: unknown;
  try {
    document = parseYaml(await Deno.readTextFile(path));
  } catch (error) {
    throw new StageFailure("manifest", `${path}: ${messageOf(error)}`);
  }
  const parsed = manifestSchema.safeParse(document);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) =>
    `${issue.path.join(".") || "(the document)"}: ${issue.message}`
  );
  throw new StageFailure("manifest", `${path}: ${issues.join("; ")}`);
}

async function buildModule(
  dir: string,
  manifest: SkillManifest,
): Promise<SkillBuildReport> {
  const started = performance.now();
  const wasmPath = join(dir, `${manifest.name}.wasm`);
  let kind: SkillBuildReport["kind"] = "prebuilt";
  let command = `read ${manifest.name}.wasm`;
  if (await exists(join(dir, "assembly", "index.ts"))) {
    kind = "assemblyscript";
    command = `asc assembly/index.ts ${OUT_OF_TREE_ASC_FLAGS.join(" ")}`;
    await buildSkillDir(dir).catch((error) => {
      throw new StageFailure("build", messageOf(error));
    });
  } else if (await exists(join(dir, "Makefile"))) {
    kind = "make";
    command = "make";
    await runMake(dir);
  }
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(wasmPath);
  } catch (error) {
    throw new StageFailure(
      "build",
      `${wasmPath}: ${messageOf(error)} (the build must produce <name>.wasm)`,
    );
  }
  return {
    kind,
    command,
    wasmPath,
    bytes: bytes.length,
    sha256: await sha256Hex(bytes),
    durationMs: Math.round(performance.now() - started),
  };
}

async function runMake(dir: string): Promise<void> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("make", {
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "make is not installed"
      : messageOf(error);
    throw new StageFailure("build", reason);
  }
  if (!output.success) {
    const decoder = new TextDecoder();
    const log = decoder.decode(output.stdout) + decoder.decode(output.stderr);
    throw new StageFailure(
      "build",
      `make exited with ${output.code}:\n${log.trim().slice(-4000)}`,
    );
  }
}

/** The install-time check: the same `hardenModule` the registry and sandbox run. */
function checkModuleLikeHost(
  bytes: Uint8Array,
  manifest: SkillManifest,
  limits: SandboxLimits,
): { imports: string[]; memoryMaxPages: number } {
  const memoryMaxPages = Math.min(manifest.memory_mb, limits.memoryMbMax) * 16;
  try {
    const { info } = hardenModule(bytes, {
      entrypoint: manifest.entrypoint,
      permissions: manifest.permissions,
      memoryMaxPages,
      moduleMaxBytes: limits.moduleBytesMax,
    });
    return {
      imports: info.imports.map((entry) => `${entry.module}.${entry.name}`),
      memoryMaxPages: info.memories[0]?.maxPages ?? memoryMaxPages,
    };
  } catch (error) {
    throw error instanceof AosError
      ? new StageFailure("module", error.message, error.code)
      : new StageFailure("module", messageOf(error));
  }
}

/** The report as the terminal shows it. */
export function formatReport(report: SkillTestReport): string {
  const lines = [`skill    ${report.skill ?? "?"}  ${report.dir}`];
  const { build, module } = report;
  if (build !== null) {
    lines.push(
      `build    ${build.kind}: ${build.wasmPath}, ${build.bytes} bytes, ` +
        `sha256 ${build.sha256}  (${build.durationMs} ms)`,
    );
  }
  if (module !== null) {
    lines.push(
      `module   passes the host's policy; memory capped at ` +
        `${module.memoryMaxPages} pages; imports ${
          module.imports.join(", ") || "nothing"
        }`,
    );
  }
  for (const result of report.cases) {
    lines.push(
      `${
        result.pass ? "PASS" : "FAIL"
      }     ${result.name}  (${result.durationMs} ms)`,
    );
    if (!result.pass) lines.push(`         ${shorten(result.reason, 2000)}`);
  }
  if (report.problem !== null) {
    const code = report.problem.code === undefined
      ? ""
      : ` [${report.problem.code}]`;
    lines.push(
      `error    ${report.problem.stage}${code}: ${report.problem.message}`,
    );
  }
  const verdict = report.ok
    ? "ok"
    : report.problem !== null
    ? `failed at ${report.problem.stage}`
    : "failed";
  lines.push(
    `result   ${verdict}: ${report.passed} passed, ${report.failed} failed  ` +
      `(${report.durationMs} ms)`,
  );
  return lines.join("\n");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
