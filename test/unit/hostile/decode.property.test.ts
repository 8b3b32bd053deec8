import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  type ContractDecoded,
  decodeMessage,
  type ContractKind,
  MAX_DETAIL_CHARS,
  MAX_MESSAGE_BYTES,
  MAX_NESTING,
} from "../../../src/consumers/decode.js";
import { isCurrency } from "../../../src/messages/currencies.js";
import { MAX_AMOUNT_MINOR } from "../../../src/messages/schemas.js";

/**
 * Issue 8: hostile input through the real decoding path (bytes → UTF-8 →
 * JSON → zod). Whatever a producer sends, `decodeMessage` returns — it never
 * throws — and a rejection carries a bounded `reason` and a `detail` that
 * names the field at fault, short enough for a dead-letter header.
 */

const NUM_RUNS = 1_000;
const REASONS = new Set(["empty", "invalid_utf8", "invalid_json", "not_an_object", "schema", "too_large"]);
const KINDS: ContractKind[] = ["expected", "gateway", "bank"];

const runs = new Map<string, number>();
afterAll(() => {
  const total = [...runs.values()].reduce((sum, n) => sum + n, 0);
  const lines = [...runs].map(([name, n]) => `  ${String(n).padStart(6)}  ${name}`);
  console.log(`[hostile decode] fast-check runs (${total} in all):\n${lines.join("\n")}`);
});

/** fc.assert with a run counter, printed at the end. */
function property<T>(name: string, arbitrary: fc.Arbitrary<T>, predicate: (value: T) => void, numRuns = NUM_RUNS) {
  let count = 0;
  fc.assert(
    fc.property(arbitrary, (value) => {
      count++;
      predicate(value);
    }),
    { numRuns },
  );
  runs.set(name, (runs.get(name) ?? 0) + count);
}

function decode(kind: ContractKind, value: Buffer | string): ContractDecoded {
  return decodeMessage({
    kind,
    topic: `t.${kind}`,
    partition: 0,
    offset: "0",
    key: null,
    value: typeof value === "string" ? Buffer.from(value) : value,
    source: "kafka",
  });
}

/** Every outcome is well formed: accepted, or a bounded reason with a precise, bounded detail. */
function wellFormed(result: ContractDecoded): void {
  if (result.ok) return;
  expect(REASONS.has(result.reason), result.reason).toBe(true);
  expect(result.detail.length).toBeGreaterThan(5);
  expect(result.detail.length).toBeLessThanOrEqual(MAX_DETAIL_CHARS + 1);
  // It goes to a text column and a Kafka header.
  expect(/[\u0000-\u001f\u007f]/.test(result.detail), result.detail).toBe(false);
}

function rejectedFor(result: ContractDecoded, field: string, reason = "schema"): void {
  wellFormed(result);
  expect(result.ok, `expected a rejection naming ${field}`).toBe(false);
  if (result.ok) return;
  expect(result.reason).toBe(reason);
  const segments = result.detail.split("; ");
  expect(
    segments.some((segment) => segment.startsWith(`${field}:`) || segment.startsWith(`${field}.`)),
    `detail "${result.detail}" should name ${field}`,
  ).toBe(true);
}

// ---------------------------------------------------------------- valid messages

