// The files `aos skills new` writes: a self-contained AssemblyScript skill
// (it depends on @extism/as-pdk only) whose contract passes as written.

/** A file of a new skill: its path inside the skill folder and its text. */
export interface ScaffoldFile {
  path: string;
  text: string;
}

/** The files of a new skill called `name` (a valid manifest name). */
export function scaffoldFiles(name: string): ScaffoldFile[] {
  return [
    { path: "manifest.yaml", text: manifestYaml(name) },
    { path: "contract.yaml", text: contractYaml(name) },
    { path: "README.md", text: readme(name) },
    { path: "assembly/index.ts", text: indexTs(name) },
    { path: "assembly/aos.ts", text: AOS_TS },
    { path: "assembly/json.ts", text: JSON_TS },
  ];
}

function manifestYaml(name: string): string {
  return String.raw`name: ${name}
version: 0.1.0
description: Greets someone by name.
entrypoint: run
input_schema:
  type: object
  required: [name]
  properties:
    name: { type: string }
output_schema:
  type: object
  required: [greeting]
  additionalProperties: false
  properties:
    greeting: { type: string }
timeout_ms: 1000
memory_mb: 16
permissions: []
allowed_hosts: []
cost_estimate_cents: 0
side_effects: none
tags: []
owner: unknown
`;
}

function contractYaml(name: string): string {
  return String.raw`skill: ${name}
version: 0.1.0
summary: Greets someone by name.
determinism: pure
cost_model: free
constraints:
  - name is a string that is not blank
failure_modes:
  - code: SKILL_INPUT_INVALID
    when: name is blank
# Params that break the manifest's input_schema (a missing name, say) never
# reach the skill: the host refuses them with VALIDATION_INPUT_SCHEMA.
test_cases:
  - name: greets by name
    input: { name: Ada }
    expect:
      output: { greeting: "Hello, Ada!" }
  - name: quotes, escapes and non-ASCII survive the round trip
    input: { name: "Zoë \"Z\" \\ \n 😀", other: [1, { deep: null }] }
    expect:
      output_subset: { greeting: "Hello, Zoë \"Z\" \\ \n 😀!" }
  - name: a blank name is an input error
    input: { name: "  " }
    expect:
      error:
        code: SKILL_INPUT_INVALID
        details_subset: { field: name, reason: blank }
`;
}

function readme(name: string): string {
  return `# ${name}

An AOS skill in AssemblyScript: a WebAssembly module run by Extism, with
\`manifest.yaml\` (what it is and may do) and \`contract.yaml\` (what it does,
as test cases).

- \`assembly/index.ts\`: the entrypoint \`run\`; replace its body with your skill.
- \`assembly/aos.ts\`: the AOS ABI (input, output, errors, \`nowMs\`, abort); keep it.
- \`assembly/json.ts\`: just enough JSON for flat params.

\`\`\`sh
aos skills test .      # build ${name}.wasm, check it like the host does, run contract.yaml
aos skills install .   # install it on a server (admin key)
\`\`\`

Time and randomness come only from the host (\`aos_now\`, \`aos_random\`):
the host records every answer, so a step replays byte for byte. See the AOS
guide \`docs/skill-authoring.md\` for the ABI, permissions and limits.
`;
}

function indexTs(name: string): string {
  return String
    .raw`// ${name}: an AOS skill. Input {"name": "Ada"}; output {"greeting": "Hello, Ada!"}.
// Replace the body of run with your skill; keep the ABI: read the params,
// then either writeOutput(json) and return 0, or return fail(...).
import { fail, readInput, writeOutput } from "./aos";
import { JsonObjectReader, quote } from "./json";

/** The entrypoint named in manifest.yaml. */
export function run(): i32 {
  const params = JsonObjectReader.parse(readInput());
  if (params === null) {
    return fail("SKILL_INPUT_INVALID", "params must be a JSON object", "{\"field\":\"params\"}");
  }
  // The host refuses params that break input_schema before run is called;
  // checking again keeps the skill safe on its own.
  const name = params.getString("name");
  if (name === null) {
    const details = "{\"field\":\"name\",\"reason\":\"" +
      (params.has("name") ? "not_string" : "missing") + "\"}";
    return fail("SKILL_INPUT_INVALID", "param 'name' must be a string", details);
  }
  if (name.trim().length == 0) {
    const details = "{\"field\":\"name\",\"reason\":\"blank\"}";
    return fail("SKILL_INPUT_INVALID", "param 'name' must not be blank", details);
  }
  writeOutput("{\"greeting\":" + quote("Hello, " + name + "!") + "}");
  return 0;
}
`;
}

