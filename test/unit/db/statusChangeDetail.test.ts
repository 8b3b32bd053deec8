import { describe, expect, it } from "vitest";
import { fullStatusChangeDetail, storedStatusChangeDetail } from "../../../src/db/queries/paymentState.js";

/** Issue 15: a status change's row keeps only the detail fields that differ from their defaults. */
describe("a status change's stored detail", () => {
  const details = [
    { failure_category: null, failure_code: null, settled_amount_minor: 0, settled_late: false },
    { failure_category: null, failure_code: null, settled_amount_minor: 1_056, settled_late: true },
    { failure_category: "insufficient_funds", failure_code: "51", settled_amount_minor: 0, settled_late: false },
    // A value equal to a default only as JSON would see it is kept: only the same value is left out.
    { failure_category: "", failure_code: "0", settled_amount_minor: -0.5, settled_late: 0 },
  ];

  it("leaves out exactly the fields equal to their defaults", () => {
    expect(storedStatusChangeDetail(details[0]!)).toEqual({});
    expect(storedStatusChangeDetail(details[1]!)).toEqual({ settled_amount_minor: 1_056, settled_late: true });
    expect(storedStatusChangeDetail(details[2]!)).toEqual({
      failure_category: "insufficient_funds",
      failure_code: "51",
    });
    expect(storedStatusChangeDetail({ ...details[0], other: null })).toEqual({ other: null });
  });

  it("reads back every detail as it was written, and a row written before in full as it is", () => {
    for (const detail of details) {
      expect(fullStatusChangeDetail(storedStatusChangeDetail(detail))).toEqual(detail);
      expect(fullStatusChangeDetail(detail)).toEqual(detail);
    }
    expect(fullStatusChangeDetail(null)).toEqual(details[0]);
  });
});
