/**
 * Reproducible builds of the AssemblyScript skills: same sources, same
 * compiler and flags → the same `.wasm` bytes, so a run that pins a skill's
 * sha256 can be replayed from a fresh checkout.
 *
 * @module
 */
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import {
  ASC_FLAGS,
  compileSkill,
  ensureToolchain,
  type Toolchain,
} from "./_asc.ts";
import { parseManifest, type SkillManifest } from "./manifest.ts";

/** The project root, from this file's location (never from the cwd). */
export const PROJECT_ROOT: string = fileURLToPath(
  new URL("../../", import.meta.url),
);

export { ASC_FLAGS } from "./_asc.ts";

/**
 * Where a skill outside this repository keeps its abort handler: a function
 * `skillAbort` in its `assembly/aos.ts` (what `aos skills new` writes). It
 * has no `skills-wasm/_lib`, so the in-tree handler is not available.
 */
export const OUT_OF_TREE_ABORT = "assembly/aos/skillAbort";

/** `ASC_FLAGS` with the skill's own abort handler: every other flag is the same. */
export const OUT_OF_TREE_ASC_FLAGS: readonly string[] = Object.freeze(
  ASC_FLAGS.map((flag) =>
    flag.startsWith("abort=") ? `abort=${OUT_OF_TREE_ABORT}` : flag
  ),
);

/** One skill after `buildSkills`. */
export interface BuiltSkill {
  /** The skill's folder (absolute). */
  dir: string;
  name: string;
  version: string;
  /** `<dir>/<name>.wasm`. */
  wasmPath: string;
  /** Lowercase hex sha256 of the module bytes. */
  sha256: string;
  /** False when `ifStale` found the module up to date. */
  rebuilt: boolean;
}

/** Options of `buildSkills`. */
export interface BuildOptions {
  /** Rebuild only when the module or its stamp is missing or out of date. */
  ifStale: boolean;
  /**
   * The tree holding `skills-wasm/_lib` and the skill folders; the
   * compiler sees paths relative to it, which keeps builds of a copied tree
   * byte-identical. Defaults to `PROJECT_ROOT`.
   */
  root?: string;
}

/** The `.build.json` stamp written beside each module. */
export interface BuildStamp {
  inputs_sha256: string;
  compiler: string;
  pdk: string;
  flags: string[];
  wasm_sha256: string;
}

/**
 * The skill folders under `root`: every `skills-wasm/<name>/` holding a
 * `manifest.yaml` (folders starting with `_` or `.` are libraries, not
 * skills), plus `tests/fixtures/skills/<name>/` when `fixtures` is true.
 * Sorted, absolute.
 *
 * @example
 * ```ts
 * const dirs = findSkillDirs(PROJECT_ROOT, { fixtures: true });
 * ```
 */
export function findSkillDirs(
  root: string,
  options: { fixtures: boolean },
): string[] {
  const parents = [join(root, "skills-wasm")];
  if (options.fixtures) parents.push(join(root, "tests", "fixtures", "skills"));
  const dirs: string[] = [];
  for (const parent of parents) {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(parent)];
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
    for (const entry of entries) {
      if (!entry.isDirectory || /^[_.]/.test(entry.name)) continue;
      const dir = join(parent, entry.name);
      if (exists(join(dir, "manifest.yaml"))) dirs.push(dir);
    }
  }
  return dirs.sort();
}

/**
 * Compiles each skill folder to `<dir>/<name>.wasm` and writes its
 * `.build.json` stamp. Builds run one after another (the compiler is large
 * and single-threaded anyway). Throws an Error naming the skill, with the
 * compiler's diagnostics, when a skill does not compile.
 *
 * @example
 * ```ts
 * const built = await buildSkills(findSkillDirs(PROJECT_ROOT, { fixtures: false }), { ifStale: true });
 * ```
 */
export async function buildSkills(
  dirs: string[],
  options: BuildOptions,
): Promise<BuiltSkill[]> {
  const root = resolve(options.root ?? PROJECT_ROOT);
  const toolchain = await ensureToolchain(PROJECT_ROOT);
  const built: BuiltSkill[] = [];
  for (const dir of dirs) {
    built.push(
      await buildSkill(resolve(dir), root, toolchain, options.ifStale),
    );
  }
  return built;
}

async function buildSkill(
  dir: string,
  root: string,
  toolchain: Toolchain,
  ifStale: boolean,
): Promise<BuiltSkill> {
  const manifest = readManifest(dir);
  const wasmPath = join(dir, `${manifest.name}.wasm`);
  const stampPath = join(dir, ".build.json");
  const inputs = inputFiles(dir, root);
  const inputsSha256 = await hashInputs(inputs, root, toolchain);
  const result = {
    dir,
    name: manifest.name,
    version: manifest.version,
    wasmPath,
  };
  if (ifStale) {
    const current = await currentModuleSha256(
      wasmPath,
      stampPath,
      inputsSha256,
      toolchain,
    );
    if (current !== null) return { ...result, sha256: current, rebuilt: false };
  }
  const entry = relative(root, join(dir, "assembly", "index.ts"))
    .replaceAll("\\", "/");
  if (entry.startsWith("..")) throw new Error(`${dir} is outside ${root}`);
  const tracked = new Set(inputs);
  const wasm = await compileSkill({
    name: manifest.name,
    entry,
    root,
    toolchain,
    sources: {
      allows: (path) => tracked.has(path),
      description: "its own assembly/ folder and skills-wasm/_lib",
    },
  });
  const sha256 = await sha256Hex(wasm);
  const stamp: BuildStamp = {
    inputs_sha256: inputsSha256,
    compiler: toolchain.compiler,
    pdk: toolchain.pdk,
    flags: [...ASC_FLAGS],
    wasm_sha256: sha256,
  };
  await writeAtomic(wasmPath, wasm);
  await writeAtomic(
    stampPath,
    new TextEncoder().encode(JSON.stringify(stamp, null, 2) + "\n"),
  );
  return { ...result, sha256, rebuilt: true };
}

