// Reassembles a module from its sections, replacing or adding some and
// copying every other byte unchanged, for the module rewriter.
import { concatBytes, encodeU32, WasmReader } from "./_wasm_bytes.ts";
import { SECTION_ORDER, type SectionRange } from "./module_inspector.ts";

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
