import { parseArgs } from "node:util";
import {
  type ApiAnswer,
  callApi,
  clientOptions,
  describeError,
  EXIT,
  formatTable,
} from "../cli/mod.ts";

const USAGE =
  `usage: aos tenants [list]                                  [--url URL] [--key KEY] [--json]
       aos tenants create <id> [--daily-budget-cents N]
       aos tenants keys list <tenant>
       aos tenants keys create <tenant>
       aos tenants keys revoke <tenant> <key_id>
       aos tenants rotate <tenant>
       aos tenants budget
  list, create, keys, rotate  manage tenants and their API keys (admin key)
  rotate   issue a new key and revoke every other key of the tenant at once
  budget   the calling tenant's budget for today (a tenant key)
A new key is printed once; the server keeps only its sha256.
The server is --url or AOS_URL; the key --key, AOS_KEY or AOS_ADMIN_KEY.`;

type Flags = {
  url?: string | undefined;
  key?: string | undefined;
  json: boolean;
  "daily-budget-cents"?: string | undefined;
};

/** `aos tenants …`: tenants and their keys, through a server's admin API. */
export async function tenantsCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        url: { type: "string" },
        key: { type: "string" },
        json: { type: "boolean", default: false },
        "daily-budget-cents": { type: "string" },
      },
    });
  } catch (error) {
    console.error(
      `${error instanceof Error ? error.message : error}\n${USAGE}`,
    );
    return EXIT.usage;
  }
  const flags = parsed.values as Flags;
  const [verb = "list", ...rest] = parsed.positionals;
  const call = (method: string, path: string, json?: unknown) =>
    callApi(clientOptions(flags, Deno.env.toObject()), {
      method,
      path,
      ...(json === undefined ? {} : { json }),
    });
  const words = [verb, ...rest];
  const shape = words.length;
  if (verb === "list" && shape === 1) {
    return show(await call("GET", "/v1/tenants"), flags, (body) =>
      formatTable(
        ["tenant", "daily budget cents", "created"],
        (body.tenants as Record<string, unknown>[]).map((tenant) => [
          String(tenant.id),
          tenant.daily_budget_cents === null
            ? "default"
            : String(tenant.daily_budget_cents),
          new Date(Number(tenant.created_at)).toISOString(),
        ]),
      ));
  }
  if (verb === "create" && shape === 2) {
    const budget = flags["daily-budget-cents"];
    if (budget !== undefined && !/^\d+$/.test(budget)) {
      console.error("--daily-budget-cents takes a whole number of cents");
      return EXIT.usage;
    }
    const body = {
      id: rest[0],
      ...(budget === undefined ? {} : { daily_budget_cents: Number(budget) }),
    };
    return show(
      await call("POST", "/v1/tenants", body),
      flags,
      (answer) => issuedText(answer, `created tenant ${rest[0]}`),
    );
  }
  if (verb === "rotate" && shape === 2) {
    return show(
      await call("POST", `/v1/tenants/${encodeURIComponent(rest[0]!)}/rotate`),
      flags,
      (answer) =>
        issuedText(answer, `rotated ${rest[0]}: every other key is revoked`),
    );
  }
  if (verb === "budget" && shape === 1) {
    return show(
      await call("GET", "/v1/tenants/me/budget"),
      flags,
      (body) =>
        formatTable(
          ["tenant", "day", "limit", "spent", "reserved", "remaining"],
          [[
            String(body.tenant),
            String(body.day),
            String(body.limit_cents),
            String(body.spent_cents),
            String(body.reserved_cents),
            String(body.remaining_cents),
          ]],
        ),
    );
  }
  if (verb === "keys") return await keysCommand(rest, flags, call);
  console.error(USAGE);
  return EXIT.usage;
}

async function keysCommand(
  words: string[],
  flags: Flags,
  call: (method: string, path: string, json?: unknown) => Promise<ApiAnswer>,
): Promise<number> {
  const [verb, tenant, keyId] = words;
  if (tenant === undefined) {
    console.error(USAGE);
    return EXIT.usage;
  }
  const base = `/v1/tenants/${encodeURIComponent(tenant)}/keys`;
  if (verb === "list" && words.length === 2) {
    return show(await call("GET", base), flags, (body) =>
      formatTable(
        ["key id", "created", "revoked"],
        (body.keys as Record<string, unknown>[]).map((key) => [
          String(key.key_id),
          new Date(Number(key.created_at)).toISOString(),
          key.revoked_at === null
            ? ""
            : new Date(Number(key.revoked_at)).toISOString(),
        ]),
      ));
  }
  if (verb === "create" && words.length === 2) {
    return show(
      await call("POST", base),
      flags,
      (answer) => issuedText(answer, `new key of ${tenant}`),
    );
  }
  if (verb === "revoke" && words.length === 3) {
    return show(
      await call(
        "POST",
        `${base}/${encodeURIComponent(keyId!)}/revoke`,
      ),
      flags,
      () => `revoked ${keyId} of ${tenant}`,
    );
  }
  console.error(USAGE);
  return EXIT.usage;
}

function issuedText(body: Record<string, unknown>, title: string): string {
  return [
    title,
    `key id  ${body.key_id}`,
    `key     ${body.key}`,
    "(the key is shown only now; store it safely)",
  ].join("\n");
}

/** Prints an answer (JSON with --json, else `text`) and maps its status to an exit code. */
function show(
  answer: ApiAnswer,
  flags: Flags,
  text: (body: Record<string, unknown>) => string,
): number {
  if (answer.status >= 400) {
    console.error(describeError(answer));
    return answer.status === 404 ? EXIT.notFound : EXIT.failure;
  }
  console.log(flags.json ? JSON.stringify(answer.body) : text(answer.body));
  return EXIT.ok;
}
