/** The one way AOS draws randomness (run ids, skill `aos_random` answers). */
export interface RandomSource {
  bytes(count: number): Uint8Array;
}

/** Cryptographic randomness from the platform. */
export const liveRandom: RandomSource = {
  bytes(count) {
    return crypto.getRandomValues(new Uint8Array(count));
  },
};

/**
 * Deterministic randomness for tests (xorshift128+): the same seed always
 * gives the same bytes. Not for anything secret.
 */
export class SeededRandom implements RandomSource {
  #s0: bigint;
  #s1: bigint;

  constructor(seed: number) {
    const mask = (1n << 64n) - 1n;
    this.#s0 = (BigInt(seed) * 0x9e3779b97f4a7c15n + 1n) & mask;
    this.#s1 = (this.#s0 ^ 0xbf58476d1ce4e5b9n) & mask;
  }

  #next(): bigint {
    const mask = (1n << 64n) - 1n;
    let s1 = this.#s0;
    const s0 = this.#s1;
    this.#s0 = s0;
    s1 ^= (s1 << 23n) & mask;
    this.#s1 = s1 ^ s0 ^ (s1 >> 17n) ^ (s0 >> 26n);
    return (this.#s1 + s0) & mask;
  }

  bytes(count: number): Uint8Array {
    const out = new Uint8Array(count);
    for (let index = 0; index < count; index++) {
      out[index] = Number(this.#next() & 0xffn);
    }
    return out;
  }
}

/** Two hex digits of each byte value (a run id is made on every submission). */
const HEX_BYTES: readonly string[] = Array.from(
  { length: 256 },
  (_, byte) => byte.toString(16).padStart(2, "0"),
);

/** `count` random bytes as hex digits. */
export function randomHex(random: RandomSource, count: number): string {
  let hex = "";
  for (const byte of random.bytes(count)) hex += HEX_BYTES[byte];
  return hex;
}

/** A sortable, unique id: 12 hex digits of milliseconds then 16 random hex digits. */
export function newRunId(nowMs: number, random: RandomSource): string {
  return "run_" + Math.floor(nowMs).toString(16).padStart(12, "0") +
    randomHex(random, 8);
}
