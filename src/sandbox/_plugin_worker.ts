// A plugin's worker thread: it instantiates the module with Extism's kernel,
// in this thread, and serves calls from the shared channel. Host functions
// are forwarded to the main thread, which answers them (journal first); the
// guest blocks on that answer with Atomics.wait, which a worker may do. The
// main thread times every call and terminates this thread to stop one.
import { parentPort, workerData } from "node:worker_threads";
import createPlugin, { type CallContext, type Plugin } from "@extism/extism";
import {
  ANSWER,
  Channel,
  DONE,
  RESULT_HEAD_BYTES,
  type Segment,
  STATE,
  WORD,
} from "./_worker_channel.ts";
import {
  startWorkerProfiler,
  type WorkerProfiler,
} from "./_worker_profiler.ts";

/** What a forwarded host function is, and which arguments are kernel blocks. */
export interface ForwardedFunction {
  namespace: string;
  name: string;
  /** Argument positions holding block addresses whose bytes travel with the call. */
  blocks: readonly number[];
}

/** The worker's start-up data. */
export interface WorkerInit {
  module: WebAssembly.Module;
  buffer: SharedArrayBuffer;
  functions: readonly ForwardedFunction[];
  /** Index in `functions` of the forwarded `fetch` for Extism's `http_request`. */
  fetchIndex: number;
  kernelBytesMax: number;
}

const WASM_PAGE_BYTES = 65_536;
const GUEST_LINE_CHARS_MAX = 4096;

const init = workerData as WorkerInit;
const channel = new Channel(init.buffer);
const decoder = new TextDecoder();
const encoder = new TextEncoder();
let lastGuestError: string | undefined;
// Set when the environment asks for CPU profiles. Checked before awaiting:
// `await profiler?.beforeAnswer()` would cost every answer a turn of the
// microtask queue even without one.
let profiler: WorkerProfiler | undefined;

/** Sends one host call to the main thread and blocks until it is answered. */
function hostCall(
  index: number,
  args: readonly (bigint | number)[],
  segments: readonly Segment[],
): number {
  const header = channel.header;
  header[WORD.kind] = index;
  header[WORD.argc] = Math.min(args.length, 8);
  for (let position = 0; position < header[WORD.argc]!; position++) {
    channel.setArgument(position, args[position]!);
  }
  channel.writeSegments(segments);
  channel.publish(STATE.HOST);
  channel.blockWhile(STATE.HOST);
  const kind = header[WORD.kind]!;
  if (kind === ANSWER.FAILED) {
    throw new Error(decoder.decode(channel.readData(0, header[WORD.length]!)));
  }
  return kind;
}

function forward(index: number, blocks: readonly number[]) {
  return (context: CallContext, ...args: (bigint | number)[]) => {
    const segments = blocks.map((position) => {
      const address = args[position];
      return address === undefined
        ? null
        : context.read(address)?.bytes() ?? null;
    });
    const kind = hostCall(index, args, segments);
    if (kind === ANSWER.VALUE) return channel.argument(0);
    if (kind === ANSWER.STORED) {
      return context.store(channel.readData(0, channel.header[WORD.length]!));
    }
    return undefined;
  };
}

// Extism's own http_request calls this; the main thread's recorded fetch
// answers, so it takes the same guarded, recorded path as aos_http.
let lastHttpStatus = 0;
function forwardedFetch(index: number): typeof fetch {
  // deno-lint-ignore require-await
  return async (input, requestInit = {}) => {
    lastHttpStatus = 0;
    const request = {
      url: String(input instanceof Request ? input.url : input),
      method: requestInit.method ?? "GET",
      headers: Object.fromEntries(new Headers(requestInit.headers).entries()),
    };
    const body = requestInit.body instanceof Uint8Array
      ? requestInit.body
      : null;
    hostCall(index, [], [encoder.encode(JSON.stringify(request)), body]);
    const [meta, responseBody] = channel.readSegments();
    const { status, headers } = JSON.parse(decoder.decode(meta!));
    lastHttpStatus = status;
    const nullBody = [101, 204, 205, 304].includes(status);
    return new Response(nullBody ? null : responseBody, { status, headers });
  };
}

// Extism keeps vars for the life of an instance; here they last one call,
// like everything else an instance holds, and count against the kernel's
// budget.
const variables = new Map<string, Uint8Array>();
let variableBytes = 0;
const kernelFunctions = {
  // Extism swaps in its own HTTP functions when it meets the http_request
  // import; imports resolved before that would keep its disabled stubs.
  // These answer the same: the last response's status, and no headers.
  http_status_code: (): number => lastHttpStatus,
  http_headers: (): bigint => 0n,
  var_get: (context: CallContext, key: bigint): bigint => {
    const name = context.read(key)?.string();
    const value = name === undefined ? undefined : variables.get(name);
    return value === undefined ? 0n : context.store(value);
  },
  var_set: (context: CallContext, key: bigint, value: bigint): void => {
    const name = context.read(key)?.string();
    if (name === undefined) return;
    const previousBytes = variables.get(name)?.length ?? 0;
    if (value === 0n) {
      variables.delete(name);
      variableBytes -= previousBytes;
      return;
    }
    const block = context.read(value);
    if (block === null) return;
    const copy = block.bytes().slice();
    if (variableBytes - previousBytes + copy.length > init.kernelBytesMax) {
      throw new Error("var memory limit exceeded");
    }
    variables.set(name, copy);
    variableBytes += copy.length - previousBytes;
  },
};

