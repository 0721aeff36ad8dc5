import type {
  CheckpointAnswer,
  CheckpointRequest,
  CheckpointWorkerInit,
} from "./_wal_checkpoint_worker.ts";

const WORKER_URL = new URL("./_wal_checkpoint_worker.ts", import.meta.url);

// A thread neither used nor prepared for this long ends (its isolate, about
// 10 MB, is freed). Until it ends, an idle thread keeps its process alive,
// as web workers do: a store left open delays its process's exit by up to
// this long.
const IDLE_MS = 60_000;

/**
 * Checkpoints of a WAL database on a thread of its own. Left to SQLite, a
 * checkpoint runs inside the COMMIT that crosses `wal_autocheckpoint`, on
 * the committing thread: it copies the WAL's pages into the database file
 * and syncs both files, which under load was most of the group commit's
 * COMMIT time on the JavaScript thread (about 3% of commits taking 80% of
 * it, up to tens of milliseconds each). Here a worker's connection does it.
 * The thread starts at `prepare()` or the first checkpoint, and stops with
 * `close()` or once neither was called for a minute.
 */
export class WalCheckpointer {
  readonly #init: CheckpointWorkerInit;
  readonly #idleMs: number;
  readonly #onIdleEnd: (() => void) | undefined;
  #worker: Worker | undefined;
  #idle: ReturnType<typeof setTimeout> | undefined;
  /** An idle thread closing its connection before it ends. */
  #stopping: Promise<void> | undefined;
  #usedMs = 0;
  /** The request under way: answered by the thread's reply, or failed with it. */
  #pending:
    | {
      resolve: (answer: CheckpointAnswer) => void;
      reject: (error: unknown) => void;
    }
    | undefined;
  #running: Promise<CheckpointAnswer> | undefined;
  #closed = false;

  constructor(
    path: string,
    options: {
      busyTimeoutMs: number;
      /** How long an idle thread lives (default a minute). */
      idleMs?: number;
      /** Called when an idle thread has been ended. */
      onIdleEnd?: () => void;
    },
  ) {
    this.#init = { path, busyTimeoutMs: options.busyTimeoutMs };
    this.#idleMs = options.idleMs ?? IDLE_MS;
    this.#onIdleEnd = options.onIdleEnd;
  }

  /** True while the thread is alive. */
  get started(): boolean {
    return this.#worker !== undefined;
  }

  /**
   * Starts the thread if it is not running, so that a checkpoint soon does
   * not wait for it (a start takes tens of ms), and keeps it from ending
   * idle for another `idleMs`.
   */
  prepare(): void {
    if (this.#closed) return;
    this.#usedMs = performance.now();
    this.#start();
    this.#armIdle();
  }

  /**
   * Runs one PASSIVE checkpoint; rejects when it failed or the thread did.
   * One at a time: a call while one runs gets that one's answer.
   */
  checkpoint(): Promise<CheckpointAnswer> {
    if (this.#closed) return Promise.reject(new Error("checkpointer closed"));
    this.#running ??= new Promise<CheckpointAnswer>((resolve, reject) => {
      this.#usedMs = performance.now();
      this.#pending = { resolve, reject };
      this.#post(this.#start(), "checkpoint");
    }).finally(() => {
      this.#running = undefined;
      this.#pending = undefined;
      this.#usedMs = performance.now();
      this.#armIdle();
    });
    return this.#running;
  }

  #post(worker: Worker, request: CheckpointRequest): void {
    worker.postMessage(request);
  }

  #start(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const worker = new Worker(WORKER_URL, { type: "module" });
    worker.postMessage(this.#init);
    worker.onmessage = ({ data }: MessageEvent<CheckpointAnswer>) => {
      if (data.ok) this.#pending?.resolve(data);
      else this.#pending?.reject(new Error(data.error));
    };
    worker.onerror = (event) => {
      // Handled here: left alone, a worker's uncaught error ends the process.
      event.preventDefault();
      if (this.#worker === worker) this.#worker = undefined;
      worker.terminate();
      this.#pending?.reject(new Error(event.message));
    };
    this.#worker = worker;
    return worker;
  }

  // One timer while the thread lives; it does not keep the process alive
  // (the idle thread does, until the timer ends it).
  #armIdle(): void {
    if (this.#idle !== undefined || this.#worker === undefined) return;
    const delayMs = Math.max(
      0,
      this.#usedMs + this.#idleMs - performance.now(),
    );
    const idle = setTimeout(() => {
      this.#idle = undefined;
      const worker = this.#worker;
      if (this.#closed || worker === undefined) return;
      if (this.#running !== undefined) this.#usedMs = performance.now();
      if (performance.now() - this.#usedMs < this.#idleMs) {
        return this.#armIdle();
      }
      this.#worker = undefined;
      this.#stopping = this.#stop(worker).then(() => this.#onIdleEnd?.());
    }, delayMs);
    Deno.unrefTimer(idle);
    this.#idle = idle;
  }

  /** Waits for a checkpoint under way, then stops the thread and its connection. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#running?.catch(() => {});
    clearTimeout(this.#idle);
    this.#idle = undefined;
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker !== undefined) await this.#stop(worker);
    await this.#stopping;
  }

  // The thread closes its connection (a terminated isolate would leave the
  // connection's files open), answers, and is then terminated.
  async #stop(worker: Worker): Promise<void> {
    const closed = new Promise((resolve) => {
      worker.onmessage = resolve;
      worker.onerror = (event) => {
        event.preventDefault();
        resolve(undefined);
      };
    });
    this.#post(worker, "close");
    await closed;
    worker.terminate();
  }
}
