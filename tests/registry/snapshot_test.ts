import assert from "node:assert/strict";
import { join } from "node:path";
import { findSkillDirs, PROJECT_ROOT } from "../../src/skills/build.ts";
import { parseManifest } from "../../src/skills/manifest.ts";
import {
  currentSnapshot,
  SNAPSHOT_FILE,
  type SnapshotEntry,
  snapshotProblems,
} from "./builtin_snapshot.ts";

const committed = (): SnapshotEntry[] =>
  JSON.parse(Deno.readTextFileSync(SNAPSHOT_FILE));

Deno.test("the built-in skills match the committed registry snapshot", () => {
  assert.deepEqual(snapshotProblems(committed(), currentSnapshot()), []);
});

Deno.test("every built-in skill declares non-empty input and output schemas", () => {
  for (const dir of findSkillDirs(PROJECT_ROOT, { fixtures: false })) {
    const manifest = parseManifest(
      Deno.readTextFileSync(join(dir, "manifest.yaml")),
    );
    for (const schema of [manifest.input_schema, manifest.output_schema]) {
      assert.ok(
        Object.keys(schema).length > 0,
        `${manifest.name} has an empty schema`,
      );
    }
  }
});

Deno.test("snapshotProblems() catches deletion, version change, new bytes and new schemas", () => {
  const base: SnapshotEntry = {
    name: "a",
    version: "1.0.0",
    sha256: "1",
    input_schema_sha256: "i",
    output_schema_sha256: "o",
  };
  assert.deepEqual(snapshotProblems([base], [base]), []);
  assert.match(snapshotProblems([base], [])[0]!, /removed/);
  assert.match(
    snapshotProblems([base], [{ ...base, version: "1.1.0", sha256: "2" }])[0]!,
    /changed version/,
  );
  assert.match(
    snapshotProblems([base], [{ ...base, sha256: "2" }])[0]!,
    /new bytes without a version bump/,
  );
  assert.match(
    snapshotProblems([base], [{ ...base, output_schema_sha256: "x" }])[0]!,
    /schema without a version bump/,
  );
  assert.match(snapshotProblems([], [base])[0]!, /is new/);
});
