// A failure on its way out of the skill: a catalog code, a message and
// details. AssemblyScript has no exceptions, so functions that can fail
// return an Outcome and the entrypoint reports the first failure.
import { fail } from "../../_lib/abi";
import { JsonObject, stringify } from "../../_lib/json";

export const INVALID_PROMPT = "ERR_LLM_INVALID_PROMPT";
export const INVALID_MODEL = "ERR_LLM_INVALID_MODEL";
export const RATE_LIMITED = "ERR_LLM_RATE_LIMITED";
export const OVERLOADED = "ERR_LLM_OVERLOADED";
export const TIMEOUT = "ERR_LLM_TIMEOUT";
export const AUTH_FAILED = "ERR_LLM_AUTH_FAILED";
export const CONTEXT_TOO_LONG = "ERR_LLM_CONTEXT_TOO_LONG";
export const CONTENT_BLOCKED = "ERR_LLM_CONTENT_BLOCKED";
export const BAD_RESPONSE = "ERR_LLM_BAD_RESPONSE";

/** A catalog error the skill reports through error_set. */
export class Failure {
  constructor(
    public readonly code: string,
    public readonly message: string,
    public readonly details: JsonObject,
  ) {}

  /** Reports this failure; returns the entrypoint's failure status. */
  report(): i32 {
    return fail(this.code, this.message, stringify(this.details));
  }
}

/** What a model call produced, before pricing. */
export class Completion {
  constructor(
    public readonly content: string,
    public readonly inputTokens: i64,
    public readonly outputTokens: i64,
    /** Normalised: stop, length, tool_calls, or the provider's own word. */
    public readonly finishReason: string,
  ) {}
}

/** A completion or the failure that prevented it. */
export class Outcome {
  constructor(
    public readonly completion: Completion | null,
    public readonly failure: Failure | null,
  ) {}

  static ok(completion: Completion): Outcome {
    return new Outcome(completion, null);
  }

  static failed(code: string, message: string, details: JsonObject): Outcome {
    return new Outcome(null, new Failure(code, message, details));
  }
}

/** `text` cut to `limit` code units, marked with "…" when cut. */
export function shorten(text: string, limit: i32): string {
  return text.length <= limit ? text : text.substring(0, limit) + "…";
}