function guestLogger(): Record<string, (message: unknown) => void> {
  const drop = () => {};
  return {
    trace: drop,
    debug: drop,
    info: drop,
    warn: drop,
    log: drop,
    error: (message: unknown) =>
      lastGuestError = String(message).slice(0, GUEST_LINE_CHARS_MAX),
  };
}

async function instantiate(): Promise<Plugin> {
  const functions: Record<string, Record<string, CallableFunction>> = {
    "extism:host/env": { ...kernelFunctions },
  };
  init.functions.forEach(({ namespace, name, blocks }, index) => {
    if (index !== init.fetchIndex) {
      (functions[namespace] ??= {})[name] = forward(index, blocks);
    }
  });
  return await createPlugin({ wasm: [{ module: init.module }] }, {
    useWasi: false,
    runInWorker: false,
    functions: functions as never,
    fetch: forwardedFetch(init.fetchIndex),
    // The guard and the manifest's allowed_hosts decide on the main thread.
    allowedHosts: ["*"],
    memory: { maxPages: Math.ceil(init.kernelBytesMax / WASM_PAGE_BYTES) },
    logger: guestLogger() as never,
    logLevel: "error",
  });
}

let busyUs = 0;

type CallResult =
  | { kind: typeof DONE.OUTPUT; output: Uint8Array }
  | { kind: typeof DONE.NO_OUTPUT }
  | { kind: typeof DONE.FAILED; failure: string };

async function runCall(
  plugin: Plugin,
  name: string,
  input: Uint8Array,
): Promise<CallResult> {
  lastGuestError = undefined;
  lastHttpStatus = 0;
  variables.clear();
  variableBytes = 0;
  try {
    const output = await plugin.call(name, input);
    return output === null
      ? { kind: DONE.NO_OUTPUT }
      : { kind: DONE.OUTPUT, output: output.bytes() };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return {
      kind: DONE.FAILED,
      failure: JSON.stringify({ message, guest_error: lastGuestError }),
    };
  }
}

function countBusy(startedMs: number): void {
  busyUs = (busyUs + Math.round((performance.now() - startedMs) * 1000)) |
    0;
  Atomics.store(channel.header, WORD.busy, busyUs);
}

async function callOnce(plugin: Plugin): Promise<void> {
  const startedMs = performance.now();
  const header = channel.header;
  const nameBytes = header[WORD.kind]!;
  const name = decoder.decode(channel.readData(0, nameBytes));
  const input = channel.readData(nameBytes, header[WORD.length]!);
  const result = await runCall(plugin, name, input);
  if (result.kind === DONE.OUTPUT) {
    channel.writeData(result.output);
  } else if (result.kind === DONE.NO_OUTPUT) {
    header[WORD.length] = 0;
  } else {
    header[WORD.length] = channel.writeText(result.failure);
  }
  header[WORD.kind] = result.kind;
  countBusy(startedMs);
  if (profiler !== undefined) await profiler.beforeAnswer();
  channel.publish(STATE.DONE);
}

// A batch: the calls run back to back, with one hand-off each way for all
// of them. The outputs are kept until the end (a host call's exchange
// reuses the data area), and the batch stops at a call that fails.
async function callBatch(plugin: Plugin, count: number): Promise<void> {
  const startedMs = performance.now();
  const header = channel.header;
  const calls = channel.readSegments();
  const results: Segment[] = [];
  for (let call = 0; call < count; call++) {
    header[WORD.calls] = call;
    const callStartedMs = performance.now();
    const result = await runCall(
      plugin,
      decoder.decode(calls[2 * call]!),
      calls[2 * call + 1]!,
    );
    const head = new Uint8Array(RESULT_HEAD_BYTES);
    head[0] = result.kind;
    new DataView(head.buffer).setUint32(
      1,
      Math.min(
        Math.round((performance.now() - callStartedMs) * 1000),
        2 ** 32 - 1,
      ),
      true,
    );
    // Kernel memory is reused by the next call: keep a copy.
    if (result.kind === DONE.FAILED) {
      results.push(head, encoder.encode(result.failure));
      break;
    }
    results.push(
      head,
      result.kind === DONE.OUTPUT ? result.output.slice() : null,
    );
  }
  // Results that do not fit the channel are dropped from the end: their
  // calls run again, one at a time.
  for (;;) {
    try {
      channel.writeSegments(results);
      break;
    } catch (error) {
      if (!(error instanceof RangeError) || results.length === 0) throw error;
      results.length -= 2;
    }
  }
  header[WORD.calls] = results.length / 2;
  countBusy(startedMs);
  if (profiler !== undefined) await profiler.beforeAnswer();
  channel.publish(STATE.DONE);
}

// This thread's id in the kernel (Linux), so that the main thread can read
// how long it waited for a core (`PluginInstance.waitedUs`); undefined
// where /proc does not tell.
function threadId(): number | undefined {
  try {
    const id = Number(Deno.readLinkSync("/proc/thread-self").split("/").pop());
    return Number.isInteger(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

async function serve(): Promise<void> {
  let plugin: Plugin;
  try {
    plugin = await instantiate();
  } catch (error) {
    // The main thread reports it and terminates this thread.
    const message = error instanceof Error ? error.message : String(error);
    parentPort!.postMessage({ failed: message });
    return;
  }
  const thread = threadId();
  parentPort!.postMessage({ ready: true, thread });
  profiler = await startWorkerProfiler(thread);
  for (;;) {
    let state = channel.state;
    while (state !== STATE.CALL) {
      Atomics.wait(channel.header, WORD.state, state);
      state = channel.state;
    }
    const count = channel.header[WORD.calls]!;
    if (count === 0) await callOnce(plugin);
    else await callBatch(plugin, count);
  }
}

await serve();
