import { describe, expect, it } from "vitest";
import {
  at,
  batchExceptionKey,
  collection,
  type Direction,
  entryExceptionKey,
  eventExceptionKey,
  HOUR,
  matchOf,
  openKeys,
  outcomeOf,
  type PaymentSpec,
  payout,
  scenario,
  settling,
} from "./builders.js";

/**
 * CONTRACT §2, matching: end_to_end_id = reference; then a reference or a
 * batch id among the remittance tokens; then amount + currency + direction +
 * value date within MATCH_WINDOW when exactly one candidate fits; ambiguity is
 * an exception, never a guess. Settlement batches, duplicates, unmatched.
 */

interface Side {
  direction: Direction;
  make: (spec: PaymentSpec) => ReturnType<typeof collection>;
  prefix: string;
}
const SIDES: Side[] = [
  { direction: "collection", make: collection, prefix: "ORD" },
  { direction: "payout", make: payout, prefix: "WD" },
];

const AMOUNT = 125_000;
const DUE = "2026-11-24T17:00Z";
const NOW = "2026-11-25T00:00Z";

describe.each(SIDES)("settled via end_to_end_id ($direction)", (side) => {
  const ref = `${side.prefix}-1001`;
  const id = `exp_${ref}`;

  it.each([
    ["exact reference", ref],
    ["lower-cased reference", ref.toLowerCase()],
  ])("%s → settled, matched by end_to_end_id", (_, e2e) => {
    const result = scenario()
      .expect(side.make({ reference: ref, amount: AMOUNT, due: DUE }))
      .settlingEntry(side.direction, { amount: AMOUNT, on: "2026-11-22", e2e, entryId: "E1" })
      .reconcile(NOW);
    expect(matchOf(result, "E1")).toMatchObject({ kind: "payment", paymentId: id, method: "end_to_end_id" });
    const outcome = outcomeOf(result, id);
    expect(outcome.status).toBe("settled");
    expect(outcome.settledAmountMinor).toBe(AMOUNT);
    expect(outcome.settledOn).toBe("2026-11-22");
    expect(outcome.settledLate).toBe(false);
    expect(openKeys(result)).toEqual([]);
  });

  it("end_to_end_id wins over a different reference in the remittance text", () => {
    const other = `${side.prefix}-2002`;
    const result = scenario()
      .expect(side.make({ reference: ref, amount: AMOUNT, due: DUE }))
      .expect(side.make({ reference: other, amount: AMOUNT, due: DUE }))
      .settlingEntry(side.direction, { amount: AMOUNT, on: "2026-11-22", e2e: ref, remittance: other, entryId: "E1" })
      .reconcile(NOW);
    expect(matchOf(result, "E1")).toMatchObject({ kind: "payment", paymentId: id, method: "end_to_end_id" });
    expect(outcomeOf(result, id).status).toBe("settled");
    expect(outcomeOf(result, `exp_${other}`).status).toBe("delayed");
  });
});

