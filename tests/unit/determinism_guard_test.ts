import assert from "node:assert/strict";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../src/skills/build.ts";

// Reading the world directly would make a run depend on something its log
// does not hold. The shell reaches it only through the seam in src/deps/.
const BANNED_IN_ACTORS: [RegExp, string][] = [
  [/\bDate\.now\s*\(/, "Date.now()"],
  [/new Date\(\s*\)/, "new Date()"],
  [/\bMath\.random\b/, "Math.random"],
  [/\bperformance\.now\b/, "performance.now"],
  [/\bfetch\s*\(/, "fetch()"],
  [/\bDeno\.env\b/, "Deno.env"],
  [/\bcrypto\.getRandomValues\b/, "crypto.getRandomValues"],
  [/\bset(Timeout|Interval)\s*\(/, "timers"],
];

// The reducer is pure on top of that: no I/O and nothing asynchronous.
const BANNED_IN_REDUCER: [RegExp, string][] = [
  [/\bawait\b/, "await"],
  [/\basync\b/, "async"],
  [/\bDeno\./, "Deno APIs"],
  [/\bconsole\./, "console"],
];

function sources(dir: string): string[] {
  return [...Deno.readDirSync(dir)]
    .filter((entry) =>
      entry.isFile && entry.name.endsWith(".ts") &&
      !entry.name.endsWith("_test.ts")
    )
    .map((entry) => join(dir, entry.name));
}

function violations(file: string, banned: [RegExp, string][]): string[] {
  const text = Deno.readTextFileSync(file).replace(/\/\/.*$/gm, "").replace(
    /\/\*[\s\S]*?\*\//g,
    "",
  );
  return banned.filter(([pattern]) => pattern.test(text)).map(([, name]) =>
    `${file}: ${name}`
  );
}

Deno.test("actors/ reads no clock, randomness, network or environment except through the seam", () => {
  const found = sources(join(PROJECT_ROOT, "actors")).flatMap((file) =>
    violations(file, BANNED_IN_ACTORS)
  );
  assert.deepEqual(found, []);
});

Deno.test("the run reducer and the plan templates it uses do no I/O and never await", () => {
  const files = [
    join(PROJECT_ROOT, "actors", "run_reducer.ts"),
    join(PROJECT_ROOT, "actors", "run_control.ts"),
    join(PROJECT_ROOT, "src", "plan", "template.ts"),
    join(PROJECT_ROOT, "src", "plan", "plan.ts"),
  ];
  const found = files.flatMap((file) =>
    violations(file, [...BANNED_IN_ACTORS, ...BANNED_IN_REDUCER])
  );
  assert.deepEqual(found, []);
});

Deno.test("the guard itself notices a banned call", () => {
  const file = Deno.makeTempFileSync({ suffix: ".ts" });
  Deno.writeTextFileSync(
    file,
    "export const t = Date.now();\n// Math.random in a comment is fine\n",
  );
  assert.deepEqual(violations(file, BANNED_IN_ACTORS), [`${file}: Date.now()`]);
});
