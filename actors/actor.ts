import { Mailbox } from "./mailbox.ts";

/** What an actor does with each message. */
export interface Behavior<M, R> {
  receive(message: M): Promise<R>;
}

/** Why an actor ended. */
export type ActorExit = { reason: "stopped" } | {
  reason: "crashed";
  error: unknown;
};

/** Raised to senders whose message was still queued when the actor ended. */
export class ActorStoppedError extends Error {
  constructor(name: string) {
    super(`actor ${name} has stopped`);
    this.name = "ActorStoppedError";
  }
}

interface Envelope<M, R> {
  message: M;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

/**
 * A mailbox and one loop that feeds it to a behaviour, one message at a
 * time. An error thrown by the behaviour crashes the actor: the sender of
 * that message gets the error, every queued sender gets `ActorStoppedError`,
 * and `exit` resolves so a supervisor can decide what happens next.
 */
export class Actor<M, R> {
  readonly name: string;
  readonly exit: Promise<ActorExit>;
  readonly #mailbox: Mailbox<Envelope<M, R>>;
  readonly #behavior: Behavior<M, R>;
  #settle!: (exit: ActorExit) => void;

  constructor(
    name: string,
    behavior: Behavior<M, R>,
    options: { capacity?: number } = {},
  ) {
    this.name = name;
    this.#behavior = behavior;
    this.#mailbox = new Mailbox(options.capacity);
    this.exit = new Promise((resolve) => this.#settle = resolve);
    this.#loop();
  }

  /** Sends a message; resolves with the behaviour's result for it. */
  ask(message: M): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      if (!this.#mailbox.post({ message, resolve, reject })) {
        reject(new ActorStoppedError(this.name));
      }
    });
  }

  /** Messages waiting in the mailbox. */
  get backlog(): number {
    return this.#mailbox.size;
  }

  /** Stops after the message being handled; queued messages are refused. */
  stop(): void {
    this.#end({ reason: "stopped" });
  }

  /** Crashes the actor from outside its loop (a failure in work it started). */
  crash(error: unknown): void {
    this.#end({ reason: "crashed", error });
  }

  #end(exit: ActorExit): void {
    if (this.#mailbox.closed) return;
    for (const left of this.#mailbox.close()) {
      left.reject(new ActorStoppedError(this.name));
    }
    this.#settle(exit);
  }

  async #loop(): Promise<void> {
    for (;;) {
      const envelope = await this.#mailbox.take();
      if (envelope === undefined) return;
      try {
        envelope.resolve(await this.#behavior.receive(envelope.message));
      } catch (error) {
        envelope.reject(error);
        this.#end({ reason: "crashed", error });
        return;
      }
    }
  }
}
