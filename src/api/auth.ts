import { Buffer } from "node:buffer";
import type { Context } from "hono";
import { timingSafeEqual } from "node:crypto";
import { AosError } from "../errors/mod.ts";
import { sha256Hex } from "../store/mod.ts";

/**
 * Checks the request carries the admin key (`Authorization: Bearer <key>`).
 * Keys are compared as sha256 digests in constant time, so neither the key
 * nor its length leaks through timing. With no admin key configured, admin
 * routes are closed.
 */
export function requireAdmin(
  c: Context,
  adminKeySha256: string | undefined,
): void {
  const header = c.req.header("authorization");
  if (header === undefined || !/^Bearer\s+\S+$/i.test(header)) {
    throw new AosError(
      "AUTH_KEY_MISSING",
      "this route needs the admin key as Authorization: Bearer <key>",
    );
  }
  const offered = Buffer.from(
    sha256Hex(header.replace(/^Bearer\s+/i, "")),
    "hex",
  );
  const expected = adminKeySha256 === undefined
    ? undefined
    : Buffer.from(adminKeySha256, "hex");
  if (expected === undefined || !timingSafeEqual(offered, expected)) {
    throw new AosError("AUTH_KEY_INVALID", "the key is not the admin key");
  }
}
