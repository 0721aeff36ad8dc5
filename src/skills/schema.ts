/**
 * Compiles a skill manifest's `input_schema` and `output_schema` (JSON Schema
 * draft 2020-12) into checks that report catalog errors with JSON pointers.
 *
 * Hosting risks, and what guards each:
 * - Remote schemas: every `$ref` must be local (`#...`), so nothing is ever
 *   fetched or looked up outside the schema; `format` is an annotation only
 *   (the 2020-12 default), so no format needs DNS or network.
 * - Huge or deep schemas: at most `SCHEMA_LIMITS.bytesMax` of JSON and
 *   `subschemaDepthMax` nested subschemas each, so compiling stays cheap.
 * - Regular expressions: Ajv compiles `pattern` and `patternProperties` with
 *   `new RegExp(source, "u")`, a backtracking engine that cannot be
 *   interrupted. A repeated group that holds an unbounded quantifier
 *   (`(a+)+`, `(\w+\s?)*`, `(.*,){20}`) is refused: that is the classic
 *   exponential case. Overlapping alternatives (`(a|aa)*`) and polynomial
 *   ones (`\d+\d+\d+x`) still pass; the input size cap bounds them.
 * - Deep values: a recursive schema (`$ref: "#"`) recurses once per level of
 *   the value; when the stack runs out the check reports a validation issue
 *   instead of crashing the host.
 * - `uniqueItems` on arrays of objects is quadratic in the array's length;
 *   only the input size cap bounds it.
 *
 * @module
 */
import {
  Ajv2020,
  type ErrorObject,
  type ValidateFunction,
} from "ajv/dist/2020.js";
import { AosError } from "../errors/mod.ts";
import { canonicalJson, sha256Hex } from "../store/mod.ts";
import type { SkillManifest } from "./manifest.ts";

/** Limits on a manifest's schemas and on what a failed check reports. */
export const SCHEMA_LIMITS = {
  /** Largest schema, as canonical JSON in UTF-8. */
  bytesMax: 256 * 1024,
  /** Deepest nesting of subschemas (`properties/a/items/...`). */
  subschemaDepthMax: 64,
  /** Most issues an error lists; `details.issues_total` has the full count. */
  issuesMax: 20,
  /** Longest issue message; longer ones are cut. */
  messageCharsMax: 200,
  /** Longest issue pointer; longer ones are cut and end in "…". */
  pointerCharsMax: 1000,
  /** Compiled manifests kept; the least recently used is dropped first. */
  cachedManifestsMax: 1024,
} as const;

/** One way a value breaks a schema. */
export interface SchemaIssue {
  /** JSON pointer into the value; a missing or extra member is pointed at. */
  pointer: string;
  message: string;
  /** The keyword that failed; "depth" when the value nests too deeply to check. */
  keyword: string;
}

/** The compiled checks of one skill version. */
export interface SkillSchemas {
  /** `name@version` of the skill. */
  readonly skill: string;
  /** Undefined when `value` matches `input_schema`, else `VALIDATION_INPUT_SCHEMA`. */
  checkInput(value: unknown): AosError | undefined;
  /** Undefined when `value` matches `output_schema`, else `VALIDATION_OUTPUT_SCHEMA`. */
  checkOutput(value: unknown): AosError | undefined;
}

/** What `compileSkillSchemas` reads from a manifest. */
export type SchemaManifest = Pick<
  SkillManifest,
  "name" | "version" | "input_schema" | "output_schema"
>;

type SchemaName = "input_schema" | "output_schema";

// One instance for every skill: its meta-schemas compile once (~40 ms).
// `removeSchema()` after each compile drops everything but the meta-schemas,
// so one skill's `$id` can neither clash with nor be referenced by another's.
const ajv = new Ajv2020({
  strict: true,
  // The if/then idiom `then: { required: [x] }` names properties declared
  // by the parent schema; strictRequired refuses it (json_transform uses it).
  strictRequired: false,
  allowUnionTypes: true,
  allErrors: true,
  validateFormats: false,
});

const cache = new Map<string, SkillSchemas>();
const encoder = new TextEncoder();

/**
 * Compiles both schemas of `manifest`, or returns the cached checks when this
 * name, version and schema text were compiled before. Throws
 * `SKILL_MANIFEST_INVALID` naming the schema and the reason when a schema is
 * not JSON Schema AOS accepts.
 *
 * @example
 * ```ts
 * const schemas = compileSkillSchemas(manifest);
 * const failure = schemas.checkInput({ op: "extract" });
 * failure?.details.issues; // [{ pointer: "/input", message: "is required", keyword: "required" }, …]
 * ```
 */
