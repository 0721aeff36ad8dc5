import { join } from "node:path";
import { buildSkills, PROJECT_ROOT } from "../../src/skills/build.ts";

/** A skill edited and rebuilt from source, in a temporary tree. */
export interface SkillVariant {
  /** The skill folder holding the rebuilt `.wasm` and its manifest. */
  dir: string;
  sha256: string;
  version: string;
  remove(): Promise<void>;
}

/** What to change in a copy of a skill. */
export interface VariantEdit {
  /** Text replacements in `assembly/index.ts`; each must match. */
  source: [string, string][];
  /** A new manifest version (default: unchanged). */
  version?: string;
}

/**
 * Copies a skill (`skills-wasm/<name>` or `tests/fixtures/skills/<name>`)
 * with the shared library into a fresh tree, edits its source and rebuilds
 * it with the project's compiler, as a developer changing the skill would.
 */
export async function buildVariant(
  skill: string,
  edit: VariantEdit,
): Promise<SkillVariant> {
  const root = await Deno.makeTempDir({ prefix: "aos-replay-variant-" });
  await copyTree(
    join(PROJECT_ROOT, "skills-wasm", "_lib"),
    join(root, "skills-wasm", "_lib"),
  );
  const dir = join(root, skill);
  await copyTree(join(PROJECT_ROOT, skill), dir);
  const sourcePath = join(dir, "assembly", "index.ts");
  let source = await Deno.readTextFile(sourcePath);
  for (const [from, to] of edit.source) {
    if (!source.includes(from)) throw new Error(`${skill}: no "${from}"`);
    source = source.replace(from, to);
  }
  await Deno.writeTextFile(sourcePath, source);
  const manifestPath = join(dir, "manifest.yaml");
  let manifest = await Deno.readTextFile(manifestPath);
  if (edit.version !== undefined) {
    manifest = manifest.replace(/^version: .*$/m, `version: ${edit.version}`);
    await Deno.writeTextFile(manifestPath, manifest);
  }
  const [built] = await buildSkills([dir], { ifStale: false, root });
  return {
    dir,
    sha256: built!.sha256,
    version: built!.version,
    remove: () => Deno.remove(root, { recursive: true }),
  };
}

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    // Build outputs stay behind: the copy is built from sources alone.
    if (entry.name.endsWith(".wasm") || entry.name === ".build.json") continue;
    if (entry.isDirectory) {
      await copyTree(join(from, entry.name), join(to, entry.name));
    } else await Deno.copyFile(join(from, entry.name), join(to, entry.name));
  }
}
