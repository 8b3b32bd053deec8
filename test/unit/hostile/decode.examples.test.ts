import { describe, expect, it } from "vitest";
import { type ContractDecoded, decodeMessage, type ContractKind } from "../../../src/consumers/decode.js";
import { bankEntry, expectedPayment, gatewayEvent } from "../../support/facts.js";

/** Issue 8, the named hostile cases one by one: each rejection's reason and the field its detail names. */

function decode(kind: ContractKind, text: string | Buffer): ContractDecoded {
  const value = typeof text === "string" ? Buffer.from(text) : text;
  return decodeMessage({ kind, topic: kind, partition: null, offset: null, key: null, value, source: "http" });
}

/** JSON of `message` with `field` set to raw JSON text. */
function raw(message: Record<string, unknown>, field: string, value: string): string {
  return JSON.stringify({ ...message, [field]: "\u0001" }).replace('"\\u0001"', () => value);
}

const payment = expectedPayment(1);
const event = gatewayEvent(2);
const entry = bankEntry(3);
const batch = {
  event_id: "evt_b1",
  gateway: "stripe",
  type: "settlement.batch",
  batch_id: "po_batch_1",
  gross_minor: 10_000,
  fee_minor: 290,
  amount_minor: 9_710,
  currency: "EUR",
  occurred_at: "2026-11-21T08:00:00Z",
  expected_arrival: "2026-11-23",
  references: ["ORD-1", "ORD-2"],
};

const cases: Array<[string, ContractKind, string, string, RegExp]> = [
  // [name, kind, text, reason, detail]
  [
    "amount 1e3",
    "bank",
    raw(entry, "amount_minor", "1e3"),
    "schema",
    /^amount_minor: must be a plain integer, got 1e3$/,
  ],
  ["amount 100.0", "expected", raw(payment, "amount_minor", "100.0"), "schema", /^amount_minor: must be a plain/],
  ["amount -0", "gateway", raw(event, "amount_minor", "-0"), "schema", /^amount_minor: must be a plain/],
  ["negative amount", "bank", raw(entry, "amount_minor", "-500"), "schema", /^amount_minor: must be greater than zero/],
  [
    "negative gateway amount",
    "gateway",
    raw(event, "amount_minor", "-1"),
    "schema",
    /^amount_minor: must not be negative/,
  ],
  ["fraction", "expected", raw(payment, "amount_minor", "12.5"), "schema", /^amount_minor: must be a plain integer/],
  [
    "2^63",
    "bank",
    raw(entry, "amount_minor", "9223372036854775808"),
    "schema",
    /^amount_minor: must be a safe integer/,
  ],
  [
    "2^53 + 1",
    "bank",
    raw(entry, "amount_minor", "9007199254740993"),
    "schema",
    /^amount_minor: must be a safe integer/,
  ],
  ["amount as string", "bank", raw(entry, "amount_minor", '"1000"'), "schema", /^amount_minor: must be an integer/],
  ["NaN", "bank", raw(entry, "amount_minor", "NaN"), "invalid_json", /^invalid JSON: /],
  ["Infinity", "expected", raw(payment, "amount_minor", "Infinity"), "invalid_json", /^invalid JSON: /],
  [
    "escaped key float",
    "bank",
    raw(entry, "amount_minor", "10.5").replace('"amount_minor"', '"amount\\u005fminor"'),
    "schema",
    /^amount_minor: must be a plain/,
  ],
  ["unknown currency", "expected", raw(payment, "currency", '"XYZ"'), "schema", /^currency: must be an ISO 4217/],
  ["lowercase currency", "bank", raw(entry, "currency", '"eur"'), "schema", /^currency: must be an ISO 4217/],
  ["Feb 30", "expected", raw(payment, "due_at", '"2026-02-30T10:00:00Z"'), "schema", /^due_at: must be an RFC 3339/],
  [
    "24:00:00",
    "expected",
    raw(payment, "created_at", '"2026-11-20T24:00:00Z"'),
    "schema",
    /^created_at: must be an RFC 3339/,
  ],
  [
    "no offset",
    "gateway",
    raw(event, "occurred_at", '"2026-11-21T08:12:00"'),
    "schema",
    /^occurred_at: must be an RFC 3339/,
  ],
  ["Feb 30 date", "bank", raw(entry, "value_date", '"2026-02-30"'), "schema", /^value_date: must be a date YYYY-MM-DD/],
  [
    "net ≠ gross − fee",
    "gateway",
    raw(batch, "amount_minor", "9700"),
    "schema",
    /^amount_minor: net 9700 is not gross 10000 − fee 290$/,
  ],
  [
    "10,001 references",
    "gateway",
    raw(batch, "references", JSON.stringify(Array.from({ length: 10_001 }, (_, i) => `R${i}`))),
    "schema",
    /^references: Too big/,
  ],
  ["cancelled: yes", "expected", JSON.stringify({ id: "exp_1", cancelled: "yes" }), "schema", /^cancelled: /],
  ["cancellation without id", "expected", JSON.stringify({ cancelled: true }), "schema", /^id: /],
  ["payment missing fields", "expected", JSON.stringify({ id: "exp_1" }), "schema", /^direction: .*; amount_minor: /],
  ["unknown type", "gateway", raw(event, "type", '"payment.teleported"'), "schema", /^type: /],
  [
    "deep metadata",
    "expected",
    raw(payment, "metadata", `{"x":${"[".repeat(100_000)}${"]".repeat(100_000)}}`),
    "schema",
    /^metadata\.x\.0\.0\.0\.0\.…: nested deeper than 64 levels$/,
  ],
  [
    "NUL in a text field",
    "bank",
    raw(entry, "remittance_info", '"a\\u0000b"'),
    "schema",
    /^remittance_info: must not contain NUL/,
  ],
  [
    "NUL in metadata",
    "gateway",
    raw(event, "metadata", '{"note":["x","\\u0000"]}'),
    "schema",
    /^metadata\.note\.1: must not contain NUL/,
  ],
  [
    "NUL in a member name",
    "expected",
    raw(payment, "metadata", '{"k\\u0000":1}'),
    "schema",
    /^metadata\.k\\u0000: must not contain NUL/,
  ],
  [
    "lone surrogate",
    "bank",
    raw(entry, "counterparty_name", '"\\ud800x"'),
    "schema",
    /^counterparty_name: .*unpaired surrogate/,
  ],
  ["top-level array", "bank", "[1,2]", "not_an_object", /^message must be a JSON object$/],
];

