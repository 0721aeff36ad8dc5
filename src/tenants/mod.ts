/** Tenants and their API keys (stored as sha256 digests), and the first keys of a store. */
export { type IssuedKey, keyIdOf, newApiKey } from "./api_keys.ts";
export {
  API_KEY_MAX_AGE_MS_DEFAULT,
  API_KEYS_CACHED_MAX_DEFAULT,
  ApiKeyCache,
  type ApiKeyCacheOptions,
} from "./api_key_cache.ts";
export {
  bootstrapKeys,
  type BootstrapResult,
  DEFAULT_TENANT,
} from "./bootstrap.ts";
export {
  type KeyView,
  keyView,
  TENANT_ID_PATTERN,
  TenantAdmin,
  type TenantAdminDeps,
} from "./tenant_admin.ts";
