import type { Request } from "express";
import { describe, expect, it } from "vitest";
import { FORM_TOKEN_TTL_MS, formToken, sameOriginRequest, validFormToken } from "../../../src/http/statusPage/csrf.js";

/** The status page's form tokens: bound to the signed-in token, the purpose, the subject and a 12-hour window. */
describe("status page CSRF tokens", () => {
  const now = Date.parse("2026-12-01T10:00:00Z");
  const token = formToken("operator-token", "bank-entry-decision", "bank_a\u0000E-1", now);

  it("accepts the token it made, for the same credential, purpose and subject, within its window", () => {
    expect(token).toMatch(/^\d+\.[0-9a-f]{64}$/);
    expect(validFormToken("operator-token", "bank-entry-decision", "bank_a\u0000E-1", token, now)).toBe(true);
    expect(
      validFormToken("operator-token", "bank-entry-decision", "bank_a\u0000E-1", token, now + FORM_TOKEN_TTL_MS),
    ).toBe(true);
  });

  it("refuses another credential, purpose or subject, an expired or future one, and anything malformed", () => {
    const check = (credential: string, purpose: string, subject: string, presented: unknown, at = now) =>
      validFormToken(credential, purpose, subject, presented, at);
    expect(check("viewer-token", "bank-entry-decision", "bank_a\u0000E-1", token)).toBe(false);
    expect(check("operator-token", "other", "bank_a\u0000E-1", token)).toBe(false);
    expect(check("operator-token", "bank-entry-decision", "bank_a\u0000E-2", token)).toBe(false);
    expect(check("operator-token", "bank-entry-decision", "bank_b\u0000E-1", token)).toBe(false);
    expect(check("operator-token", "bank-entry-decision", "bank_a\u0000E-1", token, now + FORM_TOKEN_TTL_MS + 1)).toBe(
      false,
    );
    expect(check("operator-token", "bank-entry-decision", "bank_a\u0000E-1", token, now - 120_000)).toBe(false);
    const [issued, mac] = token.split(".");
    // The time is part of what is signed: moving it forward does not extend the token.
    expect(check("operator-token", "bank-entry-decision", "bank_a\u0000E-1", `${Number(issued) + 1}.${mac}`)).toBe(
      false,
    );
    for (const presented of [undefined, "", 42, ["x"], `${issued}.${mac!.toUpperCase()}`, `${issued}.${mac}0`, mac]) {
      expect(check("operator-token", "bank-entry-decision", "bank_a\u0000E-1", presented)).toBe(false);
    }
  });

  it("lets same-origin posts through and refuses those a browser marks as cross-site", () => {
    const request = (headers: Record<string, string>) =>
      ({ headers: { host: "payrecon.internal:8080", ...headers } }) as unknown as Request;
    expect(sameOriginRequest(request({}))).toBe(true);
    expect(sameOriginRequest(request({ "sec-fetch-site": "same-origin", origin: "null" }))).toBe(true);
    expect(sameOriginRequest(request({ origin: "https://payrecon.internal:8080" }))).toBe(true);
    expect(sameOriginRequest(request({ "sec-fetch-site": "cross-site" }))).toBe(false);
    expect(sameOriginRequest(request({ "sec-fetch-site": "same-site" }))).toBe(false);
    expect(sameOriginRequest(request({ origin: "https://evil.example" }))).toBe(false);
    expect(sameOriginRequest(request({ origin: "not a url" }))).toBe(false);
  });
});
