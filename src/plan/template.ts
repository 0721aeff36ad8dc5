import { AosError } from "../errors/mod.ts";
import { canonicalJson, type Json } from "../store/mod.ts";

// {{steps.<id>.output<path>}} where path is .name, [0] or ["key"] segments.
// `{{secret:NAME}}` is not a plan template: it travels to the skill as it is
// and only the host resolves it, at the moment of an outbound request.
const TEMPLATE = /\{\{(?!secret:)\s*([^{}]*?)\s*\}\}/g;
const REFERENCE =
  /^steps\.([A-Za-z][A-Za-z0-9_-]*)\.output((?:\.[A-Za-z_$][\w$-]*|\[\d+\]|\["[^"\\]*"\])*)$/;
const SEGMENT = /\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\["([^"\\]*)"\]/g;

/** A reference found in a step's params. */
export interface TemplateReference {
  step: string;
  path: (string | number)[];
  /** JSON pointer of the string holding the reference. */
  pointer: string;
}

function parseReference(
  expression: string,
  pointer: string,
): TemplateReference {
  const match = REFERENCE.exec(expression);
  if (match === null) {
    throw new AosError(
      "PLAN_TEMPLATE_INVALID",
      `"{{${expression}}}" is not a reference of the form {{steps.<id>.output.<path>}}`,
      { details: { pointer, template: expression } },
    );
  }
  const path: (string | number)[] = [];
  for (const segment of match[2]!.matchAll(SEGMENT)) {
    path.push(
      segment[2] !== undefined
        ? Number(segment[2])
        : (segment[1] ?? segment[3])!,
    );
  }
  return { step: match[1]!, path, pointer };
}

function* walkStrings(
  value: Json,
  pointer: string,
): Generator<[string, string]> {
  if (typeof value === "string") {
    yield [value, pointer];
  } else if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      yield* walkStrings(value[index]!, `${pointer}/${index}`);
    }
  } else if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      yield* walkStrings(item, `${pointer}/${escapePointer(key)}`);
    }
  }
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
  for (const [text, at] of walkStrings(params, pointer)) {
    for (const match of text.matchAll(TEMPLATE)) {
      references.push(parseReference(match[1]!, at));
    }
  }
  return references;
}

function lookup(
  outputs: Readonly<Record<string, Json>>,
  reference: TemplateReference,
): Json {
  let value: Json | undefined = outputs[reference.step];
  let resolved = `steps.${reference.step}.output`;
  for (const segment of reference.path) {
    const next: Json | undefined = typeof segment === "number"
      ? (Array.isArray(value) ? value[segment] : undefined)
      : (typeof value === "object" && value !== null && !Array.isArray(value) &&
          Object.hasOwn(value, segment))
      ? value[segment]
      : undefined;
    if (next === undefined) {
      throw new AosError(
        "PLAN_TEMPLATE_PATH_MISSING",
        `${resolved} has no ${
          typeof segment === "number" ? `[${segment}]` : `.${segment}`
        }`,
        { details: { pointer: reference.pointer, resolved } },
      );
    }
    value = next;
    resolved += typeof segment === "number" ? `[${segment}]` : `.${segment}`;
  }
  if (value === undefined) {
    throw new AosError(
      "PLAN_TEMPLATE_PATH_MISSING",
      `${resolved} has no output`,
      {
        details: { pointer: reference.pointer, resolved },
      },
    );
  }
  return value;
}

/**
 * Replaces references in `params` with earlier outputs. A string that is
 * exactly one reference takes the referenced value with its JSON type; a
 * reference inside longer text is spliced in (strings as they are, other
 * values as canonical JSON). Pure: the same outputs give the same params.
 */
export function resolveTemplates(
  params: Json,
  outputs: Readonly<Record<string, Json>>,
  pointer = "",
): Json {
  if (typeof params === "string") {
    const whole = /^\{\{(?!secret:)\s*([^{}]*?)\s*\}\}$/.exec(params);
    if (whole !== null) {
      return lookup(outputs, parseReference(whole[1]!, pointer));
    }
    return params.replace(TEMPLATE, (_text, expression: string) => {
      const value = lookup(outputs, parseReference(expression, pointer));
      return typeof value === "string" ? value : canonicalJson(value);
    });
  }
  if (Array.isArray(params)) {
    return params.map((item, index) =>
      resolveTemplates(item, outputs, `${pointer}/${index}`)
    );
  }
  if (typeof params === "object" && params !== null) {
    const resolved: Record<string, Json> = {};
    for (const [key, item] of Object.entries(params)) {
      resolved[key] = resolveTemplates(
        item,
        outputs,
        `${pointer}/${escapePointer(key)}`,
      );
    }
    return resolved;
  }
  return params;
}
