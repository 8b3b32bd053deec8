import { describe, expect, it } from "vitest";
import { ruleOf } from "../../../src/reconcile/explain.js";
import {
  collection,
  defaultPolicy,
  matchOf,
  openKeys,
  outcomeOf,
  paymentExceptionKey,
  payout,
  scenario,
} from "./builders.js";

/**
 * CONTRACT §7, explained matches: the sentence matchEntry writes with every match says what the rule saw,
 * amounts in major units with the currency's decimals. One per rule, word for word.
 */

const DUE = "2026-11-24T17:00Z";
const NOW = "2026-11-25T00:00Z";

function explanationOf(match: ReturnType<typeof matchOf>): string {
  if (match?.kind !== "payment" && match?.kind !== "batch") throw new Error(`not matched: ${JSON.stringify(match)}`);
  return match.explanation;
}

describe("explanation of each rule", () => {
  it("end_to_end_id", () => {
    const result = scenario()
      .expect(collection({ reference: "ORD-1001", amount: 12_000, due: DUE }))
      .credit({ amount: 12_000, on: "2026-11-22", e2e: "ord-1001", entryId: "E1" })
      .reconcile(NOW);
    const match = matchOf(result, "E1");
    expect(match).toMatchObject({ kind: "payment", method: "end_to_end_id" });
    expect(ruleOf("payment", "end_to_end_id")).toBe("end_to_end_id");
    expect(explanationOf(match)).toBe(
      "end-to-end id ord-1001 equals the reference of payment exp_ORD-1001 (reference ORD-1001, 120.00 EUR); " +
        "credit 120.00 EUR on 2026-11-22, the only payment or batch it names",
    );
  });

  it("reference_token", () => {
    const result = scenario()
      .expect(payout({ reference: "WD-77", amount: 5_005, due: DUE }))
      .debit({ amount: 5_005, on: "2026-11-23", remittance: "SVWZ+Payout WD-77 thanks", entryId: "E1" })
      .reconcile(NOW);
    const match = matchOf(result, "E1");
    expect(match).toMatchObject({ kind: "payment", method: "remittance" });
    expect(ruleOf("payment", "remittance")).toBe("reference_token");
    expect(explanationOf(match)).toBe(
      "remittance text names reference WD-77 of payment exp_WD-77 (reference WD-77, 50.05 EUR); " +
        "debit 50.05 EUR on 2026-11-23, the only payment or batch it names",
    );
  });

  it("batch (named in the remittance, and found by amount)", () => {
    const batched = () =>
      scenario()
        .expect(collection({ reference: "ORD-1", amount: 125_000, due: DUE }))
        .batch({
          batchId: "po_881",
          references: ["ORD-1"],
          gross: 125_000,
          fee: 3_650,
          at: "2026-11-21T06:00Z",
          arrival: "2026-11-22",
        });
    const named = matchOf(
      batched()
        .credit({ amount: 121_350, on: "2026-11-22", remittance: "STRIPE PAYOUT po_881", entryId: "B1" })
        .reconcile(NOW),
      "B1",
    );
    expect(named).toMatchObject({ kind: "batch", method: "remittance" });
    expect(ruleOf("batch", "remittance")).toBe("batch");
    expect(explanationOf(named)).toBe(
      "remittance text names settlement batch po_881 of stripe (net 1213.50 EUR); " +
        "credit 1213.50 EUR on 2026-11-22, the only payment or batch it names",
    );
    const byAmount = matchOf(
      batched().credit({ amount: 121_350, on: "2026-11-23", entryId: "B1" }).reconcile(NOW),
      "B1",
    );
    expect(byAmount).toMatchObject({ kind: "batch", method: "amount" });
    expect(explanationOf(byAmount)).toBe(
      "amount 1213.50 EUR, value date 2026-11-23 within 3d of expected arrival 2026-11-22 of " +
        "settlement batch po_881 of stripe (net 1213.50 EUR), the only open candidate of 1",
    );
  });

  it("amount_date, with the candidates it weighed (a cancelled one weighed, not open)", () => {
    const result = scenario()
      .expect(collection({ reference: "ORD-5", amount: 12_000, due: "2026-12-02T12:00Z" }))
      .expect(collection({ reference: "ORD-6", amount: 12_000, due: "2026-12-03T12:00Z" }))
      .cancel("exp_ORD-6", { receivedAt: "2026-11-30T00:00Z" })
      .credit({ amount: 12_000, on: "2026-12-01", entryId: "E1" })
      .reconcile("2026-12-02T00:00Z");
    const match = matchOf(result, "E1");
    expect(match).toMatchObject({ kind: "payment", paymentId: "exp_ORD-5", method: "amount" });
    expect(ruleOf("payment", "amount")).toBe("amount_date");
    expect(explanationOf(match)).toBe(
      "amount 120.00 EUR, value date 2026-12-01 within 3d of due date 2026-12-02 of payment exp_ORD-5 " +
        "(reference ORD-5, 120.00 EUR), the only open candidate of 2",
    );
  });

  it("amounts in the currency's decimals (JPY none)", () => {
    const result = scenario()
      .expect(collection({ reference: "ORD-9", amount: 1_200, due: DUE, currency: "JPY" }))
      .credit({ amount: 1_200, on: "2026-11-24", currency: "JPY", entryId: "E1" })
      .reconcile(NOW);
    expect(explanationOf(matchOf(result, "E1"))).toContain("amount 1200 JPY,");
  });

  it("ambiguity explains every candidate, in the order of the candidates", () => {
    const result = scenario()
      .expect(collection({ reference: "ORD-7", amount: 7_777, due: DUE }))
      .expect(collection({ reference: "ORD-8", amount: 7_777, due: DUE }))
      .credit({ amount: 7_777, on: "2026-11-24", entryId: "E1" })
      .reconcile(NOW);
    const match = matchOf(result, "E1");
    if (match?.kind !== "ambiguous") throw new Error("not ambiguous");
    expect(match.candidates).toEqual(["payment:exp_ORD-7", "payment:exp_ORD-8"]);
    expect(match.explanations).toEqual([
      "amount 77.77 EUR, value date 2026-11-24 within 3d of due date 2026-11-24 of payment exp_ORD-7 (reference ORD-7, 77.77 EUR), one of 2 open candidates of 2",
      "amount 77.77 EUR, value date 2026-11-24 within 3d of due date 2026-11-24 of payment exp_ORD-8 (reference ORD-8, 77.77 EUR), one of 2 open candidates of 2",
    ]);
  });
});

