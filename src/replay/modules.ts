import { join } from "node:path";
import type { ModuleSource } from "../sandbox/mod.ts";
import { sha256Hex } from "../store/mod.ts";

/**
 * Modules found in built skill folders (`<dir>/*.wasm`), by sha256, so logs
 * can be replayed without a store. Falls back to `next` (e.g. a store).
 */
export class DirectoryModules implements ModuleSource {
  readonly #bySha = new Map<string, Uint8Array>();
  readonly #next: ModuleSource | undefined;

  constructor(dirs: readonly string[], next?: ModuleSource) {
    this.#next = next;
    for (const dir of dirs) {
      for (const entry of Deno.readDirSync(dir)) {
        if (!entry.isFile || !entry.name.endsWith(".wasm")) continue;
        const bytes = Deno.readFileSync(join(dir, entry.name));
        this.#bySha.set(sha256Hex(bytes), bytes);
      }
    }
  }

  async moduleBytes(sha256: string): Promise<Uint8Array | undefined> {
    return this.#bySha.get(sha256) ?? await this.#next?.moduleBytes(sha256);
  }
}
