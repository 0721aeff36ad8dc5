import assert from "node:assert/strict";
import { AosError } from "../../src/errors/mod.ts";

/** Awaits `promise`, which must reject with an AosError of `code`; returns it. */
export async function refusal(
  promise: Promise<unknown>,
  code: string,
): Promise<AosError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof AosError, `not an AosError: ${error}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected ${code}, but it succeeded`);
}