describe.each(SIDES)("settled via a remittance token ($direction)", (side) => {
  const ref = `${side.prefix}-1001`;
  const id = `exp_${ref}`;

  it.each([
    `STRIPE PAYOUT ${ref}`,
    `EREF+${ref} SVWZ+Invoice 7`,
    `/REMI/${ref}/`,
    `Payment (${ref}).`,
    `payment ${ref.toLowerCase()} thank you`,
    `${ref}`,
  ])("remittance %j → settled, matched by remittance", (remittance) => {
    const result = scenario()
      .expect(side.make({ reference: ref, amount: AMOUNT, due: DUE }))
      .settlingEntry(side.direction, { amount: AMOUNT, on: "2026-11-22", remittance, entryId: "E1" })
      .reconcile(NOW);
    expect(matchOf(result, "E1")).toMatchObject({ kind: "payment", paymentId: id, method: "remittance" });
    expect(outcomeOf(result, id).status).toBe("settled");
  });

  it("a reference containing separators is found inside a longer remittance line", () => {
    // CONTRACT: "the reference ... found in remittance_info". The reference is a whole
    // token sequence there, bounded by spaces, so it is found.
    const slashed = `INV/2026/${side.prefix}1`;
    const result = scenario()
      .expect(side.make({ reference: slashed, amount: AMOUNT, due: DUE }))
      .expect(side.make({ reference: `${side.prefix}-OTHER`, amount: AMOUNT, due: DUE }))
      .settlingEntry(side.direction, {
        amount: AMOUNT,
        on: "2026-11-22",
        remittance: `Payment ${slashed} thank you`,
        entryId: "E1",
      })
      .reconcile(NOW);
    expect(matchOf(result, "E1")).toMatchObject({ kind: "payment", paymentId: `exp_${slashed}`, method: "remittance" });
  });

  it("the remittance wins over an amount that fits another payment", () => {
    const named = `${side.prefix}-2002`;
    const result = scenario()
      .expect(side.make({ reference: ref, amount: AMOUNT, due: DUE }))
      .expect(side.make({ reference: named, amount: 90_000, due: DUE }))
      .settlingEntry(side.direction, { amount: AMOUNT, on: "2026-11-22", remittance: `REF ${named}`, entryId: "E1" })
      .reconcile(NOW);
    expect(matchOf(result, "E1")).toMatchObject({ kind: "payment", paymentId: `exp_${named}`, method: "remittance" });
    // 125000 arrived for a 90000 payment: more than expected.
    expect(outcomeOf(result, `exp_${named}`).status).toBe("mismatch");
    expect(outcomeOf(result, id).status).toBe("delayed");
  });
});

describe.each(SIDES)("token matching is whole-token and case-insensitive ($direction)", (side) => {
  const short = `${side.prefix}-1`;
  const long = `${side.prefix}-10`;
  const world = () =>
    scenario()
      .expect(side.make({ reference: short, amount: 1_000, due: DUE }))
      .expect(side.make({ reference: long, amount: 2_000, due: DUE }));

  it(`${long} in the remittance settles ${long}, never ${short}`, () => {
    const result = world()
      .settlingEntry(side.direction, { amount: 2_000, on: "2026-11-22", remittance: `PMT ${long}`, entryId: "E1" })
      .reconcile(NOW);
    expect(matchOf(result, "E1")).toMatchObject({ kind: "payment", paymentId: `exp_${long}`, method: "remittance" });
    expect(outcomeOf(result, `exp_${long}`).status).toBe("settled");
    expect(outcomeOf(result, `exp_${short}`).settledAmountMinor).toBe(0);
  });

  it.each([`${side.prefix}-100`, `X${side.prefix}-1`, `${side.prefix}-1X`, `${side.prefix}-12`])(
    "%s matches neither by token",
    (text) => {
      const result = world()
        .settlingEntry(side.direction, { amount: 7_777, on: "2026-11-22", remittance: `PMT ${text}`, entryId: "E1" })
        .reconcile("2026-11-23T12:00Z");
      expect(matchOf(result, "E1")).toMatchObject({ kind: "none" });
    },
  );

  it("a lower-case mention settles the upper-case reference, and vice versa", () => {
    const result = scenario()
      .expect(side.make({ reference: `${side.prefix.toLowerCase()}-77`, amount: 1_000, due: DUE }))
      .settlingEntry(side.direction, {
        amount: 1_000,
        on: "2026-11-22",
        remittance: `PMT ${side.prefix}-77`,
        entryId: "E1",
      })
      .reconcile(NOW);
    expect(matchOf(result, "E1")).toMatchObject({ kind: "payment", method: "remittance" });
    expect(outcomeOf(result, `exp_${side.prefix.toLowerCase()}-77`).status).toBe("settled");
  });
});

