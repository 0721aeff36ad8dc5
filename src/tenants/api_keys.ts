import { Buffer } from "node:buffer";
import type { RandomSource } from "../deps/mod.ts";
import { type ApiKeyRecord, type ApiKeyRole, sha256Hex } from "../store/mod.ts";

/** Random bytes in a key: 256 bits, so its unsalted sha256 cannot be reversed. */
const KEY_BYTES = 32;

/** A key as handed out: the secret once, and the record the store keeps. */
export interface IssuedKey {
  /** The secret; shown once and never stored. */
  key: string;
  record: ApiKeyRecord;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join(
    "",
  );
}

/** The stored form of `key`: a key with the given secret. */
export function keyRecord(
  key: string,
  options: {
    role: ApiKeyRole;
    tenant: string | null;
    createdAt: number;
    keyId: string;
  },
): ApiKeyRecord {
  return {
    key_id: options.keyId,
    role: options.role,
    tenant: options.tenant,
    sha256: sha256Hex(key),
    created_at: options.createdAt,
    revoked_at: null,
  };
}

/** The public id of a key given as a secret (bootstrap keys): derived from its digest. */
export function keyIdOf(key: string): string {
  return `key_${sha256Hex(`key-id:${key}`).slice(0, 16)}`;
}

/**
 * A new random key: `aos_<base64url of 32 random bytes>`, with a random
 * public id unrelated to the secret.
 */
export function newApiKey(
  random: RandomSource,
  options: { role: ApiKeyRole; tenant: string | null; createdAt: number },
): IssuedKey {
  const key = `aos_${
    Buffer.from(random.bytes(KEY_BYTES)).toString("base64url")
  }`;
  return {
    key,
    record: keyRecord(key, {
      ...options,
      keyId: `key_${hex(random.bytes(8))}`,
    }),
  };
}
