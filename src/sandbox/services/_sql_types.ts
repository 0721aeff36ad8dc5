/**
 * PostgreSQL types by OID: the built-in ones, and those a pool learns from
 * pg_type (enums, domains, their arrays) the first time a result holds them.
 *
 * @module
 */
import type { PgClient } from "./_sql_driver.ts";

/** What the service knows of a PostgreSQL type. */
export interface TypeInfo {
  name: string;
  /** The element type of an array type, else 0. */
  element: number;
  /** The base type of a domain, else 0. */
  base: number;
}

// Built-in types by OID (pg_type.dat); others are looked up once per pool.
const BUILTIN: Record<number, [name: string, element: number]> = {
  16: ["bool", 0],
  17: ["bytea", 0],
  18: ["char", 0],
  19: ["name", 0],
  20: ["int8", 0],
  21: ["int2", 0],
  23: ["int4", 0],
  25: ["text", 0],
  26: ["oid", 0],
  114: ["json", 0],
  700: ["float4", 0],
  701: ["float8", 0],
  1042: ["bpchar", 0],
  1043: ["varchar", 0],
  1082: ["date", 0],
  1083: ["time", 0],
  1114: ["timestamp", 0],
  1184: ["timestamptz", 0],
  1186: ["interval", 0],
  1266: ["timetz", 0],
  1700: ["numeric", 0],
  2950: ["uuid", 0],
  3802: ["jsonb", 0],
  199: ["_json", 114],
  1000: ["_bool", 16],
  1001: ["_bytea", 17],
  1005: ["_int2", 21],
  1007: ["_int4", 23],
  1009: ["_text", 25],
  1014: ["_bpchar", 1042],
  1015: ["_varchar", 1043],
  1016: ["_int8", 20],
  1021: ["_float4", 700],
  1022: ["_float8", 701],
  1115: ["_timestamp", 1114],
  1182: ["_date", 1082],
  1185: ["_timestamptz", 1184],
  1231: ["_numeric", 1700],
  2951: ["_uuid", 2950],
  3807: ["_jsonb", 3802],
};
const TYPES_CACHED_MAX = 10_000;
/** box[] separates elements with ';', unlike every other array type. */
export const BOX = 603;

/** A type by OID: built in, or learned from pg_type. */
export function typeInfo(
  oid: number,
  types: Map<number, TypeInfo>,
): TypeInfo | undefined {
  const builtin = BUILTIN[oid];
  if (builtin !== undefined) {
    return { name: builtin[0], element: builtin[1], base: 0 };
  }
  return types.get(oid);
}

/** Looks up the OIDs not known yet in pg_type, once per pool. */
export async function learnTypes(
  client: PgClient,
  types: Map<number, TypeInfo>,
  oids: number[],
): Promise<void> {
  const missing = [...new Set(oids)].filter((oid) =>
    typeInfo(oid, types) === undefined
  );
  if (missing.length === 0) return;
  if (types.size + missing.length > TYPES_CACHED_MAX) types.clear();
  const { rows } = await client.query<
    { oid: number; typname: string; element: number; base: number }
  >(
    "select oid::int4 as oid, typname, typelem::int4 as element, " +
      "typbasetype::int4 as base from pg_type where oid = any($1::int4[])",
    [`{${missing.join(",")}}`],
  );
  for (const row of rows) {
    types.set(row.oid, {
      name: row.typname,
      element: row.element,
      base: row.base,
    });
  }
}

/** The name a column's type is reported by (`int4[]` for arrays). */
export function typeName(oid: number, types: Map<number, TypeInfo>): string {
  const info = typeInfo(oid, types);
  if (info === undefined) return `oid:${oid}`;
  if (info.element !== 0 && info.name.startsWith("_")) {
    return `${typeName(info.element, types)}[]`;
  }
  return info.name;
}
