import { createHash } from "node:crypto";
import type { z } from "zod";
import { type GatewayFacts, gatewayFacts, type NativeGateway } from "../adapters/gatewayFacts.js";
import {
  type BankEntry,
  bankEntrySchema,
  type ExpectedMessage,
  expectedMessageSchema,
  type GatewayEvent,
  gatewayEventSchema,
  type StatementSummary,
  statementSummarySchema,
} from "../messages/schemas.js";

/**
 * Decoding one input message: bytes → UTF-8 → JSON → zod. A message that fails
 * is not an error of the daemon but of its producer: it gets a bounded
 * `reason` (a metric label) and a precise `detail` (the dead-letter header).
 */

/** The CONTRACT's three inputs. */
export type ContractKind = "expected" | "gateway" | "bank";
/** …and gateways' own payloads (webhook bodies, raw topics). */
export type InputKind = ContractKind | NativeGateway;

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

export type RejectReason =
  | "empty"
  | "invalid_utf8"
  | "invalid_json"
  | "not_an_object"
  | "schema"
  | "too_large"
  /** A gateway's own payload that cannot become a CONTRACT fact. */
  | "gateway_payload"
  /** An event id stored already with other content (CONTRACT §8): the first version stays. */
  | "conflict";

export type Decoded =
  | { ok: true; kind: "expected"; raw: RawMessage; hash: Buffer; message: ExpectedMessage }
  | { ok: true; kind: "gateway"; raw: RawMessage; hash: Buffer; message: GatewayEvent }
  | { ok: true; kind: "bank"; raw: RawMessage; hash: Buffer; message: BankEntry }
  /** A statement summary on the bank topic (CONTRACT §8 "Statements"). */
  | { ok: true; kind: "statement"; raw: RawMessage; hash: Buffer; message: StatementSummary }
  | {
      ok: true;
      kind: "native";
      raw: RawMessage;
      gateway: NativeGateway;
      /** What the payload says; `events` are its GatewayEvents as the CONTRACT schema outputs them. */
      facts: GatewayFacts;
      events: GatewayEvent[];
    }
  | { ok: false; raw: RawMessage; reason: RejectReason; detail: string };

/** Each input topic with what its messages are; the raw gateway topics when configured. */
export function inputKindsByTopic(topics: {
  expected: string;
  gateway: string;
  bank: string;
  rawStripe?: string | undefined;
  rawAdyen?: string | undefined;
}): Map<string, InputKind> {
  const kinds = new Map<string, InputKind>([
    [topics.expected, "expected"],
    [topics.gateway, "gateway"],
    [topics.bank, "bank"],
  ]);
  if (topics.rawStripe) kinds.set(topics.rawStripe, "stripe");
  if (topics.rawAdyen) kinds.set(topics.rawAdyen, "adyen");
  return kinds;
}

/** What a CONTRACT message decodes to. */
export type ContractDecoded = Exclude<Decoded, { kind: "native" }>;

/** Larger than any legitimate message (a 10,000-reference batch is ~300 kB). */
export const MAX_MESSAGE_BYTES = 1_000_000;

const utf8 = new TextDecoder("utf-8", { fatal: true });

// Amounts must be written as plain JSON integers: 1e3, 10.0 or -0 parse to
// integers in JavaScript but say the producer is emitting floats. Member names
// are matched with their escapes decoded ("amount\u005fminor" is amount_minor too).
const AMOUNT_FIELDS = new Set([
  "amount_minor",
  "gross_minor",
  "fee_minor",
  "carried_forward_minor",
  "opening_booked_minor",
  "closing_booked_minor",
]);
const NUMBER_MEMBER = /"((?:[^"\\]|\\.)*)"\s*:\s*(-?[0-9][0-9.eE+-]*)/g;

function memberName(body: string): string {
  if (!body.includes("\\")) return body;
  try {
    return String(JSON.parse(`"${body}"`));
  } catch {
    return body;
  }
}

/**
 * Deeper than any real message, metadata included. Hashing and storing a
 * message walk it recursively, so 100,000 nested arrays (which JSON.parse
 * accepts) would overflow the stack: the depth is checked on the text first.
 */
export const MAX_NESTING = 64;

/** The path where the JSON text first nests deeper than MAX_NESTING, or undefined. */
function tooDeep(text: string): string | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_NESTING) return pathAt(text, i);
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return undefined;
}

/** The member path leading to the bracket at `end` (only called for a message that is too deep). */
function pathAt(text: string, end: number): string {
  const frames: Array<{ array: boolean; key: string | number }> = [];
  let stringStart = -1;
  let lastString = "";
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (stringStart >= 0) {
      if (c === 0x5c) i++;
      else if (c === 0x22) {
        lastString = text.slice(stringStart + 1, Math.min(i, stringStart + 101));
        stringStart = -1;
      }
    } else if (c === 0x22) stringStart = i;
    else if (c === 0x7b) frames.push({ array: false, key: "?" });
    else if (c === 0x5b) frames.push({ array: true, key: 0 });
    else if (c === 0x7d || c === 0x5d) frames.pop();
    else if (c === 0x3a && frames.length > 0) frames[frames.length - 1]!.key = memberName(lastString);
    else if (c === 0x2c && frames.at(-1)?.array) frames[frames.length - 1]!.key = Number(frames.at(-1)!.key) + 1;
  }
  const path = frames.map((frame) => String(frame.key));
  return (path.length > 6 ? [...path.slice(0, 6), "…"] : path).join(".") || "message";
}