describe("tentative matches (CONTRACT §7)", () => {
  const pendingThenBooked = (booked: boolean) => {
    const s = scenario()
      .expect(collection({ reference: "ORD-T", amount: 12_000, due: "2026-12-04T12:00Z" }))
      .credit({ amount: 12_000, on: "2026-12-01", status: "pending", entryId: "P1", receivedAt: "2026-12-01T08:00Z" });
    return booked ? s.credit({ amount: 12_000, on: "2026-12-02", entryId: "B1", receivedAt: "2026-12-02T08:00Z" }) : s;
  };

  it("a pending line matches by amount like a booked one: in flight, not settled", () => {
    const result = pendingThenBooked(false).reconcile("2026-12-02T00:00Z");
    expect(matchOf(result, "P1")).toMatchObject({ kind: "payment", paymentId: "exp_ORD-T", method: "amount" });
    const outcome = outcomeOf(result, "exp_ORD-T");
    expect(outcome).toMatchObject({ status: "in_flight", reason: "pending at the bank", exception: null });
    // Its deadline is the end of PENDING_GRACE (3d after the line arrived).
    expect(outcome.nextDeadline).toBe(Date.parse("2026-12-04T08:00Z"));
  });

  it("confirmed by the booked line: settled, nothing open", () => {
    const result = pendingThenBooked(true).reconcile("2026-12-04T10:00Z");
    expect(outcomeOf(result, "exp_ORD-T").status).toBe("settled");
    expect(openKeys(result)).toEqual([]);
  });

  it("not confirmed within PENDING_GRACE: an unconfirmed exception (and the grace is configurable)", () => {
    const result = pendingThenBooked(false).reconcile("2026-12-04T08:00Z");
    expect(outcomeOf(result, "exp_ORD-T")).toMatchObject({ status: "in_flight", exception: { kind: "unconfirmed" } });
    expect(openKeys(result)).toEqual([paymentExceptionKey("unconfirmed", "exp_ORD-T")]);
    const longer = pendingThenBooked(false).reconcile(
      "2026-12-04T08:00Z",
      defaultPolicy({ pendingGraceMs: 5 * 86_400_000 }),
    );
    expect(openKeys(longer)).toEqual([]);
  });
});
