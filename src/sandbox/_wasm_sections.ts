// Reassembles a module from its sections, replacing or adding some and
// copying every other byte unchanged, for the module rewriter: section and
// vector framing, the type table, and the code section's instruction rewrite.
import { concatBytes, encodeU32, WasmReader } from "./_wasm_bytes.ts";
import { readValueType, walkExpression } from "./_wasm_instructions.ts";
import type { ExportEntry } from "./_wasm_section_decoders.ts";
import {
  type FunctionType,
  SECTION_ORDER,
  type SectionRange,
} from "./module_inspector.ts";

const HEADER_BYTES = 8;

/** A section with its id and content length prepended. */
export function encodeSection(
  id: number,
  content: Uint8Array,
): Uint8Array<ArrayBuffer> {
  return concatBytes([[id], encodeU32(content.length), content]);
}

/**
 * The content of a vector section with `entries` appended: the count is
 * re-encoded, the existing entries are copied byte for byte. A missing
 * section counts as empty.
 */
export function appendToVector(
  bytes: Uint8Array,
  section: SectionRange | undefined,
  entries: readonly (Uint8Array | readonly number[])[],
): Uint8Array<ArrayBuffer> {
  if (section === undefined) {
    return concatBytes([encodeU32(entries.length), ...entries]);
  }
  const reader = new WasmReader(bytes, section.contentStart, section.end);
  const count = reader.u32();
  return concatBytes([
    encodeU32(count + entries.length),
    bytes.subarray(reader.offset, section.end),
    ...entries,
  ]);
}

/**
 * The module with the given section contents (by id) in place of the
 * originals; a section the module lacks is inserted where the format's order
 * puts it. Custom sections and everything not replaced stay byte-identical.
 */
export function rebuildModule(
  bytes: Uint8Array,
  sections: readonly SectionRange[],
  contents: ReadonlyMap<number, Uint8Array>,
): Uint8Array<ArrayBuffer> {
  const rank = (id: number) => SECTION_ORDER.indexOf(id);
  const items = sections.map((section) => {
    const replaced = section.id === 0 ? undefined : contents.get(section.id);
    return {
      id: section.id,
      chunk: replaced === undefined
        ? bytes.subarray(section.start, section.end)
        : encodeSection(section.id, replaced),
    };
  });
  const present = new Set(sections.map((section) => section.id));
  const added = [...contents.keys()]
    .filter((id) => !present.has(id))
    .sort((a, b) => rank(a) - rank(b));
  for (const id of added) {
    let at = items.findIndex((item) =>
      item.id !== 0 && rank(item.id) > rank(id)
    );
    if (at === -1) at = items.findLastIndex((item) => item.id !== 0) + 1;
    items.splice(at, 0, { id, chunk: encodeSection(id, contents.get(id)!) });
  }
  return concatBytes([
    bytes.subarray(0, HEADER_BYTES),
    ...items.map((item) => item.chunk),
  ]);
}

/** The module's function types, plus the ones a rewrite appends. */
export class TypeTable {
  readonly #known: string[];
  /** Encoded types to append to the type section, in index order. */
  readonly added: number[][] = [];

  constructor(types: readonly FunctionType[]) {
    this.#known = types.map((type) => JSON.stringify(type));
  }

  /** The index of `params -> results`, appending the type when new. */
  indexOf(params: readonly number[], results: readonly number[]): number {
    const key = JSON.stringify({ params, results });
    const found = this.#known.indexOf(key);
    if (found !== -1) return found;
    this.#known.push(key);
    this.added.push([
      0x60,
      ...encodeU32(params.length),
      ...params,
      ...encodeU32(results.length),
      ...results,
    ]);
    return this.#known.length - 1;
  }
}

/**
 * A function body as the code section stores it: its size, its locals as
 * `[count, type]` groups, then `code` (which ends with its own `end`).
 */
export function encodeBody(
  locals: readonly (readonly [number, number])[],
  code: readonly number[],
): Uint8Array<ArrayBuffer> {
  const content = [
    ...encodeU32(locals.length),
    ...locals.flatMap(([count, type]) => [...encodeU32(count), type]),
    ...code,
  ];
  return concatBytes([encodeU32(content.length), content]);
}

/**
 * Replacement bytes for one instruction of body `body` (its index in the
 * code section), or undefined to keep it. May throw to refuse the module.
 */
export type InstructionRewrite = (
  code: number,
  start: number,
  end: number,
  body: number,
) => readonly number[] | undefined;

/** What `rewriteCode` changes. */
export interface CodeRewrite {
  /** Called for every instruction of every body not in `replaced`. */
  instruction?: InstructionRewrite;
  /** Whole bodies (encoded, size first) by code-section index; not walked. */
  replaced?: ReadonlyMap<number, Uint8Array>;
  /** Encoded bodies to append. */
  added?: readonly Uint8Array[];
}

/**
 * The code section's content with `rewrite` applied. Every body is walked,
 * so an instruction the walker does not know refuses the module; a body
 * nothing changes in is copied byte for byte. A missing section counts as
 * empty.
 */
export function rewriteCode(
  bytes: Uint8Array,
  section: SectionRange | undefined,
  rewrite: CodeRewrite,
): Uint8Array<ArrayBuffer> {
  const added = rewrite.added ?? [];
  if (section === undefined) {
    return concatBytes([encodeU32(added.length), ...added]);
  }
  const reader = new WasmReader(bytes, section.contentStart, section.end);
  const count = reader.u32();
  const chunks: (Uint8Array | readonly number[])[] = [
    encodeU32(count + added.length),
  ];
  for (let index = 0; index < count; index++) {
    const entryStart = reader.offset;
    const body = reader.sub(reader.u32());
    const replacement = rewrite.replaced?.get(index);
    if (replacement !== undefined) {
      chunks.push(replacement);
      continue;
    }
    const bodyStart = body.offset;
    const locals = body.count(2);
    for (let group = 0; group < locals; group++) {
      body.u32();
      readValueType(body);
    }
    const pieces: (Uint8Array | readonly number[])[] = [];
    let from = bodyStart;
    walkExpression(body, (code, start, end) => {
      const replaced = rewrite.instruction?.(code, start, end, index);
      if (replaced === undefined) return;
      pieces.push(bytes.subarray(from, start), replaced);
      from = end;
    });
    if (!body.done) body.fail(`function body ${index} continues after its end`);
    if (pieces.length === 0) {
      chunks.push(bytes.subarray(entryStart, body.end));
      continue;
    }
    pieces.push(bytes.subarray(from, body.end));
    const rewritten = concatBytes(pieces);
    chunks.push(concatBytes([encodeU32(rewritten.length), rewritten]));
  }
  return concatBytes([...chunks, ...added]);
}

/**
 * The export section's content with each entry's index replaced by
 * `indexOf(entry)`; names, kinds and order stay byte-identical.
 */
export function repointExports(
  bytes: Uint8Array,
  exports: readonly ExportEntry[],
  indexOf: (entry: ExportEntry) => number,
): Uint8Array<ArrayBuffer> {
  const chunks: (Uint8Array | number[])[] = [encodeU32(exports.length)];
  for (const entry of exports) {
    chunks.push(
      bytes.subarray(entry.start, entry.indexStart),
      encodeU32(indexOf(entry)),
    );
  }
  return concatBytes(chunks);
}