describe.each(SIDES)("settled via the amount window: exactly one candidate ($direction)", (side) => {
  const ref = `${side.prefix}-1001`;
  const id = `exp_${ref}`;
  const one = (extra: Partial<PaymentSpec> = {}) =>
    scenario().expect(side.make({ reference: ref, amount: AMOUNT, due: DUE, ...extra }));

  it.each([
    ["2 days before the due date", "2026-11-22"],
    ["on the due date", "2026-11-24"],
    ["3 days after (edge of the 3d window)", "2026-11-27"],
    ["3 days before (edge of the 3d window)", "2026-11-21"],
  ])("same amount, currency and direction, value date %s → matched by amount", (_, on) => {
    const result = one().settlingEntry(side.direction, { amount: AMOUNT, on, entryId: "E1" }).reconcile("2026-11-28");
    expect(matchOf(result, "E1")).toMatchObject({ kind: "payment", paymentId: id, method: "amount" });
    expect(outcomeOf(result, id).status).toBe("settled");
  });

  const misses: Array<[string, { amount?: number; on?: string; currency?: string; opposite?: boolean }]> = [
    ["another amount", { amount: AMOUNT + 1 }],
    ["another currency", { currency: "USD" }],
    ["the opposite direction", { opposite: true }],
    ["4 days after the due date", { on: "2026-11-28" }],
    ["4 days before the due date", { on: "2026-11-20" }],
  ];
  it.each(misses)("%s → no match", (_, miss) => {
    const direction = miss.opposite ? (settling(side.direction) === "credit" ? "debit" : "credit") : undefined;
    const result = one()
      .entry({
        direction: direction ?? settling(side.direction),
        amount: miss.amount ?? AMOUNT,
        currency: miss.currency ?? "EUR",
        on: miss.on ?? "2026-11-23",
        entryId: "E1",
      })
      .reconcile("2026-11-28T00:00Z");
    expect(matchOf(result, "E1")).toMatchObject({ kind: "none" });
    expect(outcomeOf(result, id).settledAmountMinor).toBe(0);
  });

  // The contract: "and counterparty name where known". The code knows a payment's name from
  // metadata.counterparty_name (the contract does not say where it is kept).
  it("a known counterparty name that disagrees → no match; one that agrees → match", () => {
    const named = () => one({ counterpartyName: "ACME GmbH" });
    const wrong = named()
      .settlingEntry(side.direction, {
        amount: AMOUNT,
        on: "2026-11-23",
        counterpartyName: "GLOBEX LTD",
        entryId: "E1",
      })
      .reconcile(NOW);
    expect(matchOf(wrong, "E1")).toMatchObject({ kind: "none" });
    const right = named()
      .settlingEntry(side.direction, { amount: AMOUNT, on: "2026-11-23", counterpartyName: "ACME GMBH", entryId: "E1" })
      .reconcile(NOW);
    expect(matchOf(right, "E1")).toMatchObject({ kind: "payment", paymentId: id, method: "amount" });
  });

  it("two payments of the same amount, the counterparty name picks exactly one", () => {
    const result = scenario()
      .expect(side.make({ reference: ref, amount: AMOUNT, due: DUE, counterpartyName: "ACME GmbH" }))
      .expect(side.make({ reference: `${side.prefix}-2002`, amount: AMOUNT, due: DUE, counterpartyName: "Globex" }))
      .settlingEntry(side.direction, { amount: AMOUNT, on: "2026-11-23", counterpartyName: "GLOBEX", entryId: "E1" })
      .reconcile(NOW);
    expect(matchOf(result, "E1")).toMatchObject({
      kind: "payment",
      paymentId: `exp_${side.prefix}-2002`,
      method: "amount",
    });
  });

  it("a payment already named by another bank entry is no amount candidate: the other one is the only fit", () => {
    const other = `${side.prefix}-2002`;
    const result = scenario()
      .expect(side.make({ reference: ref, amount: AMOUNT, due: DUE }))
      .expect(side.make({ reference: other, amount: AMOUNT, due: DUE }))
      .settlingEntry(side.direction, { amount: AMOUNT, on: "2026-11-22", e2e: ref, entryId: "E1" })
      .settlingEntry(side.direction, { amount: AMOUNT, on: "2026-11-23", entryId: "E2" })
      .reconcile(NOW);
    expect(matchOf(result, "E2")).toMatchObject({ kind: "payment", paymentId: `exp_${other}`, method: "amount" });
    expect(outcomeOf(result, id).status).toBe("settled");
    expect(outcomeOf(result, `exp_${other}`).status).toBe("settled");
  });
});

