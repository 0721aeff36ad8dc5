// One plugin instance: a worker thread running the module, driven through
// the shared channel of `_worker_channel.ts`. The instance knows nothing of
// limits; the pool times calls and terminates the worker to stop one.
import { Worker } from "node:worker_threads";
import type { HostAnswer, HostBridge } from "./_host_bridge.ts";
import type { WorkerInit } from "./_plugin_worker.ts";
import {
  ANSWER,
  Channel,
  channelBuffer,
  DONE,
  type Segment,
  STATE,
  WORD,
} from "./_worker_channel.ts";
import type { CallState } from "./host_functions.ts";

const WORKER_URL = new URL("./_plugin_worker.ts", import.meta.url);
const decoder = new TextDecoder();
const encoder = new TextEncoder();
// Room for the largest payload either way: a call's input or output, or a
// host answer, each bounded by the kernel's budget, plus framing.
const FRAMING_BYTES = 1024 * 1024;
// The worker's V8 young generation. Left to itself V8 grows it to 6-8 MB
// per worker under a steady stream of calls, though a call leaves little
// alive in the worker's heap (the guest's data lives in Wasm memory and in
// buffers outside the heap): at 2 MB each worker stays about 7 MB smaller,
// and CPU per call was the same within the noise of the measurement
// (docs/benchmarks.md, "Memory"). V8 applies it only when the process has
// no `--max-semi-space-size` flag: that flag sizes every isolate's young
// generation, this one's included (the start task's 8 MB semi-spaces give
// a worker 8-16 MB).
const YOUNG_GENERATION_MB = 2;

/** What starting an instance needs. */
export interface InstanceOptions {
  module: WebAssembly.Module;
  bridge: HostBridge;
  kernelBytesMax: number;
  /** Longest wait for the module to instantiate (a looping `_initialize`). */
  startTimeoutMs: number;
}

/** The worker exited while a call was running; `code` is its exit code. */
export class WorkerExited extends Error {
  constructor(readonly code: number) {
    super(`the plugin's worker thread exited (code ${code})`);
  }
}

/** A call that ended in the guest: a trap, or an error it reported. */
export class GuestFailure extends Error {
  constructor(message: string, readonly guestError: string | undefined) {
    super(message);
  }
}

/** A call of a batch that ran to its end. */
export interface BatchResult {
  /** Undefined when the guest set none, or the call failed. */
  output: Uint8Array | undefined;
  /** The failure's message, when the call failed (the batch's last result). */
  failure: string | undefined;
  /** How long it ran, as the worker counts it. */
  durationUs: number;
}

/** A module instantiated in its own worker thread. */
export class PluginInstance {
  readonly worker: Worker;
  readonly #channel: Channel;
  readonly #bridge: HostBridge;
  #exitCode: number | undefined;
  #callStartedMs: number | undefined;
  /** The worker thread's scheduler statistics (Linux), once it is ready. */
  #schedStatPath: string | undefined;
  // Rejects the host answer being awaited, if any, when the worker exits.
  #interrupt: ((error: WorkerExited) => void) | undefined;

  private constructor(worker: Worker, channel: Channel, bridge: HostBridge) {
    this.worker = worker;
    this.#channel = channel;
    this.#bridge = bridge;
    worker.once("exit", (code: number) => {
      this.#exitCode = code;
      this.#channel.wake();
      this.#interrupt?.(new WorkerExited(code));
    });
  }

