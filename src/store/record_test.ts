import assert from "node:assert/strict";
import { AosError } from "../errors/mod.ts";
import { canonicalJson } from "./canonical_json.ts";
import {
  recordFromLine,
  recordLineBytes,
  recordToLine,
  sealRecord,
  sha256Hex,
  utf8ByteLength,
  verifyChain,
} from "./record.ts";
import { fakeLog } from "./store_contract.ts";

Deno.test("canonicalJson() sorts keys at every depth and matches JSON.stringify for values", () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [3, { f: 1, e: 2 }], c: null } }),
    '{"a":{"c":null,"d":[3,{"e":2,"f":1}]},"b":1}',
  );
  const tricky = ["é", "\u2028", "\ud800", '"\\', 1e21, -0, 0.1, "\u0000"];
  assert.equal(canonicalJson(tricky), JSON.stringify(tricky));
  assert.equal(canonicalJson({ a: undefined, b: 1 }), '{"b":1}');
});

Deno.test("canonicalJson() refuses values JSON cannot hold", () => {
  for (const bad of [NaN, Infinity, 1n, () => 1, new Date(0), [undefined]]) {
    assert.throws(() => canonicalJson(bad), TypeError, String(bad));
  }
});

Deno.test("sealRecord() chains hashes and verifyChain() finds the first broken link", () => {
  const log = fakeLog("r", 3);
  assert.equal(verifyChain(log), undefined);
  assert.equal(log[1]!.prev, log[0]!.hash);
  const edited = log.map((record) => ({ ...record }));
  edited[2] = { ...edited[2]!, body: { index: 99 } };
  assert.deepEqual(verifyChain(edited)?.index, 2);
  assert.equal(verifyChain(edited)?.reason, "hash");
  const resealed = [
    ...log.slice(0, 2),
    sealRecord({ run_id: "r", next_seq: 2, last_hash: log[1]!.hash }, {
      type: "X",
      body: {},
      at: 1,
    }),
    log[3]!,
  ];
  assert.equal(verifyChain(resealed)?.index, 3);
  assert.equal(verifyChain(resealed)?.reason, "prev");
});

