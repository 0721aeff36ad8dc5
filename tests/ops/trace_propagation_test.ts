import assert from "node:assert/strict";
import { DEFAULT_CONFIG } from "../../src/config/mod.ts";
import { startServer } from "../support/http_servers.ts";
import { openTestNode } from "../support/test_node.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACEPARENT = `00-${TRACE}-00f067aa0ba902b7-01`;

Deno.test("a submitted traceparent is kept on the run, carried by its log lines and sent on its outbound HTTP", async () => {
  const received: (string | null)[] = [];
  await using upstream = startServer((request) => {
    received.push(request.headers.get("traceparent"));
    return Response.json({ ok: true });
  });
  const node = await openTestNode({
    config: {
      http: {
        ...DEFAULT_CONFIG.http,
        loopbackAllowlist: [{ host: "127.0.0.1", port: upstream.port }],
      },
    },
  });
  try {
    const submit = async (headers: Record<string, string>) => {
      const response = await node.app.request("/v1/runs", {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({
          steps: ["aos_http", "extism"].map((mode) => ({
            id: mode,
            skill: "fetcher",
            params: { mode, request: { url: `${upstream.origin}/${mode}` } },
          })),
        }),
      });
      assert.equal(response.status, 202);
      const runId = String((await response.json()).run_id);
      await node.runtime.waitForEnd(runId, 30_000);
      return runId;
    };

    const traced = await submit({ traceparent: TRACEPARENT });
    assert.equal(received.length, 2);
    for (const header of received) {
      assert.match(header!, new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`));
      assert.doesNotMatch(header!, /00f067aa0ba902b7/);
    }
    const log = await node.store.readLog(traced);
    assert.equal(log[0]!.body.traceparent, TRACEPARENT);
    // The recorded requests are the guest's own: the header is not in the log.
    const calls = log.filter((record) => record.type === "HostCall");
    assert.equal(calls.length, 2);
    for (const call of calls) {
      assert.doesNotMatch(JSON.stringify(call.body.request), /traceparent/i);
    }
    const lines = node.logger.lines.filter((line) => line.run_id === traced);
    const events = lines.map((line) => line.event);
    for (const event of ["run_submitted", "step_finished", "run_finished"]) {
      assert.ok(events.includes(event), `${event} in ${events}`);
    }
    // The run's own events; lease bookkeeping lines name only the run.
    const runEvents = new Set([
      "run_submitted",
      "record_appended",
      "step_finished",
      "run_finished",
    ]);
    for (const line of lines.filter((line) => runEvents.has(line.event))) {
      assert.equal(line.trace_id, TRACE, JSON.stringify(line));
      assert.equal(line.tenant, "default");
    }
    const steps = lines.filter((line) => line.event === "step_finished");
    assert.deepEqual(steps.map((line) => line.step).sort(), [
      "aos_http",
      "extism",
    ]);

    // An invalid header is ignored: the run gets a trace of its own.
    received.length = 0;
    const untraced = await submit({ traceparent: "not-a-traceparent" });
    const first = (await node.store.readLog(untraced))[0]!;
    assert.equal(first.body.traceparent, undefined);
    const own = node.logger.lines.find((line) =>
      line.run_id === untraced && line.event === "run_finished"
    )!.trace_id as string;
    assert.match(own, /^[0-9a-f]{32}$/);
    assert.notEqual(own, TRACE);
    for (const header of received) {
      assert.match(header!, new RegExp(`^00-${own}-[0-9a-f]{16}-00$`));
    }
  } finally {
    await node.close();
  }
});
