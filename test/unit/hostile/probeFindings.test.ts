import type pg from "pg";
import { describe, expect, it } from "vitest";
import { mapAdyenNotification } from "../../../src/adapters/adyen.js";
import type { AdyenNotificationItem } from "../../../src/adapters/adyenNotification.js";
import { verifyAdyenHmac } from "../../../src/adapters/adyenSignature.js";
import { createLogger } from "../../../src/logger.js";
import { bankEntrySchema, expectedPaymentSchema, gatewayEventSchema } from "../../../src/messages/schemas.js";
import { GaugeRefresher } from "../../../src/metrics/gaugeRefresher.js";
import { createMetrics } from "../../../src/metrics/registry.js";
import { referenceKey, remittanceTokens } from "../../../src/reconcile/references.js";
import { adyenBody, adyenItem, signAdyenItem } from "../../support/adyenSigning.js";

/**
 * Issue 14 (a hostile probe), the findings that pure code decides. Each test is named after its
 * finding; the HTTP and database side is in test/integration/hostileProbe.test.ts.
 */

const KEY = "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF";

const signed = (item: AdyenNotificationItem) => signAdyenItem(item, KEY);

const capture = adyenItem({ originalReference: "8616178952380331", eventCode: "CAPTURE" });

function onlyResult(item: AdyenNotificationItem) {
  const { items } = mapAdyenNotification(adyenBody(item));
  expect(items).toHaveLength(1);
  return items[0]!.result;
}

describe("issue 14 finding 3: only Adyen's signed fields decide money", () => {
  it("finding 3: a colon moved between signed fields (ACC + ORDER:123 re-split as ACC:ORDER + 123) does not verify", () => {
    const genuine = signed(capture);
    expect(verifyAdyenHmac(genuine, KEY)).toBe(true);
    const resplit = { ...genuine, merchantAccountCode: "ACC:ORDER", merchantReference: "123" };
    expect(verifyAdyenHmac(resplit, KEY)).toBe(false);
    // …nor a capture moved to another payment through originalReference.
    const moved = {
      ...signed({ ...capture, originalReference: "8616178952380331:ACC", merchantAccountCode: "X" }),
    };
    expect(
      verifyAdyenHmac({ ...moved, originalReference: "8616178952380331", merchantAccountCode: "ACC:X" }, KEY),
    ).toBe(false);
    expect(verifyAdyenHmac(moved, KEY)).toBe(false);
  });

  it("finding 3: a CANCEL_OR_REFUND whose unsigned additionalData says refund does not become a refund", () => {
    const item = signed({
      ...capture,
      eventCode: "CANCEL_OR_REFUND",
      additionalData: { modificationAction: "refund" },
    });
    expect(verifyAdyenHmac(item, KEY)).toBe(true);
    expect(onlyResult(item)).toMatchObject({ kind: "ignored", eventCode: "CANCEL_OR_REFUND" });
  });

  it("finding 3: a failure's unsigned reason is its message, never the code that decides category and retry advice", () => {
    const failed = (reason: string) =>
      onlyResult(signed({ ...capture, eventCode: "PAYOUT_THIRDPARTY", success: "false", reason }));
    const a = failed("notEnoughBalance");
    const b = failed("counterpartyAccountClosed");
    if (a.kind !== "event" || b.kind !== "event") throw new Error("expected events");
    expect(a.event).toMatchObject({ type: "payout.failed", failure_code: null, failure_message: "notEnoughBalance" });
    // The same signed item with another reason is the same money fact.
    const { failure_message: _a, metadata: _am, ...factsA } = a.event as Record<string, unknown>;
    const { failure_message: _b, metadata: _bm, ...factsB } = b.event as Record<string, unknown>;
    expect(factsA).toEqual(factsB);
  });
});