describe.each(SIDES)("ambiguity is an exception, never a guess ($direction)", (side) => {
  const a = `${side.prefix}-1001`;
  const b = `${side.prefix}-1002`;
  const two = () =>
    scenario()
      .expect(side.make({ reference: a, amount: AMOUNT, due: DUE }))
      .expect(side.make({ reference: b, amount: AMOUNT, due: "2026-11-25T17:00Z" }));

  it("two amount candidates → ambiguous exception on the entry, nothing settled", () => {
    const result = two()
      .settlingEntry(side.direction, { amount: AMOUNT, on: "2026-11-24", entryId: "E1" })
      .reconcile(NOW);
    const match = matchOf(result, "E1");
    expect(match).toMatchObject({ kind: "ambiguous", method: "amount" });
    expect(match.kind === "ambiguous" && match.candidates).toEqual([`payment:exp_${a}`, `payment:exp_${b}`]);
    expect(outcomeOf(result, `exp_${a}`).settledAmountMinor).toBe(0);
    expect(outcomeOf(result, `exp_${b}`).settledAmountMinor).toBe(0);
    expect(outcomeOf(result, `exp_${a}`).status).not.toBe("settled");
    expect(outcomeOf(result, `exp_${b}`).status).not.toBe("settled");
    expect(openKeys(result)).toContain(entryExceptionKey("ambiguous", "E1"));
    expect(openKeys(result)).not.toContain(entryExceptionKey("unmatched", "E1"));
  });

  it("a remittance naming two references → ambiguous, nothing settled", () => {
    const result = two()
      .settlingEntry(side.direction, { amount: AMOUNT, on: "2026-11-24", remittance: `${a} ${b}`, entryId: "E1" })
      .reconcile(NOW);
    expect(matchOf(result, "E1")).toMatchObject({ kind: "ambiguous", method: "remittance" });
    expect(outcomeOf(result, `exp_${a}`).settledAmountMinor).toBe(0);
    expect(outcomeOf(result, `exp_${b}`).settledAmountMinor).toBe(0);
    expect(openKeys(result)).toContain(entryExceptionKey("ambiguous", "E1"));
  });

  it("the ambiguous exception is open at once (no grace: it needs a human either way)", () => {
    const result = two()
      .settlingEntry(side.direction, {
        amount: AMOUNT,
        on: "2026-11-24",
        entryId: "E1",
        receivedAt: "2026-11-24T08:00Z",
      })
      .reconcile("2026-11-24T09:00Z");
    expect(openKeys(result)).toContain(entryExceptionKey("ambiguous", "E1"));
  });
});