  /** Starts a worker and instantiates the module in it. */
  static async start(options: InstanceOptions): Promise<PluginInstance> {
    const buffer = channelBuffer(
      options.kernelBytesMax + FRAMING_BYTES,
    );
    const init: WorkerInit = {
      module: options.module,
      buffer,
      functions: options.bridge.functions,
      fetchIndex: options.bridge.fetchIndex,
      kernelBytesMax: options.kernelBytesMax,
    };
    const worker = new Worker(WORKER_URL, {
      workerData: init,
      resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
    });
    // An uncaught error ends the worker; its exit is what callers see.
    worker.on("error", () => {});
    const instance = new PluginInstance(
      worker,
      new Channel(buffer),
      options.bridge,
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        new Promise<void>((resolve, reject) => {
          worker.once(
            "message",
            (message: { failed?: string; thread?: number }) => {
              if (message.failed !== undefined) {
                return reject(new Error(message.failed));
              }
              instance.#schedStatPath = message.thread === undefined
                ? undefined
                : `/proc/self/task/${message.thread}/schedstat`;
              resolve();
            },
          );
        }),
        new Promise<never>((_, reject) => {
          worker.once("exit", (code: number) => reject(new WorkerExited(code)));
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new Error(
                  `the module did not instantiate within ${options.startTimeoutMs} ms`,
                ),
              ),
            options.startTimeoutMs,
          );
        }),
      ]);
      return instance;
    } catch (error) {
      await worker.terminate();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Microseconds (mod 2^32) the worker has spent in calls: the calls it
   * finished, as it counts them (the time this thread takes to notice one
   * finished is not in it), and the one it is on, if any, since this thread
   * handed it over (`nowMs` is `performance.now()` time).
   */
  busyUs(nowMs: number): number {
    const finishedUs = Atomics.load(this.#channel.header, WORD.busy);
    const onCall = this.#callStartedMs !== undefined &&
      this.#channel.state !== STATE.DONE;
    const currentUs = onCall
      ? Math.round((nowMs - this.#callStartedMs!) * 1000)
      : 0;
    return (finishedUs + currentUs) >>> 0;
  }

  /**
   * Microseconds the worker thread has spent waiting for a core (runnable,
   * not running) since it started, as the kernel counts it; undefined
   * where the kernel does not say (not Linux, or the thread has ended).
   * On a machine with more runnable threads than cores, a short call can
   * spend most of its wall-clock time (`busyUs`) waiting so.
   */
  waitedUs(): number | undefined {
    if (this.#schedStatPath === undefined) return undefined;
    try {
      // "<ns on a core> <ns waiting for a core> <timeslices>"
      const fields = Deno.readTextFileSync(this.#schedStatPath).split(" ");
      const waitedNs = Number(fields[1]);
      return Number.isFinite(waitedNs) ? waitedNs / 1000 : undefined;
    } catch {
      return undefined;
    }
  }

  /** True once the worker has exited. */
  get exited(): boolean {
    return this.#exitCode !== undefined;
  }

  /**
   * Calls `entrypoint` with `input`; host calls are answered with `state`.
   * Resolves with the output (undefined when the guest set none); rejects
   * with GuestFailure when the guest failed, WorkerExited when its thread
   * ended.
   */
  async call(
    entrypoint: string,
    input: string,
    state: unknown,
  ): Promise<Uint8Array | undefined> {
    if (this.#exitCode !== undefined) throw new WorkerExited(this.#exitCode);
    this.#callStartedMs = performance.now();
    try {
      return await this.#run(entrypoint, input, state);
    } finally {
      this.#callStartedMs = undefined;
    }
  }

  async #run(
    entrypoint: string,
    input: string,
    state: unknown,
  ): Promise<Uint8Array | undefined> {
    const channel = this.#channel;
    const header = channel.header;
    const nameBytes = channel.writeText(entrypoint);
    header[WORD.kind] = nameBytes;
    header[WORD.length] = channel.writeText(input, nameBytes);
    header[WORD.calls] = 0;
    await this.#exchange([state]);
    return this.#result();
  }

  /**
   * Calls `entrypoint` with each input in turn, in one hand-off to the
   * worker and one back; host calls of call i are answered with
   * `states[i]`. Resolves with a result per call run, in order: the worker
   * stops at a call that fails, so the calls after it have none. Rejects
   * with WorkerExited when its thread ended.
   */
  async callBatch(
    entrypoint: string,
    inputs: readonly Uint8Array[],
    states: readonly unknown[],
  ): Promise<BatchResult[]> {
    if (this.#exitCode !== undefined) throw new WorkerExited(this.#exitCode);
    this.#callStartedMs = performance.now();
    try {
      const channel = this.#channel;
      const name = encoder.encode(entrypoint);
      channel.writeSegments(inputs.flatMap((input) => [name, input]));
      channel.header[WORD.calls] = inputs.length;
      await this.#exchange(states);
      const segments = channel.readSegments();
      const results: BatchResult[] = [];
      for (let call = 0; 2 * call < segments.length; call++) {
        const head = segments[2 * call]!;
        const data = segments[2 * call + 1]!;
        results.push({
          output: head[0] === DONE.OUTPUT ? data : undefined,
          failure: head[0] === DONE.FAILED
            ? JSON.parse(decoder.decode(data)).message
            : undefined,
          durationUs: new DataView(head.buffer).getUint32(1, true),
        });
      }
      return results;
    } finally {
      this.#callStartedMs = undefined;
    }
  }

  // Hands the call (its data written) to the worker, answers its host calls
  // and returns once it is done.
  async #exchange(states: readonly unknown[]): Promise<void> {
    const channel = this.#channel;
    const header = channel.header;
    channel.publish(STATE.CALL);
    let waitingWhile: number = STATE.CALL;
    for (;;) {
      while (channel.state === waitingWhile) {
        if (this.#exitCode !== undefined) {
          throw new WorkerExited(this.#exitCode);
        }
        await channel.waitWhile(waitingWhile);
      }
      if (channel.state === STATE.DONE) return;
      await this.#answerHostCall(states[header[WORD.calls]!] as CallState);
      waitingWhile = STATE.ANSWER;
    }
  }

  #result(): Uint8Array | undefined {
    const header = this.#channel.header;
    const length = header[WORD.length]!;
    switch (header[WORD.kind]) {
      case DONE.OUTPUT:
        return this.#channel.readData(0, length);
      case DONE.NO_OUTPUT:
        return undefined;
      default: {
        const failure = JSON.parse(
          decoder.decode(this.#channel.readData(0, length)),
        );
        throw new GuestFailure(failure.message, failure.guest_error);
      }
    }
  }

  async #answerHostCall(state: CallState): Promise<void> {
    const channel = this.#channel;
    const header = channel.header;
    const args: (bigint | number)[] = [];
    for (let position = 0; position < header[WORD.argc]!; position++) {
      args.push(channel.argument(position));
    }
    // Not a Promise.race with a promise that lives as long as the worker:
    // each race would leave a reaction on it until the worker exits.
    const answer = await new Promise<HostAnswer>((resolve, reject) => {
      this.#interrupt = reject;
      this.#bridge.answer(
        header[WORD.kind]!,
        args,
        channel.readSegments(),
        state,
      )
        .then(resolve, reject);
    }).finally(() => this.#interrupt = undefined);
    try {
      writeAnswer(channel, answer);
    } catch (error) {
      // An answer too large for the channel fails the host call.
      writeAnswer(channel, { kind: "failed", message: String(error) });
    }
    channel.publish(STATE.ANSWER);
  }

  /** Stops the worker thread. */
  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}

function writeAnswer(
  channel: Channel,
  answer: HostAnswer,
): void {
  const header = channel.header;
  switch (answer.kind) {
    case "value":
      channel.setArgument(0, answer.value);
      header[WORD.kind] = ANSWER.VALUE;
      return;
    case "void":
      header[WORD.kind] = ANSWER.VOID;
      return;
    case "stored":
      channel.writeData(answer.bytes);
      header[WORD.kind] = ANSWER.STORED;
      return;
    case "response": {
      const segments: Segment[] = [answer.meta, answer.body];
      channel.writeSegments(segments);
      header[WORD.kind] = ANSWER.RESPONSE;
      return;
    }
    case "failed":
      header[WORD.length] = channel.writeText(answer.message);
      header[WORD.kind] = ANSWER.FAILED;
      return;
  }
}