describe("issue 14 finding 2: sums stay exact at any amount the schema admits", () => {
  const event = {
    event_id: "evt_big",
    gateway: "stripe",
    type: "payment.captured",
    reference: "ORD-1",
    currency: "EUR",
    occurred_at: "2026-11-21T08:12:00Z",
  };
  it("finding 2: amount_minor 2^53 − 1 is refused by the schema; 2^40 − 1 is the largest admitted", () => {
    const big = gatewayEventSchema.safeParse({ ...event, amount_minor: Number.MAX_SAFE_INTEGER });
    expect(big.success).toBe(false);
    expect(big.error?.issues[0]?.message).toMatch(/at most 1099511627775/);
    expect(gatewayEventSchema.safeParse({ ...event, amount_minor: 2 ** 40 - 1 }).success).toBe(true);
    expect(gatewayEventSchema.safeParse({ ...event, amount_minor: 2 ** 40 }).success).toBe(false);
    // The documented guarantee: 8,192 of the largest amounts still sum exactly.
    expect(Number.isSafeInteger(8_192 * (2 ** 40 - 1))).toBe(true);
  });

  it("finding 2: a failing gauge refresh is counted (payrecon_state_refresh_errors_total) and logged at error level", async () => {
    const lines: Array<{ level: string; msg: string }> = [];
    const log = createLogger("trace", { write: (line: string) => lines.push(JSON.parse(line)) });
    const metrics = createMetrics({ version: "test", commit: "test" });
    const failing = {
      query: async () => {
        throw new RangeError("bigint 18014398509481982 exceeds the safe integer range");
      },
    } as unknown as pg.Pool;
    const gauges = new GaugeRefresher(failing, metrics, log, 60_000);
    gauges.refreshSoon();
    const deadline = Date.now() + 5_000;
    const errors = async () =>
      (await metrics.registry.getSingleMetricAsString("payrecon_state_refresh_errors_total")).match(/ (\d+)$/m)?.[1];
    while ((await errors()) !== "1" && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await errors()).toBe("1");
    expect(lines.some((line) => line.level === "error" && /gauge refresh failed/.test(line.msg))).toBe(true);
    await gauges.stop();
  });
});

describe("issue 14 finding 6: identifiers and references", () => {
  const payment = {
    id: "exp_1",
    direction: "collection",
    amount_minor: 1000,
    currency: "EUR",
    gateway: "stripe",
    reference: "ORD-1",
    created_at: "2026-11-20T10:00:00Z",
    due_at: "2026-11-30T17:00:00Z",
  };
  it("finding 6: identifiers with control, zero-width or bidi-override characters are refused at validation", () => {
    for (const hidden of ["\u200b", "\u200d", "\ufeff", "\u202e", "\u2066", "\u200f", "\u0085", "\u00ad"]) {
      const reference = expectedPaymentSchema.safeParse({ ...payment, reference: `ORD${hidden}-1` });
      expect(reference.success, JSON.stringify(hidden)).toBe(false);
      expect(reference.error?.issues[0]?.message).toMatch(/zero-width or bidirectional/);
      expect(expectedPaymentSchema.safeParse({ ...payment, id: `exp${hidden}1` }).success).toBe(false);
      const entry = bankEntrySchema.safeParse({
        entry_id: `E${hidden}1`,
        bank: "bank_a",
        account: "DE89370400440532013000",
        direction: "credit",
        amount_minor: 1,
        currency: "EUR",
        booking_date: "2026-11-22",
        value_date: "2026-11-22",
        status: "booked",
      });
      expect(entry.success).toBe(false);
    }
    // Printable non-ASCII stays allowed: a reference may be written in any script.
    expect(expectedPaymentSchema.safeParse({ ...payment, reference: "Straße-1" }).success).toBe(true);
  });

  it("finding 6: reference matching case-folds ASCII only, so straße never settles STRASSE", () => {
    expect(referenceKey("straße")).toBe("STRAßE");
    expect(referenceKey("straße")).not.toBe(referenceKey("STRASSE"));
    expect(referenceKey(" ord-1 ")).toBe(referenceKey("ORD-1"));
    expect(referenceKey("ﬁle-1")).not.toBe(referenceKey("FILE-1"));
    expect(remittanceTokens("PAYMENT STRASSE")).not.toContain(referenceKey("straße"));
  });
});
