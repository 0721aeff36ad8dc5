import assert from "node:assert/strict";
import { join } from "node:path";
import { SeededRandom } from "../deps/mod.ts";
import { sha256Hex, SqliteStore, type Store } from "../store/mod.ts";
import { ApiKeyCache } from "./api_key_cache.ts";
import { newApiKey } from "./api_keys.ts";
import { TenantAdmin } from "./tenant_admin.ts";

/** A fresh store whose `findApiKey` calls are counted. */
function countedStore(): { store: SqliteStore; finds: () => number } {
  const dir = Deno.makeTempDirSync({ prefix: "aos-key-cache-" });
  const store = SqliteStore.open(join(dir, "aos.db"), {
    synchronous: "NORMAL",
  });
  let finds = 0;
  const find = store.findApiKey.bind(store);
  store.findApiKey = (sha256: string) => {
    finds++;
    return find(sha256);
  };
  return { store, finds: () => finds };
}

async function tenantWithKey(store: Store, nowMs = 1) {
  const admin = new TenantAdmin({
    store,
    random: new SeededRandom(7),
    nowMs: () => nowMs,
  });
  const { key } = await admin.create("acme");
  return { admin, key: key.key, keyId: key.record.key_id };
}

Deno.test("ApiKeyCache.find() asks the store once per key until the entry's age runs out", async () => {
  const { store, finds } = countedStore();
  let nowMs = 0;
  const cache = new ApiKeyCache(store, { nowMs: () => nowMs, maxAgeMs: 100 });
  try {
    const { key } = await tenantWithKey(store);
    const digest = sha256Hex(key);
    for (let index = 0; index < 5; index++) {
      assert.equal((await cache.find(digest))?.tenant, "acme");
    }
    assert.equal(finds(), 1);
    nowMs = 99;
    await cache.find(digest);
    assert.equal(finds(), 1);
    nowMs = 100;
    await cache.find(digest);
    assert.equal(finds(), 2, "an entry as old as maxAgeMs is asked again");
    // Unknown keys are not kept: one issued later works at once.
    const later = newApiKey(new SeededRandom(9), {
      role: "tenant",
      tenant: "acme",
      createdAt: 2,
    });
    assert.equal(await cache.find(later.record.sha256), undefined);
    await store.putApiKey(later.record);
    assert.equal((await cache.find(later.record.sha256))?.tenant, "acme");
  } finally {
    cache.close();
    await store.close();
  }
});

Deno.test("ApiKeyCache: a cached key does not survive its revocation or its tenant's rotation", async () => {
  const { store } = countedStore();
  const cache = new ApiKeyCache(store, { nowMs: () => 0 });
  try {
    const { admin, key, keyId } = await tenantWithKey(store);
    const digest = sha256Hex(key);
    assert.ok(await cache.find(digest));
    await admin.revoke("acme", keyId);
    assert.equal(await cache.find(digest), undefined);

    const second = await admin.issueKey("acme");
    const secondDigest = sha256Hex(second.key);
    assert.ok(await cache.find(secondDigest));
    const third = await admin.rotate("acme");
    assert.equal(await cache.find(secondDigest), undefined);
    assert.ok(await cache.find(sha256Hex(third.key)));
  } finally {
    cache.close();
    await store.close();
  }
});

Deno.test("ApiKeyCache: a read begun before a revocation is not kept after it", async () => {
  const { store } = countedStore();
  const cache = new ApiKeyCache(store, { nowMs: () => 0 });
  try {
    const { admin, key, keyId } = await tenantWithKey(store);
    const digest = sha256Hex(key);
    // The store answers the read as of before the revocation, then the
    // revocation lands before the answer reaches the cache.
    const find = store.findApiKey.bind(store);
    store.findApiKey = async (sha256: string) => {
      const record = await find(sha256);
      await admin.revoke("acme", keyId);
      return record;
    };
    assert.ok(await cache.find(digest), "the read's own answer");
    store.findApiKey = find;
    assert.equal(cache.size, 0);
    assert.equal(await cache.find(digest), undefined);
  } finally {
    cache.close();
    await store.close();
  }
});

Deno.test("ApiKeyCache keeps at most sizeMax keys, dropping the least recently used", async () => {
  const { store, finds } = countedStore();
  const cache = new ApiKeyCache(store, { nowMs: () => 0, sizeMax: 2 });
  try {
    const { admin, key } = await tenantWithKey(store);
    const digests = [sha256Hex(key)];
    for (let index = 0; index < 2; index++) {
      digests.push(sha256Hex((await admin.issueKey("acme")).key));
    }
    const [a, b, c] = digests as [string, string, string];
    await cache.find(a);
    await cache.find(b);
    await cache.find(a); // a is now the most recently used
    await cache.find(c); // drops b
    assert.equal(cache.size, 2);
    const before = finds();
    await cache.find(a);
    assert.equal(finds(), before, "a was kept");
    await cache.find(b);
    assert.equal(finds(), before + 1, "b was dropped");
  } finally {
    cache.close();
    await store.close();
  }
});
