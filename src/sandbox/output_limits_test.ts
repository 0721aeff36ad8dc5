import assert from "node:assert/strict";
import {
  checkOutputLimits,
  DEFAULT_OUTPUT_LIMITS,
  jsonDepth,
} from "./output_limits.ts";

const encode = (text: string) => new TextEncoder().encode(text);

Deno.test("jsonDepth() counts nesting and ignores brackets inside strings", () => {
  assert.equal(jsonDepth(encode("1")), 0);
  assert.equal(jsonDepth(encode('{"a":[1,{"b":[]}]}')), 4);
  assert.equal(jsonDepth(encode('["[[[[", "\\"[["]')), 1);
  const deep = "[".repeat(20_000) + "]".repeat(20_000);
  assert.equal(jsonDepth(encode(deep)), 20_000);
  assert.equal(jsonDepth(encode(deep), 300), 301);
});

Deno.test("checkOutputLimits() names the limit an output breaks", () => {
  const limits = { bytesMax: 32, depthMax: 3 };
  assert.equal(checkOutputLimits(encode('{"ok":[1]}'), limits), undefined);
  assert.equal(
    checkOutputLimits(encode("x".repeat(33)), limits)?.code,
    "SANDBOX_OUTPUT_TOO_LARGE",
  );
  assert.equal(
    checkOutputLimits(encode("[[[[1]]]]"), limits)?.code,
    "SANDBOX_OUTPUT_TOO_DEEP",
  );
  assert.equal(
    checkOutputLimits(encode("[".repeat(20_000)), DEFAULT_OUTPUT_LIMITS)?.code,
    "SANDBOX_OUTPUT_TOO_DEEP",
  );
});
