import assert from "node:assert/strict";
import {
  childTraceparent,
  parseTraceparent,
  runTraceId,
} from "./trace_context.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const VALID = `00-${TRACE}-00f067aa0ba902b7-01`;

Deno.test("parseTraceparent() reads a W3C version 00 header", () => {
  assert.deepEqual(parseTraceparent(VALID), {
    traceId: TRACE,
    parentId: "00f067aa0ba902b7",
    flags: "01",
  });
  // A later version is read by its version-00 prefix.
  assert.equal(
    parseTraceparent(`cc-${TRACE}-00f067aa0ba902b7-01-extra`)?.traceId,
    TRACE,
  );
});

Deno.test("parseTraceparent() ignores headers the W3C says to ignore", () => {
  for (
    const header of [
      undefined,
      null,
      "",
      "garbage",
      `00-${"0".repeat(32)}-00f067aa0ba902b7-01`,
      `00-${TRACE}-${"0".repeat(16)}-01`,
      `ff-${TRACE}-00f067aa0ba902b7-01`,
      `00-${TRACE.toUpperCase()}-00f067aa0ba902b7-01`,
      `00-${TRACE}-00f067aa0ba902b7-01-extra`,
      `00-${TRACE}-00f067aa0ba902b7-01`.repeat(20),
    ]
  ) {
    assert.equal(parseTraceparent(header), undefined, String(header));
  }
});

Deno.test("runTraceId() takes the submitter's trace, else one derived from the run id", () => {
  assert.equal(runTraceId("run_0192abc", VALID), TRACE);
  const derived = runTraceId("run_018f2a3b4c5d6e7f8091a2b3c4d5", null);
  assert.match(derived, /^[0-9a-f]{32}$/);
  assert.equal(derived, "0000018f2a3b4c5d6e7f8091a2b3c4d5");
  assert.equal(runTraceId("run_018f2a3b4c5d6e7f8091a2b3c4d5", "bad"), derived);
});

Deno.test("childTraceparent() keeps the trace and flags with a stable span per key", () => {
  const child = childTraceparent("run_1", VALID, "run_1/fetch/1");
  assert.match(child, new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`));
  assert.equal(child, childTraceparent("run_1", VALID, "run_1/fetch/1"));
  assert.notEqual(child, childTraceparent("run_1", VALID, "run_1/fetch/2"));
  assert.match(
    childTraceparent("run_1", null, "k"),
    /^00-0{31}1-[0-9a-f]{16}-00$/,
  );
});
