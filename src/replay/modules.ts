import { join } from "node:path";
import type { SkillPin } from "../../actors/run_messages.ts";
import type { ModuleSource, SkillModule } from "../sandbox/mod.ts";
import { parseManifest } from "../skills/manifest.ts";
import type { SkillRegistry } from "../skills/registry.ts";
import { sha256Hex } from "../store/mod.ts";

/** Which modules a source holds for a skill version, by sha256. */
export interface ModuleCatalog {
  sha256sOf(name: string, version: string): Promise<string[]>;
}

/** A module source that can also list what it holds and find a version. */
export interface ReplayModules extends ModuleSource, ModuleCatalog {
  /** The module of `name@version` (the first found); undefined when none. */
  find(name: string, version: string): Promise<SkillModule | undefined>;
}

/** A registry as replay's module source: its modules by hash and version. */
export function registryModules(registry: SkillRegistry): ReplayModules {
  return {
    module: (pin) => registry.module(pin),
    sha256sOf: (name, version) =>
      Promise.resolve(
        registry.versions(name)
          .filter((skill) => skill.version === version)
          .map((skill) => skill.sha256),
      ),
    async find(name, version) {
      const skill = registry.find(`${name}@${version}`);
      if (skill === undefined) return undefined;
      const bytes = await registry.moduleBytes(skill.sha256);
      return bytes === undefined
        ? undefined
        : { bytes, manifest: skill.manifest };
    },
  };
}

/**
 * Modules found in built skill folders (`manifest.yaml` + `<name>.wasm`),
 * by sha256, so logs can be replayed without a store. Falls back to `next`
 * (e.g. a store's registry) for modules the folders do not hold.
 */
export class DirectoryModules implements ReplayModules {
  readonly #bySha = new Map<string, SkillModule>();
  readonly #next: ReplayModules | undefined;

  constructor(dirs: readonly string[], next?: ReplayModules) {
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

  async sha256sOf(name: string, version: string): Promise<string[]> {
    const here = [...this.#bySha]
      .filter(([, module]) => isVersion(module, name, version))
      .map(([sha256]) => sha256);
    const there = await this.#next?.sha256sOf(name, version) ?? [];
    return [...new Set([...here, ...there])];
  }

  async find(name: string, version: string): Promise<SkillModule | undefined> {
    for (const module of this.#bySha.values()) {
      if (isVersion(module, name, version)) return module;
    }
    return await this.#next?.find(name, version);
  }
}

function isVersion(module: SkillModule, name: string, version: string) {
  return module.manifest.name === name && module.manifest.version === version;
}
