// SHA-256 (FIPS 180-4) for skills: content hashes that the host and clients
// can recompute with any standard library. Pure computation, no host calls.

// Round constants: the first 32 bits of the fractional parts of the cube
// roots of the first 64 primes.
const K: StaticArray<u32> = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

// Initial hash: the first 32 bits of the fractional parts of the square
// roots of the first 8 primes.
const H0: StaticArray<u32> = [
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

const BLOCK_BYTES: i32 = 64;

/** Processes one 64-byte block at `block[offset..]` into `state`. */
function compress(state: StaticArray<u32>, w: StaticArray<u32>, block: Uint8Array, offset: i32): void {
  for (let t = 0; t < 16; t++) {
    const at = offset + t * 4;
    w[t] = (<u32>block[at] << 24) | (<u32>block[at + 1] << 16) | (<u32>block[at + 2] << 8) |
      <u32>block[at + 3];
  }
  for (let t = 16; t < 64; t++) {
    const w15 = w[t - 15];
    const w2 = w[t - 2];
    const s0 = rotr<u32>(w15, 7) ^ rotr<u32>(w15, 18) ^ (w15 >>> 3);
    const s1 = rotr<u32>(w2, 17) ^ rotr<u32>(w2, 19) ^ (w2 >>> 10);
    w[t] = w[t - 16] + s0 + w[t - 7] + s1;
  }
  let a = state[0];
  let b = state[1];
  let c = state[2];
  let d = state[3];
  let e = state[4];
  let f = state[5];
  let g = state[6];
  let h = state[7];
  for (let t = 0; t < 64; t++) {
    const s1 = rotr<u32>(e, 6) ^ rotr<u32>(e, 11) ^ rotr<u32>(e, 25);
    const choose = (e & f) ^ (~e & g);
    const temp1 = h + s1 + choose + K[t] + w[t];
    const s0 = rotr<u32>(a, 2) ^ rotr<u32>(a, 13) ^ rotr<u32>(a, 22);
    const majority = (a & b) ^ (a & c) ^ (b & c);
    const temp2 = s0 + majority;
    h = g;
    g = f;
    f = e;
    e = d + temp1;
    d = c;
    c = b;
    b = a;
    a = temp1 + temp2;
  }
  state[0] += a;
  state[1] += b;
  state[2] += c;
  state[3] += d;
  state[4] += e;
  state[5] += f;
  state[6] += g;
  state[7] += h;
}

/** The SHA-256 digest (32 bytes) of `bytes`. */
export function sha256(bytes: Uint8Array): Uint8Array {
  const state = new StaticArray<u32>(8);
  for (let i = 0; i < 8; i++) state[i] = H0[i];
  const w = new StaticArray<u32>(64);
  const length = bytes.length;
  const fullBlocks = length / BLOCK_BYTES;
  for (let i = 0; i < fullBlocks; i++) compress(state, w, bytes, i * BLOCK_BYTES);

  // The tail: the remaining bytes, 0x80, zeros, then the bit length as a
  // 64-bit big-endian number; one block, or two when the length does not fit.
  const rest = length - fullBlocks * BLOCK_BYTES;
  const tailBytes = rest < 56 ? BLOCK_BYTES : 2 * BLOCK_BYTES;
  const tail = new Uint8Array(tailBytes);
  for (let i = 0; i < rest; i++) tail[i] = bytes[fullBlocks * BLOCK_BYTES + i];
  tail[rest] = 0x80;
  const bitLength = <u64>length << 3;
  for (let i = 0; i < 8; i++) tail[tailBytes - 1 - i] = <u8>(bitLength >>> (<u64>i * 8));
  for (let offset = 0; offset < tailBytes; offset += BLOCK_BYTES) compress(state, w, tail, offset);

  const digest = new Uint8Array(32);
  for (let i = 0; i < 8; i++) {
    const word = state[i];
    digest[i * 4] = <u8>(word >>> 24);
    digest[i * 4 + 1] = <u8>(word >>> 16);
    digest[i * 4 + 2] = <u8>(word >>> 8);
    digest[i * 4 + 3] = <u8>word;
  }
  return digest;
}

const HEX_DIGITS = "0123456789abcdef";

/** Lowercase hex of the SHA-256 digest of `bytes` (64 characters). */
export function sha256Hex(bytes: Uint8Array): string {
  const digest = sha256(bytes);
  const parts = new Array<string>(32);
  for (let i = 0; i < 32; i++) {
    const b = <i32>digest[i];
    parts[i] = HEX_DIGITS.charAt(b >> 4) + HEX_DIGITS.charAt(b & 15);
  }
  return parts.join("");
}

/** Lowercase hex of the SHA-256 digest of `text` in UTF-8. */
export function sha256HexOfString(text: string): string {
  return sha256Hex(Uint8Array.wrap(String.UTF8.encode(text)));
}
