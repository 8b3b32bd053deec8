import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dateDaysFromNow, isoDaysFromNow } from "../support/clock.js";
import { launchChromium } from "../support/browser.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { bankEntry, expectedPayment } from "../support/facts.js";
import { ingestAll } from "../support/ingest.js";
import { api, startTestDaemon, TOKENS, type TestDaemon } from "../support/daemon.js";

/**
 * CONTRACT §7 on the status page: a signed-in viewer or operator searches bank entries and opens one; an operator
 * matches and unmatches through CSRF-protected forms that take the same path as the API's match/unmatch.
 */
describe("bank entry pages", () => {
  let db: TestDatabase;
  let daemon: TestDaemon;

  beforeAll(async () => {
    db = await createTestDatabase();
    daemon = await startTestDaemon({ DATABASE_URL: db.url, SWEEP_INTERVAL: "1h" });
    // Same currency, amount and due date: each line fits two payments equally well (ambiguous).
    const collection = (id: string, amount: number) =>
      expectedPayment(0, {
        id,
        direction: "collection",
        amount_minor: amount,
        currency: "EUR",
        gateway: "stripe",
        reference: id.toUpperCase(),
        counterparty: undefined,
        due_at: isoDaysFromNow(0),
      });
    const credit = (entryId: string, amount: number, remittance: string) =>
      bankEntry(0, {
        entry_id: entryId,
        amount_minor: amount,
        currency: "EUR",
        booking_date: dateDaysFromNow(0),
        value_date: dateDaysFromNow(0),
        remittance_info: remittance,
        counterparty_name: null,
      });
    await ingestAll(daemon.baseUrl, "payments.expected", [
      collection("pg_a1", 4242),
      collection("pg_a2", 4242),
      collection("pg_b1", 7777),
      collection("pg_b2", 7777),
    ]);
    await ingestAll(daemon.baseUrl, "bank.settlements", [
      credit("PAGE-AMB", 4242, "THANKS FROM BLUEBELL GARDENS"),
      credit("FORM-AMB", 7777, "PAYMENT FROM HAWTHORN LTD"),
    ]);
  }, 120_000);
  afterAll(async () => {
    await daemon?.stop();
    await db?.drop();
  });

  const basic = (role: keyof typeof TOKENS) => `Basic ${Buffer.from(`me:${TOKENS[role]}`).toString("base64")}`;
  const entryUrl = () => `${daemon.baseUrl}/bank-entries/bank_a/FORM-AMB`;
  const csrfOf = (page: string) => /name="csrf" value="([^"]+)"/.exec(page)?.[1];
  const postForm = (role: keyof typeof TOKENS, path: string, fields: Record<string, string>, headers = {}) =>
    fetch(`${daemon.baseUrl}${path}`, {
      method: "POST",
      redirect: "manual",
      headers: { Authorization: basic(role), "Content-Type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams(fields).toString(),
    });
  const decisions = async () =>
    (await api(daemon.baseUrl, "viewer")("/api/v1/bank-entries/FORM-AMB?bank=bank_a")).body.audit as unknown[];

  it("refuses a viewer's POST, and an operator's without or with a wrong or another entry's CSRF token", async () => {
    const anonymous = await fetch(entryUrl());
    expect(anonymous.status).toBe(401);
    const viewerPage = await (await fetch(entryUrl(), { headers: { Authorization: basic("viewer") } })).text();
    expect(viewerPage).toContain("FORM-AMB");
    expect(csrfOf(viewerPage)).toBeUndefined();
    expect(viewerPage).not.toContain('<form method="post"');
    const operatorPage = await (await fetch(entryUrl(), { headers: { Authorization: basic("operator") } })).text();
    const token = csrfOf(operatorPage)!;
    expect(token).toMatch(/^\d+\.[0-9a-f]{64}$/);
    const otherEntry = await (
      await fetch(`${daemon.baseUrl}/bank-entries/bank_a/PAGE-AMB`, { headers: { Authorization: basic("operator") } })
    ).text();

    const path = "/bank-entries/bank_a/FORM-AMB/match";
    const match = { payment_id: "pg_b2", note: "forged" };
    // A viewer holding an operator's form token still may not decide.
    expect((await postForm("viewer", path, { ...match, csrf: token })).status).toBe(403);
    expect((await postForm("ingester", path, { ...match, csrf: token })).status).toBe(403);
    expect((await fetch(`${daemon.baseUrl}${path}`, { method: "POST" })).status).toBe(401);
    expect((await postForm("operator", path, match)).status).toBe(403);
    // Its last digit changed (to one it is not: a token ending in 0 stayed valid, 1 run in 16).
    const forged = `${token.slice(0, -1)}${token.endsWith("0") ? "1" : "0"}`;
    expect((await postForm("operator", path, { ...match, csrf: forged })).status).toBe(403);
    expect((await postForm("operator", path, { ...match, csrf: csrfOf(otherEntry)! })).status).toBe(403);
    const [issued] = token.split(".");
    expect(
      (await postForm("operator", path, { ...match, csrf: `${Number(issued) - 13 * 3_600_000}.${"0".repeat(64)}` }))
        .status,
    ).toBe(403);
    // The right token, but the browser says the form came from another site.
    expect(
      (await postForm("operator", path, { ...match, csrf: token }, { "Sec-Fetch-Site": "cross-site" })).status,
    ).toBe(403);
    expect(
      (await postForm("operator", path, { ...match, csrf: token }, { Origin: "https://evil.example" })).status,
    ).toBe(403);
    expect(await decisions()).toEqual([]);
    expect((await api(daemon.baseUrl, "viewer")("/api/v1/payments/pg_b2")).body.status).not.toBe("settled");

    const done = await postForm("operator", path, {
      payment_id: "pg_b2",
      note: "invoice number on the call",
      csrf: token,
    });
    expect(done.status).toBe(303);
    expect(done.headers.get("location")).toBe("/bank-entries/bank_a/FORM-AMB");
    expect(await decisions()).toEqual([
      expect.objectContaining({ action: "match", target: "payment:pg_b2", note: "invoice number on the call" }),
    ]);
    expect((await api(daemon.baseUrl, "viewer")("/api/v1/payments/pg_b2")).body.status).toBe("settled");

    // A decision the API would refuse is refused on the page with the same words, nothing stored.
    const wrong = await postForm("operator", path, { payment_id: "nope", csrf: token });
    expect(wrong.status).toBe(404);
    expect(await wrong.text()).toContain("no expected payment with this id");
    const unmatched = await postForm("operator", "/bank-entries/bank_a/FORM-AMB/unmatch", { note: "", csrf: token });
    expect(unmatched.status).toBe(303);
    expect((await decisions()).length).toBe(2);
    expect((await api(daemon.baseUrl, "viewer")("/api/v1/payments/pg_b2")).body.status).not.toBe("settled");
  });

  it("an operator searches an ambiguous entry by a remittance word in Chromium, matches it by hand; a viewer sees no forms", {
    timeout: 90_000,
  }, async () => {
    const browser = await launchChromium();
    try {
      const operator = await browser.newContext({ httpCredentials: { username: "me", password: TOKENS.operator } });
      const page = await operator.newPage();
      expect((await page.goto(`${daemon.baseUrl}/login`))?.status()).toBe(200);
      await page.locator("footer a[href='/bank-entries']").click();
      await page.waitForURL(`${daemon.baseUrl}/bank-entries`);
      await page.fill("input[name=q]", "bluebell");
      await page.fill("input[name=amount]", "42.42");
      await page.click("#entry-search button[type=submit]");
      await page.waitForURL(/\/bank-entries\?q=bluebell/);
      const rows = page.locator("#entries tbody tr");
      expect(await rows.count()).toBe(1);
      expect(await rows.first().textContent()).toMatch(/PAGE-AMB.*42\.42 EUR.*ambiguous/);
      await rows.first().locator("a").first().click();
      await page.waitForURL(`${daemon.baseUrl}/bank-entries/bank_a/PAGE-AMB`);

      const candidates = page.locator("#entry-candidates tbody tr");
      expect(await candidates.count()).toBe(2);
      expect(await candidates.locator(".explanation").first().textContent()).toMatch(
        /^amount 42\.42 EUR, value date \S+ within \S+ of due date \S+ of payment pg_a1 .*one of 2 open candidates of 2$/,
      );
      const second = page.locator('#entry-candidates tr[data-candidate="pg_a2"]');
      await second.locator("input[name=note]").fill("customer named the order on the phone");
      const posted = page.waitForRequest((request) => request.method() === "POST");
      await second.locator("button").click();
      // What the server's same-origin check sees from a real browser (the pages' policy is no-referrer).
      const headers = await (await posted).allHeaders();
      expect(headers["sec-fetch-site"]).toBe("same-origin");
      expect(headers.origin).toBe("null");
      await page.waitForURL(`${daemon.baseUrl}/bank-entries/bank_a/PAGE-AMB`);
      const match = page.locator('#entry-matches tr[data-rule="manual"]');
      expect(await match.textContent()).toContain("pg_a2");
      expect(await match.locator(".explanation").textContent()).toMatch(
        /^matched by hand by operator:[0-9a-f]{8} at \S+: customer named the order on the phone$/,
      );
      expect(await page.locator("#entry-audit").textContent()).toContain("payment:pg_a2");
      expect(await page.locator("#entry-candidates").count()).toBe(0);
      expect((await api(daemon.baseUrl, "viewer")("/api/v1/payments/pg_a2")).body.status).toBe("settled");
      await operator.close();

      const viewer = await browser.newContext({ httpCredentials: { username: "me", password: TOKENS.viewer } });
      const viewerPage = await viewer.newPage();
      expect((await viewerPage.goto(`${daemon.baseUrl}/bank-entries/bank_a/PAGE-AMB`))?.status()).toBe(200);
      expect(await viewerPage.locator("#entry-matches").textContent()).toContain("pg_a2");
      expect(await viewerPage.locator("form[method=post]").count()).toBe(0);
      expect(await viewerPage.locator("#decide").count()).toBe(0);
      await viewer.close();
    } finally {
      await browser.close();
    }
  });
});
