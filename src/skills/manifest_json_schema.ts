/**
 * The manifest's JSON Schema, generated from the zod schema so the two can
 * never disagree. Published as `docs/manifest.schema.json` for authors and
 * editors; `manifest_json_schema_test.ts` fails when that file is stale.
 *
 *   deno run -A src/skills/manifest_json_schema.ts > docs/manifest.schema.json
 */
import { z } from "zod";
import { manifestSchema } from "./manifest.ts";

/** The JSON Schema (draft 2020-12) of `manifest.yaml`. */
export function manifestJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(manifestSchema, { io: "input" }),
    $id: "https://aos.dev/schemas/skill-manifest.json",
    title: "AOS skill manifest",
    description:
      "The manifest.yaml shipped with every AOS skill module; see docs/skill-authoring.md.",
  };
}

if (import.meta.main) {
  console.log(JSON.stringify(manifestJsonSchema(), null, 2));
}
