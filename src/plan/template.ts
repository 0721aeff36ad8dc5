import { AosError } from "../errors/mod.ts";
import { canonicalJson, type Json } from "../store/mod.ts";

// {{steps.<id>.output<path>}} and {{context<path>}}, where path is .name,
// [0] or ["key"] segments. `{{secret:NAME}}` is not a plan template: it
// travels to the skill as it is and only the host resolves it, at the moment
// of an outbound request.
const TEMPLATE = /\{\{(?!secret:)\s*([^{}]*?)\s*\}\}/g;
const WHOLE_TEMPLATE = /^\{\{(?!secret:)\s*([^{}]*?)\s*\}\}$/;
const PATH = String.raw`((?:\.[A-Za-z_$][\w$-]*|\[\d+\]|\["[^"\\]*"\])*)`;
const STEP_REFERENCE = new RegExp(
  String.raw`^steps\.([A-Za-z][A-Za-z0-9_-]*)\.output${PATH}$`,
);
const CONTEXT_REFERENCE = new RegExp(String.raw`^context${PATH}$`);
const SEGMENT = /\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\["([^"\\]*)"\]/g;

/** What templates and conditions can read: earlier outputs and the plan's context. */
export interface TemplateScope {
  outputs: Readonly<Record<string, Json>>;
  context: Readonly<Record<string, Json>>;
}

/** A reference found in a step's params. */
export interface TemplateReference {
  /** The step whose output is read; undefined for `{{context…}}`. */
  step: string | undefined;
  path: (string | number)[];
  /** JSON pointer of the string holding the reference. */
  pointer: string;
}

function parseSegments(text: string): (string | number)[] {
  const path: (string | number)[] = [];
  for (const segment of text.matchAll(SEGMENT)) {
    path.push(
      segment[2] !== undefined
        ? Number(segment[2])
        : (segment[1] ?? segment[3])!,
    );
  }
  return path;
}

function parseReference(
  expression: string,
  pointer: string,
): TemplateReference {
  const step = STEP_REFERENCE.exec(expression);
  if (step !== null) {
    return { step: step[1]!, path: parseSegments(step[2]!), pointer };
  }
  const context = CONTEXT_REFERENCE.exec(expression);
  if (context !== null) {
    return { step: undefined, path: parseSegments(context[1]!), pointer };
  }
  throw new AosError(
    "PLAN_TEMPLATE_INVALID",
    `"{{${expression}}}" is not a reference of the form {{steps.<id>.output.<path>}} or {{context.<path>}}`,
    { details: { pointer, template: expression } },
  );
}

function escapePointer(key: string): string {
  return key.replaceAll("~", "~0").replaceAll("/", "~1");
}

/** Every reference in `params`; throws PLAN_TEMPLATE_INVALID on a malformed one. */
export function templateReferences(
  params: Json,
  pointer: string,
): TemplateReference[] {
  const references: TemplateReference[] = [];
  collectReferences(params, { base: pointer, keys: [] }, references);
  return references;
}

function collectReferences(
  value: Json,
  at: Position,
  references: TemplateReference[],
): void {
  if (typeof value === "string") {
    // Every template starts with "{{"; only a string holding one needs its pointer.
    if (!value.includes("{{")) return;
    let pointer: string | undefined;
    for (const match of value.matchAll(TEMPLATE)) {
      pointer ??= pointerOf(at);
      references.push(parseReference(match[1]!, pointer));
    }
  } else if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      at.keys.push(index);
      collectReferences(value[index]!, at, references);
      at.keys.pop();
    }
  } else if (typeof value === "object" && value !== null) {
    for (const key of Object.keys(value)) {
      at.keys.push(key);
      collectReferences(value[key]!, at, references);
      at.keys.pop();
    }
  }
}

function describe(reference: TemplateReference, upTo: number): string {
  let text = reference.step === undefined
    ? "context"
    : `steps.${reference.step}.output`;
  for (const segment of reference.path.slice(0, upTo)) {
    text += typeof segment === "number" ? `[${segment}]` : `.${segment}`;
  }
  return text;
}