const AOS_TS = String
  .raw`// The AOS skill ABI for AssemblyScript, on top of @extism/as-pdk: params in
// as UTF-8 JSON, output out as UTF-8 JSON, and failures as
// {code, message, details} through the Extism kernel. Keep this file: the
// build routes AssemblyScript's abort to skillAbort below
// (--use abort=assembly/aos/skillAbort), so the module imports no env.abort.
import { Host } from "@extism/as-pdk";
import {
  alloc,
  error_set,
  log_error,
  output_set,
  store_u64,
  store_u8,
} from "@extism/as-pdk/lib/env";
import { quote } from "./json";

// The time, as the host records it in the run's log (no permission needed).
// A skill must never read time or randomness any other way: replay serves
// the recorded answer, which keeps a re-executed step byte-identical.
@external("extism:host/user", "aos_now")
declare function aos_now(): i64;

let aborting = false;

/** The step's params as JSON text. Every entrypoint starts here. */
export function readInput(): string {
  // Instances are reused between calls: clear what an earlier abort left.
  aborting = false;
  return String.UTF8.decode(Host.input().buffer);
}

/** Milliseconds since the Unix epoch, recorded by the host. */
export function nowMs(): i64 {
  return aos_now();
}

/** A kernel block holding exactly bytes (the host reads whole blocks). */
function storeBlock(bytes: ArrayBuffer): u64 {
  const length = <u64>bytes.byteLength;
  const offset = alloc(length);
  const source = changetype<usize>(bytes);
  let i: u64 = 0;
  for (; i + 8 <= length; i += 8) store_u64(offset + i, load<u64>(source + <usize>i));
  for (; i < length; i++) store_u8(offset + i, load<u8>(source + <usize>i));
  return offset;
}

/** Sets the step's output; return 0 from the entrypoint after it. */
export function writeOutput(json: string): void {
  const bytes = String.UTF8.encode(json);
  output_set(storeBlock(bytes), <u64>bytes.byteLength);
}

function errorJson(code: string, message: string, detailsJson: string): string {
  return "{\"code\":" + quote(code) + ",\"details\":" + detailsJson +
    ",\"message\":" + quote(message) + "}";
}

/**
 * Reports a failure and returns the entrypoint's failure status (1).
 * code should be a code of the host's catalog (SKILL_INPUT_INVALID,
 * SKILL_ERROR, ...); any other arrives as SKILL_ERROR with
 * details.reported_code. detailsJson is a JSON object's text.
 */
export function fail(code: string, message: string, detailsJson: string): i32 {
  error_set(storeBlock(String.UTF8.encode(errorJson(code, message, detailsJson))));
  return 1;
}

/** AssemblyScript's abort (a failed assert, an out-of-range index, ...). */
export function skillAbort(
  message: string | null,
  fileName: string | null,
  lineNumber: u32,
  columnNumber: u32,
): void {
  if (aborting) unreachable();
  aborting = true;
  const details = "{\"column\":" + columnNumber.toString() + ",\"file\":" +
    quote(fileName !== null ? fileName : "") + ",\"line\":" + lineNumber.toString() + "}";
  const bytes = String.UTF8.encode(
    errorJson("SKILL_ABORTED", message !== null ? message : "abort", details),
  );
  // When a call traps, the host sees the log line, not the error block.
  log_error(storeBlock(bytes));
  error_set(storeBlock(bytes));
  unreachable();
}
`;