// JSON can carry NUL (\u0000) and lone UTF-16 surrogates (\ud800); PostgreSQL stores neither
// in text nor in jsonb, so one such message would fail its whole batch — and, from Kafka, its
// partition — on every retry. Only a message whose text has such an escape is walked.
const SUSPECT_ESCAPE = /\\u(?:0000|[dD][89a-fA-F])/;
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** The path of the first string or member name that cannot be stored (depth is bounded by then). */
function unstorableAt(value: unknown, path: string[]): string | undefined {
  if (typeof value === "string") return UNSTORABLE.test(value) ? path.join(".") : undefined;
  if (typeof value !== "object" || value === null) return undefined;
  for (const [key, inner] of Object.entries(value)) {
    if (UNSTORABLE.test(key)) return [...path, key].join(".");
    const at = unstorableAt(inner, [...path, key]);
    if (at !== undefined) return at;
  }
  return undefined;
}

/** Bounded: a dead-letter header and a database column, whatever the producer sent (a 900 kB key is a path segment). */
export const MAX_DETAIL_CHARS = 1_000;
const bounded = (text: string, max: number) => (text.length > max ? `${text.slice(0, max)}…` : text);

function zodDetail(error: z.ZodError): string {
  const detail = error.issues
    .slice(0, 5)
    .map((issue) => {
      const path = issue.path.map((segment) => bounded(String(segment), 100)).join(".");
      return `${path || "message"}: ${bounded(issue.message, 300)}`;
    })
    .join("; ");
  return bounded(detail, MAX_DETAIL_CHARS);
}

const SCHEMAS = { expected: expectedMessageSchema, gateway: gatewayEventSchema, bank: bankEntrySchema } as const;

export function decodeMessage(raw: RawMessage & { kind: ContractKind }): ContractDecoded;
export function decodeMessage(raw: RawMessage): Decoded;
export function decodeMessage(raw: RawMessage): Decoded {
  const decoded = decodeOne(raw);
  // The detail goes to a text column and a Kafka header: no control characters, whatever was sent.
  if (!decoded.ok)
    decoded.detail = decoded.detail.replace(
      /[\u0000-\u001f\u007f]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
    );
  return decoded;
}

function decodeOne(raw: RawMessage): Decoded {
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
  const deepAt = tooDeep(text);
  if (deepAt !== undefined) {
    return { ok: false, raw, reason: "schema", detail: `${deepAt}: nested deeper than ${MAX_NESTING} levels` };
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
  const unstorable = SUSPECT_ESCAPE.test(text) ? unstorableAt(json, []) : undefined;
  if (unstorable !== undefined) {
    const detail = `${bounded(unstorable, 300)}: must not contain NUL (\\u0000) or an unpaired surrogate`;
    return { ok: false, raw, reason: "schema", detail };
  }
  if (raw.kind === "stripe" || raw.kind === "adyen") return decodeNative(raw, raw.kind, json);
  for (const match of text.matchAll(NUMBER_MEMBER)) {
    const name = memberName(match[1] ?? "");
    if (!AMOUNT_FIELDS.has(name)) continue;
    if (!/^-?\d+$/.test(match[2] ?? "") || match[2] === "-0") {
      return {
        ok: false,
        raw,
        reason: "schema",
        detail: `${name}: must be a plain integer, got ${bounded(match[2] ?? "", 40)}`,
      };
    }
  }
  try {
    // The bank topic carries statement summaries beside its lines, told apart by `type`.
    const isStatement = raw.kind === "bank" && (json as Record<string, unknown>).type === "statement";
    const schema = isStatement ? statementSummarySchema : SCHEMAS[raw.kind as keyof typeof SCHEMAS];
    const parsed = schema.safeParse(json);
    if (!parsed.success) return { ok: false, raw, reason: "schema", detail: zodDetail(parsed.error) };
    // Hash the decoded message, not the bytes: the same message re-serialized is still one fact.
    // On first use: only expected payments' hashes are stored, and hashing every message cost ~5% of the CPU.
    const message = parsed.data;
    let hash: Buffer | undefined;
    return {
      ok: true,
      kind: isStatement ? "statement" : raw.kind,
      raw,
      get hash() {
        hash ??= createHash("sha256").update(canonicalJson(message)).digest();
        return hash;
      },
      message,
    } as Decoded;
  } catch (error) {
    // Never throw on a producer's bytes: a poison message would stall its partition forever.
    return {
      ok: false,
      raw,
      reason: "schema",
      detail: `message could not be validated: ${String((error as Error)?.message ?? error).slice(0, 200)}`,
    };
  }
}

function decodeNative(raw: RawMessage, gateway: NativeGateway, json: unknown): Decoded {
  try {
    const facts = gatewayFacts(gateway, json);
    const { events, ignored, stripePayouts, stripeBalanceTransactions, invalid } = facts;
    if (events.length + ignored.length + stripePayouts.length + stripeBalanceTransactions.length === 0) {
      const detail = invalid.length > 0 ? invalid.join("; ") : `the ${gateway} payload holds no event`;
      return { ok: false, raw, reason: "gateway_payload", detail: bounded(detail, MAX_DETAIL_CHARS) };
    }
    return { ok: true, kind: "native", raw, gateway, facts, events: events.map((e) => gatewayEventSchema.parse(e)) };
  } catch (error) {
    // The adapters validate what they emit; anything thrown here is still the payload's fault.
    const message = String((error as Error)?.message ?? error).slice(0, 200);
    return { ok: false, raw, reason: "gateway_payload", detail: `could not be mapped: ${message}` };
  }
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