export function compileSkillSchemas(manifest: SchemaManifest): SkillSchemas {
  const skill = `${manifest.name}@${manifest.version}`;
  const inputText = schemaText(manifest, "input_schema");
  const outputText = schemaText(manifest, "output_schema");
  const key = `${skill}#${sha256Hex(`${inputText}\n${outputText}`)}`;
  const cached = cache.get(key);
  if (cached !== undefined) {
    cache.delete(key);
    cache.set(key, cached);
    return cached;
  }
  const input = compile(manifest, "input_schema", inputText);
  const output = compile(manifest, "output_schema", outputText);
  const schemas: SkillSchemas = {
    skill,
    checkInput: (value) =>
      check(input, value, { skill, schema: "input_schema" }),
    checkOutput: (value) =>
      check(output, value, { skill, schema: "output_schema" }),
  };
  if (cache.size >= SCHEMA_LIMITS.cachedManifestsMax) {
    cache.delete(cache.keys().next().value!);
  }
  cache.set(key, schemas);
  return schemas;
}

function manifestInvalid(
  manifest: SchemaManifest,
  schema: SchemaName,
  reason: string,
  cause?: unknown,
): AosError {
  return new AosError(
    "SKILL_MANIFEST_INVALID",
    `${manifest.name}@${manifest.version}: ${schema} is not a JSON Schema AOS accepts: ${reason}`,
    {
      details: {
        skill: manifest.name,
        version: manifest.version,
        schema,
        reason,
      },
      cause,
    },
  );
}

function schemaText(manifest: SchemaManifest, schema: SchemaName): string {
  let text: string;
  try {
    text = canonicalJson(manifest[schema]);
  } catch (error) {
    // Cycles (YAML anchors can make them) overflow the stack here.
    const reason = error instanceof RangeError
      ? "it is cyclic or nests too deeply"
      : `it is not JSON (${(error as Error).message})`;
    throw manifestInvalid(manifest, schema, reason, error);
  }
  const bytes = encoder.encode(text).length;
  if (bytes > SCHEMA_LIMITS.bytesMax) {
    throw manifestInvalid(
      manifest,
      schema,
      `it is ${bytes} bytes of JSON; the limit is ${SCHEMA_LIMITS.bytesMax}`,
    );
  }
  return text;
}

// The copy is parsed from the hashed text, so the validator matches its key
// even if the caller later changes the manifest object.
function compile(
  manifest: SchemaManifest,
  schema: SchemaName,
  text: string,
): ValidateFunction {
  const copy = JSON.parse(text);
  const problem = schemaProblem(copy, "", 0);
  if (problem !== undefined) throw manifestInvalid(manifest, schema, problem);
  try {
    return ajv.compile(copy);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw manifestInvalid(manifest, schema, clip(message, 500), error);
  } finally {
    ajv.removeSchema();
  }
}

const SUBSCHEMA = new Set([
  "not",
  "if",
  "then",
  "else",
  "items",
  "additionalItems",
  "additionalProperties",
  "propertyNames",
  "contains",
  "unevaluatedItems",
  "unevaluatedProperties",
]);
const SUBSCHEMA_LISTS = new Set(["allOf", "anyOf", "oneOf", "prefixItems"]);
const SUBSCHEMA_MAPS = new Set([
  "properties",
  "patternProperties",
  "$defs",
  "definitions",
  "dependentSchemas",
  "dependencies",
]);
const REFERENCES = ["$ref", "$dynamicRef", "$recursiveRef"];

/**
 * What AOS refuses beyond what Ajv refuses: non-local references, risky
 * patterns, deep nesting. Only subschema positions are walked, so a `const`
 * or `default` holding `{ "$ref": "http://..." }` is data, not a reference;
 * anything malformed is left to Ajv's meta-schema check.
 */
function schemaProblem(
  schema: unknown,
  at: string,
  depth: number,
): string | undefined {
  if (!isRecord(schema)) return undefined;
  if (depth > SCHEMA_LIMITS.subschemaDepthMax) {
    return `subschemas nest deeper than ${SCHEMA_LIMITS.subschemaDepthMax} levels at ${at}`;
  }
  for (const keyword of REFERENCES) {
    const reference = schema[keyword];
    if (typeof reference === "string" && !reference.startsWith("#")) {
      return `${at}/${keyword} "${
        clip(reference, 100)
      }" is not local; only "#..." references are allowed`;
    }
  }
  const patterns = typeof schema.pattern === "string" ? [schema.pattern] : [];
  if (isRecord(schema.patternProperties)) {
    patterns.push(...Object.keys(schema.patternProperties));
  }
  for (const pattern of patterns) {
    if (repeatsUnboundedQuantifier(pattern)) {
      return `pattern "${
        clip(pattern, 100)
      }" at ${at}/ repeats a group that holds an unbounded quantifier, which can backtrack exponentially`;
    }
  }
  for (const [keyword, value] of Object.entries(schema)) {
    let children: [string, unknown][] = [];
    if (SUBSCHEMA.has(keyword)) children = [[keyword, value]];
    else if (SUBSCHEMA_LISTS.has(keyword) && Array.isArray(value)) {
      children = value.map((child, index) => [`${keyword}/${index}`, child]);
    } else if (SUBSCHEMA_MAPS.has(keyword) && isRecord(value)) {
      children = Object.entries(value).map((
        [name, child],
      ) => [`${keyword}/${escapePointer(name)}`, child]);
    }
    for (const [path, child] of children) {
      const problem = schemaProblem(child, `${at}/${path}`, depth + 1);
      if (problem !== undefined) return problem;
    }
  }
  return undefined;
}

