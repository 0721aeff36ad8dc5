import assert from "node:assert/strict";
import { join } from "node:path";
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
  const used = new Set<string>();
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
      ) {
        const text = Deno.readTextFileSync(path);
        for (
          const match of text.matchAll(
            /"((?:ERR|SANDBOX|SKILL|STORE|PLAN|VALIDATION|RUN|HOST|LOG|REPLAY|ROUTE|SUPERVISOR|AUTH|TENANT|API_KEY|BUDGET)_[A-Z0-9_]*[A-Z0-9])"/g,
          )
        ) {
          used.add(match[1]!);
        }
      }
    }
  };
  for (const dir of ["actors", "src", "skills-wasm"]) walk(join(ROOT, dir));
  const known = new Set<string>(ERROR_CODES);
  const missing = [...used].filter((code) =>
    !known.has(code) && code !== "SKILL_ABORTED_"
  );
  assert.deepEqual(
    missing,
    [],
    "codes used in the source but missing from contracts/errors.yaml",
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
