import { hash } from "node:crypto";
import { AosError } from "../errors/mod.ts";
import { canonicalJson, type JsonObject } from "./canonical_json.ts";

/**
 * Version of the record envelope. A reader refuses records of a version it
 * does not know instead of guessing; message bodies evolve by adding types
 * and optional fields, so most changes never need a new version.
 */
export const RECORD_FORMAT_VERSION = 1;

/** The `prev` of a run's first record: there is no earlier record. */
export const GENESIS_HASH = "0".repeat(64);

/**
 * One entry of a run's log. Records are canonical JSON; `hash` is the
 * sha256 of the canonical JSON of every other field, and `prev` is the hash
 * of the record before, so a log is a hash chain and its last hash is the
 * run's digest.
 */
export interface LogRecord {
  v: number;
  run_id: string;
  seq: number;
  /** Milliseconds since the epoch, read from the clock seam by the shell. */
  at: number;
  type: string;
  body: JsonObject;
  prev: string;
  hash: string;
}

/** What a writer supplies; sequence, chain and hash are added by `sealRecord`. */
export interface UnsealedRecord {
  type: string;
  body: JsonObject;
  at: number;
}

/** Where a run's log currently ends: the next sequence number and last hash. */
export interface LogHead {
  run_id: string;
  next_seq: number;
  last_hash: string;
}

/** The head of a log that has no records yet. */
export function emptyHead(runId: string): LogHead {
  return { run_id: runId, next_seq: 0, last_hash: GENESIS_HASH };
}

/** The head after `record`. */
export function headAfter(record: LogRecord): LogHead {
  return {
    run_id: record.run_id,
    next_seq: record.seq + 1,
    last_hash: record.hash,
  };
}

/**
 * sha256 of UTF-8 text, lowercase hex. The one-shot `hash` is one call into
 * the runtime where `createHash().update().digest()` is three; WebCrypto's
 * digest is asynchronous and, for inputs of a record's size, far slower.
 */
export function sha256Hex(data: string | Uint8Array): string {
  return hash("sha256", data, "hex");
}

/**
 * The canonical JSON of a record without its hash, as the part before where
 * `"hash"` goes in key order (at, body | hash | prev, run_id, seq, type, v)
 * and the part after. The envelope is written directly; only the body goes
 * through the general serialiser. Joined, they are `canonicalJson` of the
 * same object, byte for byte (a test holds them to that).
 */
function envelopeParts(record: Omit<LogRecord, "hash">): [string, string] {
  if (!Number.isFinite(record.at) || !Number.isFinite(record.seq)) {
    // The general serialiser reports what is wrong, and where.
    canonicalJson(record);
  }
  return [
    `{"at":${JSON.stringify(record.at)},"body":${canonicalJson(record.body)},`,
    `"prev":${JSON.stringify(record.prev)},"run_id":${
      JSON.stringify(record.run_id)
    },"seq":${JSON.stringify(record.seq)},"type":${
      JSON.stringify(record.type)
    },"v":${JSON.stringify(record.v)}}`,
  ];
}

function hashOf(record: Omit<LogRecord, "hash">): string {
  const [before, after] = envelopeParts(record);
  return sha256Hex(before + after);
}

function withHash(parts: [string, string], hash: string): string {
  return `${parts[0]}"hash":${JSON.stringify(hash)},${parts[1]}`;
}

// The line of each record sealed by this process, built from the text its
// hash was taken of, so a record is serialised once, and of each record
// read from a line (`recordFromLine`). Records are immutable once sealed.
// It is kept on the record itself, under a symbol and not enumerable, so
// JSON, spreads, clones and comparisons never see it (a copy serialises
// again): a WeakMap cost about 5 µs a record, most of it the garbage
// collector's work on its entries.
const SEALED_LINE = Symbol("sealedLine");
type WithLine = LogRecord & { [SEALED_LINE]?: string };

/** Places `record` after `head`: sets seq, prev, format version and hash. */
export function sealRecord(head: LogHead, record: UnsealedRecord): LogRecord {
  const unhashed = {
    v: RECORD_FORMAT_VERSION,
    run_id: head.run_id,
    seq: head.next_seq,
    at: record.at,
    type: record.type,
    body: record.body,
    prev: head.last_hash,
  };
  const parts = envelopeParts(unhashed);
  const sealed = { ...unhashed, hash: sha256Hex(parts[0] + parts[1]) };
  Object.defineProperty(sealed, SEALED_LINE, {
    value: withHash(parts, sealed.hash),
  });
  return sealed;
}

/** The record as one line of canonical JSON (the `.jsonl` export format). */
export function recordToLine(record: LogRecord): string {
  return (record as WithLine)[SEALED_LINE] ??
    withHash(envelopeParts(record), record.hash);
}

/**
 * Bytes of the record's line in UTF-8, counted without encoding it (a run
 * actor counts every record it seals against the log's size limits).
 */
export function recordLineBytes(record: LogRecord): number {
  return utf8ByteLength(recordToLine(record));
}

const NOT_ASCII = /[\u0080-\uffff]/;

