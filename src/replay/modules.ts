import { join } from "node:path";
import type { SkillPin } from "../../actors/run_messages.ts";
import type { ModuleSource, SkillModule } from "../sandbox/mod.ts";
import { parseManifest } from "../skills/manifest.ts";
import { sha256Hex } from "../store/mod.ts";

/**
 * Modules found in built skill folders (`manifest.yaml` + `<name>.wasm`),
 * by sha256, so logs can be replayed without a store. Falls back to `next`
 * (e.g. a store's registry) for modules the folders do not hold.
 */
export class DirectoryModules implements ModuleSource {
  readonly #bySha = new Map<string, SkillModule>();
  readonly #next: ModuleSource | undefined;

  constructor(dirs: readonly string[], next?: ModuleSource) {
    this.#next = next;
    for (const dir of dirs) {
      const manifest = parseManifest(
        Deno.readTextFileSync(join(dir, "manifest.yaml")),
      );
      let bytes: Uint8Array;
      try {
        bytes = Deno.readFileSync(join(dir, `${manifest.name}.wasm`));
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) continue;
        throw error;
      }
      this.#bySha.set(sha256Hex(bytes), { bytes, manifest });
    }
  }

  async module(pin: SkillPin): Promise<SkillModule | undefined> {
    const found = this.#bySha.get(pin.sha256);
    if (found !== undefined && found.manifest.name === pin.name) return found;
    return await this.#next?.module(pin);
  }
}
