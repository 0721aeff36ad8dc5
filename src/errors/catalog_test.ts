import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { AosError, catalogEntries, ERROR_CODES } from "./mod.ts";
import { catalogCodes, parseCatalog } from "./catalog.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("the ErrorCode list and contracts/errors.yaml name the same codes", () => {
  assert.deepEqual([...catalogCodes()].sort(), [...ERROR_CODES].sort());
  for (const entry of catalogEntries()) {
    assert.ok(
      entry.fix_hint.length > 10,
      `${entry.code} needs a real fix hint`,
    );
    assert.equal(
      entry.retryable,
      entry.retry_hint !== "never",
      `${entry.code}: retryable and retry_hint disagree`,
    );
  }
});

Deno.test("every code the sources use is in the catalog", () => {
  // A code is a string literal that starts like a catalog code (VALIDATION_…,
  // ERR_…, every prefix the catalog uses), or any quoted word given as a
  // `code` or a `fallback`: the Wasm skills and host functions report codes
  // as plain strings that the type checker cannot see.
  const prefixes = [...new Set(ERROR_CODES.map((code) => code.split("_")[0]))];
  const pattern = new RegExp(
    `(["'])((?:${prefixes.join("|")})(?:_[A-Z0-9]+)+|INTERNAL)\\1` +
      `|\\b(?:code|fallback)\\s*[:=]\\s*(["'])([A-Z][A-Z0-9_]*[A-Z0-9])\\3`,
    "g",
  );
  const used = new Map<string, string>();
  const scan = (path: string) => {
    const text = Deno.readTextFileSync(path);
    for (const match of text.matchAll(pattern)) {
      const code = match[2] ?? match[4]!;
      if (!used.has(code)) used.set(code, relative(ROOT, path));
    }
  };
  const walk = (dir: string) => {
    for (const entry of Deno.readDirSync(dir)) {
      const path = join(dir, entry.name);
      if (
        entry.isDirectory &&
        !["node_modules", "data", ".git", "fixtures"].includes(entry.name)
      ) walk(path);
      if (
        entry.isFile && /\.ts$/.test(entry.name) &&
        !entry.name.endsWith("_test.ts")
      ) scan(path);
    }
  };
  for (const dir of ["actors", "src", "skills-wasm", "bench"]) {
    walk(join(ROOT, dir));
  }
  scan(join(ROOT, "main.ts"));
  const known = new Set<string>(ERROR_CODES);
  assert.ok(used.size > 50, `the scan found only ${used.size} codes`);
  const missing = [...used].filter(([code]) => !known.has(code)).map((
    [code, path],
  ) => `${code} (${path})`);
  assert.deepEqual(
    missing,
    [],
    `codes used in the source but missing from contracts/errors.yaml: ${
      missing.join(", ")
    }`,
  );
});

Deno.test("AosError takes category and retryability from the catalog and survives the wire", () => {
  const error = new AosError("SANDBOX_TIMEOUT", "slow", { details: { ms: 5 } });
  assert.equal(error.category, "TIMEOUT");
  assert.equal(error.retryable, true);
  assert.equal(error.httpStatus, 504);
  const rebuilt = AosError.fromJSON(JSON.parse(JSON.stringify(error)));
  assert.deepEqual(rebuilt.toRecorded(), error.toRecorded());
  const foreign = AosError.fromJSON(
    { code: "MY_OWN", message: "x" },
    "SKILL_ERROR",
  );
  assert.equal(foreign.code, "SKILL_ERROR");
  assert.equal(foreign.details.reported_code, "MY_OWN");
});

Deno.test("parseCatalog() refuses an entry without a category", () => {
  assert.throws(() =>
    parseCatalog("version: 1\ncodes:\n  X_Y:\n    http_status: 400\n")
  );
});
