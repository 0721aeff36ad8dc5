import { Worker } from "node:worker_threads";
import type {
  CheckpointAnswer,
  CheckpointWorkerInit,
} from "./_wal_checkpoint_worker.ts";

const WORKER_URL = new URL("./_wal_checkpoint_worker.ts", import.meta.url);

/**
 * Checkpoints of a WAL database on a thread of its own. Left to SQLite, a
 * checkpoint runs inside the COMMIT that crosses `wal_autocheckpoint`, on
 * the committing thread: it copies the WAL's pages into the database file
 * and syncs both files, which under load was most of the group commit's
 * COMMIT time on the JavaScript thread (about 3% of commits taking 80% of
 * it, up to tens of milliseconds each). Here a worker's connection does it.
 * The thread starts at the first checkpoint and stops with `close()`.
 */
export class WalCheckpointer {
  readonly #init: CheckpointWorkerInit;
  #worker: Worker | undefined;
  /** The request under way: answered by the thread's reply, or failed with it. */
  #pending:
    | {
      resolve: (answer: CheckpointAnswer) => void;
      reject: (error: unknown) => void;
    }
    | undefined;
  #running: Promise<CheckpointAnswer> | undefined;
  #closed = false;

  constructor(path: string, options: { busyTimeoutMs: number }) {
    this.#init = { path, busyTimeoutMs: options.busyTimeoutMs };
  }

  /**
   * Runs one PASSIVE checkpoint; rejects when it failed or the thread did.
   * One at a time: a call while one runs gets that one's answer.
   */
  checkpoint(): Promise<CheckpointAnswer> {
    if (this.#closed) return Promise.reject(new Error("checkpointer closed"));
    this.#running ??= new Promise<CheckpointAnswer>((resolve, reject) => {
      this.#pending = { resolve, reject };
      const worker = this.#start();
      // Held while it works: a process waiting for its answer stays alive.
      worker.ref();
      worker.postMessage("checkpoint");
    }).finally(() => {
      this.#worker?.unref();
      this.#running = undefined;
      this.#pending = undefined;
    });
    return this.#running;
  }

  #start(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const worker = new Worker(WORKER_URL, {
      workerData: this.#init,
      // Its JavaScript allocates next to nothing: a small young generation
      // and page cache keep the thread's memory small.
      resourceLimits: { maxYoungGenerationSizeMb: 1 },
    });
    // Idle, it does not keep its process alive (a store left open).
    worker.on("message", (answer: CheckpointAnswer) => {
      if (answer.ok) this.#pending?.resolve(answer);
      else this.#pending?.reject(new Error(answer.error));
    });
    const lost = (error: unknown) => {
      this.#worker = undefined;
      this.#pending?.reject(error);
    };
    worker.on("error", lost);
    worker.on("exit", (code: number) => {
      if (this.#worker === worker) lost(new Error(`exited with ${code}`));
    });
    this.#worker = worker;
    return worker;
  }

  /** Waits for a checkpoint under way, then stops the thread and its connection. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#running?.catch(() => {});
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker === undefined) return;
    const closed = new Promise((resolve) => worker.once("message", resolve));
    worker.ref();
    worker.postMessage("close");
    await closed;
    await worker.terminate();
  }
}
