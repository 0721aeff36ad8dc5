// The AssemblyScript compiler, run in-process with the flags of the skill ABI.
import { join, resolve } from "node:path";

/**
 * Compiler flags of every skill build. Each one is part of the skill ABI:
 * - O3 without shrinking: skills are small, step latency matters more;
 * - the incremental GC runtime: plugin instances are reused across calls,
 *   so garbage must be reclaimed between them;
 * - `_initialize` is exported instead of a start section: the sandbox refuses
 *   start sections, and the Extism SDK calls `_initialize` once after
 *   instantiation (the "reactor" convention), which runs global initialisers;
 * - abort goes to the shared handler, so no `env.abort` import exists.
 * Debug information stays off (the default): it is not needed to run.
 */
export const ASC_FLAGS: readonly string[] = Object.freeze([
  "--optimizeLevel",
  "3",
  "--shrinkLevel",
  "0",
  "--runtime",
  "incremental",
  "--exportStart",
  "_initialize",
  "--use",
  "abort=skills-wasm/_lib/abi/skillAbort",
  "--noColors",
]);

/** The installed compiler and PDK; their versions are build inputs. */
export interface Toolchain {
  /** `assemblyscript@<version>`. */
  compiler: string;
  /** `@extism/as-pdk@<version>`. */
  pdk: string;
  /** The node_modules folder, for the compiler's package lookup. */
  nodeModules: string;
}

function packageVersion(nodeModules: string, name: string): string | null {
  try {
    const text = Deno.readTextFileSync(join(nodeModules, name, "package.json"));
    return `${name}@${(JSON.parse(text) as { version: string }).version}`;
  } catch {
    return null;
  }
}

/** Locates compiler and PDK under `projectRoot`, running `deno install` if needed. */
export async function ensureToolchain(projectRoot: string): Promise<Toolchain> {
  const nodeModules = join(projectRoot, "node_modules");
  const find = () => ({
    compiler: packageVersion(nodeModules, "assemblyscript"),
    pdk: packageVersion(nodeModules, "@extism/as-pdk"),
  });
  let found = find();
  if (found.compiler === null || found.pdk === null) {
    // The PDK is AssemblyScript source only the compiler reads: nothing
    // imports it, so Deno's automatic node_modules never installs it.
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["install"],
      cwd: projectRoot,
      stdout: "piped",
      stderr: "piped",
    }).output();
    found = find();
    if (found.compiler === null || found.pdk === null) {
      const stderr = new TextDecoder().decode(output.stderr);
      throw new Error(
        `deno install did not provide assemblyscript and @extism/as-pdk: ${stderr}`,
      );
    }
  }
  return { compiler: found.compiler, pdk: found.pdk, nodeModules };
}

/** What `compileSkill` compiles. */
export interface CompileRequest {
  /** The skill's name, for messages and the output file name. */
  name: string;
  /** The entry file, relative to `root` with forward slashes. */
  entry: string;
  /** The compiler's base directory; every path it embeds is relative to it. */
  root: string;
  toolchain: Toolchain;
  /**
   * The sources the build may read besides the PDK (for in-tree skills, the
   * files the build stamp hashes). Reading any other fails the build: the
   * stamp, or the skill's author, could not see it.
   */
  sources: {
    allows: (path: string) => boolean;
    /** What `allows` admits, for the error message. */
    description: string;
  };
  /** Compiler flags; `ASC_FLAGS` by default. */
  flags?: readonly string[];
  /** Where the abort handler must live, for the message when it is missing. */
  abort?: { handler: string; hint: string };
}

/** Runs asc in-process; returns the module bytes or throws with its diagnostics. */
export async function compileSkill(
  request: CompileRequest,
): Promise<Uint8Array> {
  const asc = await import("assemblyscript/asc");
  if (`assemblyscript@${asc.version}` !== request.toolchain.compiler) {
    throw new Error(
      `loaded assemblyscript@${asc.version} but node_modules has ${request.toolchain.compiler}`,
    );
  }
  const stdout = new TextSink();
  const stderr = new TextSink();
  const outFile = `${request.name}.wasm`;
  let wasm: Uint8Array | null = null;
  const read: string[] = [];
  const result = await asc.main([
    request.entry,
    ...(request.flags ?? ASC_FLAGS),
    ...["--baseDir", request.root],
    ...["--path", request.toolchain.nodeModules],
    ...["--outFile", outFile],
  ], {
    stdout,
    stderr,
    readFile: (file: string, baseDir: string) => {
      // An asconfig.json could add flags the stamp does not record.
      if (file.endsWith("asconfig.json")) return null;
      const path = resolve(baseDir, file);
      try {
        const text = Deno.readTextFileSync(path);
        read.push(path);
        return text;
      } catch {
        return null;
      }
    },
    writeFile: (file: string, contents: Uint8Array | string) => {
      if (file === outFile && typeof contents !== "string") wasm = contents;
    },
    listFiles: () => [],
  });
  if (result.error !== null || wasm === null) {
    let reason = stderr.text() || String(result.error ?? "no module emitted");
    const abort = request.abort ?? {
      handler: "_lib/abi/skillAbort",
      hint: "Every skill must import skills-wasm/_lib/abi (it provides abort).",
    };
    if (reason.includes(`${abort.handler}' not found`)) {
      reason += `\n${abort.hint}`;
    }
    throw new Error(`skill ${request.name} failed to compile:\n${reason}`);
  }
  const pdkDir = join(request.toolchain.nodeModules, "@extism", "as-pdk");
  const untracked = read.filter((path) =>
    !request.sources.allows(path) && !path.startsWith(pdkDir)
  );
  if (untracked.length > 0) {
    throw new Error(
      `skill ${request.name} imports ${untracked.join(", ")}: a skill may ` +
        `import only ${request.sources.description}`,
    );
  }
  return wasm;
}

/** An asc output stream that keeps what was written. */
class TextSink {
  #chunks: string[] = [];
  #decoder = new TextDecoder();

  write(chunk: Uint8Array | string): void {
    this.#chunks.push(
      typeof chunk === "string" ? chunk : this.#decoder.decode(chunk),
    );
  }

  text(): string {
    return this.#chunks.join("");
  }
}
