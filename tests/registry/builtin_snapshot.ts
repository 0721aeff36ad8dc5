/**
 * The registry snapshot of the built-in skills: name, version, module
 * sha256 and schema digests, computed from `skills-wasm/`. The committed
 * `builtin_snapshot.json` is compared with it by `snapshot_test.ts`; after a
 * deliberate change (a new version), refresh it:
 *
 *   deno run -A tests/registry/builtin_snapshot.ts --update
 */
import { join } from "node:path";
import { findSkillDirs, PROJECT_ROOT } from "../../src/skills/build.ts";
import { parseManifest } from "../../src/skills/manifest.ts";
import { canonicalJson, sha256Hex } from "../../src/store/mod.ts";

/** One built-in skill as the snapshot records it. */
export interface SnapshotEntry {
  name: string;
  version: string;
  sha256: string;
  input_schema_sha256: string;
  output_schema_sha256: string;
}

/** Where the committed snapshot lives. */
export const SNAPSHOT_FILE = join(
  PROJECT_ROOT,
  "tests",
  "registry",
  "builtin_snapshot.json",
);

/** The snapshot of what `skills-wasm/` builds today. */
export function currentSnapshot(): SnapshotEntry[] {
  return findSkillDirs(PROJECT_ROOT, { fixtures: false }).map((dir) => {
    const manifest = parseManifest(
      Deno.readTextFileSync(join(dir, "manifest.yaml")),
    );
    const bytes = Deno.readFileSync(join(dir, `${manifest.name}.wasm`));
    return {
      name: manifest.name,
      version: manifest.version,
      sha256: sha256Hex(bytes),
      input_schema_sha256: sha256Hex(canonicalJson(manifest.input_schema)),
      output_schema_sha256: sha256Hex(canonicalJson(manifest.output_schema)),
    };
  }).sort((a, b) => a.name.localeCompare(b.name));
}

/** What is wrong with `current` compared with the committed `snapshot`. */
export function snapshotProblems(
  snapshot: SnapshotEntry[],
  current: SnapshotEntry[],
): string[] {
  const problems: string[] = [];
  const now = new Map(current.map((entry) => [entry.name, entry]));
  for (const old of snapshot) {
    const entry = now.get(old.name);
    if (entry === undefined) {
      problems.push(
        `${old.name} was removed: built-in skills are never deleted silently`,
      );
      continue;
    }
    if (entry.version !== old.version) {
      problems.push(
        `${old.name} changed version ${old.version} → ${entry.version}: refresh the snapshot deliberately`,
      );
    } else {
      if (entry.sha256 !== old.sha256) {
        problems.push(
          `${old.name}@${old.version} has new bytes without a version bump`,
        );
      }
      if (
        entry.input_schema_sha256 !== old.input_schema_sha256 ||
        entry.output_schema_sha256 !== old.output_schema_sha256
      ) {
        problems.push(
          `${old.name}@${old.version} changed a schema without a version bump`,
        );
      }
    }
  }
  const known = new Set(snapshot.map((entry) => entry.name));
  for (const entry of current) {
    if (!known.has(entry.name)) {
      problems.push(`${entry.name} is new: add it to the snapshot`);
    }
  }
  return problems;
}

if (import.meta.main && Deno.args.includes("--update")) {
  await Deno.writeTextFile(
    SNAPSHOT_FILE,
    JSON.stringify(currentSnapshot(), null, 2) + "\n",
  );
  console.log(`wrote ${SNAPSHOT_FILE}`);
}
