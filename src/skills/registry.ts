import { join } from "node:path";
import type { SkillPin } from "../../actors/run_messages.ts";
import type { ModuleSource, SkillModule } from "../sandbox/mod.ts";
import { sha256Hex, type SkillRecord, type Store } from "../store/mod.ts";
import {
  compareSemver,
  parseManifest,
  type SkillManifest,
} from "./manifest.ts";

/** A skill version as the registry serves it. */
export interface RegisteredSkill extends SkillRecord {
  manifest: SkillManifest;
}

/**
 * The installed skills: content-addressed modules in the store, and the
 * `name@version → sha256` table. It resolves a plan's skill references to
 * pins, and serves module bytes by hash to the sandbox, so a run keeps the
 * exact bytes it pinned for its whole life.
 */
export class SkillRegistry implements ModuleSource {
  readonly #store: Store;
  readonly #versions = new Map<string, RegisteredSkill[]>();
  readonly #modules = new Map<string, Uint8Array>();

  private constructor(store: Store) {
    this.#store = store;
  }

  /** Loads what the store holds. */
  static async open(store: Store): Promise<SkillRegistry> {
    const registry = new SkillRegistry(store);
    for (const record of await store.listSkills()) {
      registry.#remember({
        ...record,
        manifest: parseManifest(JSON.stringify(record.manifest)),
      });
    }
    return registry;
  }

  #remember(skill: RegisteredSkill): void {
    const versions = (this.#versions.get(skill.name) ?? []).filter((known) =>
      known.version !== skill.version
    );
    versions.push(skill);
    versions.sort((a, b) => compareSemver(a.version, b.version));
    this.#versions.set(skill.name, versions);
  }

  /** Registers a module under its manifest's name and version. */
  async register(
    manifest: SkillManifest,
    bytes: Uint8Array,
    installedAt: number,
  ): Promise<RegisteredSkill> {
    const sha256 = sha256Hex(bytes);
    await this.#store.putModule(sha256, bytes);
    const skill: RegisteredSkill = {
      name: manifest.name,
      version: manifest.version,
      sha256,
      manifest,
      installed_at: installedAt,
    };
    await this.#store.putSkill(skill);
    this.#modules.set(sha256, bytes);
    this.#remember(skill);
    return skill;
  }

  /** Registers a built skill folder (`manifest.yaml` + `<name>.wasm`). */
  async registerDir(
    dir: string,
    installedAt: number,
  ): Promise<RegisteredSkill> {
    const manifest = parseManifest(
      await Deno.readTextFile(join(dir, "manifest.yaml")),
    );
    const bytes = await Deno.readFile(join(dir, `${manifest.name}.wasm`));
    return await this.register(manifest, bytes, installedAt);
  }

  /** `name` (highest version) or `name@version`; undefined when unknown. */
  find(reference: string): RegisteredSkill | undefined {
    const [name, version] = reference.split("@") as [
      string,
      string | undefined,
    ];
    const versions = this.#versions.get(name) ?? [];
    if (version === undefined) return versions[versions.length - 1];
    return versions.find((skill) => skill.version === version);
  }

  /** The pin a run records for `reference`; undefined when unknown. */
  pin(reference: string): SkillPin | undefined {
    const skill = this.find(reference);
    if (skill === undefined) return undefined;
    return {
      name: skill.name,
      version: skill.version,
      sha256: skill.sha256,
      entrypoint: skill.manifest.entrypoint,
      timeout_ms: skill.manifest.timeout_ms,
    };
  }

  /** Every registered version, by name then version. */
  list(): RegisteredSkill[] {
    return [...this.#versions.keys()].sort().flatMap((name) =>
      this.#versions.get(name)!
    );
  }

  /**
   * The pinned module with its version's manifest. The bytes are served by
   * hash, so a run keeps its module even after its version is re-registered.
   */
  async module(pin: SkillPin): Promise<SkillModule | undefined> {
    const skill = this.find(`${pin.name}@${pin.version}`);
    const bytes = await this.moduleBytes(pin.sha256);
    if (skill === undefined || bytes === undefined) return undefined;
    return { bytes, manifest: skill.manifest };
  }

  /** Module bytes by sha256, from memory or the store. */
  async moduleBytes(sha256: string): Promise<Uint8Array | undefined> {
    const cached = this.#modules.get(sha256);
    if (cached !== undefined) return cached;
    const stored = await this.#store.getModule(sha256);
    if (stored !== undefined) this.#modules.set(sha256, stored);
    return stored;
  }
}
