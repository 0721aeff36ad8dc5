import assert from "node:assert/strict";
import { manifestSchema } from "./manifest.ts";
import { manifestRetryPolicy, skillPin } from "./pin.ts";

const manifest = (extra: Record<string, unknown> = {}) =>
  manifestSchema.parse({
    name: "acme.pinned",
    version: "1.2.3",
    input_schema: { type: "object" },
    output_schema: { type: "object" },
    ...extra,
  });

Deno.test("skillPin() records the manifest's retry policy only when it has one", () => {
  assert.deepEqual(skillPin(manifest(), "ab"), {
    name: "acme.pinned",
    version: "1.2.3",
    sha256: "ab",
    entrypoint: "run",
    timeout_ms: 5_000,
  });
  assert.deepEqual(
    skillPin(
      manifest({
        cost_estimate_cents: 2,
        retry: { max_attempts: 4, backoff_ms: 250 },
      }),
      "ab",
    ),
    {
      name: "acme.pinned",
      version: "1.2.3",
      sha256: "ab",
      entrypoint: "run",
      timeout_ms: 5_000,
      cost_estimate_cents: 2,
      retry: {
        max_attempts: 4,
        backoff_ms: 250,
        multiplier: 2,
        backoff_max_ms: 60_000,
      },
    },
  );
});

Deno.test("manifestRetryPolicy() reads an empty retry_on as the catalog's retryable codes", () => {
  assert.equal(manifestRetryPolicy(manifest()), undefined);
  const catalog = manifestRetryPolicy(
    manifest({ retry: { max_attempts: 2, backoff_ms: 0, retry_on: [] } }),
  );
  assert.equal(catalog?.retry_on, undefined);
  const listed = manifestRetryPolicy(
    manifest({
      retry: { max_attempts: 2, backoff_ms: 0, retry_on: ["ERR_HTTP_5XX"] },
    }),
  );
  assert.deepEqual(listed?.retry_on, ["ERR_HTTP_5XX"]);
});

Deno.test("manifestSchema refuses a retry policy a plan step could not have", () => {
  for (
    const retry of [
      { max_attempts: 0, backoff_ms: 0 },
      { max_attempts: 2, backoff_ms: 86_400_001 },
      { max_attempts: 2, backoff_ms: 0, retry_on: ["not a code"] },
      { max_attempts: 2, backoff_ms: 0, multiplier: 3 },
    ]
  ) {
    assert.throws(() => manifest({ retry }), JSON.stringify(retry));
  }
});
