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

/**
 * The longest delay one `setTimeout` takes (2^31 - 1 ms, about 24.8 days):
 * a longer one overflows and fires at once.
 */
export const TIMEOUT_MAX_MS = 2 ** 31 - 1;

/** The timer functions a timeout clock runs on (the host's, or a test's). */
export interface TimerHost {
  now(): number;
  setTimeout(callback: () => void, delayMs: number): unknown;
  clearTimeout(id: unknown): void;
}

/**
 * A clock on host timers. A delay past what one timeout takes is waited out
 * in chunks, re-reading the time after each, so a 30-day sleep neither
 * fires at once nor drifts by the time spent asleep.
 */
export function timeoutClock(host: TimerHost): Clock {
  return {
    nowMs: () => host.now(),
    delay(delayMs) {
      let timer: unknown;
      let settle: () => void = () => {};
      const done = new Promise<void>((resolve) => {
        settle = resolve;
        const dueMs = host.now() + delayMs;
        const arm = (leftMs: number) => {
          timer = host.setTimeout(() => {
            const rest = dueMs - host.now();
            if (rest > 0) arm(rest);
            else resolve();
          }, Math.min(Math.max(0, leftMs), TIMEOUT_MAX_MS));
        };
        arm(delayMs);
      });
      return {
        done,
        cancel: () => {
          if (timer !== undefined) host.clearTimeout(timer);
          settle();
        },
      };
    },
  };
}

/** The real clock. */
export const liveClock: Clock = timeoutClock({
  now: () => Date.now(),
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimeout: (id) => clearTimeout(id as number),
});

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
