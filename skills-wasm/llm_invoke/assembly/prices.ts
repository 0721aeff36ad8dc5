// The price table: US cents per million tokens, input and output. The same
// table is in contracts/llm_invoke.yaml (cost_model.price_table), and
// tests/skills/llm_invoke_test.ts fails when the built module charges
// otherwise or names other models. A model that
// is not listed here is refused (ERR_LLM_INVALID_MODEL) before any call, so
// every call the skill makes has a price.

/** One model's prices, in cents per 1,000,000 tokens. */
export class ModelPrice {
  constructor(
    public readonly model: string,
    public readonly inputCentsPerMtok: i64,
    public readonly outputCentsPerMtok: i64,
  ) {}
}

export const PRICE_TABLE: Array<ModelPrice> = [
  new ModelPrice("gpt-4o", 250, 1000),
  new ModelPrice("gpt-4o-mini", 15, 60),
  new ModelPrice("gpt-4.1", 200, 800),
  new ModelPrice("gpt-4.1-mini", 40, 160),
  new ModelPrice("gpt-4.1-nano", 10, 40),
  new ModelPrice("claude-3-haiku-20240307", 25, 125),
  new ModelPrice("claude-3-5-haiku-20241022", 80, 400),
  new ModelPrice("claude-3-5-haiku-latest", 80, 400),
  new ModelPrice("claude-3-7-sonnet-20250219", 300, 1500),
  new ModelPrice("claude-sonnet-4-20250514", 300, 1500),
  new ModelPrice("claude-opus-4-20250514", 1500, 7500),
];

/** Token counts above this are refused as a bad response: cost stays within i64. */
export const TOKENS_MAX: i64 = 1_000_000_000_000;

const TOKENS_PER_PRICE_UNIT: i64 = 1_000_000;

/** The model's prices, or null when the table does not list it. */
export function priceOf(model: string): ModelPrice | null {
  for (let i = 0; i < PRICE_TABLE.length; i++) {
    if (PRICE_TABLE[i].model == model) return PRICE_TABLE[i];
  }
  return null;
}

/** The models the table lists, in table order. */
export function pricedModels(): Array<string> {
  const models = new Array<string>(PRICE_TABLE.length);
  for (let i = 0; i < PRICE_TABLE.length; i++) models[i] = PRICE_TABLE[i].model;
  return models;
}

/**
 * The call's cost in whole cents, rounded up: the exact cost is
 * (input × input price + output × output price) / 1,000,000 cents.
 * Tokens are at most TOKENS_MAX, so the sum fits in i64.
 */
export function costCents(price: ModelPrice, inputTokens: i64, outputTokens: i64): i64 {
  assert(inputTokens >= 0 && inputTokens <= TOKENS_MAX, "input tokens out of range");
  assert(outputTokens >= 0 && outputTokens <= TOKENS_MAX, "output tokens out of range");
  const scaled = inputTokens * price.inputCentsPerMtok + outputTokens * price.outputCentsPerMtok;
  return (scaled + TOKENS_PER_PRICE_UNIT - 1) / TOKENS_PER_PRICE_UNIT;
}