Deno.test("verifyChain() checks records read from lines over the lines as stored", () => {
  let head = { run_id: "r", next_seq: 0, last_hash: "0".repeat(64) };
  const lines: string[] = [];
  // The second body holds a "hash" key of its own, before the record's.
  for (
    const body of [{ a: 1 }, { hash: "y", prev: "x", n: [1, { hash: 2 }] }]
  ) {
    const record = sealRecord(head, { type: "T", body, at: 1 });
    lines.push(recordToLine(record));
    head = { run_id: "r", next_seq: head.next_seq + 1, last_hash: record.hash };
  }
  const read = (text: readonly string[]) =>
    text.map((line) => recordFromLine(line));
  assert.equal(verifyChain(read(lines)), undefined);
  // A record's line is given back as it was read.
  assert.deepEqual(read(lines).map(recordToLine), lines);
  // One byte of the body changed, the hash kept: the stored text no longer
  // hashes to it, nor does the record it parses to.
  const edited = [lines[0]!, lines[1]!.replace('"n":[1,', '"n":[7,')];
  const broken = verifyChain(read(edited));
  assert.equal(broken?.index, 1);
  assert.equal(broken?.reason, "hash");
  // A hash edited in place no longer matches the text either.
  const rehashed = [lines[0]!.replace(/"hash":"[0-9a-f]/, '"hash":"x')];
  assert.equal(verifyChain(read(rehashed))?.reason, "hash");
  // A line of the same record in other text (a CRLF file, spaces) is
  // checked over the canonical JSON of what it parses to, as before.
  const crlf = lines.map((line) => `${line}\r`);
  assert.equal(verifyChain(read(crlf)), undefined);
  const spaced = lines.map((line) => JSON.stringify(JSON.parse(line), null, 1));
  assert.equal(verifyChain(read(spaced)), undefined);
  assert.equal(recordToLine(read(crlf)[1]!), lines[1]);
  // What is checked is the stored text: a line whose body keys are out of
  // canonical order, hashed as it is, holds; the record it parses to,
  // serialised again, does not.
  const unsorted = `{"at":1,"body":{"b":1,"a":2},"prev":"${
    "0".repeat(64)
  }","run_id":"r","seq":0,"type":"T","v":1}`;
  const hash = sha256Hex(unsorted);
  const stored = unsorted.replace(',"prev"', `,"hash":"${hash}","prev"`);
  assert.equal(verifyChain(read([stored])), undefined);
  assert.equal(verifyChain([{ ...recordFromLine(stored) }])?.reason, "hash");
});

Deno.test("recordFromLine() round-trips a record and refuses other shapes", () => {
  const [record] = fakeLog("r", 0);
  assert.deepEqual(recordFromLine(recordToLine(record!)), record);
  const isInvalid = (error: unknown) =>
    error instanceof AosError && error.code === "LOG_RECORD_INVALID";
  assert.throws(() => recordFromLine("{"), isInvalid);
  assert.throws(() => recordFromLine('{"v":1}'), isInvalid);
  assert.throws(
    () => recordFromLine(recordToLine({ ...record!, v: 2 })),
    /format version 2/,
  );
});

Deno.test("sealRecord() hashes, and recordToLine() writes, exactly the canonical JSON of the record", () => {
  const bodies = [
    {},
    { prev: "x", hash: "y", z: [1, { b: 2, a: '"\\\u2028' }], é: null },
    { output: { result: 1e21, n: -0.5 }, step: "s" },
  ];
  let head = { run_id: 'run "quoted"', next_seq: 7, last_hash: "0".repeat(64) };
  for (const body of bodies) {
    const record = sealRecord(head, {
      type: "T\u00e9",
      body,
      at: 1_700_000_000_123,
    });
    const { hash, ...unhashed } = record;
    assert.equal(hash, sha256Hex(canonicalJson(unhashed)));
    assert.equal(recordToLine(record), canonicalJson(record));
    const copy = recordFromLine(recordToLine(record));
    assert.equal(recordToLine(copy), canonicalJson(record));
    head = { run_id: head.run_id, next_seq: record.seq + 1, last_hash: hash };
  }
});

Deno.test("canonicalJson() names where the value JSON cannot hold is", () => {
  assert.throws(
    () => canonicalJson({ b: [1, { c: NaN }], a: { ok: true } }),
    {
      name: "TypeError",
      message: "canonicalJson: NaN at $.b[1].c is not JSON",
    },
  );
  assert.throws(
    () => canonicalJson({ a: [new Date(0)] }),
    { message: "canonicalJson: a non-plain object at $.a[0]" },
  );
  assert.throws(() => canonicalJson([undefined]), {
    message: "canonicalJson: undefined at $[0] is not JSON",
  });
});

Deno.test("utf8ByteLength() counts what TextEncoder writes, surrogates included", () => {
  const encoder = new TextEncoder();
  const units = [0x41, 0x7f, 0x80, 0x7ff, 0x800, 0xe9, 0xffff, 0xd83d, 0xde00];
  let seed = 7;
  for (let round = 0; round < 2000; round++) {
    let text = "";
    const length = round % 17;
    for (let index = 0; index < length; index++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      text += String.fromCharCode(units[seed % units.length]!);
    }
    assert.equal(
      utf8ByteLength(text),
      encoder.encode(text).length,
      `seed ${seed}: ${JSON.stringify(text)}`,
    );
  }
});

Deno.test("recordLineBytes() is the byte length of the record's line", () => {
  const record = sealRecord({
    run_id: "r",
    next_seq: 0,
    last_hash: "0".repeat(64),
  }, {
    type: "StepSucceeded",
    body: { output: "caf\u00e9 \u{1f600}", n: 1 },
    at: 1,
  });
  assert.equal(
    recordLineBytes(record),
    new TextEncoder().encode(recordToLine(record)).length,
  );
});

Deno.test("a sealed record carries its line out of sight of JSON, keys, copies and comparisons", () => {
  const record = sealRecord(
    { run_id: "run_x", next_seq: 0, last_hash: "0".repeat(64) },
    { type: "Noted", body: { text: "é" }, at: 5 },
  );
  const line = recordToLine(record);
  assert.equal(line, canonicalJson(record));
  assert.deepEqual(Object.keys(record), [
    "v",
    "run_id",
    "seq",
    "at",
    "type",
    "body",
    "prev",
    "hash",
  ]);
  assert.equal(JSON.stringify(record), JSON.stringify({ ...record }));
  // Equal to the same record read back from its line, and to a clone.
  assert.deepStrictEqual(record, recordFromLine(line));
  assert.deepStrictEqual(structuredClone(record), { ...record });
  // A changed copy is serialised anew, not given the original's line.
  const changed = { ...record, at: 6 };
  assert.equal(recordToLine(changed), canonicalJson(changed));
  assert.notEqual(recordToLine(changed), line);
});
