import assert from "node:assert/strict";
import { join } from "node:path";
import { liveClock, liveRandom } from "../../src/deps/mod.ts";
import {
  DirectoryModules,
  parseLogLines,
  replayLog,
} from "../../src/replay/mod.ts";
import { Sandbox } from "../../src/sandbox/mod.ts";
import { findSkillDirs, PROJECT_ROOT } from "../../src/skills/build.ts";
import {
  emptyHead,
  headAfter,
  type LogRecord,
  sealRecord,
} from "../../src/store/mod.ts";

const GOLDEN = join(PROJECT_ROOT, "tests", "golden");

function golden(name: string): LogRecord[] {
  return parseLogLines(
    Deno.readTextFileSync(join(GOLDEN, `${name}.jsonl`)),
    name,
  );
}

/** Edits one record's body and re-seals the chain, as a careful forger would. */
function forge(
  records: readonly LogRecord[],
  index: number,
  edit: (body: Record<string, unknown>) => void,
): LogRecord[] {
  const out: LogRecord[] = [];
  records.forEach((record, at) => {
    const body = structuredClone(record.body);
    if (at === index) edit(body);
    const head = at === 0 ? emptyHead(record.run_id) : headAfter(out[at - 1]!);
    out.push(
      sealRecord(head, {
        type: record.type,
        body: body as LogRecord["body"],
        at: record.at,
      }),
    );
  });
  return out;
}

async function replayed(records: LogRecord[]) {
  const sandbox = new Sandbox({
    modules: new DirectoryModules(
      findSkillDirs(PROJECT_ROOT, { fixtures: true }),
    ),
    clock: liveClock,
    random: liveRandom,
  });
  try {
    return await replayLog(records, sandbox);
  } finally {
    await sandbox.close();
  }
}

Deno.test("the run-control golden logs hold signals, a pause, a resume and a fork", () => {
  const control = golden("run_control_signal_pause").map((record) =>
    record.type
  );
  for (
    const type of [
      "SignalAwaited",
      "SignalReceived",
      "SignalDelivered",
      "RunPaused",
      "RunResumed",
    ]
  ) {
    assert.ok(control.includes(type), `no ${type}`);
  }
  const fork = golden("run_control_fork");
  assert.equal(
    (fork[0]!.body.fork as { from_step: string }).from_step,
    "shape",
  );
});

Deno.test("replay catches a resume whose new params were edited: the next step's input no longer matches", async () => {
  const records = golden("run_control_signal_pause");
  const resumed = records.findIndex((record) => record.type === "RunResumed");
  const forged = forge(records, resumed, (body) => {
    (body.params as { path: string }).path = "$.order.id";
  });
  const report = await replayed(forged);
  assert.equal(report.verdict, "diverged");
  assert.equal(report.divergence?.index, resumed + 1);
  assert.equal(report.divergence?.type, "StepStarted");
});

Deno.test("replay catches signals handed out of order", async () => {
  const records = golden("run_control_signal_pause");
  const delivered = records.findIndex((record) =>
    record.type === "SignalDelivered"
  );
  const received = records.filter((record) => record.type === "SignalReceived")
    .map((record) => record.seq);
  const forged = forge(records, delivered, (body) => {
    body.signal_seq = received.find((seq) => seq !== body.signal_seq);
  });
  const report = await replayed(forged);
  assert.equal(report.verdict, "diverged");
  assert.equal(report.divergence?.index, delivered);
});