describe("hostile messages, one by one", () => {
  it.each(cases)("%s → %s", (_name, kind, text, reason, detail) => {
    const result = decode(kind, text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reason).toBe(reason);
    expect(result.detail).toMatch(detail);
  });

  it("does not pollute Object.prototype through __proto__ or constructor keys", () => {
    const text = JSON.stringify(payment).replace(
      "{",
      '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":2}},"metadata":{"__proto__":{"polluted":3}},',
    );
    const result = decode("expected", text);
    expect(result.ok).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    if (result.ok) {
      expect((result.message as Record<string, unknown>).polluted).toBeUndefined();
      expect((result.message as { metadata?: Record<string, unknown> }).metadata?.polluted).toBeUndefined();
    }
  });

  it("takes the last of duplicate keys (as JSON.parse does), the same fact as without the duplicate", () => {
    const duplicated = decode("bank", JSON.stringify(entry).replace("{", '{"currency":"XYZ","status":"nope",'));
    const clean = decode("bank", JSON.stringify(entry));
    expect(duplicated.ok && clean.ok && duplicated.hash.equals(clean.hash)).toBe(true);
    // …but an amount written as a float is refused wherever it appears.
    const floatFirst = decode("bank", JSON.stringify(entry).replace("{", '{"amount_minor":1.5,'));
    expect(floatFirst).toMatchObject({
      ok: false,
      reason: "schema",
      detail: "amount_minor: must be a plain integer, got 1.5",
    });
  });

  it("accepts the edges that are valid: 2^40 − 1, zero gateway amounts, lowercase t/z, leap days, fractional seconds", () => {
    expect(decode("bank", raw(entry, "amount_minor", "1099511627775")).ok).toBe(true);
    expect(decode("gateway", raw(event, "amount_minor", "0")).ok).toBe(true);
    expect(decode("gateway", raw(event, "occurred_at", '"2026-11-21t08:12:00z"')).ok).toBe(true);
    expect(decode("gateway", raw(event, "occurred_at", '"2028-02-29T23:59:59.123456+05:30"')).ok).toBe(true);
    expect(decode("bank", raw(entry, "value_date", '"2028-02-29"')).ok).toBe(true);
    // A backslash followed by "u0000" is text; a surrogate pair is one character.
    expect(decode("bank", raw(entry, "remittance_info", '"a\\\\u0000b"')).ok).toBe(true);
    expect(decode("bank", raw(entry, "remittance_info", '"\\ud83d\\udca9"')).ok).toBe(true);
    // A UTF-8 byte order mark is tolerated (RFC 8259 §8.1 lets a parser ignore it).
    expect(decode("bank", `\ufeff${JSON.stringify(entry)}`).ok).toBe(true);
    expect(decode("expected", JSON.stringify({ id: "exp_1", cancelled: true })).ok).toBe(true);
    expect(decode("expected", JSON.stringify({ ...payment, cancelled: false })).ok).toBe(true);
  });
});
