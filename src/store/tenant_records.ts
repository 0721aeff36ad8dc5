/** A tenant: the owner of runs, API keys and a daily budget. */
export interface TenantRecord {
  /** The tenant's id (`[a-z0-9][a-z0-9_-]{0,62}`). */
  id: string;
  created_at: number;
  /** Cents the tenant may spend per UTC day; null takes the node's default. */
  daily_budget_cents: number | null;
}

/** What a key may do: `admin` manages skills and tenants, `tenant` acts for one tenant. */
export type ApiKeyRole = "admin" | "tenant";

/**
 * An API key as stored: only the sha256 of the key, never the key. Keys are
 * high-entropy random strings, so an unsalted digest cannot be reversed.
 */
export interface ApiKeyRecord {
  /** Public id of the key (shown in listings, used to revoke it). */
  key_id: string;
  role: ApiKeyRole;
  /** The tenant the key acts for; null for admin keys. */
  tenant: string | null;
  /** sha256 (hex) of the key. */
  sha256: string;
  created_at: number;
  /** When the key was revoked; null while it works. */
  revoked_at: number | null;
}
