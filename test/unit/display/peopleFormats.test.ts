import { describe, expect, it } from "vitest";
import { formatInstant, formatMoney, humanizeInstantText } from "../../../src/messages/display.js";
import { fundsAtRiskSamples } from "../../../src/metrics/gaugeRefresher.js";
import { batchExceptions } from "../../../src/reconcile/world.js";
import type { BatchFact } from "../../../src/reconcile/types.js";

describe("amounts for people: major units with the currency's decimals", () => {
  it("groups thousands and keeps the currency's exponent", () => {
    expect(formatMoney(925095, "EUR")).toBe("9,250.95 EUR");
    expect(formatMoney(100, "KWD")).toBe("0.100 KWD");
    expect(formatMoney(249930, "JPY")).toBe("249,930 JPY");
    expect(formatMoney(-100, "EUR")).toBe("-1.00 EUR");
    expect(formatMoney(123456789012, "USD")).toBe("1,234,567,890.12 USD");
  });

  it("a batch mismatch names both amounts and the difference in major units, never minor units", () => {
    const batch: BatchFact = {
      gateway: "stripe",
      batchId: "po_1",
      batchKey: "PO_1",
      eventId: "evt_1",
      grossMinor: 950000,
      feeMinor: 24805,
      netMinor: 925195,
      carriedForwardMinor: 0,
      currency: "EUR",
      expectedArrival: "2026-12-02",
      occurredAt: 0,
      referenceKeys: [],
      receivedAt: 0,
    };
    const [mismatch] = batchExceptions(batch, {
      state: "mismatch",
      differenceMinor: -100,
      entries: [],
      duplicates: [],
    });
    expect(mismatch?.detail).toBe(
      "bank shows 9,250.95 EUR, batch net 9,251.95 EUR (gross 9,500.00 EUR − fee 248.05 EUR): difference -1.00 EUR",
    );
    expect(mismatch?.amountMinor).toBe(100);
  });
});

describe("one date-time format for people", () => {
  it("is 'YYYY-MM-DD HH:MM:SS UTC' from a Date, epoch milliseconds or an ISO text", () => {
    expect(formatInstant(new Date("2026-12-02T16:42:21.298Z"))).toBe("2026-12-02 16:42:21 UTC");
    expect(formatInstant(Date.parse("2026-12-02T16:42:21Z"))).toBe("2026-12-02 16:42:21 UTC");
    expect(humanizeInstantText("2026-12-02T17:42:21.5+01:00")).toBe("2026-12-02 16:42:21 UTC");
    expect(humanizeInstantText("2026-12-02")).toBe("2026-12-02");
    expect(humanizeInstantText("po_123")).toBe("po_123");
    expect(formatInstant(null)).toBe("—");
  });
});

describe("payrecon_funds_at_risk samples", () => {
  it("add the gateways' amounts in minor units and divide once: no float noise", () => {
    // 0.1 + 0.2 in floats is 0.30000000000000004; 2990699 split over gateways gave 29906.989999999998.
    const samples = fundsAtRiskSamples([
      { status: "failed", direction: "payout", currency: "EUR", at_risk_minor: 10 },
      { status: "failed", direction: "payout", currency: "EUR", at_risk_minor: 20 },
      { status: "held", direction: "payout", currency: "EUR", at_risk_minor: 1495350 },
      { status: "held", direction: "payout", currency: "EUR", at_risk_minor: 1495349 },
      { status: "settled", direction: "payout", currency: "KWD", at_risk_minor: 0 },
    ]);
    const value = (status: string, currency: string) =>
      samples.find((s) => s.labels.status === status && s.labels.currency === currency)?.value;
    expect(value("failed", "EUR")).toBe(0.3);
    expect(String(value("held", "EUR"))).toBe("29906.99");
    expect(value("mismatch", "EUR")).toBe(0);
    // Every at-risk status exists (at zero) for a currency seen only in other statuses.
    expect(samples.filter((s) => s.labels.currency === "KWD").map((s) => s.value)).toEqual([0, 0, 0, 0]);
  });
});