/** The value a reference names, or undefined when any part is missing. */
function resolve(
  reference: TemplateReference,
  scope: TemplateScope,
): Json | undefined {
  let value: Json | undefined = reference.step === undefined
    ? scope.context as Json
    : scope.outputs[reference.step];
  for (const segment of reference.path) {
    if (value === undefined) return undefined;
    value = typeof segment === "number"
      ? (Array.isArray(value) ? value[segment] : undefined)
      : (typeof value === "object" && value !== null && !Array.isArray(value) &&
          Object.hasOwn(value, segment))
      ? value[segment]
      : undefined;
  }
  return value;
}

function lookup(reference: TemplateReference, scope: TemplateScope): Json {
  const value = resolve(reference, scope);
  if (value !== undefined) return value;
  let found = 0;
  while (
    found < reference.path.length &&
    resolve(
        { ...reference, path: reference.path.slice(0, found + 1) },
        scope,
      ) !== undefined
  ) {
    found++;
  }
  const resolved = describe(reference, found);
  const missing = reference.path[found];
  throw new AosError(
    "PLAN_TEMPLATE_PATH_MISSING",
    missing === undefined
      ? `${resolved} has no value`
      : `${resolved} has no ${
        typeof missing === "number" ? `[${missing}]` : `.${missing}`
      }`,
    { details: { pointer: reference.pointer, resolved } },
  );
}

/** The value at `steps.<id>.output…` or `context…`; undefined when missing or malformed. */
export function lookupPath(
  path: string,
  scope: TemplateScope,
): Json | undefined {
  try {
    return resolve(parseReference(path, ""), scope);
  } catch {
    return undefined;
  }
}

/**
 * Replaces references in `params` with earlier outputs and the context. A
 * string that is exactly one reference takes the referenced value with its
 * JSON type; a reference inside longer text is spliced in (strings as they
 * are, other values as canonical JSON). Pure: the same scope gives the same
 * params. Parts without a reference are returned as they are, not copied
 * (params, like every value of a run, are never mutated).
 */
export function resolveTemplates(
  params: Json,
  scope: TemplateScope,
  pointer = "",
): Json {
  return resolveValue(params, scope, { base: pointer, keys: [] });
}

// Where the value being resolved sits, kept as keys and written out as a
// JSON pointer only for a string that holds a reference: most of a step's
// params hold none, and are resolved before every attempt.
interface Position {
  base: string;
  keys: (string | number)[];
}

function pointerOf(position: Position): string {
  let pointer = position.base;
  for (const key of position.keys) {
    pointer += typeof key === "number" ? `/${key}` : `/${escapePointer(key)}`;
  }
  return pointer;
}

function resolveValue(params: Json, scope: TemplateScope, at: Position): Json {
  if (typeof params === "string") {
    // Every template starts with "{{".
    if (!params.includes("{{")) return params;
    const pointer = pointerOf(at);
    const whole = WHOLE_TEMPLATE.exec(params);
    if (whole !== null) {
      return lookup(parseReference(whole[1]!, pointer), scope);
    }
    return params.replace(TEMPLATE, (_text, expression: string) => {
      const value = lookup(parseReference(expression, pointer), scope);
      return typeof value === "string" ? value : canonicalJson(value);
    });
  }
  if (Array.isArray(params)) {
    let resolved: Json[] | undefined;
    for (let index = 0; index < params.length; index++) {
      const item = params[index]!;
      at.keys.push(index);
      const value = resolveValue(item, scope, at);
      at.keys.pop();
      if (value !== item) {
        resolved ??= params.slice();
        resolved[index] = value;
      }
    }
    return resolved ?? params;
  }
  if (typeof params === "object" && params !== null) {
    const keys = Object.keys(params);
    let values: Json[] | undefined;
    for (let index = 0; index < keys.length; index++) {
      const item = params[keys[index]!]!;
      at.keys.push(keys[index]!);
      const value = resolveValue(item, scope, at);
      at.keys.pop();
      if (value !== item) {
        values ??= keys.map((key) => params[key]!);
        values[index] = value;
      }
    }
    if (values === undefined) return params;
    const resolved: Record<string, Json> = {};
    for (let index = 0; index < keys.length; index++) {
      // defineProperty, not assignment: a "__proto__" key stays a plain key.
      Object.defineProperty(resolved, keys[index]!, {
        value: values[index],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return resolved;
  }
  return params;
}
