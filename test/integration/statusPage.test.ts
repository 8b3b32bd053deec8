import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatMoney } from "../../src/messages/display.js";
import { generateScenario } from "../../src/simulate/scenario.js";
import { launchChromium } from "../support/browser.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { startTestDaemon, TOKENS, type TestDaemon, waitUntil } from "../support/daemon.js";

/**
 * Issue 6: the status page in a real (headless Debian) Chromium, over a
 * realistic scenario with an incident: an outage of payouts at one gateway,
 * a compliance hold, a bank credit nobody expected, a gateway gone quiet, and
 * a counterparty name that is an HTML injection attempt.
 */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const SCREENSHOT = path.join(repoRoot, "test-results", "status-page.png");
const MINUTE = 60_000;
const DAY = 86_400_000;
const INJECTED = "<script>alert(1)</script>";
const INJECTED_MESSAGE = "<img src=x onerror=alert(2)>";

describe("status page", () => {
  let db: TestDatabase;
  let daemon: TestDaemon;
  let browser: Browser;
  const now = Date.now();
  const iso = (ms: number) => new Date(ms).toISOString();
  const day = (ms: number) => iso(ms).slice(0, 10);
  const scenario = generateScenario({ seed: 606, now, payments: 300 });
  const dialogs: string[] = [];

  const ingest = async (topic: string, messages: object[]) => {
    const response = await fetch(`${daemon.baseUrl}/api/v1/ingest/${topic}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${TOKENS.ingester}` },
      body: messages.map((m) => JSON.stringify(m)).join("\n"),
    });
    const body = (await response.json()) as { rejected: number; lines: unknown[] };
    expect(response.status).toBe(200);
    expect(body.rejected, JSON.stringify(body.lines)).toBe(0);
  };

  const payout = <T extends Record<string, unknown>>(id: string, fields: T) => ({
    id,
    direction: "payout",
    reference: id.toUpperCase(),
    counterparty: "cp_incident",
    created_at: iso(now - 40 * MINUTE),
    due_at: iso(now + DAY),
    ...fields,
  });

  // The outage: 30 adyen payouts submitted and then failed within the last half hour.
  const outage = Array.from({ length: 30 }, (_, i) =>
    payout(`outage_${i}`, { gateway: "adyen", currency: "USD", amount_minor: 10_000 + i * 137 }),
  );

  beforeAll(async () => {
    db = await createTestDatabase();
    daemon = await startTestDaemon({ DATABASE_URL: db.url, UNMATCHED_GRACE: "1s", SWEEP_INTERVAL: "1s" });
    browser = await launchChromium();
    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });

    await ingest("payments.expected", scenario.expected);
    await ingest("gateway.events", scenario.events);
    await ingest("bank.settlements", scenario.entries);

    await ingest("payments.expected", [
      ...outage,
      payout("hold_1", { gateway: "stripe", currency: "CHF", amount_minor: 2_500_000 }),
      payout("xss_1", { gateway: "stripe", currency: "EUR", amount_minor: 9_876_543, counterparty: INJECTED }),
    ]);
    await ingest("gateway.events", [
      ...outage.flatMap((p, i) => [
        {
          event_id: `outage-sub-${i}`,
          gateway: "adyen",
          type: "payout.submitted",
          reference: p.reference,
          amount_minor: p.amount_minor,
          currency: "USD",
          occurred_at: iso(now - 30 * MINUTE),
        },
        {
          event_id: `outage-fail-${i}`,
          gateway: "adyen",
          type: "payout.failed",
          reference: p.reference,
          amount_minor: p.amount_minor,
          currency: "USD",
          occurred_at: iso(now - 20 * MINUTE + i * 1000),
          failure_code: "counterpartyBankTimedOut",
          failure_message: "Bank timed out",
        },
      ]),
      {
        event_id: "hold-sub-1",
        gateway: "stripe",
        type: "payout.submitted",
        reference: "HOLD_1",
        amount_minor: 2_500_000,
        currency: "CHF",
        occurred_at: iso(now - 30 * MINUTE),
      },
      {
        event_id: "hold-1",
        gateway: "stripe",
        type: "payout.held",
        reference: "HOLD_1",
        amount_minor: 2_500_000,
        currency: "CHF",
        occurred_at: iso(now - 10 * MINUTE),
        hold_reason: "compliance_review",
      },
      {
        event_id: "xss-fail-1",
        gateway: "stripe",
        type: "payout.failed",
        reference: "XSS_1",
        amount_minor: 9_876_543,
        currency: "EUR",
        occurred_at: iso(now - 5 * MINUTE),
        failure_code: "account_closed",
        failure_message: INJECTED_MESSAGE,
      },
      // A gateway that then went quiet (see below), whose only event matches nothing.
      {
        event_id: "wp-1",
        gateway: "worldpay",
        type: "payment.captured",
        reference: "NOBODY-EXPECTS-THIS",
        amount_minor: 1_500,
        currency: "EUR",
        occurred_at: iso(now - 3 * 3_600_000),
      },
    ]);
    // A credit nobody expected, at a second bank.
    await ingest("bank.settlements", [
      {
        entry_id: "MYSTERY-1",
        bank: "bank_b",
        account: "GB29NWBK60161331926819",
        direction: "credit",
        amount_minor: 432_100,
        currency: "GBP",
        booking_date: day(now),
        value_date: day(now),
        status: "booked",
        end_to_end_id: null,
        remittance_info: "WHO IS THIS",
        counterparty_name: "MYSTERY LTD",
      },
    ]);
    // Freshness is when payrecon received a source's newest message, so a feed silent for three hours cannot be
    // sent over HTTP now: worldpay's bridge is made to have gone quiet three hours ago.
    await db.pool.query(
      "update source_freshness set last_event = now() - interval '3 hours' where topic = 'gateway.events' and source = 'worldpay'",
    );
    // The sweeper turns the stranger's credit into an unmatched exception once the 1s grace passes.
    await waitUntil(
      async () => {
        const open = await db.pool.query(
          "select 1 from exceptions where kind = 'unmatched' and entry_id = 'MYSTERY-1' and state = 'open'",
        );
        return open.rowCount === 1;
      },
      30_000,
      "the unexpected bank entry to become an unmatched exception",
    );
  });

  afterAll(async () => {
    await browser?.close();
    await daemon?.stop();
    await db?.drop();
  });

  /** A page that records console errors, uncaught errors and dialogs (an executed alert() would be one). */
  async function openPage(context: BrowserContext): Promise<{ page: Page; errors: string[] }> {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    page.on("pageerror", (error) => errors.push(String(error)));
    page.on("dialog", async (dialog) => {
      dialogs.push(dialog.message());
      await dialog.dismiss();
    });
    return { page, errors };
  }

  async function adyenPayoutRatio(): Promise<number> {
    const rows = await db.pool.query<{ status: string; count: number }>(
      "select status, sum(count)::bigint as count from payment_totals where gateway = 'adyen' and direction = 'payout' and status in ('failed', 'settled') group by status",
    );
    const of = (status: string) => rows.rows.find((row) => row.status === status)?.count ?? 0;
    return of("failed") / (of("failed") + of("settled"));
  }

  it("shows the incident to anyone, as aggregates only, with safe headers", async () => {
    const context = await browser.newContext();
    const { page, errors } = await openPage(context);
    const response = await page.goto(`${daemon.baseUrl}/`);
    expect(response?.status()).toBe(200);
    const headers = response!.headers();
    expect(headers["content-type"]).toMatch(/^text\/html; charset=utf-8/);
    expect(headers["content-security-policy"]).toContain("default-src 'none'");
    expect(headers["content-security-policy"]).toContain("style-src 'unsafe-inline'");
    expect(headers["content-security-policy"]).toContain("form-action 'self'");
    expect(headers["x-frame-options"]).toBe("DENY");
    expect(headers["referrer-policy"]).toBe("no-referrer");
    expect(headers["cache-control"]).toBe("no-store");

    await expect(page.title()).resolves.toBe("payrecon status");
    expect(await page.locator("#readiness").textContent()).toBe("ready");
    expect(await page.locator("#build").textContent()).toMatch(/version \d+\.\d+\.\d+/);

    // The outage: adyen's payouts fail far above the flag line, and it heads the table.
    const ratio = await adyenPayoutRatio();
    expect(ratio).toBeGreaterThan(0.3);
    const adyen = page.locator('#failure-ratios tr[data-gateway="adyen"]');
    await expect(adyen.locator('td[data-kind="payout"] .badge.bad').textContent()).resolves.toBe(
      `${(ratio * 100).toFixed(1)}%`,
    );
    expect(await adyen.getAttribute("class")).toBe("flag");
    expect(await page.locator("#failure-ratios tbody tr").first().getAttribute("data-gateway")).toBe("adyen");

    // The compliance hold: 25,000.00 CHF held, in major units with CHF's two decimals.
    const held = page.locator('#funds-at-risk tr[data-currency="CHF"][data-direction="payout"] td[data-status="held"]');
    expect(await held.textContent()).toBe("25,000.00 (1)");
    // The failed payouts in USD, summed exactly.
    const failedUsd = outage.reduce((sum, p) => sum + p.amount_minor, 0);
    const usdFailed = await page
      .locator('#funds-at-risk tr[data-currency="USD"][data-direction="payout"] td[data-status="failed"]')
      .textContent();
    const usdFromDb = await db.pool.query<{ minor: number }>(
      "select sum(at_risk_minor)::bigint as minor from payment_totals where currency = 'USD' and direction = 'payout' and status = 'failed'",
    );
    expect(usdFromDb.rows[0]!.minor).toBeGreaterThanOrEqual(failedUsd);
    expect(
      usdFailed?.startsWith((usdFromDb.rows[0]!.minor / 100).toLocaleString("en-US", { minimumFractionDigits: 2 })),
    ).toBe(true);

    // Open exceptions by kind, the stranger's credit among the unmatched.
    const unmatchedGbp = page.locator('#exception-summary tr[data-kind="unmatched"][data-currency="GBP"]');
    expect(await unmatchedGbp.locator("td").nth(2).textContent()).toBe("1");
    expect(await unmatchedGbp.locator("td").nth(3).textContent()).toBe("4,321.00");
    expect(await page.locator('#exception-summary tr[data-kind="held"]').count()).toBeGreaterThan(0);
    expect(await page.locator('#exception-summary tr[data-kind="failed"]').count()).toBeGreaterThan(0);

    // Freshness: the quiet gateway is stale, the others and both banks fresh.
    expect(await page.locator('#freshness tr[data-source="worldpay"][data-kind="gateway"] .badge').textContent()).toBe(
      "stale",
    );
    expect(await page.locator('#freshness tr[data-source="adyen"][data-kind="gateway"] .badge').textContent()).toBe(
      "fresh",
    );
    for (const bank of ["bank_a", "bank_b"])
      expect(await page.locator(`#freshness tr[data-source="${bank}"][data-kind="bank"] .badge`).textContent()).toBe(
        "fresh",
      );
    expect(await page.locator("#consumer-lag").textContent()).toContain("No Kafka consumers");
    expect(await page.locator("#attention").textContent()).toMatch(/adyen: \d+\.\d% of payouts failed/);

    // No payment-level detail, and it says how to get it.
    expect(await page.locator("#how-to-authenticate").textContent()).toContain("Authorization: Bearer <token>");
    expect(await page.locator("a.payment-link").count()).toBe(0);
    const text = await page.content();
    for (const secret of ["hold_1", "HOLD_1", "xss_1", "outage_", "sim_", "MYSTERY", "cp_", "alert(1)"])
      expect(text).not.toContain(secret);
    await page.screenshot({ path: SCREENSHOT.replace(".png", "-public.png"), fullPage: true });
    expect(errors).toEqual([]);
    await context.close();
  });

  it("ignores a token in the URL, says so, and never writes it into the page", async () => {
    const context = await browser.newContext();
    const { page, errors } = await openPage(context);
    const response = await page.goto(`${daemon.baseUrl}/?token=${TOKENS.viewer}`);
    expect(response?.status()).toBe(200);
    expect(await page.locator("#token-in-url").count()).toBe(1);
    expect(await page.locator("a.payment-link").count()).toBe(0);
    expect(await page.content()).not.toContain(TOKENS.viewer);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("with a viewer token lists the oldest and largest exceptions, each linking to the payment's timeline", async () => {
    const context = await browser.newContext({
      extraHTTPHeaders: { Authorization: `Bearer ${TOKENS.viewer}` },
      viewport: { width: 1400, height: 900 },
    });
    const { page, errors } = await openPage(context);
    const response = await page.goto(`${daemon.baseUrl}/`);
    expect(response?.status()).toBe(200);
    expect(await page.locator("#access").textContent()).toMatch(/signed in as viewer \(viewer:[0-9a-f]{8}\)/);
    expect(await page.locator("#how-to-authenticate").count()).toBe(0);

    const oldest = page.locator("#oldest-exceptions tbody tr");
    const largest = page.locator("#largest-exceptions tbody tr");
    expect(await oldest.count()).toBe(10);
    expect(await largest.count()).toBe(10);
    // Oldest first: ages never grow down the list (opened_at ascending) — checked against the database.
    const expectedOldest = await db.pool.query<{ id: number }>(
      "select id from exceptions where state <> 'resolved' order by opened_at, id limit 10",
    );
    expect(await oldest.evaluateAll((rows) => rows.map((row) => Number(row.getAttribute("data-exception"))))).toEqual(
      expectedOldest.rows.map((row) => row.id),
    );
    // Largest first, in major units (currencies are not converted): the injected payout, the hold and the GBP credit are among the ten.
    const largestText = await largest.evaluateAll((rows) => rows.map((row) => row.textContent ?? ""));
    const amounts = await largest.evaluateAll((rows) =>
      rows.map((row) => Number((row.querySelectorAll("td")[6]?.textContent ?? "").split(" ")[0]!.replaceAll(",", ""))),
    );
    expect(amounts).toEqual([...amounts].sort((a, b) => b - a));
    const rowOf = (needle: string) => largestText.find((row) => row.includes(needle)) ?? "";
    expect(rowOf("xss_1")).toContain("98,765.43 EUR");
    expect(rowOf("hold_1")).toContain("25,000.00 CHF");
    expect(rowOf("hold_1")).toContain("held");
    expect(rowOf("MYSTERY-1")).toContain("MYSTERY LTD");
    expect(rowOf("MYSTERY-1")).toContain("4,321.00 GBP");
    expect(rowOf("MYSTERY-1")).toContain("unmatched");

    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    console.log(`status page screenshot: ${SCREENSHOT}`);

    // Following the hold's link shows its timeline.
    await page.locator('#largest-exceptions a.payment-link[href="/payments/hold_1"]').click();
    await page.waitForURL(`${daemon.baseUrl}/payments/hold_1`);
    expect(await page.locator("#payment h2").textContent()).toBe("Payment hold_1");
    const kv = await page.locator("#payment dl").textContent();
    expect(kv).toContain("held");
    expect(kv).toContain("compliance_review");
    expect(kv).toContain("25,000.00 CHF");
    const types = await page
      .locator("#timeline tbody tr")
      .evaluateAll((rows) => rows.map((row) => row.getAttribute("data-type")));
    expect(types).toEqual(
      expect.arrayContaining(["expected.created", "payout.submitted", "payout.held", "status.held"]),
    );
    expect(await page.locator("#payment-exceptions").textContent()).toContain("held");
    await page.screenshot({ path: SCREENSHOT.replace(".png", "-payment.png"), fullPage: true });

    // Amounts of different currencies do not compare: the largest list narrowed to one currency.
    await page.goto(`${daemon.baseUrl}/`);
    await page.locator('#largest-currencies a[href="/?currency=EUR#largest"]').click();
    await page.waitForURL(`${daemon.baseUrl}/?currency=EUR#largest`);
    const eur = await page
      .locator("#largest-exceptions tbody tr")
      .evaluateAll((rows) => rows.map((row) => row.querySelectorAll("td")[6]?.textContent ?? ""));
    expect(eur.length).toBeGreaterThan(2);
    for (const amount of eur) expect(amount).toMatch(/ EUR$/);
    expect(eur[0]).toBe("98,765.43 EUR");
    // The stray credit nobody expected is the size of a large payment (issue 18), among the largest in EUR.
    const stray = scenario.entries.find((entry) => entry.entry_id === scenario.unmatchedEntries[0]);
    expect(stray?.amount_minor).toBeLessThan(1_000_000);
    expect(eur).toContain(`${formatMoney(stray!.amount_minor, "EUR")}`);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("shows an injected counterparty and failure message as text, and runs no script", async () => {
    const context = await browser.newContext({ extraHTTPHeaders: { Authorization: `Bearer ${TOKENS.operator}` } });
    const { page, errors } = await openPage(context);
    await page.goto(`${daemon.baseUrl}/`);
    const row = page.locator("#largest-exceptions tbody tr", { hasText: "xss_1" });
    expect(await row.locator("td").nth(5).textContent()).toBe(INJECTED);
    expect(await page.locator("script").count()).toBe(0);

    await page.goto(`${daemon.baseUrl}/payments/xss_1`);
    const kv = await page.locator("#payment dl").textContent();
    expect(kv).toContain(INJECTED);
    expect(kv).toContain(INJECTED_MESSAGE);
    expect(await page.locator("#timeline").textContent()).toContain(INJECTED_MESSAGE);
    expect(await page.locator("script, img").count()).toBe(0);

    const raw = await fetch(`${daemon.baseUrl}/payments/xss_1`, {
      headers: { Authorization: `Bearer ${TOKENS.viewer}` },
    }).then((r) => r.text());
    expect(raw).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(raw).not.toContain(INJECTED);
    expect(raw).not.toContain("<img src=x");
    expect(dialogs).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("lets a browser sign in with the token as the password, and refuses payments without it", async () => {
    const anonymous = await fetch(`${daemon.baseUrl}/payments/hold_1`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toContain('Basic realm="payrecon"');
    expect(await anonymous.text()).not.toContain("compliance_review");
    const ingester = await fetch(`${daemon.baseUrl}/payments/hold_1`, {
      headers: { Authorization: `Bearer ${TOKENS.ingester}` },
    });
    expect(ingester.status).toBe(403);
    const wrong = await fetch(`${daemon.baseUrl}/`, { headers: { Authorization: "Bearer not-a-token" } });
    expect(wrong.status).toBe(200);
    expect(await wrong.text()).toContain("The token presented is not valid");
    const missing = await fetch(`${daemon.baseUrl}/payments/nope`, {
      headers: { Authorization: `Bearer ${TOKENS.viewer}` },
    });
    expect(missing.status).toBe(404);

    const context = await browser.newContext({ httpCredentials: { username: "me", password: TOKENS.viewer } });
    const { page } = await openPage(context);
    await page.goto(`${daemon.baseUrl}/login`);
    await page.waitForURL(`${daemon.baseUrl}/`);
    expect(await page.locator("#access").textContent()).toContain("signed in as viewer");
    expect(await page.locator("a.payment-link").count()).toBeGreaterThan(0);
    const response = await page.goto(`${daemon.baseUrl}/payments/hold_1`);
    expect(response?.status()).toBe(200);
    expect(await page.locator("#timeline").textContent()).toContain("payout.held");
    expect(dialogs).toEqual([]);
    await context.close();
  });
});