const ident = fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/);
const gatewayName = fc.constantFrom("stripe", "adyen", "checkout.com", "psp_1");
const currencyCode = fc.constantFrom("EUR", "USD", "JPY", "KWD", "GBP", "CHF", "CLF");
const amount = fc.integer({ min: 1, max: MAX_AMOUNT_MINOR });
const smallAmount = fc.integer({ min: 1, max: 10_000_000 });
const instant = fc
  .integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1) })
  .map((ms) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z"));
const day = instant.map((time) => time.slice(0, 10));
const metadata = fc.option(fc.dictionary(fc.stringMatching(/^m_[a-z]{1,8}$/), fc.jsonValue({ maxDepth: 3 })), {
  nil: undefined,
});

const expectedMessage = fc
  .record({
    id: ident,
    direction: fc.constantFrom("collection", "payout"),
    parts: fc.array(smallAmount, { minLength: 1, maxLength: 4 }),
    withInstallments: fc.boolean(),
    currency: currencyCode,
    gateway: gatewayName,
    reference: ident,
    counterparty: fc.option(ident, { nil: null }),
    created_at: instant,
    metadata,
  })
  .map(({ parts, withInstallments, metadata: meta, ...rest }) => ({
    ...rest,
    amount_minor: parts.reduce((sum, part) => sum + part, 0),
    due_at: "2030-06-01T12:00:00Z",
    ...(withInstallments
      ? { installments: parts.map((part) => ({ amount_minor: part, due_at: "2030-06-01T12:00:00Z" })) }
      : {}),
    ...(meta ? { metadata: meta } : {}),
  }));

const paymentEvent = fc.record({
  event_id: ident,
  gateway: gatewayName,
  type: fc.constantFrom("payment.captured", "payment.failed", "payout.paid", "payout.failed", "payout.held"),
  reference: ident,
  gateway_payment_id: fc.option(ident, { nil: null }),
  amount_minor: fc.integer({ min: 0, max: MAX_AMOUNT_MINOR }),
  currency: currencyCode,
  occurred_at: instant,
  failure_code: fc.option(fc.constantFrom("account_closed", "AC04", "R01"), { nil: null }),
});

const settlementBatch = fc
  .record({
    event_id: ident,
    gateway: gatewayName,
    batch_id: ident,
    gross: fc.integer({ min: 0, max: MAX_AMOUNT_MINOR }),
    feeShare: fc.double({ min: 0, max: 1, noNaN: true }),
    currency: currencyCode,
    occurred_at: instant,
    expected_arrival: day,
    references: fc.uniqueArray(ident, { minLength: 1, maxLength: 30 }),
  })
  .map(({ gross, feeShare, ...rest }) => {
    const fee = Math.floor(gross * feeShare);
    return { ...rest, type: "settlement.batch", gross_minor: gross, fee_minor: fee, amount_minor: gross - fee };
  });

const bankMessage = fc.record({
  entry_id: ident,
  bank: fc.constantFrom("bank_a", "bank_b"),
  account: fc.constantFrom("DE89370400440532013000", "GB29NWBK60161331926819"),
  direction: fc.constantFrom("credit", "debit"),
  amount_minor: amount,
  currency: currencyCode,
  booking_date: day,
  value_date: day,
  status: fc.constantFrom("booked", "pending"),
  end_to_end_id: fc.option(ident, { nil: null }),
  remittance_info: fc.option(fc.string({ maxLength: 140 }), { nil: null }),
  counterparty_name: fc.option(fc.string({ maxLength: 70 }), { nil: null }),
});

const validByKind: Record<ContractKind, fc.Arbitrary<Record<string, unknown>>> = {
  expected: expectedMessage,
  gateway: fc.oneof(paymentEvent, settlementBatch) as fc.Arbitrary<Record<string, unknown>>,
  bank: bankMessage,
};
const anyValid = fc.oneof(
  ...KINDS.map((kind) => validByKind[kind].map((message) => ({ kind, message }))),
) as fc.Arbitrary<{ kind: ContractKind; message: Record<string, unknown> }>;

/** The message's JSON with one member's value replaced by raw JSON text (which may be no JSON value at all). */
function withRaw(message: Record<string, unknown>, field: string, rawValue: string): string {
  const marker = "\u0000RAW\u0000";
  return JSON.stringify({ ...message, [field]: marker }).replace(JSON.stringify(marker), () => rawValue);
}

// ---------------------------------------------------------------- hostile values

const b = (n: bigint) => n.toString();
/** Amount literals no schema may accept, whatever the field. */
const badAmountLiteral = fc.oneof(
  fc.constantFrom("1e3", "1E3", "1.0e2", "100.0", "-0", "0.5", "12.34", "9007199254740993", b(2n ** 63n), b(2n ** 64n)),
  fc.constantFrom('"100"', '"1e3"', "null", "true", "[]", "{}", '""', '"0x10"'),
  fc
    .double({ noNaN: true, noDefaultInfinity: true })
    .filter((x) => !Number.isInteger(x))
    .map(String),
  fc.bigInt({ min: 2n ** 53n, max: 2n ** 70n }).map(b),
  fc.integer({ min: 1, max: 10 ** 6 }).map((n) => `${n}e0`),
  fc.integer({ min: 0, max: 10 ** 6 }).map((n) => `"${n}"`),
);
const notJsonNumber = fc.constantFrom("NaN", "Infinity", "-Infinity", "+1", "0x10", ".5", "1.", "01", "1_000", "--1");
const negativeAmount = fc.integer({ min: -(2 ** 53) + 1, max: -1 }).map(String);

const badCurrency = fc.oneof(
  fc.constantFrom("eur", "Eur", "usd", "EURO", "EU", "", " EUR", "EUR ", "XYZ", "BTC", "USDT", "€", "E\u0000R"),
  fc.stringMatching(/^[A-Z]{3}$/).filter((code) => !isCurrency(code)),
  fc.constantFrom("EUR", "USD", "JPY").map((code) => code.toLowerCase()),
);

const pad = (n: number, width = 2) => String(n).padStart(width, "0");
/** Times that are not RFC 3339 with offset, or name an instant that does not exist. */
const badTimestamp = fc.oneof(
  fc.constantFrom(
    "2026-02-30T10:00:00Z",
    "2026-02-29T10:00:00Z",
    "2026-04-31T10:00:00Z",
    "2026-13-01T10:00:00Z",
    "2026-00-10T10:00:00Z",
    "2026-11-00T10:00:00Z",
    "2026-11-20T24:00:00Z",
    "2026-11-20T23:60:00Z",
    "2026-11-20T23:59:60Z",
    "2026-11-20T10:00:00",
    "2026-11-20T10:00Z",
    "2026-11-20",
    "2026-11-20T10:00:00+24:00",
    "2026-11-20T10:00:00+0100",
    "20261120T100000Z",
    "1732096800",
    "",
    "now",
  ),
  fc
    .record({ h: fc.integer({ min: 24, max: 99 }), m: fc.integer({ min: 0, max: 99 }) })
    .map(({ h, m }) => `2026-11-20T${pad(h)}:${pad(m)}:00Z`),
  fc
    .record({ m: fc.integer({ min: 60, max: 99 }), s: fc.integer({ min: 0, max: 99 }) })
    .map(({ m, s }) => `2026-11-20T10:${pad(m)}:${pad(s)}Z`),
  instant.map((time) => time.replace("Z", "")),
  fc
    .integer({ min: 2001, max: 2099 })
    .filter((y) => y % 4 !== 0)
    .map((y) => `${y}-02-29T00:00:00Z`),
);
const badDate = fc.oneof(
  fc.constantFrom("2026-02-30", "2026-02-31", "2025-02-29", "2026-04-31", "2026-13-01", "2026-00-01", "2026-1-1"),
  fc.constantFrom("22/11/2026", "2026-11-22T00:00:00Z", "2026-11-22 ", "", "20261122", "2026/11/22"),
  fc.integer({ min: 32, max: 99 }).map((d) => `2026-01-${d}`),
);
const badIdentifier = fc.oneof(
  fc.constant(""),
  fc.integer({ min: 201, max: 5_000 }).map((n) => "x".repeat(n)),
  fc.integer({ min: 0, max: 31 }).map((c) => `ref${String.fromCharCode(c)}x`),
  fc.constant("ref\u007fx"),
);
const wrongType = fc.constantFrom("1", "true", "[]", "{}", "null");

/** Per kind: which fields may be mutated, and the hostile values each must refuse. */
type Mutation = { kind: ContractKind; field: string; raw: string; base?: Record<string, unknown> };
const q = (text: string) => JSON.stringify(text);

const mutations: fc.Arbitrary<Mutation> = fc.oneof(
  // amounts
  fc.record({
    kind: fc.constant<ContractKind>("expected"),
    field: fc.constant("amount_minor"),
    raw: fc.oneof(badAmountLiteral, negativeAmount, fc.constant("0")),
  }),
  fc.record({
    kind: fc.constant<ContractKind>("bank"),
    field: fc.constant("amount_minor"),
    raw: fc.oneof(badAmountLiteral, negativeAmount, fc.constant("0")),
  }),
  fc.record({
    kind: fc.constant<ContractKind>("gateway"),
    field: fc.constant("amount_minor"),
    raw: fc.oneof(badAmountLiteral, negativeAmount),
  }),
  // currencies
  fc.record({
    kind: fc.constantFrom<ContractKind>("expected", "gateway", "bank"),
    field: fc.constant("currency"),
    raw: fc.oneof(badCurrency.map(q), wrongType),
  }),
  // times and dates
  fc.record({
    kind: fc.constant<ContractKind>("expected"),
    field: fc.constantFrom("created_at", "due_at"),
    raw: fc.oneof(badTimestamp.map(q), wrongType),
  }),
  fc.record({
    kind: fc.constant<ContractKind>("gateway"),
    field: fc.constant("occurred_at"),
    raw: fc.oneof(badTimestamp.map(q), wrongType),
  }),
  fc.record({
    kind: fc.constant<ContractKind>("bank"),
    field: fc.constantFrom("booking_date", "value_date"),
    raw: fc.oneof(badDate.map(q), wrongType),
  }),
  // identifiers and enums
  fc.record({
    kind: fc.constant<ContractKind>("expected"),
    field: fc.constantFrom("id", "reference"),
    raw: fc.oneof(badIdentifier.map(q), wrongType),
  }),
  fc.record({
    kind: fc.constant<ContractKind>("gateway"),
    field: fc.constantFrom("event_id", "reference"),
    raw: fc.oneof(badIdentifier.map(q), wrongType),
  }),
  fc.record({
    kind: fc.constant<ContractKind>("bank"),
    field: fc.constantFrom("entry_id"),
    raw: fc.oneof(badIdentifier.map(q), wrongType),
  }),
  fc.record({
    kind: fc.constant<ContractKind>("expected"),
    field: fc.constant("direction"),
    raw: fc.constantFrom('"Collection"', '"PAYOUT"', '"refund"', '""', "1", "null"),
  }),
  fc.record({
    kind: fc.constant<ContractKind>("bank"),
    field: fc.constantFrom("direction", "status"),
    raw: fc.constantFrom('"Credit"', '"BOOKED"', '"reversed"', '""', "[]"),
  }),
  fc.record({
    kind: fc.constant<ContractKind>("gateway"),
    field: fc.constant("type"),
    raw: fc.constantFrom('"payment.teleported"', '"PAYMENT.CAPTURED"', '"settlement"', '""', "null", "7"),
  }),
  fc
    .record({
      kind: fc.constantFrom<ContractKind>("expected", "gateway", "bank"),
      raw: fc.constantFrom('"str ipe"', '"../etc"', '""', `"${"g".repeat(65)}"`, '"stripe\\u0000"', "1"),
    })
    .map(({ kind, raw }) => ({ kind, raw, field: kind === "bank" ? "bank" : "gateway" })),
  // huge strings (up to just under the 1 MB message limit) in bounded text fields
  fc.record({
    kind: fc.constant<ContractKind>("bank"),
    field: fc.constantFrom("remittance_info", "counterparty_name", "account"),
    raw: fc.integer({ min: 2_001, max: 495_000 }).map((n) => q("é".repeat(n))), // 2 bytes each
  }),
  fc.record({
    kind: fc.constant<ContractKind>("gateway"),
    field: fc.constant("failure_message"),
    raw: fc.integer({ min: 2_001, max: 990_000 }).map((n) => q("m".repeat(n))),
  }),
);

const baseFor = (kind: ContractKind, field: string): fc.Arbitrary<Record<string, unknown>> => {
  if (kind === "gateway") return paymentEvent as fc.Arbitrary<Record<string, unknown>>;
  if (kind === "expected" && field === "amount_minor")
    return expectedMessage.map(({ installments: _, ...rest }) => rest);
  return validByKind[kind];
};
const mutated = mutations.chain((mutation) =>
  baseFor(mutation.kind, mutation.field).map((base) => ({ ...mutation, base })),
);

/** Whether an amount member of the text is a number literal other than a plain integer. */
function floatAmountIn(text: string): boolean {
  for (const match of text.matchAll(/"(?:amount_minor|gross_minor|fee_minor)":(-?[0-9][0-9.eE+-]*)/g)) {
    if (!/^-?\d+$/.test(match[1]!) || match[1] === "-0") return true;
  }
  return false;
}

// ---------------------------------------------------------------- properties

describe("decodeMessage under hostile input (fast-check)", () => {
  it("accepts every valid message of the three schemas, and re-serialized it is the same fact", () => {
    property("valid messages accepted, hash independent of key order", anyValid, ({ kind, message }) => {
      const first = decode(kind, JSON.stringify(message));
      expect(first.ok, first.ok ? "" : `${first.reason}: ${first.detail}`).toBe(true);
      const reversed = decode(kind, JSON.stringify(Object.fromEntries(Object.entries(message).reverse())));
      expect(reversed.ok && first.ok && reversed.hash.equals(first.hash)).toBe(true);
    });
  });

  it("never throws on random bytes, and rejects them with a bounded reason", () => {
    property(
      "random bytes",
      fc.record({ kind: fc.constantFrom(...KINDS), bytes: fc.uint8Array({ maxLength: 4_096 }) }),
      ({ kind, bytes }) => {
        const result = decode(kind, Buffer.from(bytes));
        wellFormed(result);
        if (bytes.length === 0) expect(result).toMatchObject({ ok: false, reason: "empty" });
      },
    );
  });

  it("never throws on arbitrary JSON values, and accepts only objects", () => {
    property(
      "arbitrary JSON values",
      fc.record({ kind: fc.constantFrom(...KINDS), value: fc.jsonValue({ maxDepth: 6 }) }),
      ({ kind, value }) => {
        const result = decode(kind, JSON.stringify(value));
        wellFormed(result);
        if (typeof value !== "object" || value === null || Array.isArray(value)) {
          expect(result).toMatchObject({ ok: false, reason: "not_an_object" });
        }
      },
    );
  });

  it("rejects invalid UTF-8 anywhere in an otherwise valid message as invalid_utf8", () => {
    const badSequence = fc.constantFrom(
      [0xff],
      [0xfe],
      [0xc0, 0x80], // overlong NUL
      [0xe0, 0x80, 0x80], // overlong
      [0xed, 0xa0, 0x80], // a UTF-16 surrogate encoded as UTF-8
      [0xf4, 0x90, 0x80, 0x80], // beyond U+10FFFF
      [0xc3], // truncated two-byte sequence
      [0x80], // lone continuation byte
    );
    property(
      "invalid UTF-8",
      fc.record({ valid: anyValid, bad: badSequence, at: fc.double({ min: 0, max: 1, noNaN: true }) }),
      ({ valid, bad, at }) => {
        const bytes = Buffer.from(JSON.stringify(valid.message));
        // Inside a string value, so that only the encoding is wrong.
        const quotes = [...bytes.entries()].filter(([, byte]) => byte === 0x22).map(([index]) => index);
        const position = quotes[Math.floor(at * (quotes.length - 1))]! + 1;
        const result = decode(
          valid.kind,
          Buffer.concat([bytes.subarray(0, position), Buffer.from(bad), bytes.subarray(position)]),
        );
        expect(result).toMatchObject({ ok: false, reason: "invalid_utf8", detail: "message is not valid UTF-8" });
      },
    );
  });

  it("rejects NaN, Infinity and other non-JSON number forms as invalid_json", () => {
    property("non-JSON numbers", fc.record({ valid: anyValid, raw: notJsonNumber }), ({ valid, raw }) => {
      const result = decode(valid.kind, withRaw(valid.message, "amount_minor", raw));
      expect(result).toMatchObject({ ok: false, reason: "invalid_json" });
      wellFormed(result);
    });
  });

  it("rejects each hostile field value with reason schema and a detail naming the field", () => {
    property("one hostile field", mutated, ({ kind, field, raw, base }) => {
      const text = withRaw(base!, field, raw);
      const result = decode(kind, text);
      if (Buffer.byteLength(text) > MAX_MESSAGE_BYTES) {
        expect(result).toMatchObject({ ok: false, reason: "too_large" });
        return;
      }
      rejectedFor(result, field);
    });
  });

  it("rejects settlement batches whose net is not gross − fee, naming amount_minor", () => {
    property(
      "batch gross − fee ≠ net",
      fc.record({
        batch: settlementBatch,
        delta: fc.integer({ min: -1_000_000, max: 1_000_000 }).filter((d) => d !== 0),
      }),
      ({ batch, delta }) => {
        const net = (batch.amount_minor as number) + delta;
        const result = decode("gateway", JSON.stringify({ ...batch, amount_minor: net }));
        rejectedFor(result, "amount_minor");
        if (net >= 0 && net <= MAX_AMOUNT_MINOR && !result.ok)
          expect(result.detail).toMatch(/is not gross \d+ − fee \d+/);
      },
    );
  });

  it("rejects batches listing more than 10,000 references, or one twice, naming references", () => {
    property(
      "oversized / duplicated references",
      fc.record({
        batch: settlementBatch,
        extra: fc.integer({ min: 1, max: 5_000 }),
        duplicate: fc.boolean(),
      }),
      ({ batch, extra, duplicate }) => {
        const references = duplicate
          ? [...(batch.references as string[]), (batch.references as string[])[0]!]
          : Array.from({ length: 10_000 + extra }, (_, i) => `REF-${i}`);
        rejectedFor(decode("gateway", JSON.stringify({ ...batch, references })), "references");
      },
      200,
    );
    // The limit itself is accepted.
    const batch = fc.sample(settlementBatch, 1)[0]!;
    const atLimit = decode(
      "gateway",
      JSON.stringify({ ...batch, references: Array.from({ length: 10_000 }, (_, i) => `R${i}`) }),
    );
    expect(atLimit.ok).toBe(true);
  });

  it("rejects huge arrays of installments, naming installments", () => {
    property(
      "oversized installments",
      fc.record({ base: expectedMessage, n: fc.integer({ min: 1_001, max: 15_000 }) }),
      ({ base, n }) => {
        const installments = Array.from({ length: n }, () => ({ amount_minor: 1, due_at: "2030-06-01T12:00:00Z" }));
        rejectedFor(decode("expected", JSON.stringify({ ...base, amount_minor: n, installments })), "installments");
      },
      200,
    );
  });

  it("bounds nesting depth: deep arrays or objects anywhere are rejected, never a stack overflow", () => {
    property(
      "deep nesting",
      fc.record({
        valid: anyValid,
        depth: fc.oneof(fc.integer({ min: MAX_NESTING + 1, max: 5_000 }), fc.constantFrom(100_000, 499_000)),
        objects: fc.boolean(),
        where: fc.constantFrom("metadata", "top"),
      }),
      ({ valid, depth, objects, where }) => {
        const [open, close] = objects ? ['{"a":', "}"] : ["[", "]"];
        const deep = `${open.repeat(depth)}1${close.repeat(depth)}`;
        const text =
          where === "metadata"
            ? withRaw(valid.message, "metadata", `{"nested":${deep}}`)
            : withRaw(valid.message, "zz_unknown", deep);
        const result = decode(valid.kind, text);
        if (Buffer.byteLength(text) > MAX_MESSAGE_BYTES) {
          expect(result).toMatchObject({ ok: false, reason: "too_large" });
          return;
        }
        rejectedFor(result, where === "metadata" ? "metadata" : "zz_unknown");
        if (!result.ok) expect(result.detail).toContain(`nested deeper than ${MAX_NESTING} levels`);
      },
    );
    // Brackets inside strings are text, not nesting.
    const valid = fc.sample(bankMessage, 1)[0]!;
    expect(decode("bank", JSON.stringify({ ...valid, remittance_info: "[".repeat(1_900) })).ok).toBe(true);
    // Exactly the limit is fine.
    const atLimit = `${'{"a":'.repeat(MAX_NESTING - 2)}1${"}".repeat(MAX_NESTING - 2)}`;
    expect(decode("bank", withRaw(valid, "metadata", `{"x":${atLimit}}`)).ok).toBe(true);
  });

  it("does not pollute prototypes: __proto__, constructor and prototype keys anywhere", () => {
    const hostileKey = fc.constantFrom("__proto__", "constructor", "prototype");
    property(
      "prototype keys",
      fc.record({
        valid: anyValid,
        key: hostileKey,
        inner: hostileKey,
        where: fc.constantFrom("top", "metadata", "nested"),
      }),
      ({ valid, key, inner, where }) => {
        const payload = `{"polluted":1,"${inner}":{"polluted":2},"toString":"x"}`;
        const member = `"${key}":${payload}`;
        const json = JSON.stringify(valid.message);
        const text =
          where === "top"
            ? json.replace("{", `{${member},`)
            : where === "metadata"
              ? withRaw(valid.message, "metadata", `{${member},"ok":1}`)
              : withRaw(valid.message, "metadata", `{"a":{"b":[{${member}}]}}`);
        const result = decode(valid.kind, text);
        expect(result.ok, result.ok ? "" : result.detail).toBe(true);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        expect(Object.hasOwn(Object.prototype, "polluted")).toBe(false);
        expect(typeof {}.toString).toBe("function");
        if (result.ok) {
          const message = result.message as Record<string, unknown>;
          expect(message.polluted).toBeUndefined();
          expect(Object.getPrototypeOf(message)).toBe(Object.prototype);
          const meta = message.metadata as Record<string, unknown> | undefined;
          if (meta) {
            expect(meta.polluted).toBeUndefined();
            expect([Object.prototype, null]).toContain(Object.getPrototypeOf(meta));
          }
        }
      },
    );
  });

  it("with duplicate keys, the last one wins — but an amount written as a float anywhere is refused", () => {
    const field = fc.constantFrom("currency", "amount_minor");
    property(
      "duplicate keys",
      fc.record({ valid: anyValid, field, firstRaw: fc.oneof(badAmountLiteral, badCurrency.map(q)) }),
      ({ valid, field, firstRaw }) => {
        if (!(field in valid.message)) return;
        const json = JSON.stringify(valid.message);
        const text = json.replace("{", `{"${field}":${firstRaw},`);
        const result = decode(valid.kind, text);
        if (!floatAmountIn(text)) {
          // JSON.parse keeps the last occurrence: the valid value.
          const clean = decode(valid.kind, json);
          expect(result.ok && clean.ok && result.hash.equals(clean.hash)).toBe(true);
        } else {
          rejectedFor(result, "amount_minor");
        }
      },
    );
  });

  it("reads escaped member names: amount\\u005fminor written as a float is refused too", () => {
    property(
      "escaped amount key",
      fc.record({ valid: bankMessage, raw: badAmountLiteral.filter((raw) => /^-?\d[\d.eE+-]*$/.test(raw)) }),
      ({ valid, raw }) => {
        const text = withRaw(valid, "amount_minor", raw).replace('"amount_minor"', '"amount\\u005fminor"');
        rejectedFor(decode("bank", text), "amount_minor");
      },
    );
  });

  it("rejects NUL and lone surrogates (which PostgreSQL cannot store) in any string, naming where", () => {
    property(
      "NUL / lone surrogate anywhere",
      fc.record({
        valid: anyValid,
        esc: fc.constantFrom("\\u0000", "\\ud800", "\\uDFFF", "\\udbff\\u0041"),
        where: fc.constantFrom("value", "metadata", "key"),
        prefix: fc.string({ maxLength: 20 }),
      }),
      ({ valid, esc, where, prefix }) => {
        const safe = JSON.stringify(prefix).slice(1, -1);
        const stringFields = Object.entries(valid.message).filter(([, value]) => typeof value === "string");
        const [field] = stringFields[prefix.length % stringFields.length]!;
        const text =
          where === "value"
            ? withRaw(valid.message, field, `"${safe}${esc}"`)
            : where === "metadata"
              ? withRaw(valid.message, "metadata", `{"m":["ok","${safe}${esc}"]}`)
              : withRaw(valid.message, "metadata", `{"${safe}${esc}":1}`);
        rejectedFor(decode(valid.kind, text), where === "value" ? field : "metadata");
      },
    );
  });

  it("rejects messages over the size limit as too_large without parsing them", () => {
    property(
      "too large",
      fc.record({ kind: fc.constantFrom(...KINDS), extra: fc.integer({ min: 1, max: 3_000_000 }) }),
      ({ kind, extra }) => {
        const result = decode(kind, Buffer.alloc(MAX_MESSAGE_BYTES + extra, 0x20));
        expect(result).toMatchObject({ ok: false, reason: "too_large" });
        if (!result.ok) expect(result.detail).toContain(`over ${MAX_MESSAGE_BYTES}`);
      },
      50,
    );
  });

  it("keeps every detail bounded, even for a 900 kB metadata key", () => {
    property(
      "bounded detail",
      fc.record({ valid: anyValid, n: fc.integer({ min: 201, max: 900_000 }) }),
      ({ valid, n }) => {
        const result = decode(valid.kind, withRaw(valid.message, "metadata", `{"${"k".repeat(n)}":1}`));
        rejectedFor(result, "metadata");
      },
      100,
    );
  });
});