/**
 * Compiles an AssemblyScript skill that lives outside this repository (a
 * folder with `manifest.yaml` and `assembly/index.ts`, depending only on
 * `@extism/as-pdk`) to `<dir>/<name>.wasm`, with `OUT_OF_TREE_ASC_FLAGS`.
 * The PDK is resolved from this project's node_modules; the compiler sees
 * paths relative to `dir` only, so the bytes do not depend on where the
 * folder is. Throws an Error with the compiler's diagnostics on failure.
 *
 * @example
 * ```ts
 * const built = await buildSkillDir("./greeter");
 * console.log(built.wasmPath, built.sha256);
 * ```
 */
export async function buildSkillDir(dir: string): Promise<BuiltSkill> {
  const absolute = resolve(dir);
  const manifest = readManifest(absolute);
  const toolchain = await ensureToolchain(PROJECT_ROOT);
  const wasm = await compileOutOfTree(manifest.name, absolute, toolchain);
  const wasmPath = join(absolute, `${manifest.name}.wasm`);
  await writeAtomic(wasmPath, wasm);
  return {
    dir: absolute,
    name: manifest.name,
    version: manifest.version,
    wasmPath,
    sha256: await sha256Hex(wasm),
    rebuilt: true,
  };
}

// An out-of-tree skill: the out-of-tree flags (its own abort handler), and
// its folder as the only source tree besides the PDK.
function compileOutOfTree(
  name: string,
  dir: string,
  toolchain: Toolchain,
): Promise<Uint8Array> {
  return compileSkill({
    name,
    entry: "assembly/index.ts",
    root: dir,
    toolchain,
    flags: OUT_OF_TREE_ASC_FLAGS,
    sources: {
      allows: (path) => path.startsWith(dir + sep),
      description: "its own folder and @extism/as-pdk",
    },
    abort: {
      handler: OUT_OF_TREE_ABORT,
      hint: "A skill built outside this repository defines its abort handler " +
        "as skillAbort in assembly/aos.ts (see aos skills new).",
    },
  });
}

/** The module's sha256 when module and stamp match the inputs, else null. */
async function currentModuleSha256(
  wasmPath: string,
  stampPath: string,
  inputsSha256: string,
  toolchain: Toolchain,
): Promise<string | null> {
  let stamp: Partial<BuildStamp>;
  let wasm: Uint8Array;
  try {
    stamp = JSON.parse(await Deno.readTextFile(stampPath));
    wasm = await Deno.readFile(wasmPath);
  } catch {
    return null; // missing or unreadable: rebuild
  }
  const upToDate = stamp.inputs_sha256 === inputsSha256 &&
    stamp.compiler === toolchain.compiler &&
    stamp.pdk === toolchain.pdk &&
    JSON.stringify(stamp.flags) === JSON.stringify(ASC_FLAGS);
  if (!upToDate) return null;
  const sha256 = await sha256Hex(wasm);
  return sha256 === stamp.wasm_sha256 ? sha256 : null;
}

/** The manifest, validated by the same schema the registry uses. */
function readManifest(dir: string): SkillManifest {
  const path = join(dir, "manifest.yaml");
  try {
    return parseManifest(Deno.readTextFileSync(path));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`${path}: invalid manifest: ${reason}`, { cause: error });
  }
}

/**
 * The files a skill's build depends on: its manifest, its `assembly/`
 * sources and the shared `_lib` sources (the compiler refuses any other).
 */
function inputFiles(dir: string, root: string): string[] {
  return [
    join(dir, "manifest.yaml"),
    ...listFiles(join(dir, "assembly")),
    ...listFiles(join(root, "skills-wasm", "_lib")),
  ];
}

/**
 * sha256 over the input files, the compiler and PDK versions and the flags.
 * Paths are relative to `root`, so a copied tree hashes the same.
 */
async function hashInputs(
  files: string[],
  root: string,
  toolchain: Toolchain,
): Promise<string> {
  const lines = [toolchain.compiler, toolchain.pdk, JSON.stringify(ASC_FLAGS)];
  for (const file of files) {
    const path = relative(root, file).replaceAll("\\", "/");
    lines.push(`${path} ${await sha256Hex(await Deno.readFile(file))}`);
  }
  return sha256Hex(new TextEncoder().encode(lines.join("\n")));
}

/** Regular files under `dir`, recursively, sorted by path. */
function listFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) files.push(...listFiles(path));
    else if (entry.isFile) files.push(path);
  }
  return files.sort();
}

/** Lowercase hex sha256 of `bytes`. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    bytes as Uint8Array<ArrayBuffer>,
  );
  return Array.from(
    new Uint8Array(digest),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

/** Write-then-rename, so a concurrent reader never sees half a module. */
async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const temporary = await Deno.makeTempFile({
    dir: dirname(path),
    prefix: ".build-",
  });
  try {
    await Deno.writeFile(temporary, bytes);
    // makeTempFile creates the file owner-only; modules are meant to be read.
    if (Deno.build.os !== "windows") await Deno.chmod(temporary, 0o644);
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
