import { Buffer } from "node:buffer";
import { type Readable, Transform, type TransformCallback } from "node:stream";
import zlib from "node:zlib";
import { AosError, type ErrorDetails } from "../errors/mod.ts";

/** Most content codings undone on one body; a longer chain stays encoded. */
export const CONTENT_CODINGS_MAX = 2;

const DECODABLE = new Set(["gzip", "x-gzip", "deflate", "br"]);

// Like browsers, accept a body whose compressed stream is cut short.
const ZLIB_LENIENT = {
  flush: zlib.constants.Z_SYNC_FLUSH,
  finishFlush: zlib.constants.Z_SYNC_FLUSH,
};

/**
 * The codings to undo for a `content-encoding` header, in the order they were
 * applied; `undefined` when the body must be passed on as sent (an unknown
 * coding, or too many).
 */
export function decodingPlan(header: string | undefined): string[] | undefined {
  const codings = (header ?? "").split(",").map((coding) =>
    coding.trim().toLowerCase()
  ).filter((coding) => coding !== "" && coding !== "identity");
  if (codings.length > CONTENT_CODINGS_MAX) return undefined;
  return codings.every((coding) => DECODABLE.has(coding)) ? codings : undefined;
}

/**
 * HTTP `deflate` should be a zlib stream, but some servers send raw deflate;
 * the first byte tells them apart (a zlib header's low nibble is 8). Output
 * is forwarded with backpressure, so a bomb never piles up in a buffer.
 */
class InflateEither extends Transform {
  #inner: zlib.Inflate | zlib.InflateRaw | undefined;

  override _transform(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: TransformCallback,
  ): void {
    if (this.#inner === undefined) {
      if (chunk.length === 0) return callback();
      const inner = (chunk[0]! & 0x0f) === 0x08
        ? zlib.createInflate(ZLIB_LENIENT)
        : zlib.createInflateRaw(ZLIB_LENIENT);
      inner.on("data", (data: Buffer) => {
        if (!this.push(data)) inner.pause();
      });
      inner.on("error", (error) => this.destroy(error));
      this.#inner = inner;
    }
    this.#inner.write(chunk, () => callback());
  }

  override _read(size: number): void {
    this.#inner?.resume();
    super._read(size);
  }

  override _flush(callback: TransformCallback): void {
    if (this.#inner === undefined) return callback();
    this.#inner.once("end", () => callback());
    this.#inner.end();
  }

  override _destroy(
    error: Error | null,
    callback: (error?: Error | null) => void,
  ): void {
    this.#inner?.destroy();
    callback(error);
  }
}

function decoder(coding: string): Transform {
  if (coding === "deflate") return new InflateEither();
  if (coding === "br") {
    return zlib.createBrotliDecompress({
      flush: zlib.constants.BROTLI_OPERATION_FLUSH,
      finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH,
    });
  }
  return zlib.createGunzip(ZLIB_LENIENT);
}

/** Options of `readBody`. */
export interface ReadBodyOptions {
  /** Content codings to undo, in the order applied (see `decodingPlan`). */
  codings: readonly string[];
  /** Most bytes the body may have after decoding. */
  limitBytes: number;
  /** Added to the errors' details (url, status, ...). */
  details: ErrorDetails;
}

/**
 * Reads a response body to its end, undoing content codings while it
 * streams. Bytes are counted after decoding and reading stops as soon as the
 * count passes the limit, so a compression bomb costs at most the limit plus
 * one decoder chunk of memory.
 *
 * @throws {AosError} `HTTP_RESPONSE_TOO_LARGE` past the limit,
 * `HTTP_CONNECT_FAILED` when a coding is corrupt; errors of `source` (a reset
 * connection, an abort) are passed on as they are.
 */
export function readBody(
  source: Readable,
  options: ReadBodyOptions,
): Promise<Uint8Array> {
  const streams: Readable[] = [source];
  for (const coding of [...options.codings].reverse()) {
    const stage = decoder(coding);
    streams.at(-1)!.pipe(stage);
    streams.push(stage);
  }
  const last = streams.at(-1)!;
  const chunks: Buffer[] = [];
  let total = 0;
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (error: unknown, bytes?: Uint8Array) => {
      if (settled) return;
      settled = true;
      for (const stream of streams) stream.destroy();
      if (bytes === undefined) reject(error);
      else resolve(bytes);
    };
    streams.forEach((stream, index) =>
      stream.on("error", (error) => {
        if (index === 0) return settle(error);
        const coding = options.codings[options.codings.length - index];
        settle(
          new AosError(
            "HTTP_CONNECT_FAILED",
            `the response body is not valid ${coding}: ${error.message}`,
            { details: { ...options.details, coding }, cause: error },
          ),
        );
      })
    );
    last.on("data", (chunk: Buffer) => {
      if (settled) return;
      total += chunk.length;
      if (total > options.limitBytes) {
        return settle(
          new AosError(
            "HTTP_RESPONSE_TOO_LARGE",
            `the response body passed ${options.limitBytes} bytes${
              options.codings.length > 0 ? " after decompression" : ""
            }`,
            {
              details: { ...options.details, limit_bytes: options.limitBytes },
            },
          ),
        );
      }
      chunks.push(chunk);
    });
    last.on("end", () => settle(undefined, Buffer.concat(chunks, total)));
    // A stream destroyed without an error never ends; do not wait for it.
    last.on("close", () => settle(new Error("the response body was cut off")));
  });
}
