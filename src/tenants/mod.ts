/** Tenants and their API keys (stored as sha256 digests), and the first keys of a store. */
export { type IssuedKey, keyIdOf, newApiKey } from "./api_keys.ts";
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
