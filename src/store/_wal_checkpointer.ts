import type {
  CheckpointAnswer,
  CheckpointRequest,
  CheckpointWorkerInit,
} from "./_wal_checkpoint_worker.ts";

const WORKER_URL = new URL("./_wal_checkpoint_worker.ts", import.meta.url);

// A thread left without checkpoints this long ends (its isolate, about
// 10 MB, is freed); the next checkpoint starts one again. Until it ends, an
// idle thread keeps its process alive, as web workers do: a store left open
// delays its process's exit by up to this long.
const IDLE_MS = 60_000;

/**
 * Checkpoints of a WAL database on a thread of its own. Left to SQLite, a
 * checkpoint runs inside the COMMIT that crosses `wal_autocheckpoint`, on
 * the committing thread: it copies the WAL's pages into the database file
 * and syncs both files, which under load was most of the group commit's
 * COMMIT time on the JavaScript thread (about 3% of commits taking 80% of
 * it, up to tens of milliseconds each). Here a worker's connection does it.
 * The thread starts at the first checkpoint and stops with `close()`, or
 * once idle for a minute.
 */
export class WalCheckpointer {
  readonly #init: CheckpointWorkerInit;
  readonly #idleMs: number;
  readonly #onIdleEnd: (() => void) | undefined;
  #worker: Worker | undefined;
  #idle: ReturnType<typeof setTimeout> | undefined;
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
   * Runs one PASSIVE checkpoint; rejects when it failed or the thread did.
   * One at a time: a call while one runs gets that one's answer.
   */
  checkpoint(): Promise<CheckpointAnswer> {
    if (this.#closed) return Promise.reject(new Error("checkpointer closed"));
    this.#running ??= new Promise<CheckpointAnswer>((resolve, reject) => {
      clearTimeout(this.#idle);
      this.#pending = { resolve, reject };
      this.#post(this.#start(), "checkpoint");
    }).finally(() => {
      this.#running = undefined;
      this.#pending = undefined;
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

  // The timer does not keep the process alive; the idle worker does, until
  // the timer ends it.
  #armIdle(): void {
    clearTimeout(this.#idle);
    if (this.#closed || this.#worker === undefined) return;
    const idle = setTimeout(() => {
      this.#idle = undefined;
      const worker = this.#worker;
      if (this.#running !== undefined || worker === undefined) return;
      this.#worker = undefined;
      worker.terminate();
      this.#onIdleEnd?.();
    }, this.#idleMs);
    Deno.unrefTimer(idle);
    this.#idle = idle;
  }

  /** Waits for a checkpoint under way, then stops the thread and its connection. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#running?.catch(() => {});
    clearTimeout(this.#idle);
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker === undefined) return;
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
