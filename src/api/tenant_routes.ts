import type { Context, Hono } from "hono";
import { z } from "zod";
import type { BudgetLedger } from "../budget/mod.ts";
import { TENANT_ID_PATTERN, type TenantAdmin } from "../tenants/mod.ts";
import { requireAdmin, tenantOf } from "./auth.ts";
import { parseJsonText, parseWith, readText } from "./errors.ts";

/** `POST /v1/tenants`. */
export const createBody = z.object({
  id: z.string().regex(
    TENANT_ID_PATTERN,
    "a tenant id is 1 to 63 of a-z, 0-9, _ and -, starting with a letter or digit, and not 'me'",
  ),
  daily_budget_cents: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
    .optional(),
}).strict();

async function readBody(c: Context): Promise<unknown> {
  const text = await readText(c, 64 * 1024);
  return text.trim() === "" ? {} : parseJsonText(text);
}

/**
 * Tenant routes. Admin: `POST/GET /v1/tenants`, `GET/POST
 * /v1/tenants/:id/keys`, `POST /v1/tenants/:id/keys/:key_id/revoke`,
 * `POST /v1/tenants/:id/rotate`. A tenant: `GET /v1/tenants/me/budget`.
 * A new key is in the answer once and nowhere else.
 */
export function addTenantRoutes(
  app: Hono,
  deps: { tenants: TenantAdmin; budget: BudgetLedger },
): void {
  const { tenants, budget } = deps;

  app.get("/v1/tenants/me/budget", async (c) => {
    return c.json(await budget.today(tenantOf(c)));
  });

  app.post("/v1/tenants", async (c) => {
    requireAdmin(c);
    const body = parseWith(createBody, await readBody(c), "body");
    const { tenant, key } = await tenants.create(body.id, {
      dailyBudgetCents: body.daily_budget_cents,
    });
    return c.json(
      { tenant, key: key.key, key_id: key.record.key_id },
      201,
    );
  });

  app.get("/v1/tenants", async (c) => {
    requireAdmin(c);
    return c.json({ tenants: await tenants.list() });
  });

  app.get("/v1/tenants/:id/keys", async (c) => {
    requireAdmin(c);
    const id = c.req.param("id");
    return c.json({ tenant: id, keys: await tenants.keys(id) });
  });

  app.post("/v1/tenants/:id/keys", async (c) => {
    requireAdmin(c);
    const id = c.req.param("id");
    parseWith(z.object({}).strict(), await readBody(c), "body");
    const issued = await tenants.issueKey(id);
    return c.json(
      { tenant: id, key: issued.key, key_id: issued.record.key_id },
      201,
    );
  });

  app.post("/v1/tenants/:id/keys/:key_id/revoke", async (c) => {
    requireAdmin(c);
    const id = c.req.param("id");
    const keyId = c.req.param("key_id");
    return c.json({ tenant: id, key: await tenants.revoke(id, keyId) });
  });

  app.post("/v1/tenants/:id/rotate", async (c) => {
    requireAdmin(c);
    const id = c.req.param("id");
    const issued = await tenants.rotate(id);
    return c.json(
      { tenant: id, key: issued.key, key_id: issued.record.key_id },
      201,
    );
  });
}
