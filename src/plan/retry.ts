import { z } from "zod";
import type { RecordedError } from "../errors/mod.ts";

/** The zod schema of a retry policy. */
export const retrySchema = z.object({
  /** Attempts in all, the first included (1 = no retry). */
  max_attempts: z.number().int().min(1).max(100),
  /** Delay before the second attempt. */
  backoff_ms: z.number().int().min(0).max(86_400_000).default(1_000),
  /** Each further delay is this many times the one before. */
  multiplier: z.number().min(1).max(10).default(2),
  /** Ceiling of any one delay. */
  backoff_max_ms: z.number().int().min(0).max(86_400_000).default(60_000),
  /** Codes worth retrying; by default, every code the catalog marks retryable. */
  retry_on: z.array(z.string().regex(/^[A-Z][A-Z0-9_]+$/)).optional(),
}).strict();

/** A retry policy. */
export type RetryPolicy = z.infer<typeof retrySchema>;

/** The policy of `on_error: retry` when the step gives none. */
export const DEFAULT_RETRY: RetryPolicy = {
  max_attempts: 3,
  backoff_ms: 1_000,
  multiplier: 2,
  backoff_max_ms: 60_000,
};

/** No retries. */
export const NO_RETRY: RetryPolicy = {
  max_attempts: 1,
  backoff_ms: 0,
  multiplier: 1,
  backoff_max_ms: 0,
};

/**
 * The delay before attempt `attempt + 1`, after attempt `attempt` failed:
 * `backoff_ms × multiplier^(attempt − 1)`, capped. No jitter: the delay is
 * part of the run's logic and must be the same on replay.
 */
export function backoffMs(policy: RetryPolicy, attempt: number): number {
  const raw = policy.backoff_ms * policy.multiplier ** (attempt - 1);
  return Math.min(policy.backoff_max_ms, Math.round(raw));
}

/** Whether attempt `attempt`, which failed with `error`, gets another try. */
export function retries(
  policy: RetryPolicy,
  error: RecordedError,
  attempt: number,
): boolean {
  if (attempt >= policy.max_attempts) return false;
  return policy.retry_on === undefined
    ? error.retryable
    : policy.retry_on.includes(error.code);
}
