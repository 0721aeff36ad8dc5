import assert from "node:assert/strict";
import { LineBuffer, type LineSink } from "./_line_buffer.ts";
import { isoTime } from "./logger.ts";

const decoder = new TextDecoder();

/** A sink that takes at most `chunk` bytes a call, as a full pipe does. */
class ShortWriteSink implements LineSink {
  readonly writes: Uint8Array[] = [];
  readonly #chunk: number;
  readonly #onWrite: () => void;
  constructor(chunk: number, onWrite: () => void = () => {}) {
    this.#chunk = chunk;
    this.#onWrite = onWrite;
  }
  writeSync(bytes: Uint8Array): number {
    const taken = bytes.subarray(0, this.#chunk);
    this.writes.push(taken.slice());
    this.#onWrite();
    return taken.length;
  }
  /** Everything written, decoded as one text (a chunk may split a character). */
  get text(): string {
    const all = new Uint8Array(
      this.writes.reduce((sum, bytes) => sum + bytes.length, 0),
    );
    let at = 0;
    for (const bytes of this.writes) {
      all.set(bytes, at);
      at += bytes.length;
    }
    return decoder.decode(all);
  }
}

Deno.test("LineBuffer writes held lines together, by itself, soon after", async () => {
  let written!: () => void;
  const wrote = new Promise<void>((resolve) => written = resolve);
  const sink = new ShortWriteSink(1 << 20, () => written());
  const buffer = new LineBuffer(sink);
  const lines = Array.from({ length: 100 }, (_, index) => `{"n":${index}}\n`);
  for (const line of lines) buffer.push(line);
  assert.equal(sink.writes.length, 0, "nothing is written while lines come");
  // The buffer's timer does not keep the event loop alive; this does, until
  // the write happens.
  const alive = setInterval(() => {}, 60_000);
  try {
    await wrote;
  } finally {
    clearInterval(alive);
  }
  assert.equal(sink.writes.length, 1);
  assert.equal(sink.text, lines.join(""));
});

Deno.test("LineBuffer.flush() writes what it holds at once", () => {
  const sink = new ShortWriteSink(1 << 20);
  const buffer = new LineBuffer(sink);
  buffer.push("a\n");
  buffer.push("b\n");
  buffer.flush();
  assert.equal(sink.text, "a\nb\n");
  assert.equal(sink.writes.length, 1);
});

Deno.test("LineBuffer finishes short writes, in order, multi-byte text included", () => {
  const sink = new ShortWriteSink(7);
  const buffer = new LineBuffer(sink);
  const lines = Array.from(
    { length: 500 },
    (_, index) => `{"n":${index},"name":"étape-${index}-✓"}\n`,
  );
  for (const line of lines) buffer.push(line);
  buffer.flush();
  assert.equal(sink.text, lines.join(""));
  buffer.flush();
  assert.equal(sink.text, lines.join(""), "a second flush writes nothing");
});

Deno.test("LineBuffer writes at once when a turn logs more than it holds", () => {
  const sink = new ShortWriteSink(1 << 20);
  const buffer = new LineBuffer(sink);
  const line = `{"pad":"${"x".repeat(1000)}"}\n`;
  for (let index = 0; index < 200; index++) buffer.push(line);
  assert.ok(sink.writes.length >= 1, "a full buffer is written in the turn");
  buffer.flush();
  assert.equal(sink.text, line.repeat(200));
});

// A child process logs numbered lines through jsonLogger and then ends as
// `ending` says; every line must reach its stream, in order.
async function linesOfChild(ending: string): Promise<{
  out: number[];
  err: number[];
  code: number;
}> {
  const logger = new URL("./logger.ts", import.meta.url).href;
  const script = `
    import { jsonLogger } from ${JSON.stringify(logger)};
    const log = jsonLogger("info", () => 0);
    log.log("debug", "hidden", { n: -1 });
    for (let n = 0; n < 3000; n++) {
      log.log(n % 10 === 9 ? "warn" : "info", "line", { n, pad: "y".repeat(n % 50) });
      if (n % 700 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
    }
    ${ending}
  `;
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(file, script);
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const numbers = (bytes: Uint8Array) =>
      decoder.decode(bytes).split("\n").filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line).n as number);
    return {
      out: numbers(output.stdout),
      err: numbers(output.stderr),
      code: output.code,
    };
  } finally {
    await Deno.remove(file);
  }
}

function expected(warn: boolean): number[] {
  return Array.from({ length: 3000 }, (_, n) => n).filter((n) =>
    (n % 10 === 9) === warn
  );
}

// The last line is logged in the same turn as the ending, so only a flush
// on the way out can save it.
const LAST = `log.log("info", "line", { n: 3000 });`;

for (
  const [name, ending, code] of [
    ["the event loop runs dry", LAST, 0],
    ["Deno.exit", `${LAST} Deno.exit(4);`, 4],
    [
      "an uncaught error",
      `setTimeout(() => { ${LAST} throw new Error("boom"); });`,
      1,
    ],
    [
      "an unhandled rejection",
      `${LAST} Promise.reject(new Error("boom"));`,
      1,
    ],
  ] as const
) {
  Deno.test(`jsonLogger writes every line, in order, when the process ends by ${name}`, async () => {
    const child = await linesOfChild(ending);
    assert.equal(child.code, code);
    assert.deepEqual(child.out, [...expected(false), 3000]);
    assert.deepEqual(child.err, expected(true));
  });
}

Deno.test("jsonLogger writes an error line and all before it at once", async () => {
  // SIGKILL leaves no chance to flush: only what was written survives.
  const child = await linesOfChild(`
    log.log("error", "fatal", { n: 3000 });
    Deno.kill(Deno.pid, "SIGKILL");
  `);
  assert.deepEqual(child.out, expected(false));
  assert.deepEqual(child.err, [...expected(true), 3000]);
});

Deno.test("isoTime() writes what toISOString writes, within a second and across seconds", () => {
  const times = [
    0,
    1,
    999,
    1000,
    1001,
    -1,
    -1000,
    -1001,
    1795669418000,
    1795669418007,
    1795669418099,
    1795669418100,
    1795669418999,
    1795669419000,
    1795669418500,
    253402300799999,
  ];
  for (let ms = 1795669417990; ms < 1795669419020; ms++) times.push(ms);
  for (const ms of times) {
    assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
  }
  assert.equal(isoTime(0.5), new Date(0.5).toISOString());
  assert.throws(() => isoTime(Number.NaN), RangeError);
});
