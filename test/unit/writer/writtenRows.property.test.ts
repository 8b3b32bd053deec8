import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { outcomeSignature, type StoredPayment } from "../../../src/db/queries/paymentState.js";
import type { PaymentOutcome } from "../../../src/reconcile/paymentStatus.js";
import { reconcileWorld } from "../../../src/reconcile/world.js";
import { sameOutcome, type WrittenPayment } from "../../../src/writer/writtenRows.js";
import { buildWorld, worldPlan } from "../reconcile/worlds.js";

/**
 * The memory engine decides whether a payment row must be rewritten by comparing the outcome it last wrote with the
 * new one field by field (src/writer/writtenRows.ts), where the sql engine compares signatures: the two must always
 * agree, or a row would keep a stale status (or be rewritten for nothing). Outcomes of random worlds at several
 * moments, and each outcome with one field changed at a time, whatever fields PaymentOutcome gains later.
 */

const NUM_RUNS = Number(process.env.PROPERTY_RUNS ?? 300);
const HOUR = 3_600_000;

function written(outcome: PaymentOutcome): WrittenPayment {
  return { stored: { signature: outcomeSignature(outcome) } as StoredPayment, outcome };
}

/** `value` changed to something else of its kind (an object: each of its fields in turn). */
function changes(value: unknown, field: string): unknown[] {
  if (typeof value === "number") return [value + 1];
  if (typeof value === "string") return [`${value}x`];
  if (typeof value === "boolean") return [!value];
  if (Array.isArray(value)) return [[...value, "changed"]];
  if (value === null) {
    if (field === "exception") return [{ amountMinor: 1 }];
    if (field === "fx") return [{ lineCurrency: "XXX", lineAmountMinor: 1, differenceMinor: 1 }];
    return [1];
  }
  if (typeof value === "object") {
    const object = value as Record<string, unknown>;
    return Object.keys(object).flatMap((key) =>
      changes(object[key], key).map((changed) => ({ ...object, [key]: changed })),
    );
  }
  return [1];
}

describe("a remembered payment row is compared as its signature is", () => {
  it("outcomes of the same payments at other moments: same exactly when the signatures are", {
    timeout: 120_000,
  }, () => {
    let differing = 0;
    fc.assert(
      fc.property(worldPlan.map(buildWorld), (world) => {
        const moments = [0, 2 * HOUR, 3 * 24 * HOUR, 40 * 24 * HOUR].map((shift) =>
          reconcileWorld(world.facts, world.now + shift, world.policy),
        );
        for (const [id, first] of moments[0]!.payments) {
          for (const later of moments.slice(1)) {
            const outcome = later.payments.get(id)!;
            const equalSignatures = outcomeSignature(first) === outcomeSignature(outcome);
            if (!equalSignatures) differing++;
            expect(sameOutcome(written(first), outcome), id).toBe(equalSignatures);
          }
        }
      }),
      { numRuns: NUM_RUNS },
    );
    // Time moved the outcomes (the comparison was asked about real differences, not only equal pairs).
    expect(differing).toBeGreaterThan(0);
  });

  it("any one field changed that the signature covers is a difference", { timeout: 120_000 }, () => {
    fc.assert(
      fc.property(worldPlan.map(buildWorld), (world) => {
        const result = reconcileWorld(world.facts, world.now, world.policy);
        for (const outcome of result.payments.values()) {
          // The same payment body (the field-by-field path, not the signature fallback).
          for (const field of Object.keys(outcome) as Array<keyof PaymentOutcome>) {
            if (field === "payment") continue;
            for (const value of changes(outcome[field], field)) {
              const changed = { ...outcome, [field]: value } as PaymentOutcome;
              const signatureSays = outcomeSignature(outcome) === outcomeSignature(changed);
              expect(sameOutcome(written(outcome), changed), `${outcome.paymentId}.${field}`).toBe(signatureSays);
            }
          }
        }
      }),
      { numRuns: Math.max(20, Math.floor(NUM_RUNS / 10)) },
    );
  });
});
