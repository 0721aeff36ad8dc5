import { clearTimeout, setTimeout } from "node:timers";

/**
 * The time limits of a pool's calls in flight, kept by one timer. A timer
 * per call cost each call a `setTimeout` and a `clearTimeout` (with the
 * node-compatible timer object they allocate) although nearly every call
 * ends long before its limit. Here a call only adds its deadline to a set
 * and takes it out again; the one timer is armed for the earliest deadline
 * it may have to enforce, and when it fires it stops the calls whose time
 * is up and re-arms for the earliest of the rest. The timer holds the
 * process open only while a call is in flight (it is unref'd when the last
 * one ends), which keeps the event loop turning for the channel's
 * `Atomics.waitAsync` (a pending wait alone does not) and lets a process
 * whose pool was never closed exit.
 */
export class CallDeadlines {
  readonly #entries = new Set<Deadline>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The deadline the timer is armed for (`performance.now()` time). */
  #armedForMs = Infinity;

  /** Calls `expire` unless the returned function is called within `timeoutMs`. */
  add(timeoutMs: number, expire: () => void): () => void {
    const entry: Deadline = { dueMs: performance.now() + timeoutMs, expire };
    this.#entries.add(entry);
    if (entry.dueMs < this.#armedForMs) this.#arm(entry.dueMs);
    else if (this.#entries.size === 1) this.#timer?.ref();
    return () => {
      if (this.#entries.delete(entry) && this.#entries.size === 0) {
        this.#timer?.unref();
      }
    };
  }

  /** Calls in flight. */
  get size(): number {
    return this.#entries.size;
  }

  /** Whether the timer keeps the process alive (only while calls are in flight). */
  get holdsProcess(): boolean {
    return this.#timer?.hasRef() ?? false;
  }

  /** Forgets every call and stops the timer. */
  clear(): void {
    this.#entries.clear();
    this.#disarm();
  }

  #arm(dueMs: number): void {
    this.#disarm();
    this.#armedForMs = dueMs;
    this.#timer = setTimeout(
      () => this.#fire(),
      Math.max(0, Math.ceil(dueMs - performance.now())),
    );
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedForMs = Infinity;
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedForMs = Infinity;
    const nowMs = performance.now();
    let nextMs = Infinity;
    const expired: Deadline[] = [];
    for (const entry of this.#entries) {
      if (entry.dueMs <= nowMs) expired.push(entry);
      else nextMs = Math.min(nextMs, entry.dueMs);
    }
    for (const entry of expired) this.#entries.delete(entry);
    if (nextMs !== Infinity) this.#arm(nextMs);
    for (const entry of expired) entry.expire();
  }
}

interface Deadline {
  readonly dueMs: number;
  readonly expire: () => void;
}
