import type { RandomSource } from "../deps/mod.ts";
import { AosError } from "../errors/mod.ts";
import type { ApiKeyRecord, Store, TenantRecord } from "../store/mod.ts";
import { type IssuedKey, newApiKey } from "./api_keys.ts";

/** Tenant ids: short, lower case, safe in URLs and logs; `me` names the caller. */
export const TENANT_ID_PATTERN = /^(?!me$)[a-z0-9][a-z0-9_-]{0,62}$/;

/** What tenant administration needs. */
export interface TenantAdminDeps {
  store: Store;
  random: RandomSource;
  nowMs: () => number;
}

/** A key as listings show it: never the secret nor its digest. */
export type KeyView = Omit<ApiKeyRecord, "sha256">;

/** A key's listing form. */
export function keyView(record: ApiKeyRecord): KeyView {
  const { sha256: _digest, ...view } = record;
  return view;
}

/**
 * Managing tenants and their keys (admin only). Keys are shown once, when
 * issued; the store keeps their sha256.
 */
export class TenantAdmin {
  readonly #deps: TenantAdminDeps;

  constructor(deps: TenantAdminDeps) {
    this.#deps = deps;
  }

  /** Creates a tenant with its first key. */
  async create(
    id: string,
    options: { dailyBudgetCents?: number | undefined } = {},
  ): Promise<{ tenant: TenantRecord; key: IssuedKey }> {
    const tenant: TenantRecord = {
      id,
      created_at: this.#deps.nowMs(),
      daily_budget_cents: options.dailyBudgetCents ?? null,
    };
    await this.#deps.store.createTenant(tenant);
    const key = await this.issueKey(id);
    return { tenant, key };
  }

  async #existing(id: string): Promise<TenantRecord> {
    const tenant = await this.#deps.store.getTenant(id);
    if (tenant === undefined) {
      throw new AosError("TENANT_NOT_FOUND", `no tenant ${id}`, {
        details: { tenant: id },
      });
    }
    return tenant;
  }

  /** Every tenant. */
  list(): Promise<TenantRecord[]> {
    return this.#deps.store.listTenants();
  }

  /** Issues another key of a tenant; its other keys keep working. */
  async issueKey(
    id: string,
    options: { revokeOthers?: boolean } = {},
  ): Promise<IssuedKey> {
    await this.#existing(id);
    const issued = newApiKey(this.#deps.random, {
      role: "tenant",
      tenant: id,
      createdAt: this.#deps.nowMs(),
    });
    await this.#deps.store.putApiKey(issued.record, options);
    return issued;
  }

  /** Issues a new key and revokes every other key of the tenant, at once. */
  rotate(id: string): Promise<IssuedKey> {
    return this.issueKey(id, { revokeOthers: true });
  }

  /** A tenant's keys, revoked ones included. */
  async keys(id: string): Promise<KeyView[]> {
    await this.#existing(id);
    return (await this.#deps.store.listApiKeys(id)).map(keyView);
  }

  /** Revokes one key of a tenant; it stops working at once. */
  async revoke(id: string, keyId: string): Promise<KeyView> {
    await this.#existing(id);
    const owned = (await this.#deps.store.listApiKeys(id)).some((key) =>
      key.key_id === keyId
    );
    const revoked = owned
      ? await this.#deps.store.revokeApiKey(keyId, this.#deps.nowMs())
      : undefined;
    if (revoked === undefined) {
      throw new AosError(
        "API_KEY_NOT_FOUND",
        `tenant ${id} has no key ${keyId}`,
        { details: { tenant: id, key_id: keyId } },
      );
    }
    return keyView(revoked);
  }
}
