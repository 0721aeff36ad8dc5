import assert from "node:assert/strict";
import { join } from "node:path";
import { hostileModule } from "../../tests/support/hostile_modules.ts";
import { SeededRandom } from "../deps/mod.ts";
import { HOST_IMPORTS, inspectModule } from "../sandbox/mod.ts";
import { scaffoldSkill, testSkillDir } from "./authoring.ts";
import { PROJECT_ROOT } from "./build.ts";
import {
  contractTestCasesPassed,
  parseContract,
  runContract,
} from "./contract.ts";
import { parseManifest } from "./manifest.ts";

const C_EXAMPLE = join(
  PROJECT_ROOT,
  "tests",
  "fixtures",
  "skills-c",
  "word_count",
);

function toolPresent(command: string): boolean {
  try {
    return new Deno.Command(command, {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .outputSync().success;
  } catch {
    return false;
  }
}

const missingTools = ["clang", "wasm-ld", "make"].filter((tool) =>
  !toolPresent(tool)
);
if (missingTools.length > 0) {
  console.warn(
    `authoring_test: skipping the C example (not installed: ${
      missingTools.join(", ")
    }); ` +
      "install Debian's clang and lld to run it",
  );
}

/** A fresh copy of the C example's sources (no built module) in its own temporary folder. */
async function copyCExample(): Promise<string> {
  const dir = join(
    await Deno.makeTempDir({ prefix: "aos-c-skill-" }),
    "word_count",
  );
  await Deno.mkdir(dir);
  for await (const entry of Deno.readDir(C_EXAMPLE)) {
    if (entry.isFile && !entry.name.endsWith(".wasm")) {
      await Deno.copyFile(join(C_EXAMPLE, entry.name), join(dir, entry.name));
    }
  }
  return dir;
}

Deno.test("scaffoldSkill() writes a skill that testSkillDir() builds reproducibly and passes, and an edited contract fails", async () => {
  const parent = await Deno.makeTempDir({ prefix: "aos-new-skill-" });
  const first = await scaffoldSkill("greeter", join(parent, "greeter"));
  assert.deepEqual(first.files.sort(), [
    "README.md",
    "assembly/aos.ts",
    "assembly/index.ts",
    "assembly/json.ts",
    "contract.yaml",
    "manifest.yaml",
  ]);
  const { report, text } = await testSkillDir(first.dir);
  assert.equal(report.ok, true, text);
  assert.equal(report.skill, "greeter@0.1.0");
  assert.equal(report.build?.kind, "assemblyscript");
  assert.deepEqual([report.passed, report.failed], [3, 0]);
  assert.ok(
    report.module!.imports.every((name) => name.startsWith("extism:host/env.")),
  );
  assert.match(text, /^result {3}ok: 3 passed, 0 failed/m);

  // Elsewhere, under another path, with one expectation edited.
  const second = await scaffoldSkill(
    "greeter",
    join(parent, "elsewhere", "greeter"),
  );
  const contractPath = join(second.dir, "contract.yaml");
  const contract = await Deno.readTextFile(contractPath);
  await Deno.writeTextFile(
    contractPath,
    contract.replace('"Hello, Ada!"', '"Hello, Bob!"'),
  );
  const edited = await testSkillDir(second.dir);
  assert.equal(
    edited.report.build?.sha256,
    report.build?.sha256,
    "same sources, same bytes",
  );
  assert.equal(edited.report.ok, false);
  assert.deepEqual([edited.report.passed, edited.report.failed], [2, 1]);
  assert.equal(
    edited.report.cases[0]!.reason,
    'output differs at $.greeting: expected "Hello, Bob!", got "Hello, Ada!"',
  );
  assert.match(edited.text, /^FAIL {5}greets by name/m);
  assert.match(edited.text, /^result {3}failed: 2 passed, 1 failed/m);
});

Deno.test("scaffoldSkill() refuses an invalid name and a folder that is not empty", async () => {
  const parent = await Deno.makeTempDir({ prefix: "aos-new-skill-" });
  await assert.rejects(
    () => scaffoldSkill("Bad Name", join(parent, "x")),
    /invalid skill name "Bad Name"/,
  );
  await Deno.writeTextFile(join(parent, "keep.txt"), "mine");
  await assert.rejects(
    () => scaffoldSkill("ok", parent),
    /already exists and is not empty/,
  );
  assert.equal(await Deno.readTextFile(join(parent, "keep.txt")), "mine");
});

Deno.test("testSkillDir() names the stage that stopped it", async () => {
  const root = await Deno.makeTempDir({ prefix: "aos-skill-test-" });
  const manifest =
    "name: echo\nversion: 1.0.0\ninput_schema: {}\noutput_schema: {}\n";
  const folder = async (
    name: string,
    files: Record<string, string | Uint8Array>,
  ) => {
    const dir = join(root, name);
    await Deno.mkdir(dir);
    for (const [file, content] of Object.entries(files)) {
      const path = join(dir, file);
      if (typeof content === "string") await Deno.writeTextFile(path, content);
      else await Deno.writeFile(path, content);
    }
    return dir;
  };
  const stopped = async (dir: string) =>
    (await testSkillDir(dir)).report.problem;

  assert.equal((await stopped(await folder("empty", {})))?.stage, "manifest");
  assert.match(
    (await stopped(
      await folder("bad_manifest", { "manifest.yaml": "name: Echo\n" }),
    ))!.message,
    /name: lowercase letters/,
  );
  const make = await stopped(
    await folder("bad_make", {
      "manifest.yaml": manifest,
      Makefile: "echo.wasm:\n\t@echo compiler says no; exit 3\n",
    }),
  );
  assert.equal(make?.stage, "build");
  assert.match(make!.message, /make exited with 2:[\s\S]*compiler says no/);
  const wasi = await stopped(
    await folder("wasi", {
      "manifest.yaml": manifest,
      "echo.wasm": await hostileModule("wasi_import"),
    }),
  );
  assert.deepEqual([wasi?.stage, wasi?.code], [
    "module",
    "MODULE_IMPORT_FORBIDDEN",
  ]);
  const echo = await hostileModule("well_behaved");
  const noContract = await stopped(
    await folder("no_contract", {
      "manifest.yaml": manifest,
      "echo.wasm": echo,
    }),
  );
  assert.equal(noContract?.stage, "contract");

  const prebuilt = await testSkillDir(
    await folder("prebuilt", {
      "manifest.yaml": manifest,
      "echo.wasm": echo,
      "contract.yaml": `skill: echo
version: 1.0.0
summary: Echoes its params.
determinism: pure
test_cases:
  - { name: echoes, input: { a: [1, "x"] }, expect: { output: { a: [1, "x"] } } }
`,
    }),
  );
  assert.equal(prebuilt.report.ok, true, prebuilt.text);
  assert.equal(prebuilt.report.build?.kind, "prebuilt");
});

Deno.test({
  name:
    "the C example builds with make to the same bytes in any folder and passes its contract",
  ignore: missingTools.length > 0,
  fn: async () => {
    const runs = [];
    for (const dir of [await copyCExample(), await copyCExample()]) {
      const { report, text } = await testSkillDir(dir);
      assert.equal(report.ok, true, text);
      assert.equal(report.build?.kind, "make");
      runs.push(report);
    }
    const [first, second] = runs as [typeof runs[0], typeof runs[0]];
    assert.notEqual(first.dir, second.dir);
    assert.equal(first.build!.sha256, second.build!.sha256);
    assert.equal(first.passed, 6);

    const info = inspectModule(await Deno.readFile(first.build!.wasmPath));
    assert.equal(info.hasStart, false);
    assert.equal(
      info.memories[0]?.maxPages,
      16,
      "the Makefile declares a 1 MiB maximum",
    );
    assert.deepEqual(
      info.imports.filter((entry) => entry.module !== "extism:host/env").map((
        entry,
      ) => entry.name),
      ["aos_now"],
    );
  },
});

/** Characters that stress the C skill's JSON reading and its idea of whitespace. */
// deno-fmt-ignore
const ALPHABET = [
  "a", "Z", "é", "😀", " ", "\t", "\n", "\r", "\v", "\f", "\u00a0", "\u1680",
  "\u2000", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\ufeff",
  "\u200b", "\u0085", '"', "\\", "/", "\u0000", "\u001f", "\ud800", "\udc00",
];

Deno.test({
  name:
    "the C example counts words as JavaScript's /\\S+/g does, and reports bad params itself",
  ignore: missingTools.length > 0,
  fn: async () => {
    const dir = await copyCExample();
    const make = await new Deno.Command("make", { cwd: dir, stdout: "null" })
      .output();
    assert.ok(make.success);
    const seed = crypto.getRandomValues(new Uint32Array(1))[0]!;
    const random = new SeededRandom(seed);
    const texts = Array.from(
      { length: 200 },
      () =>
        Array.from(
          random.bytes(random.bytes(1)[0]! % 40),
          (byte) => ALPHABET[byte % ALPHABET.length]!,
        )
          .join(""),
    );
    const cases = texts.map((text, index) => ({
      name: `text ${index}`,
      input: { text },
      expect: {
        output: {
          at_ms: 1_700_000_000_000,
          words: (text.match(/\S+/g) ?? []).length,
        },
      },
    }));
    const refused = (input: unknown, reason: string) => ({
      name: `refuses ${JSON.stringify(input)}`,
      input,
      expect: {
        error: { code: "SKILL_INPUT_INVALID", details_subset: { reason } },
      },
    });
    const contract = parseContract(JSON.stringify({
      skill: "word_count",
      version: "1.0.0",
      summary: "property check",
      determinism: "recorded",
      failure_modes: [{ code: "SKILL_INPUT_INVALID", when: "bad params" }],
      test_cases: [
        ...cases,
        refused({ text: 42 }, "not_string"),
        refused({ txt: "x" }, "missing"),
        refused(["text"], "not_object"),
        refused(
          { text: "x", deep: [[[[[[[[[[[[[[[[{}]]]]]]]]]]]]]]]] },
          "too_deep",
        ),
      ],
    }));
    const manifest = parseManifest(
      await Deno.readTextFile(join(dir, "manifest.yaml")),
    );
    // An open input_schema, so bad params reach the skill's own checks.
    const results = await runContract(contract, {
      bytes: await Deno.readFile(join(dir, "word_count.wasm")),
      manifest: { ...manifest, input_schema: {} },
    });
    const failed = results.filter((result) => !result.pass);
    assert.ok(
      contractTestCasesPassed(results),
      `seed ${seed}: ${failed.length} cases failed, first: ${
        failed[0]?.name
      } ` +
        `${JSON.stringify(texts[Number(failed[0]?.name.slice(5))])}: ${
          failed[0]?.reason
        }`,
    );
  },
});

Deno.test("docs/skill-authoring.md lists exactly the imports HOST_IMPORTS grants, with their permissions", async () => {
  const doc = await Deno.readTextFile(
    join(PROJECT_ROOT, "docs", "skill-authoring.md"),
  );
  const documented: [string, string][] = [];
  for (const line of doc.split("\n")) {
    const row = /^\| `(extism:host\/\w+)` +\| (.+?) +\| (.+?) +\|$/.exec(line);
    if (row === null) continue;
    for (const [, name] of row[2]!.matchAll(/`([^`]+)`/g)) {
      documented.push([`${row[1]}.${name}`, row[3]!]);
    }
  }
  const granted = Object.entries(HOST_IMPORTS).flatMap((
    [namespace, functions],
  ) =>
    Object.entries(functions).map(([name, permissions]): [string, string] => [
      `${namespace}.${name}`,
      permissions.length === 0
        ? "always"
        : permissions.map((permission) => `\`${permission}\``).join(" or "),
    ])
  );
  const sorted = (entries: [string, string][]) =>
    [...entries].sort(([a], [b]) => a < b ? -1 : 1);
  assert.deepEqual(
    sorted(documented),
    sorted(granted),
    "update the host functions table in docs/skill-authoring.md",
  );
});