describe("settled via a settlement.batch credit equal to gross − fee", () => {
  const GROSS = 200_000;
  const FEE = 5_800;
  const NET = GROSS - FEE;
  const batched = () =>
    scenario()
      .expect(collection({ reference: "ORD-1001", amount: 125_000, due: DUE }))
      .expect(collection({ reference: "ORD-1002", amount: 75_000, due: DUE }))
      .event("payment.captured", "ORD-1001", "2026-11-20T10:00Z", { amount: 125_000 })
      .event("payment.captured", "ORD-1002", "2026-11-20T11:00Z", { amount: 75_000 })
      .batch({
        batchId: "po_batch_881",
        references: ["ORD-1001", "ORD-1002"],
        gross: GROSS,
        fee: FEE,
        at: "2026-11-21T06:00Z",
        arrival: "2026-11-22",
      });

  it("a credit of the net naming the batch settles every listed payment in full", () => {
    const result = batched()
      .credit({ amount: NET, on: "2026-11-22", remittance: "STRIPE PAYOUT po_batch_881", entryId: "B1" })
      .reconcile(NOW);
    expect(matchOf(result, "B1")).toMatchObject({ kind: "batch", method: "remittance" });
    for (const [id, amount] of [
      ["exp_ORD-1001", 125_000],
      ["exp_ORD-1002", 75_000],
    ] as const) {
      const outcome = outcomeOf(result, id);
      expect(outcome.status).toBe("settled");
      expect(outcome.settledAmountMinor).toBe(amount);
    }
    expect(openKeys(result)).toEqual([]);
  });

  it("a batch credit found by amount on the expected arrival date (no remittance) also settles", () => {
    // The contract's amount rule applied to a batch: the net, a credit, within the window of expected_arrival.
    const result = batched().credit({ amount: NET, on: "2026-11-22", entryId: "B1" }).reconcile(NOW);
    expect(matchOf(result, "B1")).toMatchObject({ kind: "batch", method: "amount" });
    expect(outcomeOf(result, "exp_ORD-1001").status).toBe("settled");
  });

  it.each([
    ["the gross (fee not deducted)", GROSS],
    ["1 short of the net", NET - 1],
    ["1 over the net", NET + 1],
  ])("a credit of %s → batch mismatch exception, payments stay unsettled", (_, amount) => {
    const result = batched()
      .credit({ amount, on: "2026-11-22", remittance: "STRIPE PAYOUT po_batch_881", entryId: "B1" })
      .reconcile("2026-11-23T00:00Z");
    expect(openKeys(result)).toContain(batchExceptionKey("mismatch", "po_batch_881"));
    expect(result.exceptions.get(batchExceptionKey("mismatch", "po_batch_881"))?.amountMinor).toBe(
      Math.abs(amount - NET),
    );
    for (const id of ["exp_ORD-1001", "exp_ORD-1002"]) {
      const outcome = outcomeOf(result, id);
      expect(outcome.settledAmountMinor).toBe(0);
      expect(outcome.status).not.toBe("settled");
      // The contract is silent on the listed payments' own status; the code keeps them
      // in_flight (in a batch) with a batch_mismatch flag, the exception being the batch's.
      expect(outcome.status).toBe("in_flight");
    }
  });

  it("the same batch credited twice (distinct entries) → duplicate on the second, payments settled once", () => {
    const result = batched()
      .credit({ amount: NET, on: "2026-11-22", remittance: "STRIPE PAYOUT po_batch_881", entryId: "B1" })
      .credit({ amount: NET, on: "2026-11-23", remittance: "STRIPE PAYOUT po_batch_881", entryId: "B2" })
      .reconcile(NOW);
    expect(openKeys(result)).toEqual([entryExceptionKey("duplicate", "B2")]);
    expect(outcomeOf(result, "exp_ORD-1001").settledAmountMinor).toBe(125_000);
    expect(outcomeOf(result, "exp_ORD-1002").settledAmountMinor).toBe(75_000);
  });

  it("a batch of another gateway listing the reference does not settle it", () => {
    const result = scenario()
      .expect(collection({ reference: "ORD-1001", amount: 125_000, due: DUE, gateway: "stripe" }))
      .batch({
        batchId: "ady_b1",
        gateway: "adyen",
        references: ["ORD-1001"],
        gross: 125_000,
        fee: 0,
        at: "2026-11-21",
      })
      .credit({ amount: 125_000, on: "2026-11-22", remittance: "ADYEN ady_b1", entryId: "B1" })
      .reconcile("2026-11-23T00:00Z");
    expect(outcomeOf(result, "exp_ORD-1001").status).not.toBe("settled");
  });
});

