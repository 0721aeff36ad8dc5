/**
 * The one way AOS reads time. Only the shell holds a clock; the reducer gets
 * time on the message envelope, and skills through the recorded `aos_now`.
 */
export interface Clock {
  /** Wall-clock milliseconds since the epoch. */
  nowMs(): number;
  /** Resolves after `delayMs`; the returned function cancels the wait. */
  delay(delayMs: number): { done: Promise<void>; cancel: () => void };
}

/** The real clock. */
export const liveClock: Clock = {
  nowMs: () => Date.now(),
  delay(delayMs) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let settle: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      settle = resolve;
      timer = setTimeout(resolve, delayMs);
    });
    return {
      done,
      cancel: () => {
        clearTimeout(timer);
        settle();
      },
    };
  },
};

/**
 * A clock that moves only when told to: delays resolve when `advance` passes
 * their due time, so tests of backoff and timers never wait for real time.
 */
export class SimulatedClock implements Clock {
  #nowMs: number;
  #waiting: { dueMs: number; resolve: () => void }[] = [];
  #delayWatchers: (() => void)[] = [];

  constructor(startMs = 1_700_000_000_000) {
    this.#nowMs = startMs;
  }

  nowMs(): number {
    return this.#nowMs;
  }

  delay(delayMs: number): { done: Promise<void>; cancel: () => void } {
    let entry!: { dueMs: number; resolve: () => void };
    const done = new Promise<void>((resolve) => {
      entry = { dueMs: this.#nowMs + delayMs, resolve };
      this.#waiting.push(entry);
    });
    for (const watcher of this.#delayWatchers.splice(0)) watcher();
    return {
      done,
      cancel: () => {
        this.#waiting = this.#waiting.filter((other) => other !== entry);
        entry.resolve();
      },
    };
  }

  /** Moves time forward and wakes every delay that is now due. */
  advance(byMs: number): void {
    this.#nowMs += byMs;
    const due = this.#waiting.filter((entry) => entry.dueMs <= this.#nowMs);
    this.#waiting = this.#waiting.filter((entry) => entry.dueMs > this.#nowMs);
    for (const entry of due) entry.resolve();
  }

  /** Moves time forward to `atMs` (never back) and wakes what is due. */
  advanceTo(atMs: number): void {
    this.advance(Math.max(0, atMs - this.#nowMs));
  }

  /** The earliest due time of a pending delay, if any. */
  nextDueMs(): number | undefined {
    let earliest: number | undefined;
    for (const entry of this.#waiting) {
      if (earliest === undefined || entry.dueMs < earliest) {
        earliest = entry.dueMs;
      }
    }
    return earliest;
  }

  /** Resolves once a delay due at or before `atMs` is pending. */
  async delayDueBy(atMs: number): Promise<void> {
    while (!this.#waiting.some((entry) => entry.dueMs <= atMs)) {
      await new Promise<void>((resolve) => this.#delayWatchers.push(resolve));
    }
  }

  /** Resolves once at least `count` delays are pending (tests wait on this, not on time). */
  async delaysPending(count = 1): Promise<void> {
    while (this.#waiting.length < count) {
      await new Promise<void>((resolve) => this.#delayWatchers.push(resolve));
    }
  }

  /** How many delays are pending. */
  get pendingDelays(): number {
    return this.#waiting.length;
  }
}
