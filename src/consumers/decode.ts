import { createHash } from "node:crypto";
import type { z } from "zod";
import {
  type BankEntry,
  bankEntrySchema,
  type ExpectedMessage,
  expectedMessageSchema,
  type GatewayEvent,
  gatewayEventSchema,
} from "../messages/schemas.js";

/**
 * Decoding one input message: bytes → UTF-8 → JSON → zod. A message that fails
 * is not an error of the daemon but of its producer: it gets a bounded
 * `reason` (a metric label) and a precise `detail` (the dead-letter header).
 */

export type InputKind = "expected" | "gateway" | "bank";

export interface RawMessage {
  kind: InputKind;
  topic: string;
  partition: number | null;
  offset: string | null;
  key: Buffer | null;
  value: Buffer | null;
  /** Where it came from, for the timeline: `kafka` or `http`. */
  source: "kafka" | "http";
}

export type RejectReason = "empty" | "invalid_utf8" | "invalid_json" | "not_an_object" | "schema" | "too_large";

export type Decoded =
  | { ok: true; kind: "expected"; raw: RawMessage; hash: Buffer; message: ExpectedMessage }
  | { ok: true; kind: "gateway"; raw: RawMessage; hash: Buffer; message: GatewayEvent }
  | { ok: true; kind: "bank"; raw: RawMessage; hash: Buffer; message: BankEntry }
  | { ok: false; raw: RawMessage; reason: RejectReason; detail: string };

/** Larger than any legitimate message (a 10,000-reference batch is ~300 kB). */
export const MAX_MESSAGE_BYTES = 1_000_000;

const utf8 = new TextDecoder("utf-8", { fatal: true });

// Amounts must be written as plain JSON integers: 1e3, 10.0 or -0 parse to
// integers in JavaScript but say the producer is emitting floats.
const AMOUNT_LITERAL = /"(amount_minor|gross_minor|fee_minor)"\s*:\s*(-?[0-9][0-9.eE+-]*)/g;

function zodDetail(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.join(".") : "message"}: ${issue.message}`)
    .join("; ");
}

const SCHEMAS = { expected: expectedMessageSchema, gateway: gatewayEventSchema, bank: bankEntrySchema } as const;

export function decodeMessage(raw: RawMessage): Decoded {
  const bytes = raw.value;
  if (!bytes || bytes.length === 0) return { ok: false, raw, reason: "empty", detail: "message has no value" };
  if (bytes.length > MAX_MESSAGE_BYTES) {
    return {
      ok: false,
      raw,
      reason: "too_large",
      detail: `message is ${bytes.length} bytes, over ${MAX_MESSAGE_BYTES}`,
    };
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { ok: false, raw, reason: "invalid_utf8", detail: "message is not valid UTF-8" };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return {
      ok: false,
      raw,
      reason: "invalid_json",
      detail: `invalid JSON: ${(error as Error).message.slice(0, 200)}`,
    };
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return { ok: false, raw, reason: "not_an_object", detail: "message must be a JSON object" };
  }
  for (const match of text.matchAll(AMOUNT_LITERAL)) {
    if (!/^-?\d+$/.test(match[2] ?? "") || match[2] === "-0") {
      return { ok: false, raw, reason: "schema", detail: `${match[1]}: must be a plain integer, got ${match[2]}` };
    }
  }
  const parsed = SCHEMAS[raw.kind].safeParse(json);
  if (!parsed.success) return { ok: false, raw, reason: "schema", detail: zodDetail(parsed.error) };
  // Hash the decoded message, not the bytes: the same message re-serialized is still one fact.
  const hash = createHash("sha256").update(canonicalJson(parsed.data)).digest();
  return { ok: true, kind: raw.kind, raw, hash, message: parsed.data } as Decoded;
}

/** JSON with sorted keys, so equal messages hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, inner]) => inner !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, inner]) => `${JSON.stringify(key)}:${canonicalJson(inner)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}
