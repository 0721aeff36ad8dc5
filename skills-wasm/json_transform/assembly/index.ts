// json_transform: reshapes JSON without side effects. Input {op, input, …};
// output {result, result_hash} in canonical JSON, where result_hash is the
// sha256 of the result's canonical bytes, so a later step or a client can
// check or key on the result without re-serializing it.
import { fail, readInputBytes } from "../../_lib/abi";
import { JsonArray, JsonNull, JsonNumber, JsonObject, JsonString, JsonValue, parseJson, stringify } from "../../_lib/json";
import { flatten, map } from "./elements";
import { filter } from "./filter";
import { checkArrays, INPUT_BYTES_MAX, inputTooLarge } from "./limits";
import { merge } from "./merge";
import { failed, invalidParams, Outcome } from "./outcome";
import { outputDocument, writeOutputBytes } from "./output";
import { extract, pickOrOmit } from "./select";
import { sort } from "./sort";

const OPS = ["extract", "filter", "flatten", "map", "merge", "omit", "pick", "sort"];

/** The entrypoint named in manifest.yaml. */
export function run(): i32 {
  const bytes = readInputBytes();
  return report(bytes.length > INPUT_BYTES_MAX ? inputTooLarge(bytes.length) : transform(bytes));
}

function transform(bytes: Uint8Array): Outcome {
  const parsed = parseJson(bytes);
  if (!parsed.ok) {
    const details = new JsonObject()
      .set("position", JsonNumber.fromI64(parsed.position))
      .setString("reason", parsed.error);
    const message = "params are not valid JSON: " + parsed.error + " at byte " +
      parsed.position.toString();
    return failed("ERR_JSON_INVALID_INPUT", message, details);
  }
  const root = parsed.value!;
  const oversized = checkArrays(root);
  if (oversized !== null) return oversized;
  if (!root.isObject()) return invalidParams("params", "an object");
  const params = root.asObject();

  const opValue = params.get("op");
  const op = opValue !== null && opValue.isString() ? opValue.asString().value : "";
  if (!OPS.includes(op)) return unknownOp(opValue);

  const input = params.get("input");
  if (input === null) return invalidParams("input", "any JSON value");
  if (op == "extract") return extract(params, input);
  if (op == "pick" || op == "omit") return pickOrOmit(op == "pick", params, input);
  if (op == "map") return map(params, input);
  if (op == "filter") return filter(params, input);
  if (op == "merge") return merge(params, input);
  if (op == "flatten") return flatten(params, input);
  return sort(params, input);
}

function report(outcome: Outcome): i32 {
  const failure = outcome.failure;
  if (failure !== null) return fail(failure.code, failure.message, stringify(failure.details));
  writeOutputBytes(outputDocument(outcome.result!));
  return 0;
}

function unknownOp(opValue: JsonValue | null): Outcome {
  const allowed = new JsonArray();
  for (let i = 0; i < OPS.length; i++) allowed.push(new JsonString(OPS[i]));
  const op: JsonValue = opValue !== null ? opValue : new JsonNull();
  const details = new JsonObject().set("allowed", allowed).set("op", op);
  const message = "unknown op " + (opValue !== null ? stringify(op) : "(missing)") +
    "; expected one of " + OPS.join(", ");
  return failed("ERR_JSON_UNKNOWN_OP", message, details);
}