/**
 * True when a group repeated more than once (`*`, `+`, `{n,}`, `{n,m}` with
 * m > 1) contains an unbounded quantifier: star height above one.
 * Exported for tests.
 */
export function repeatsUnboundedQuantifier(pattern: string): boolean {
  const groups: boolean[] = [false]; // per open group: holds `*`, `+` or `{n,}`
  let lastGroupUnbounded = false; // the atom before a quantifier was such a group
  for (let index = 0; index < pattern.length; index++) {
    const char = pattern[index]!;
    if (char === "\\") {
      index++;
      lastGroupUnbounded = false;
    } else if (char === "[") {
      // A class is one atom; in u mode `[]` is empty, so the first `]` ends it.
      for (index++; index < pattern.length && pattern[index] !== "]"; index++) {
        if (pattern[index] === "\\") index++;
      }
      lastGroupUnbounded = false;
    } else if (char === "(") {
      groups.push(false);
      lastGroupUnbounded = false;
    } else if (char === ")") {
      lastGroupUnbounded = groups.pop() ?? false;
      if (lastGroupUnbounded && groups.length > 0) {
        groups[groups.length - 1] = true;
      }
      if (groups.length === 0) groups.push(false); // unbalanced: Ajv refuses it
    } else {
      const quantifier = quantifierAt(pattern, index);
      if (quantifier === undefined) {
        lastGroupUnbounded = false;
        continue;
      }
      if (lastGroupUnbounded && quantifier.max > 1) return true;
      if (quantifier.max === Infinity) groups[groups.length - 1] = true;
      index += quantifier.length - 1;
      if (pattern[index + 1] === "?") index++; // lazy
      lastGroupUnbounded = false;
    }
  }
  return false;
}

function quantifierAt(
  pattern: string,
  index: number,
): { max: number; length: number } | undefined {
  const char = pattern[index];
  if (char === "*" || char === "+") return { max: Infinity, length: 1 };
  if (char === "?") return { max: 1, length: 1 };
  if (char !== "{") return undefined;
  const braces = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(index, index + 40));
  if (braces === null) return undefined;
  const max = braces[2] === undefined
    ? Number(braces[1])
    : braces[3] === ""
    ? Infinity
    : Number(braces[3]);
  return { max, length: braces[0].length };
}

function check(
  validate: ValidateFunction,
  value: unknown,
  context: { skill: string; schema: SchemaName },
): AosError | undefined {
  const input = context.schema === "input_schema";
  const code = input ? "VALIDATION_INPUT_SCHEMA" : "VALIDATION_OUTPUT_SCHEMA";
  const what = input ? "input" : "output";
  let errors: ErrorObject[];
  try {
    if (validate(value)) return undefined;
    errors = validate.errors ?? [];
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    const issue: SchemaIssue = {
      pointer: "",
      message: "nests too deeply to check (or the schema recurses without end)",
      keyword: "depth",
    };
    return new AosError(
      code,
      `${context.skill}: the ${what} ${issue.message} against its ${context.schema}`,
      {
        details: { ...context, issues: [issue], issues_total: 1 },
        cause: error,
      },
    );
  }
  const issues = errors.slice(0, SCHEMA_LIMITS.issuesMax).map(issueOf);
  const first = issues[0];
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : "";
  const where = first?.pointer === "" ? "the value" : first?.pointer;
  return new AosError(
    code,
    `${context.skill}: the ${what} does not match its ${context.schema}: ${where} ${first?.message}${more}`,
    { details: { ...context, issues, issues_total: errors.length } },
  );
}

function issueOf(error: ErrorObject): SchemaIssue {
  const params = error.params as Record<string, unknown>;
  let member: unknown;
  let message = error.message ?? `fails ${error.keyword}`;
  if (error.keyword === "required" || error.keyword === "dependentRequired") {
    member = params.missingProperty;
    message = "is required";
  } else if (error.keyword === "additionalProperties") {
    member = params.additionalProperty;
    message = "is not allowed";
  } else if (error.keyword === "unevaluatedProperties") {
    member = params.unevaluatedProperty;
    message = "is not allowed";
  } else if (typeof params.propertyName === "string") {
    member = params.propertyName;
  }
  const pointer = typeof member === "string"
    ? `${error.instancePath}/${escapePointer(member)}`
    : error.instancePath;
  return {
    pointer: clip(pointer, SCHEMA_LIMITS.pointerCharsMax),
    message: clip(message, SCHEMA_LIMITS.messageCharsMax),
    keyword: error.keyword,
  };
}

function escapePointer(name: string): string {
  return name.replaceAll("~", "~0").replaceAll("/", "~1");
}

function clip(text: string, charsMax: number): string {
  return text.length <= charsMax ? text : `${text.slice(0, charsMax - 1)}…`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
