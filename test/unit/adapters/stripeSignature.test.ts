import { createHmac } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { verifyStripeSignature } from "../../../src/adapters/stripeSignature.js";
import { fixtureBytes, fixtureNames } from "./fixtureFiles.js";

/** Signs the way Stripe documents it (docs.stripe.com/webhooks#verify-manually), with test secrets. */
function sign(body: Buffer | string, secret: string, t: number): string {
  return createHmac("sha256", secret).update(`${t}.`).update(body).digest("hex");
}

const SECRET = "whsec_test_current";
const OLD_SECRET = "whsec_test_previous";
const T = 1_700_000_000;
const body = fixtureBytes("stripe", "evt_payout.failed_gitpay.json");

describe("verifyStripeSignature", () => {
  it("accepts every fixture's raw bytes signed with the secret, as Buffer and as string", () => {
    for (const name of fixtureNames("stripe")) {
      const raw = fixtureBytes("stripe", name);
      const header = `t=${T},v1=${sign(raw, SECRET, T)}`;
      expect(verifyStripeSignature(raw, header, [SECRET], T), name).toEqual({ ok: true });
      expect(verifyStripeSignature(raw.toString("utf8"), header, [SECRET], T), name).toEqual({ ok: true });
    }
  });

  it("rejects a wrong secret", () => {
    const header = `t=${T},v1=${sign(body, "whsec_someone_else", T)}`;
    expect(verifyStripeSignature(body, header, [SECRET], T)).toEqual({ ok: false, reason: "no signature matches" });
  });

  it("rejects a tampered body: any one byte changed", () => {
    const header = `t=${T},v1=${sign(body, SECRET, T)}`;
    fc.assert(
      fc.property(fc.nat(body.length - 1), fc.integer({ min: 1, max: 255 }), (at, delta) => {
        const tampered = Buffer.from(body);
        tampered[at] = (tampered[at]! + delta) % 256;
        return !verifyStripeSignature(tampered, header, [SECRET], T).ok;
      }),
    );
  });

  it("rejects a signature made for another timestamp (the timestamp is signed)", () => {
    const header = `t=${T + 1},v1=${sign(body, SECRET, T)}`;
    expect(verifyStripeSignature(body, header, [SECRET], T)).toEqual({ ok: false, reason: "no signature matches" });
  });

  it("applies the tolerance both ways, inclusive", () => {
    const header = `t=${T},v1=${sign(body, SECRET, T)}`;
    expect(verifyStripeSignature(body, header, [SECRET], T + 300).ok).toBe(true);
    expect(verifyStripeSignature(body, header, [SECRET], T - 300).ok).toBe(true);
    expect(verifyStripeSignature(body, header, [SECRET], T + 301)).toEqual({
      ok: false,
      reason: "timestamp outside tolerance",
    });
    expect(verifyStripeSignature(body, header, [SECRET], T - 301).ok).toBe(false);
    expect(verifyStripeSignature(body, header, [SECRET], T + 3600, 7200).ok).toBe(true);
  });

  it("accepts during secret rotation: old or new secret configured, one or two v1 signatures sent", () => {
    const both = `t=${T},v1=${sign(body, OLD_SECRET, T)},v1=${sign(body, SECRET, T)}`;
    const newOnly = `t=${T},v1=${sign(body, SECRET, T)}`;
    expect(verifyStripeSignature(body, both, [SECRET], T).ok).toBe(true);
    expect(verifyStripeSignature(body, both, [OLD_SECRET], T).ok).toBe(true);
    expect(verifyStripeSignature(body, newOnly, [OLD_SECRET, SECRET], T).ok).toBe(true);
    expect(verifyStripeSignature(body, newOnly, [OLD_SECRET], T).ok).toBe(false);
  });

  it("says what is missing", () => {
    expect(verifyStripeSignature(body, undefined, [SECRET], T)).toEqual({ ok: false, reason: "missing header" });
    expect(verifyStripeSignature(body, "", [SECRET], T)).toEqual({ ok: false, reason: "missing header" });
    expect(verifyStripeSignature(body, `t=${T},v0=${sign(body, SECRET, T)}`, [SECRET], T)).toEqual({
      ok: false,
      reason: "no v1 signature",
    });
    expect(verifyStripeSignature(body, `v1=${sign(body, SECRET, T)}`, [SECRET], T).ok).toBe(false);
    expect(verifyStripeSignature(body, `t=${T},v1=${sign(body, SECRET, T)}`, [], T).ok).toBe(false);
    expect(verifyStripeSignature(body, `t=${T},v1=zz`, [SECRET], T).ok).toBe(false);
  });
});
