import { AosError } from "../errors/mod.ts";

/** Opaque page cursor: the sort key of the last run of the previous page. */
export function encodeCursor(createdAt: number, runId: string): string {
  return btoa(JSON.stringify([createdAt, runId]));
}

/** Decodes a cursor from `encodeCursor`; anything else is a 400. */
export function decodeCursor(
  cursor: string,
): { createdAt: number; runId: string } {
  try {
    const [createdAt, runId] = JSON.parse(atob(cursor));
    if (Number.isInteger(createdAt) && typeof runId === "string") {
      return { createdAt, runId };
    }
  } catch {
    // fall through to the validation error below
  }
  throw new AosError("VALIDATION_QUERY_INVALID", "cursor is not valid", {
    details: { issues: [{ path: "/cursor", message: "not a page cursor" }] },
  });
}