const JSON_TS = String
  .raw`// Just enough JSON for flat params: the members of the params object, and
// JSON string literals for the output. For nested data, use a JSON library.

/** The members of a JSON object, each kept as its JSON text. */
export class JsonObjectReader {
  private readonly members: Map<string, string> = new Map();

  /** The object in text, or null when text is not one JSON object. */
  static parse(text: string): JsonObjectReader | null {
    const scanner = new Scanner(text);
    const reader = new JsonObjectReader();
    scanner.skipWhitespace();
    if (scanner.peek() != 0x7b) return null;
    scanner.position++;
    scanner.skipWhitespace();
    if (scanner.peek() == 0x7d) {
      scanner.position++;
    } else {
      while (true) {
        scanner.skipWhitespace();
        const key = scanner.readString();
        if (key === null) return null;
        scanner.skipWhitespace();
        if (scanner.next() != 0x3a) return null;
        scanner.skipWhitespace();
        const start = scanner.position;
        if (!scanner.skipValue(1)) return null;
        reader.members.set(key, text.substring(start, scanner.position));
        scanner.skipWhitespace();
        const c = scanner.next();
        if (c == 0x7d) break;
        if (c != 0x2c) return null;
      }
    }
    scanner.skipWhitespace();
    return scanner.peek() < 0 ? reader : null;
  }

  has(key: string): bool {
    return this.members.has(key);
  }

  /** The member's JSON text, or null when it is absent. */
  raw(key: string): string | null {
    return this.members.has(key) ? this.members.get(key) : null;
  }

  /** The member's value when it is a string, else null. */
  getString(key: string): string | null {
    const raw = this.raw(key);
    if (raw === null || raw.charCodeAt(0) != 0x22) return null;
    return new Scanner(raw).readString();
  }
}

/** s as a JSON string literal. */
export function quote(s: string): string {
  const parts = new Array<string>();
  parts.push("\"");
  let copied = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let escape: string | null = null;
    if (c == 0x22) escape = "\\\"";
    else if (c == 0x5c) escape = "\\\\";
    else if (c == 0x0a) escape = "\\n";
    else if (c == 0x0d) escape = "\\r";
    else if (c == 0x09) escape = "\\t";
    else if (c < 0x20) escape = "\\u00" + HEX.charAt(c >> 4) + HEX.charAt(c & 15);
    if (escape === null) continue;
    parts.push(s.substring(copied, i));
    parts.push(escape);
    copied = i + 1;
  }
  parts.push(s.substring(copied));
  parts.push("\"");
  return parts.join("");
}

const HEX = "0123456789abcdef";
const DEPTH_MAX = 100;

class Scanner {
  position: i32 = 0;

  constructor(private readonly text: string) {}

  /** The next code unit, or -1 at the end. */
  peek(): i32 {
    return this.position < this.text.length ? this.text.charCodeAt(this.position) : -1;
  }

  next(): i32 {
    const c = this.peek();
    if (c >= 0) this.position++;
    return c;
  }

  skipWhitespace(): void {
    let c = this.peek();
    while (c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d) {
      this.position++;
      c = this.peek();
    }
  }

  /** The decoded string at the current quote, or null when it is not valid. */
  readString(): string | null {
    if (this.next() != 0x22) return null;
    const parts = new Array<string>();
    let start = this.position;
    while (true) {
      const c = this.next();
      if (c < 0x20) return null; // end of input, or a raw control character
      if (c == 0x22) break;
      if (c != 0x5c) continue;
      parts.push(this.text.substring(start, this.position - 1));
      const unit = this.escape();
      if (unit < 0) return null;
      parts.push(String.fromCharCode(unit));
      start = this.position;
    }
    parts.push(this.text.substring(start, this.position - 1));
    return parts.join("");
  }

  /** The code unit of the escape after a backslash, or -1. */
  private escape(): i32 {
    const c = this.next();
    if (c == 0x22 || c == 0x5c || c == 0x2f) return c;
    if (c == 0x62) return 0x08;
    if (c == 0x66) return 0x0c;
    if (c == 0x6e) return 0x0a;
    if (c == 0x72) return 0x0d;
    if (c == 0x74) return 0x09;
    if (c != 0x75) return -1;
    let unit = 0;
    for (let i = 0; i < 4; i++) {
      const digit = HEX.indexOf(String.fromCharCode(this.next()).toLowerCase());
      if (digit < 0) return -1;
      unit = (unit << 4) | digit;
    }
    return unit;
  }

  /** Skips one value; false when it is not valid JSON. */
  skipValue(depth: i32): bool {
    this.skipWhitespace();
    const c = this.peek();
    if (c == 0x22) return this.readString() !== null;
    if (c == 0x7b || c == 0x5b) return this.skipContainer(depth + 1, c == 0x7b ? 0x7d : 0x5d);
    const start = this.position;
    while (true) {
      const d = this.peek();
      const isToken = (d >= 0x30 && d <= 0x39) || (d >= 0x61 && d <= 0x7a) ||
        d == 0x2d || d == 0x2b || d == 0x2e || d == 0x45;
      if (!isToken) break;
      this.position++;
    }
    const token = this.text.substring(start, this.position);
    if (token == "true" || token == "false" || token == "null") return true;
    return token.length > 0 && !isNaN(parseFloat(token));
  }

  private skipContainer(depth: i32, close: i32): bool {
    if (depth > DEPTH_MAX) return false;
    this.position++;
    this.skipWhitespace();
    if (this.peek() == close) {
      this.position++;
      return true;
    }
    while (true) {
      this.skipWhitespace();
      if (close == 0x7d) {
        if (this.readString() === null) return false;
        this.skipWhitespace();
        if (this.next() != 0x3a) return false;
      }
      if (!this.skipValue(depth)) return false;
      this.skipWhitespace();
      const c = this.next();
      if (c == close) return true;
      if (c != 0x2c) return false;
    }
  }
}
`;
