import assert from "node:assert/strict";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { parse as parseYaml } from "yaml";
import { findSkillDirs, PROJECT_ROOT } from "./build.ts";
import { manifestJsonSchema } from "./manifest_json_schema.ts";

Deno.test("docs/manifest.schema.json is the schema generated from the manifest's zod schema", () => {
  const published = JSON.parse(
    Deno.readTextFileSync(join(PROJECT_ROOT, "docs", "manifest.schema.json")),
  );
  assert.deepEqual(
    published,
    manifestJsonSchema(),
    "run: deno run -A src/skills/manifest_json_schema.ts > docs/manifest.schema.json",
  );
});

Deno.test("every skill manifest in the repository validates against the published JSON Schema", () => {
  const validate = new Ajv2020({ strict: false }).compile(manifestJsonSchema());
  for (const dir of findSkillDirs(PROJECT_ROOT, { fixtures: true })) {
    const manifest = parseYaml(
      Deno.readTextFileSync(join(dir, "manifest.yaml")),
    );
    assert.ok(validate(manifest), `${dir}: ${JSON.stringify(validate.errors)}`);
  }
  assert.equal(
    validate({
      name: "Bad Name",
      version: "1",
      input_schema: {},
      output_schema: {},
    }),
    false,
  );
});
