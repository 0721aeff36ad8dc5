import type { ApiKeyRecord, Store } from "../store/mod.ts";

/** Options of an `ApiKeyCache`. */
export interface ApiKeyCacheOptions {
  /** Operational time in ms (never a run's simulated clock). */
  nowMs: () => number;
  /**
   * The longest a key found once is trusted without asking the store again
   * (default 2 s): the bound on a revocation whose news was lost.
   */
  maxAgeMs?: number;
  /** Most keys kept; the least recently used go first (default 1,024). */
  sizeMax?: number;
}

/** Default of `ApiKeyCacheOptions.maxAgeMs`. */
export const API_KEY_MAX_AGE_MS_DEFAULT = 2_000;

/** Default of `ApiKeyCacheOptions.sizeMax`. */
export const API_KEYS_CACHED_MAX_DEFAULT = 1_024;

interface Entry {
  record: ApiKeyRecord;
  /** When the store was asked (ms): the entry's age counts from then. */
  askedAtMs: number;
}

/**
 * The working API keys a node has seen lately, by the sha256 of the key
 * (the secret itself is never held), so a request does not cost a read of
 * its key. A revocation empties the cache: at once on the process that
 * made it, on the others sharing the store as soon as the store's news
 * arrives (`Store.onApiKeysRevoked`), and, if that news was lost, after
 * `maxAgeMs` at most. A read begun before a revocation is not kept, even if
 * it answers after it. Unknown keys are not kept: a key issued anywhere
 * works at once.
 */
export class ApiKeyCache {
  readonly #store: Store;
  readonly #nowMs: () => number;
  readonly #maxAgeMs: number;
  readonly #sizeMax: number;
  readonly #entries = new Map<string, Entry>();
  readonly #stop: () => void;
  /** Grows at every revocation: reads begun under an older one are dropped. */
  #generation = 0;

  constructor(store: Store, options: ApiKeyCacheOptions) {
    this.#store = store;
    this.#nowMs = options.nowMs;
    this.#maxAgeMs = options.maxAgeMs ?? API_KEY_MAX_AGE_MS_DEFAULT;
    this.#sizeMax = options.sizeMax ?? API_KEYS_CACHED_MAX_DEFAULT;
    this.#stop = store.onApiKeysRevoked(() => this.clear());
  }

  /** The working key whose sha256 is `sha256`, as `Store.findApiKey`. */
  async find(sha256: string): Promise<ApiKeyRecord | undefined> {
    const nowMs = this.#nowMs();
    const entry = this.#entries.get(sha256);
    if (entry !== undefined) {
      this.#entries.delete(sha256);
      if (nowMs - entry.askedAtMs < this.#maxAgeMs) {
        this.#entries.set(sha256, entry);
        return entry.record;
      }
    }
    const generation = this.#generation;
    const record = await this.#store.findApiKey(sha256);
    if (record !== undefined && generation === this.#generation) {
      this.#entries.set(sha256, { record, askedAtMs: nowMs });
      if (this.#entries.size > this.#sizeMax) {
        this.#entries.delete(this.#entries.keys().next().value!);
      }
    }
    return record;
  }

  /** Forgets every key (a revocation happened, or may have). */
  clear(): void {
    this.#generation++;
    this.#entries.clear();
  }

  /** Keys held now. */
  get size(): number {
    return this.#entries.size;
  }

  /** Stops listening to the store. */
  close(): void {
    this.#stop();
    this.clear();
  }
}
