import { z } from "zod";
import { timestamp } from "../messages/schemas.js";
import { HttpError } from "./errors.js";
import { clientText } from "./query.js";

/** Opaque keyset cursors: base64url JSON of the last row's sort key. */
export function encodeCursor(key: unknown[]): string {
  return Buffer.from(JSON.stringify(key)).toString("base64url");
}

/** The sort keys cursors carry: a row's time as this API writes it, and a text or numeric id. */
export const cursorTime = timestamp;
export const cursorText = clientText(200).pipe(z.string().min(1));
export const cursorSerial = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/**
 * The sort key of a cursor, checked element by element: a forged one (wrong types, a date that is
 * not one, text with a NUL) is a 400 here, never a database error (503) later.
 */
export function decodeCursor<T extends z.ZodTuple>(cursor: string | undefined, key: T): z.output<T> | undefined {
  if (cursor === undefined) return undefined;
  try {
    const parsed = key.safeParse(JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")));
    if (parsed.success) return parsed.data;
  } catch {
    // fall through
  }
  throw new HttpError(400, "invalid_cursor", "cursor is not one this API returned");
}

/** A page: fetch limit + 1 rows; the extra one says whether there is a next page. */
export function page<T>(rows: T[], limit: number, keyOf: (row: T) => unknown[]): { items: T[]; next: string | null } {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, next: rows.length > limit && last ? encodeCursor(keyOf(last)) : null };
}
