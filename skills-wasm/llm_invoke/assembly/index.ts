// llm_invoke: one chat completion from a model, through the stub, an
// OpenAI-compatible endpoint or Anthropic's Messages API, priced from the
// skill's own table. Provider calls go through aos_http, so the answer is in
// the run's log and replay gives the same bytes without calling anyone.
import { readInputBytes, writeOutput } from "../../_lib/abi";
import { JsonArray, JsonNumber, JsonObject, JsonString, stringify } from "../../_lib/json";
import { sha256HexOfString } from "../../_lib/sha256";
import { invokeAnthropic } from "./anthropic";
import { Completion, Failure, INVALID_MODEL, Outcome } from "./failure";
import { invokeOpenAi } from "./openai";
import { LlmParams, parseParams } from "./params";
import { costCents, ModelPrice, priceOf, pricedModels } from "./prices";
import { invokeStub } from "./stub";

/** The entrypoint named in manifest.yaml. */
export function run(): i32 {
  const checked = parseParams(readInputBytes());
  if (checked.failure !== null) return checked.failure!.report();
  const params = checked.params!;
  const price = priceOf(params.model);
  if (price === null) return unknownModel(params).report();
  const outcome = invoke(params);
  if (outcome.failure !== null) return outcome.failure!.report();
  writeOutput(outputJson(params, price, outcome.completion!));
  return 0;
}

function invoke(params: LlmParams): Outcome {
  if (params.adapter == "openai") return invokeOpenAi(params);
  if (params.adapter == "anthropic") return invokeAnthropic(params);
  return invokeStub(params);
}

function unknownModel(params: LlmParams): Failure {
  const known = new JsonArray();
  const models = pricedModels();
  for (let i = 0; i < models.length; i++) known.push(new JsonString(models[i]));
  const details = new JsonObject()
    .setString("adapter", params.adapter)
    .set("known_models", known)
    .setString("model", params.model);
  return new Failure(INVALID_MODEL, "model " + params.model + " is not in the price table", details);
}

function outputJson(params: LlmParams, price: ModelPrice, completion: Completion): string {
  const sideEffects = new JsonArray();
  if (params.adapter != "stub") {
    sideEffects.push(new JsonObject()
      .setString("adapter", params.adapter)
      .setString("kind", "llm")
      .setString("model", params.model));
  }
  const output = new JsonObject()
    .setString("adapter", params.adapter)
    .setString("content", completion.content)
    .setString("content_hash", sha256HexOfString(completion.content))
    .set("cost_cents", JsonNumber.fromI64(costCents(price, completion.inputTokens, completion.outputTokens)))
    .setString("finish_reason", completion.finishReason)
    .set("input_tokens", JsonNumber.fromI64(completion.inputTokens))
    .setString("model", params.model)
    .set("output_tokens", JsonNumber.fromI64(completion.outputTokens))
    .set("side_effects", sideEffects);
  return stringify(output);
}