/** Length of `text` in UTF-8, as `TextEncoder` would write it (a lone surrogate as U+FFFD). */
export function utf8ByteLength(text: string): number {
  // Most records are ASCII: one native scan answers for them.
  if (!NOT_ASCII.test(text)) return text.length;
  let bytes = text.length;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x80) continue;
    if (code < 0x800) {
      bytes += 1;
      continue;
    }
    if (code >= 0xd800 && code <= 0xdbff && index + 1 < text.length) {
      const low = text.charCodeAt(index + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        // A pair: two code units, four bytes.
        bytes += 2;
        index++;
        continue;
      }
    }
    bytes += 2;
  }
  return bytes;
}

const RECORD_KEYS = [
  "at",
  "body",
  "hash",
  "prev",
  "run_id",
  "seq",
  "type",
  "v",
];

// Canonical lines hold the keys in this order; only other text needs a sort.
function hasRecordKeys(value: object): boolean {
  const keys = Object.keys(value);
  if (keys.length !== RECORD_KEYS.length) return false;
  if (keys.every((key, index) => key === RECORD_KEYS[index])) return true;
  return keys.sort().join() === RECORD_KEYS.join();
}

/**
 * Parses one line of a log and checks its shape and format version; its hash
 * and link to the previous record are checked by `verifyChain`.
 */
export function recordFromLine(line: string, where = "record"): LogRecord {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new AosError("LOG_RECORD_INVALID", `${where} is not JSON`, {
      cause: error,
    });
  }
  const record = value as LogRecord;
  const shapeOk = typeof value === "object" && value !== null &&
    hasRecordKeys(value) &&
    typeof record.run_id === "string" && Number.isInteger(record.seq) &&
    Number.isInteger(record.at) && typeof record.type === "string" &&
    typeof record.body === "object" && record.body !== null &&
    typeof record.prev === "string" && typeof record.hash === "string";
  if (!shapeOk) {
    throw new AosError("LOG_RECORD_INVALID", `${where} is not a log record`);
  }
  if (record.v !== RECORD_FORMAT_VERSION) {
    throw new AosError(
      "LOG_RECORD_INVALID",
      `${where} has format version ${record.v}; this build reads version ${RECORD_FORMAT_VERSION}`,
    );
  }
  // Kept as the record's line when it has a canonical line's first key and
  // ends where one does (not a line of a CRLF file, say): the chain check
  // then hashes it as stored, and an export gives it back byte for byte.
  if (line.startsWith('{"at":') && line.endsWith("}")) {
    Object.defineProperty(record, SEALED_LINE, { value: line });
  }
  return record;
}

const HASH_FIELD = ',"hash":"';

/**
 * sha256 of the line a record was read from (or sealed as), with its hash
 * field taken out: for a line in canonical JSON, which is how every line is
 * written, that is the text the hash was taken of, so checking it needs no
 * serialisation. Undefined when the record has no line, or when the line
 * does not hold the record's hash where a canonical line has it.
 */
function storedLineHash(record: LogRecord): string | undefined {
  const line = (record as WithLine)[SEALED_LINE];
  if (line === undefined) return undefined;
  // The last match is the record's own field: every field after it (prev,
  // run_id, seq, type, v) is a scalar, whose text cannot hold an unescaped
  // quote; any match inside the body comes before it.
  const comma = line.lastIndexOf(HASH_FIELD);
  const start = comma + HASH_FIELD.length;
  const end = start + record.hash.length;
  if (
    comma < 0 || line.charCodeAt(end) !== QUOTE ||
    line.charCodeAt(end + 1) !== COMMA ||
    !line.startsWith(record.hash, start)
  ) return undefined;
  return sha256Hex(line.slice(0, comma + 1) + line.slice(end + 2));
}

const QUOTE = 0x22;
const COMMA = 0x2c;

/** Where a log's chain breaks, or undefined when every link holds. */
export interface ChainBreak {
  index: number;
  reason: "hash" | "prev" | "seq" | "run_id";
  expected: string | number;
  actual: string | number;
}

/** Checks every record's hash, its link to the one before and its sequence. */
export function verifyChain(
  records: readonly LogRecord[],
): ChainBreak | undefined {
  let head: LogHead | undefined;
  for (let index = 0; index < records.length; index++) {
    const record = records[index]!;
    head ??= emptyHead(record.run_id);
    if (record.run_id !== head.run_id) {
      return {
        index,
        reason: "run_id",
        expected: head.run_id,
        actual: record.run_id,
      };
    }
    if (record.seq !== head.next_seq) {
      return {
        index,
        reason: "seq",
        expected: head.next_seq,
        actual: record.seq,
      };
    }
    if (record.prev !== head.last_hash) {
      return {
        index,
        reason: "prev",
        expected: head.last_hash,
        actual: record.prev,
      };
    }
    if (storedLineHash(record) !== record.hash) {
      // envelopeParts reads every field but the hash: no copy without it.
      const expected = hashOf(record);
      if (record.hash !== expected) {
        return { index, reason: "hash", expected, actual: record.hash };
      }
    }
    head = headAfter(record);
  }
  return undefined;
}
