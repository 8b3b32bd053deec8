import { z } from "zod";
import { HttpError } from "./errors.js";

/** Parses a query string or body with a zod schema; a failure is a 400 naming the field. */
export function parseInput<T extends z.ZodType>(schema: T, input: unknown, code = "invalid_request"): z.output<T> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new HttpError(400, code, `${issue?.path.join(".") || "request"}: ${issue?.message ?? "invalid"}`);
  }
  return parsed.data;
}

/** Text a client sends (query, body, cursor): bounded, and no control characters but tab and newlines (PostgreSQL text cannot hold NUL). */
export const clientText = (max: number) =>
  z
    .string()
    .max(max)
    .refine((text) => !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text), {
      message: "must not contain control characters",
    });

/** A decimal integer as written, e.g. an exception id: not 0x10, 1e3, 1.0, " 7" or +7 (Number() takes them all). */
export const decimalInteger = z
  .string()
  .regex(/^(?:0|[1-9][0-9]{0,15})$/, { message: "must be a decimal integer" })
  .transform(Number)
  .refine(Number.isSafeInteger, { message: "must be at most 2^53 - 1" });
