import type { z } from "zod";
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
