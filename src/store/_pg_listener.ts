import { pg, type PgClient } from "./_pg_driver.ts";

/** The channel new runs and released leases are announced on. */
export const RUNNABLE_CHANNEL = "aos_runnable";

/** Reconnection backoff of the LISTEN connection: doubles up to the max. */
const RECONNECT_BASE_MS = 100;
const RECONNECT_MAX_MS = 2_000;

/**
 * One dedicated connection that LISTENs on `RUNNABLE_CHANNEL` and tells the
 * listeners about every notification. When the connection is lost (the
 * server restarted), it reconnects with backoff and then wakes the listeners
 * once, since notifications sent meanwhile are lost; claimers poll as well,
 * so a wake-up is never the only way work is found.
 */
export class RunnableListener {
  readonly #url: string;
  readonly #listeners = new Set<() => void>();
  #client: PgClient | undefined;
  #closed = false;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #failures = 0;

  constructor(url: string) {
    this.#url = url;
  }

  /** Connects and LISTENs; rejects when the first connection fails. */
  async start(): Promise<void> {
    await this.#connect();
  }

  add(listener: () => void): () => void {
    const once = () => listener();
    this.#listeners.add(once);
    return () => this.#listeners.delete(once);
  }

  #wake(): void {
    for (const listener of this.#listeners) listener();
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.#url,
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
      application_name: "aos-listen",
    });
    let lost = false;
    const onLost = () => {
      if (lost) return;
      lost = true;
      if (this.#client === client) this.#client = undefined;
      client.end().catch(() => {});
      this.#scheduleReconnect();
    };
    // Unheard, an error event of a dropped connection ends the process.
    client.on("error", onLost);
    client.on("end", onLost);
    client.on("notification", (message) => {
      if (message.channel === RUNNABLE_CHANNEL) this.#wake();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${RUNNABLE_CHANNEL}`);
    } catch (error) {
      lost = true;
      client.end().catch(() => {});
      throw error;
    }
    if (this.#closed) {
      await client.end().catch(() => {});
      return;
    }
    this.#client = client;
    this.#failures = 0;
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#retry !== undefined) return;
    const delayMs = Math.min(
      RECONNECT_MAX_MS,
      RECONNECT_BASE_MS * 2 ** this.#failures,
    );
    this.#failures++;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#connect().then(
        () => this.#wake(),
        () => this.#scheduleReconnect(),
      );
    }, delayMs);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    this.#retry = undefined;
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => {});
  }
}
