import assert from "node:assert/strict";
import { join } from "node:path";
import {
  ASC_FLAGS,
  buildSkills,
  type BuildStamp,
  findSkillDirs,
  PROJECT_ROOT,
  sha256Hex,
} from "./build.ts";

/** Copies a skill folder and the shared library into a fresh temporary root. */
async function copySkill(
  skill: string,
): Promise<{ root: string; dir: string }> {
  const root = await Deno.makeTempDir({ prefix: "aos-skill-build-" });
  await copyTree(
    join(PROJECT_ROOT, "skills-wasm", "_lib"),
    join(root, "skills-wasm", "_lib"),
  );
  await copyTree(join(PROJECT_ROOT, skill), join(root, skill));
  return { root, dir: join(root, skill) };
}

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    // Build outputs stay behind: a copy must be built from sources alone.
    if (entry.name.endsWith(".wasm") || entry.name === ".build.json") continue;
    if (entry.isDirectory) {
      await copyTree(join(from, entry.name), join(to, entry.name));
    } else await Deno.copyFile(join(from, entry.name), join(to, entry.name));
  }
}

async function build(dir: string, root: string, ifStale: boolean) {
  const [built] = await buildSkills([dir], { ifStale, root });
  assert.ok(built);
  return built;
}

Deno.test("findSkillDirs() lists skills with manifests and fixtures only on request", () => {
  const names = (fixtures: boolean) =>
    findSkillDirs(PROJECT_ROOT, { fixtures }).map((dir) =>
      dir.slice(PROJECT_ROOT.length)
    );
  assert.ok(names(false).includes(join("skills-wasm", "json_transform")));
  assert.ok(
    !names(false).some((dir) =>
      dir.includes("_lib") || dir.includes("fixtures")
    ),
  );
  const withFixtures = names(true);
  assert.ok(
    withFixtures.includes(join("tests", "fixtures", "skills", "nonce")),
  );
  assert.ok(withFixtures.includes(join("tests", "fixtures", "skills", "spin")));
  assert.deepEqual(
    findSkillDirs(join(PROJECT_ROOT, "no-such-folder"), { fixtures: true }),
    [],
  );
});

Deno.test("buildSkills() is byte-reproducible across copies of the tree", async () => {
  const skills = ["skills-wasm/json_transform", "tests/fixtures/skills/nonce"];
  for (const skill of skills) {
    const first = await copySkill(skill);
    const second = await copySkill(skill);
    try {
      const a = await build(first.dir, first.root, false);
      const b = await build(second.dir, second.root, false);
      const inPlace = await build(
        join(PROJECT_ROOT, skill),
        PROJECT_ROOT,
        true,
      );
      assert.equal(a.sha256, b.sha256, skill);
      assert.equal(
        a.sha256,
        inPlace.sha256,
        `${skill}: a copy differs from the project's build`,
      );
      assert.equal(a.sha256, await sha256Hex(await Deno.readFile(a.wasmPath)));
      const stampA: BuildStamp = JSON.parse(
        await Deno.readTextFile(join(first.dir, ".build.json")),
      );
      const stampB: BuildStamp = JSON.parse(
        await Deno.readTextFile(join(second.dir, ".build.json")),
      );
      assert.deepEqual(stampA, stampB);
      assert.equal(stampA.compiler, "assemblyscript@0.28.20");
      assert.equal(stampA.pdk, "@extism/as-pdk@1.0.0");
      assert.deepEqual(stampA.flags, [...ASC_FLAGS]);
      assert.equal(stampA.wasm_sha256, a.sha256);
    } finally {
      await Deno.remove(first.root, { recursive: true });
      await Deno.remove(second.root, { recursive: true });
    }
  }
});

Deno.test("buildSkills() with ifStale skips up-to-date skills and rebuilds stale ones", async () => {
  const { root, dir } = await copySkill("tests/fixtures/skills/spin");
  try {
    const first = await build(dir, root, true);
    assert.equal(first.rebuilt, true, "no module yet");
    assert.deepEqual(
      { name: first.name, version: first.version, wasmPath: first.wasmPath },
      { name: "spin", version: "1.0.0", wasmPath: join(dir, "spin.wasm") },
    );
    assert.equal(
      (await build(dir, root, true)).rebuilt,
      false,
      "nothing changed",
    );
    assert.equal(
      (await build(dir, root, false)).rebuilt,
      true,
      "ifStale false always builds",
    );

    const source = join(dir, "assembly", "index.ts");
    await Deno.writeTextFile(source, "\n// edited\n", { append: true });
    assert.equal(
      (await build(dir, root, true)).rebuilt,
      true,
      "skill source edited",
    );
    assert.equal((await build(dir, root, true)).rebuilt, false);

    const lib = join(root, "skills-wasm", "_lib", "json.ts");
    await Deno.writeTextFile(lib, "\n// edited\n", { append: true });
    assert.equal(
      (await build(dir, root, true)).rebuilt,
      true,
      "shared library edited",
    );

    const wasm = await Deno.readFile(first.wasmPath);
    await Deno.writeFile(first.wasmPath, wasm.subarray(0, wasm.length - 1));
    const repaired = await build(dir, root, true);
    assert.equal(repaired.rebuilt, true, "module altered");
    assert.equal(repaired.sha256, await sha256Hex(wasm));

    await Deno.remove(join(dir, ".build.json"));
    assert.equal((await build(dir, root, true)).rebuilt, true, "stamp missing");
    await Deno.remove(first.wasmPath);
    assert.equal(
      (await build(dir, root, true)).rebuilt,
      true,
      "module missing",
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("buildSkills() names the skill and shows the compiler's diagnostics", async () => {
  const { root, dir } = await copySkill("tests/fixtures/skills/nonce");
  try {
    const source = join(dir, "assembly", "index.ts");
    await Deno.writeTextFile(
      source,
      "\nexport function broken(): i32 { return notDefined; }\n",
      {
        append: true,
      },
    );
    await assert.rejects(build(dir, root, false), (error: Error) => {
      assert.match(error.message, /skill nonce failed to compile/);
      assert.match(error.message, /notDefined/);
      return true;
    });
    assert.ok(
      !(await exists(join(dir, "nonce.wasm"))),
      "no module is written on failure",
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("buildSkills() refuses imports its stamp cannot track", async () => {
  const { root, dir } = await copySkill("tests/fixtures/skills/spin");
  try {
    await Deno.writeTextFile(
      join(root, "shared.ts"),
      "export const SHARED: i32 = 1;\n",
    );
    const source = join(dir, "assembly", "index.ts");
    const text = await Deno.readTextFile(source);
    await Deno.writeTextFile(
      source,
      `import { SHARED } from "../../../../../shared";\n${text}\n` +
        "export function shared(): i32 { return SHARED; }\n",
    );
    await assert.rejects(
      build(dir, root, false),
      /shared\.ts: a skill may import only its own assembly\/ folder/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("buildSkills() refuses an invalid manifest, naming the file", async () => {
  const { root, dir } = await copySkill("tests/fixtures/skills/spin");
  try {
    await Deno.writeTextFile(
      join(dir, "manifest.yaml"),
      "name: Not Valid\nversion: 1.0.0\n",
    );
    await assert.rejects(build(dir, root, false), (error: Error) => {
      assert.match(error.message, /manifest\.yaml: invalid manifest/);
      assert.match(error.message, /name/);
      return true;
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
