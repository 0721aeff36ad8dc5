import type { Clock, Logger } from "../src/deps/mod.ts";
import type { ActorExit } from "./actor.ts";

/** Restart policy: one-for-one, bounded intensity, exponential backoff. */
export interface SupervisorOptions {
  /** More restarts than this within `windowMs` and the supervisor gives up. */
  restartsMax: number;
  windowMs: number;
  /** Delay before the first restart; doubles each time, up to `backoffMaxMs`. */
  backoffBaseMs: number;
  backoffMaxMs: number;
}

/** Defaults: 5 restarts a minute, 100 ms doubling to 10 s. */
export const DEFAULT_SUPERVISOR_OPTIONS: SupervisorOptions = {
  restartsMax: 5,
  windowMs: 60_000,
  backoffBaseMs: 100,
  backoffMaxMs: 10_000,
};

/** How the supervisor starts a child and what it does when it gives up. */
export interface ChildSpec {
  /** Starts the child; resolves with its exit once it ends. */
  start(id: string): Promise<{ exit: Promise<ActorExit> }>;
  /** Called once when a child crashed too often; the child is not restarted. */
  giveUp(id: string, error: unknown): Promise<void>;
}

interface Child {
  restarts: number[];
  cancelBackoff: (() => void) | undefined;
  running: Promise<void>;
}

/**
 * Owns children by id and keeps each one running until it stops normally:
 * a crashed child is started again from scratch (for a run actor: from its
 * log), after a backoff, unless it crashed more than `restartsMax` times in
 * `windowMs`, in which case `giveUp` is called instead.
 */
export class Supervisor {
  readonly #spec: ChildSpec;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #options: SupervisorOptions;
  readonly #children = new Map<string, Child>();
  #stopping = false;

  constructor(
    spec: ChildSpec,
    deps: { clock: Clock; log: Logger },
    options: Partial<SupervisorOptions> = {},
  ) {
    this.#spec = spec;
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#options = { ...DEFAULT_SUPERVISOR_OPTIONS, ...options };
  }

  /** Ids of the children alive or waiting to restart. */
  get ids(): string[] {
    return [...this.#children.keys()];
  }

  /** True when `id` is supervised right now. */
  has(id: string): boolean {
    return this.#children.has(id);
  }

  /** Starts supervising `id` (no-op when already supervised). */
  supervise(id: string): void {
    if (this.#stopping || this.#children.has(id)) return;
    const child: Child = {
      restarts: [],
      cancelBackoff: undefined,
      running: Promise.resolve(),
    };
    this.#children.set(id, child);
    child.running = this.#keepRunning(id, child).finally(() =>
      this.#children.delete(id)
    );
  }

  async #keepRunning(id: string, child: Child): Promise<void> {
    for (;;) {
      let exit: ActorExit;
      try {
        const started = await this.#spec.start(id);
        exit = await started.exit;
      } catch (error) {
        exit = { reason: "crashed", error };
      }
      if (exit.reason === "stopped" || this.#stopping) return;
      const nowMs = this.#clock.nowMs();
      child.restarts = child.restarts.filter((at) =>
        at > nowMs - this.#options.windowMs
      );
      child.restarts.push(nowMs);
      const error = exit.error;
      if (child.restarts.length > this.#options.restartsMax) {
        this.#log.log("error", "supervisor_gave_up", {
          run_id: id,
          error: describe(error),
        });
        await this.#spec.giveUp(id, error);
        return;
      }
      const backoffMs = Math.min(
        this.#options.backoffMaxMs,
        this.#options.backoffBaseMs * 2 ** (child.restarts.length - 1),
      );
      this.#log.log("warn", "actor_restarting", {
        run_id: id,
        backoff_ms: backoffMs,
        error: describe(error),
      });
      const wait = this.#clock.delay(backoffMs);
      child.cancelBackoff = wait.cancel;
      await wait.done;
      child.cancelBackoff = undefined;
      if (this.#stopping) return;
    }
  }

  /** Waits until `id` is no longer supervised (it stopped or was given up). */
  async settled(id: string): Promise<void> {
    await this.#children.get(id)?.running;
  }

  /** Stops restarting; `stopChild` is called for every live child. */
  async shutdown(stopChild: (id: string) => void): Promise<void> {
    this.#stopping = true;
    for (const [id, child] of this.#children) {
      child.cancelBackoff?.();
      stopChild(id);
    }
    await Promise.all(
      [...this.#children.values()].map((child) => child.running),
    );
  }
}

function describe(error: unknown): string {
  return error instanceof Error
    ? `${error.name}: ${error.message}`
    : String(error);
}
