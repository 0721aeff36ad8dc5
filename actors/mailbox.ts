/**
 * A FIFO queue with one consumer. Items are taken one at a time, so the
 * actor that owns a mailbox handles one message at a time. The capacity is
 * a hard bound: posting to a full mailbox throws, because an unbounded queue
 * only hides a stuck consumer until memory runs out.
 */
export class Mailbox<T> {
  readonly capacity: number;
  #items: T[] = [];
  #taker: ((item: T | undefined) => void) | undefined;
  #closed = false;

  constructor(capacity = 10_000) {
    this.capacity = capacity;
  }

  /** Number of items waiting. */
  get size(): number {
    return this.#items.length;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Adds an item; false when the mailbox is closed. */
  post(item: T): boolean {
    if (this.#closed) return false;
    if (this.#taker !== undefined) {
      const taker = this.#taker;
      this.#taker = undefined;
      taker(item);
      return true;
    }
    if (this.#items.length >= this.capacity) {
      throw new RangeError(`mailbox full (${this.capacity} items)`);
    }
    this.#items.push(item);
    return true;
  }

  /** The next item, waiting for one; undefined once the mailbox is closed and empty. */
  take(): Promise<T | undefined> {
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift());
    if (this.#closed) return Promise.resolve(undefined);
    if (this.#taker !== undefined) throw new Error("mailbox has one consumer");
    return new Promise((resolve) => this.#taker = resolve);
  }

  /** Closes the mailbox and returns what was still waiting. */
  close(): T[] {
    this.#closed = true;
    const left = this.#items;
    this.#items = [];
    this.#taker?.(undefined);
    this.#taker = undefined;
    return left;
  }
}
