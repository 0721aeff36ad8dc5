import type { SkillPin } from "../../actors/run_messages.ts";
import { type RetryPolicy, retrySchema } from "../plan/mod.ts";
import type { SkillManifest } from "./manifest.ts";

/**
 * The pin a run records for a module and its manifest: what the run needs
 * of the manifest for its whole life, fixed at submission so that neither a
 * later install nor a replay can change it.
 */
export function skillPin(manifest: SkillManifest, sha256: string): SkillPin {
  const retry = manifestRetryPolicy(manifest);
  return {
    name: manifest.name,
    version: manifest.version,
    sha256,
    entrypoint: manifest.entrypoint,
    timeout_ms: manifest.timeout_ms,
    // Only when set, so pins of free skills and of skills without a retry
    // policy (and logs made before either) stay as they were.
    ...(manifest.cost_estimate_cents > 0
      ? { cost_estimate_cents: manifest.cost_estimate_cents }
      : {}),
    ...(retry === undefined ? {} : { retry }),
  };
}

/**
 * The manifest's `retry` as a plan retry policy: `multiplier` and
 * `backoff_max_ms` take a plan step's defaults, and an empty `retry_on`
 * means the codes the catalog marks retryable.
 */
export function manifestRetryPolicy(
  manifest: SkillManifest,
): RetryPolicy | undefined {
  if (manifest.retry === undefined) return undefined;
  const { max_attempts, backoff_ms, retry_on } = manifest.retry;
  return retrySchema.parse({
    max_attempts,
    backoff_ms,
    ...(retry_on.length > 0 ? { retry_on } : {}),
  });
}
