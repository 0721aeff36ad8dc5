import { pg, type PgClient } from "./_pg_driver.ts";

/** The channel new runs and released leases are announced on. */
export const RUNNABLE_CHANNEL = "aos_runnable";

/** The channel revoked and rotated API keys are announced on. */
export const API_KEYS_CHANNEL = "aos_api_keys";

const CHANNELS = [RUNNABLE_CHANNEL, API_KEYS_CHANNEL] as const;

/** A channel the store listens on. */
export type StoreChannel = typeof CHANNELS[number];

/** Reconnection backoff of the LISTEN connection: doubles up to the max. */
const RECONNECT_BASE_MS = 100;
const RECONNECT_MAX_MS = 2_000;

/**
 * One dedicated connection that LISTENs on the store's channels and tells
 * each channel's listeners about every notification on it. When the
 * connection is lost (the server restarted), it reconnects with backoff and
 * then wakes every listener once, since notifications sent meanwhile are
 * lost; claimers poll as well, so a wake-up is never the only way work is
 * found, and cached API keys have a maximum age.
 */
export class StoreListener {
  readonly #url: string;
  readonly #listeners = new Map<StoreChannel, Set<() => void>>(
    CHANNELS.map((channel) => [channel, new Set()]),
  );
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

  add(channel: StoreChannel, listener: () => void): () => void {
    const once = () => listener();
    const listeners = this.#listeners.get(channel)!;
    listeners.add(once);
    return () => listeners.delete(once);
  }

  #wake(channel?: StoreChannel): void {
    for (const [name, listeners] of this.#listeners) {
      if (channel !== undefined && name !== channel) continue;
      for (const listener of listeners) listener();
    }
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
      const channel = CHANNELS.find((name) => name === message.channel);
      if (channel !== undefined) this.#wake(channel);
    });
    try {
      await client.connect();
      await client.query(
        CHANNELS.map((channel) => `LISTEN ${channel}`).join("; "),
      );
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
    for (const listeners of this.#listeners.values()) listeners.clear();
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    this.#retry = undefined;
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => {});
  }
}
