// http_call: one HTTP request through the recorded aos_http host call. The
// answer becomes an output (2xx/3xx, or "stubbed"/"forbidden" when policy
// keeps the request from being sent) or a catalog error; transient failures
// are retried up to max_retries times, each attempt its own recorded call,
// so replay repeats the same sequence without sending anything.
import { fail, readInputBytes, writeOutput } from "../../_lib/abi";
import { JsonNumber, JsonObject, parseJson, stringify } from "../../_lib/json";
import { judge, Verdict } from "./answer";
import { httpAnswerBytes } from "./host_http";
import { readParams } from "./params";

/** The entrypoint named in manifest.yaml. */
export function run(): i32 {
  const parsed = parseJson(readInputBytes());
  if (!parsed.ok) {
    const details = new JsonObject()
      .setString("field", "params")
      .set("position", JsonNumber.fromI64(parsed.position))
      .setString("reason", parsed.error);
    return fail("ERR_HTTP_INVALID_REQUEST", "params are not valid JSON: " + parsed.error, stringify(details));
  }
  const checked = readParams(parsed.value!);
  const problem = checked.problem;
  if (problem !== null) {
    const details = new JsonObject()
      .setString("expected", problem.expected)
      .setString("field", problem.field);
    const message = "param '" + problem.field + "' must be " + problem.expected;
    return fail("ERR_HTTP_INVALID_REQUEST", message, stringify(details));
  }
  const params = checked.params!;
  const request = params.requestJson();
  let attempts = 0;
  let verdict: Verdict;
  do {
    attempts++;
    const answer = parseJson(httpAnswerBytes(request));
    assert(answer.ok && answer.value!.isObject(), "aos_http answered with something other than a JSON object");
    verdict = judge(answer.value!.asObject(), params, attempts, attempts > params.maxRetries);
  } while (verdict.failed && verdict.transient && attempts <= params.maxRetries);
  if (verdict.failed) return fail(verdict.code, verdict.message, stringify(verdict.details));
  writeOutput(verdict.output);
  return 0;
}
