import { join } from "node:path";
import { compileSkillSchemas } from "./schema.ts";
import { skillPin } from "./pin.ts";
import type { SkillPin } from "../../actors/run_messages.ts";
import { AosError } from "../errors/mod.ts";
import {
  DEFAULT_SANDBOX_LIMITS,
  hardenModule,
  type ModuleSource,
  type SkillModule,
} from "../sandbox/mod.ts";
import { sha256Hex, type SkillRecord, type Store } from "../store/mod.ts";
import {
  compareSemver,
  parseManifest,
  type SkillManifest,
} from "./manifest.ts";

/** Host ceilings an installed module must fit. */
export interface InstallLimits {
  memoryMbMax: number;
  moduleBytesMax: number;
}

/** Defaults of `InstallLimits`: the sandbox's defaults. */
export const DEFAULT_INSTALL_LIMITS: InstallLimits = {
  memoryMbMax: DEFAULT_SANDBOX_LIMITS.memoryMbMax,
  moduleBytesMax: DEFAULT_SANDBOX_LIMITS.moduleBytesMax,
};

/** A module and manifest offered for installation. */
export interface InstallRequest {
  manifest: SkillManifest;
  bytes: Uint8Array;
  /** When given, the module's sha256 must equal it (SKILL_HASH_MISMATCH). */
  expectedSha256?: string;
}

/** What `install` did: `created` is false when the same bytes were installed already. */
export interface InstallResult {
  skill: RegisteredSkill;
  created: boolean;
}

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
  readonly #limits: InstallLimits;

  private constructor(store: Store, limits: InstallLimits) {
    this.#store = store;
    this.#limits = limits;
  }

  /** Loads what the store holds. */
  static async open(
    store: Store,
    options: { limits?: Partial<InstallLimits> } = {},
  ): Promise<SkillRegistry> {
    const registry = new SkillRegistry(store, {
      ...DEFAULT_INSTALL_LIMITS,
      ...options.limits,
    });
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

  /**
   * Installs a skill version: the module must pass the sandbox's inspection
   * (imports its permissions grant, no start function, memory within the
   * cap, size within the cap), its hash must match `expectedSha256` when
   * given, and `name@version` must be new or hold the same bytes already
   * (then nothing changes). Any refusal leaves the registry as it was.
   */
  async install(
    request: InstallRequest,
    options: { installedAt: number },
  ): Promise<InstallResult> {
    const { manifest, bytes } = request;
    const sha256 = sha256Hex(bytes);
    if (
      request.expectedSha256 !== undefined &&
      request.expectedSha256.toLowerCase() !== sha256
    ) {
      throw new AosError(
        "SKILL_HASH_MISMATCH",
        `the module's sha256 is ${sha256}, not ${request.expectedSha256}`,
        {
          details: { expected: request.expectedSha256, actual: sha256 },
        },
      );
    }
    const existing = this.find(`${manifest.name}@${manifest.version}`);
    if (existing !== undefined) {
      if (existing.sha256 === sha256) {
        return { skill: existing, created: false };
      }
      throw versionConflict(existing, sha256);
    }
    checkModuleForInstall(bytes, manifest, this.#limits);
    compileSkillSchemas(manifest);
    const stored = await this.#persist(
      manifest,
      bytes,
      sha256,
      options.installedAt,
    );
    // Another node may have installed this version first.
    if (stored.sha256 !== sha256) throw versionConflict(stored, sha256);
    const skill = this.#keep(stored, bytes, sha256);
    return { skill, created: stored.installed_at === options.installedAt };
  }

  /** Writes module and version to the store; returns what it holds for the version. */
  async #persist(
    manifest: SkillManifest,
    bytes: Uint8Array,
    sha256: string,
    installedAt: number,
  ): Promise<SkillRecord> {
    await this.#store.putModule(sha256, bytes);
    return await this.#store.putSkill({
      name: manifest.name,
      version: manifest.version,
      sha256,
      manifest,
      installed_at: installedAt,
    });
  }

  /** Caches a stored version, and `bytes` when they are that version's module. */
  #keep(
    stored: SkillRecord,
    bytes: Uint8Array,
    sha256: string,
  ): RegisteredSkill {
    const skill: RegisteredSkill = {
      ...stored,
      manifest: parseManifest(JSON.stringify(stored.manifest)),
    };
    if (sha256 === stored.sha256) this.#modules.set(sha256, bytes);
    this.#remember(skill);
    return skill;
  }

  /**
   * Records a module without the install checks. Only for tests of the
   * sandbox's run-time defences, which must hold even for a module that an
   * older AOS accepted; everything else goes through `install`.
   */
  async registerUnchecked(
    manifest: SkillManifest,
    bytes: Uint8Array,
    installedAt: number,
  ): Promise<RegisteredSkill> {
    const sha256 = sha256Hex(bytes);
    const stored = await this.#persist(manifest, bytes, sha256, installedAt);
    return this.#keep(stored, bytes, sha256);
  }

  /**
   * Installs a built skill folder (`manifest.yaml` + `<name>.wasm`), as the
   * built-in skills are at start. Changed bytes under an installed version
   * are refused like any install: bump the version.
   */
  async installDir(
    dir: string,
    options: { installedAt: number },
  ): Promise<InstallResult> {
    const manifest = parseManifest(
      await Deno.readTextFile(join(dir, "manifest.yaml")),
    );
    const bytes = await Deno.readFile(join(dir, `${manifest.name}.wasm`));
    return await this.install({ manifest, bytes }, options);
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
    return skillPin(skill.manifest, skill.sha256);
  }

  /** The versions of `name`, oldest first. */
  versions(name: string): RegisteredSkill[] {
    return [...(this.#versions.get(name) ?? [])];
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

function versionConflict(existing: SkillRecord, sha256: string): AosError {
  return new AosError(
    "SKILL_VERSION_CONFLICT",
    `${existing.name}@${existing.version} is installed with other bytes (sha256 ${existing.sha256})`,
    {
      details: {
        name: existing.name,
        version: existing.version,
        installed_sha256: existing.sha256,
        offered_sha256: sha256,
      },
    },
  );
}

/** The sandbox's load-time checks, run at install so a bad module never gets in. */
function checkModuleForInstall(
  bytes: Uint8Array,
  manifest: SkillManifest,
  limits: InstallLimits,
): void {
  hardenModule(bytes, {
    entrypoint: manifest.entrypoint,
    permissions: manifest.permissions,
    memoryMaxPages: Math.min(manifest.memory_mb, limits.memoryMbMax) * 16,
    moduleMaxBytes: limits.moduleBytesMax,
  });
}
