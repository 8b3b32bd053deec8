import { describe, expect, it } from "vitest";
import type { StoredPayment } from "../../../src/db/queries/paymentState.js";
import { type WrittenPayment, WrittenRows } from "../../../src/writer/writtenRows.js";

/**
 * Apply-ahead (docs/architecture.md §4 step 8): several transactions may be pending at once, each comparing its rows
 * with what the ones before it will have written when they commit — their stages, then the committed rows.
 */
function row(id: string, status: StoredPayment["status"]): WrittenPayment {
  return {
    stored: {
      id,
      referenceKey: id,
      status,
      direction: "collection",
      gateway: "stripe",
      currency: "EUR",
      atRiskMinor: 0,
      statusReason: "",
      signature: `${id}:${status}`,
      identityHash: null,
    },
  };
}

describe("WrittenRows' stages", () => {
  it("a stage sees the pending stages before it, newest first, then the committed rows; never those after it", () => {
    const rows = new WrittenRows();
    const first = rows.begin();
    first.stagePayment("p1", row("p1", "pending"));
    rows.commit(first);
    const second = rows.begin();
    second.stagePayment("p1", row("p1", "settled"));
    const third = rows.begin();
    third.stagePayment("p1", row("p1", "refunded"));
    const fourth = rows.begin();
    expect(second.payment("p1")?.stored.status).toBe("pending");
    expect(third.payment("p1")?.stored.status).toBe("settled");
    expect(fourth.payment("p1")?.stored.status).toBe("refunded");
    expect(rows.payment("p1")?.stored.status).toBe("pending");

    // Committed in order: what a later stage sees does not change.
    rows.commit(second);
    expect(rows.payment("p1")?.stored.status).toBe("settled");
    expect(third.payment("p1")?.stored.status).toBe("settled");
    expect(fourth.payment("p1")?.stored.status).toBe("refunded");
    rows.commit(third);
    expect(fourth.payment("p1")?.stored.status).toBe("refunded");
    expect(rows.payment("p1")?.stored.status).toBe("refunded");
  });

  it("a row a pending stage before staged is contended (written under the lock); committed or later ones are not", () => {
    const rows = new WrittenRows();
    const committed = rows.begin();
    committed.stagePayment("p0", row("p0", "settled"));
    rows.commit(committed);
    const pending = rows.begin();
    pending.stagePayment("p1", row("p1", "pending"));
    pending.stageMatch("e1", { match: { kind: "none" }, unmatchedDeadline: 5 });
    const next = rows.begin();
    next.stagePayment("p2", row("p2", "pending"));
    const last = rows.begin();
    // Its row locks are the pending transaction's until it ends.
    expect(last.paymentStagedBefore("p1")).toBe(true);
    expect(last.paymentStagedBefore("p2")).toBe(true);
    expect(last.matchStagedBefore("e1")).toBe(true);
    // Committed: no lock held.
    expect(last.paymentStagedBefore("p0")).toBe(false);
    // A stage after this one, or this one's own rows, do not count.
    expect(pending.paymentStagedBefore("p2")).toBe(false);
    expect(pending.paymentStagedBefore("p1")).toBe(false);
    rows.commit(pending);
    expect(last.paymentStagedBefore("p1")).toBe(false);
    expect(last.matchStagedBefore("e1")).toBe(false);
    rows.abandon(next);
    expect(last.paymentStagedBefore("p2")).toBe(false);
  });

  it("cleared (a rollback, another writer, a reload): pending stages are forgotten and commit nothing", () => {
    const rows = new WrittenRows();
    const before = rows.begin();
    before.stageMatch("e1", { match: { kind: "none" }, unmatchedDeadline: 5 });
    const after = rows.begin();
    expect(after.match("e1")?.unmatchedDeadline).toBe(5);
    rows.clear();
    expect(after.match("e1")).toBeUndefined();
    rows.commit(before);
    expect(rows.match("e1")).toBeUndefined();
  });

  it("an abandoned stage (its transaction redoes its work) is not seen and commits nothing", () => {
    const rows = new WrittenRows();
    const redone = rows.begin();
    redone.stagePayment("p1", row("p1", "settled"));
    const next = rows.begin();
    rows.abandon(redone);
    expect(next.payment("p1")).toBeUndefined();
    rows.commit(redone);
    expect(rows.payment("p1")).toBeUndefined();
    expect(rows.size).toEqual({ payments: 0, matches: 0 });
  });

  it("an evicted group's keys are forgotten in every pending stage", () => {
    const rows = new WrittenRows();
    const stage = rows.begin();
    stage.stagePayment("p1", row("p1", "settled"));
    stage.stageMatch("e1", { match: { kind: "none" }, unmatchedDeadline: null });
    const next = rows.begin();
    rows.forget(["p1"], ["e1"]);
    expect(next.payment("p1")).toBeUndefined();
    expect(next.match("e1")).toBeUndefined();
    rows.commit(stage);
    expect(rows.size).toEqual({ payments: 0, matches: 0 });
  });
});
