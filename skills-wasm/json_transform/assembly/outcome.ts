// What an operation produces: a result, or one failure with a catalog code.
// Operations return an Outcome instead of reporting, so the entrypoint
// reports exactly once, and operations stay plain functions of their params.
import { JsonNumber, JsonObject, JsonValue } from "../../_lib/json";
import { ParsedPath, resolvedPrefix } from "./path";

export class Failure {
  constructor(
    public readonly code: string,
    public readonly message: string,
    /** Canonical JSON is written from it; the keys are sorted then. */
    public readonly details: JsonObject,
  ) {}
}

export class Outcome {
  constructor(
    public readonly result: JsonValue | null,
    public readonly failure: Failure | null,
  ) {}
}

export function succeeded(result: JsonValue): Outcome {
  return new Outcome(result, null);
}

export function failed(code: string, message: string, details: JsonObject): Outcome {
  return new Outcome(null, new Failure(code, message, details));
}

/** ERR_JSON_INVALID_PARAMS naming the param (`where.value`) and what it must be. */
export function invalidParams(field: string, expected: string): Outcome {
  const details = new JsonObject().setString("expected", expected).setString("field", field);
  return failed("ERR_JSON_INVALID_PARAMS", "param '" + field + "' must be " + expected, details);
}

/** ERR_JSON_TYPE_MISMATCH: `op` needs `expected` (a JSON type name) as its input. */
export function typeMismatch(op: string, expected: string, input: JsonValue): Outcome {
  const details = new JsonObject().setString("actual", input.typeName()).setString("expected", expected);
  const article = expected == "array" || expected == "object" ? "an " : "a ";
  const message = op + " needs " + article + expected + " input, got " + input.typeName();
  return failed("ERR_JSON_TYPE_MISMATCH", message, details);
}

/**
 * ERR_JSON_INVALID_PATH for a path that did not parse. `field` names the
 * param for the operations that take several; extract's details name none.
 */
export function invalidPath(path: ParsedPath, field: string | null): Outcome {
  const details = new JsonObject()
    .setString("path", path.text)
    .set("position", JsonNumber.fromI64(path.errorPosition));
  if (field !== null) details.setString("field", field);
  const message = "invalid path: " + path.error + " at position " + path.errorPosition.toString();
  return failed("ERR_JSON_INVALID_PATH", message, details);
}

/**
 * ERR_JSON_PATH_NOT_FOUND with the longest prefix that resolved; `index` is
 * the array element the path was applied to, or -1 for the input itself.
 */
export function pathNotFound(path: ParsedPath, root: JsonValue, index: i32): Outcome {
  const at = resolvedPrefix(path, root);
  const details = new JsonObject().setString("at", at).setString("path", path.text);
  let message = "nothing at " + path.text + " (resolved up to " + at + ")";
  if (index >= 0) {
    details.set("index", JsonNumber.fromI64(index));
    message = "element " + index.toString() + ": " + message;
  }
  return failed("ERR_JSON_PATH_NOT_FOUND", message, details);
}