describe.each(SIDES)("duplicate: a second distinct bank entry for a settled payment ($direction)", (side) => {
  const ref = `${side.prefix}-1001`;
  const id = `exp_${ref}`;

  it.each([
    ["both naming the reference", true],
    ["both matched by amount", false],
  ])("%s → settled once, duplicate exception on the second", (_, named) => {
    const result = scenario()
      .expect(side.make({ reference: ref, amount: AMOUNT, due: DUE }))
      .settlingEntry(side.direction, { amount: AMOUNT, on: "2026-11-22", e2e: named ? ref : null, entryId: "E1" })
      .settlingEntry(side.direction, { amount: AMOUNT, on: "2026-11-23", e2e: named ? ref : null, entryId: "E2" })
      .reconcile(NOW);
    const outcome = outcomeOf(result, id);
    expect(outcome.status).toBe("settled");
    expect(outcome.settledAmountMinor).toBe(AMOUNT);
    expect(outcome.settledOn).toBe("2026-11-22");
    expect(openKeys(result)).toEqual([entryExceptionKey("duplicate", "E2")]);
    expect(result.exceptions.get(entryExceptionKey("duplicate", "E2"))?.amountMinor).toBe(AMOUNT);
  });

  it("the same entry delivered twice (same entry id) is one entry: no duplicate", () => {
    const s = scenario()
      .expect(side.make({ reference: ref, amount: AMOUNT, due: DUE }))
      .settlingEntry(side.direction, { amount: AMOUNT, on: "2026-11-22", e2e: ref, entryId: "E1" });
    s.facts.entries.push({ ...s.facts.entries[0]!, seq: 99, receivedAt: at("2026-11-23T08:00Z") });
    const result = s.reconcile(NOW);
    expect(outcomeOf(result, id).settledAmountMinor).toBe(AMOUNT);
    expect(openKeys(result)).toEqual([]);
  });
});

describe("unmatched: only after UNMATCHED_GRACE (24h)", () => {
  const received = at("2026-11-22T08:00Z");

  it.each(SIDES)(
    "a $direction-side bank entry matching nothing: no exception before the grace, unmatched after",
    (side) => {
      const s = scenario()
        .expect(side.make({ reference: `${side.prefix}-1001`, amount: AMOUNT, due: DUE }))
        .settlingEntry(side.direction, {
          amount: 4_242,
          on: "2026-11-22",
          remittance: "SOMETHING ELSE",
          entryId: "E1",
          receivedAt: received,
        });
      expect(openKeys(s.reconcile(received + 23 * HOUR))).toEqual([]);
      expect(openKeys(s.reconcile(received + 25 * HOUR))).toContain(entryExceptionKey("unmatched", "E1"));
    },
  );

  it.each([
    ["payment.captured", "ORD-404"],
    ["payout.paid", "WD-404"],
  ] as const)("a %s event for an unknown reference: unmatched only after the grace", (type, ref) => {
    const s = scenario().event(type, ref, received, { amount: 5_000, eventId: "evt_9" });
    expect(openKeys(s.reconcile(received + 23 * HOUR))).toEqual([]);
    expect(openKeys(s.reconcile(received + 25 * HOUR))).toEqual([eventExceptionKey("unmatched", "evt_9")]);
  });

  it("a gateway event whose expected payment arrives later is not unmatched", () => {
    const result = scenario()
      .event("payout.submitted", "WD-55", received, { amount: AMOUNT, eventId: "evt_9" })
      .expect(payout({ reference: "WD-55", amount: AMOUNT, due: "2026-12-01T17:00Z" }), {
        receivedAt: received + 30 * HOUR,
      })
      .reconcile(received + 31 * HOUR);
    expect(openKeys(result)).toEqual([]);
    expect(outcomeOf(result, "exp_WD-55").status).toBe("in_flight");
  });

  it("a bank entry whose expected payment arrives later is matched, not unmatched", () => {
    const result = scenario()
      .credit({ amount: AMOUNT, on: "2026-11-22", e2e: "ORD-1001", entryId: "E1", receivedAt: received })
      .expect(collection({ reference: "ORD-1001", amount: AMOUNT, due: DUE }), { receivedAt: received + 48 * HOUR })
      .reconcile(received + 49 * HOUR);
    expect(openKeys(result)).toEqual([]);
    expect(outcomeOf(result, "exp_ORD-1001").status).toBe("settled");
  });
});
