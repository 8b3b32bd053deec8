import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../../src/db/embeddedPostgres.js";
import { launchChromium } from "../support/browser.js";
import { waitUntil } from "../support/daemon.js";

/**
 * Issue 18: `npm run demo` as a new user meets it. The test starts the demo on a free port, reads the
 * instructions it prints, follows them in headless Chromium (sign-in included), waits until the status page
 * shows the trends and names the incidents, takes a screenshot, and stops the demo with one SIGINT.
 */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
// A copy outside the temporary directory, for people to look at (DEMO_SCREENSHOT chooses where).
const SCREENSHOT_COPY = process.env.DEMO_SCREENSHOT ?? path.join(repoRoot, "test-results", "demo-screenshot.png");

describe("npm run demo, followed in a browser", () => {
  const temp = mkdtempSync(path.join(tmpdir(), "payrecon-demo-"));
  let demo: ChildProcess | undefined;
  let browser: Browser | undefined;
  let output = "";

  afterAll(async () => {
    await browser?.close();
    const running = demo && demo.exitCode === null && demo.signalCode === null ? demo : undefined;
    if (running) {
      // After a failure too: the daemon runs in its own process group, only the demo can stop it.
      const gone = new Promise((resolve) => running.once("exit", resolve));
      running.kill("SIGINT");
      await Promise.race([gone, new Promise((resolve) => setTimeout(resolve, 60_000).unref())]);
      if (running.exitCode === null) running.kill("SIGKILL");
    }
    rmSync(temp, { recursive: true, force: true });
  }, 90_000);

  it("prints a URL and sign-in the page accepts, names its incidents beside the trends, and stops on one SIGINT", async () => {
    const port = await freePort();
    const env: Record<string, string | undefined> = {
      ...process.env,
      HTTP_PORT: String(port),
      DATA_DIR: path.join(temp, "data"),
      LOG_LEVEL: "warn",
    };
    // The demo brings its own embedded PostgreSQL and no Kafka, as for a new user.
    delete env.DATABASE_URL;
    delete env.KAFKA_BROKERS;
    demo = spawn(process.execPath, ["--import", "tsx", "scripts/demo.ts"], {
      cwd: repoRoot,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    demo.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    demo.stderr!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => demo!.once("exit", (code) => resolve(code)));

    // The printed instructions: the status page's URL, where to sign in and with which password.
    const instructions = await waitUntil(
      () => {
        const status = /Status page: (http:\/\/\S+)/.exec(output);
        const login =
          /open (http:\/\/\S+\/login) and, when the browser asks, give any user name and the password (\S+)/.exec(
            output,
          );
        return status && login ? { statusUrl: status[1]!, loginUrl: login[1]!, password: login[2]! } : undefined;
      },
      150_000,
      "the demo's instructions",
    );
    expect(new URL(instructions.statusUrl).port).toBe(String(port));
    expect(instructions.statusUrl).not.toMatch(/token=/);
    expect(output).not.toMatch(/\?token=/);

    browser = await launchChromium();
    const context = await browser.newContext({
      httpCredentials: { username: "finance", password: instructions.password },
      viewport: { width: 1400, height: 1000 },
    });
    const page = await context.newPage();
    await page.goto(instructions.loginUrl);
    await page.waitForURL(new URL("/", instructions.statusUrl).toString());

    // Deadline-polled: the traffic takes about a minute and a half; the page refreshes itself every 10 s.
    await waitUntil(
      async () => {
        await page.goto(instructions.statusUrl);
        const attention = (await page.locator("#attention").textContent()) ?? "";
        const failurePoints = await page
          .locator("#trend-payout-failures circle.point")
          .evaluateAll((points) => points.map((point) => Number(point.getAttribute("data-value"))));
        return (
          attention.includes("payouts failed for account_invalid") &&
          attention.includes("not continuing the previous one") &&
          failurePoints.some((value) => value > 0)
        );
      },
      200_000,
      "the trends and the named incidents on the status page",
    );

    const screenshot = path.join(temp, "demo-screenshot.png");
    await page.screenshot({ path: screenshot, fullPage: true });
    expect(statSync(screenshot).size).toBeGreaterThan(10_000);
    mkdirSync(path.dirname(SCREENSHOT_COPY), { recursive: true });
    copyFileSync(screenshot, SCREENSHOT_COPY);

    // Signed in as the instructions said, with a URL carrying no token.
    expect(await page.locator("#access").textContent()).toContain("signed in as viewer");
    expect(page.url()).not.toContain("token");
    // The incidents, named where the demo said: outage, hold wave, bad data, missing statement.
    const attention = (await page.locator("#attention").textContent()) ?? "";
    expect(attention).toMatch(/adyen: [\d.]+% of payouts failed/);
    expect(attention).toMatch(/stripe: \d+ payouts held/);
    expect(attention).toMatch(/\d+ payouts failed for account_invalid/);
    expect(attention).toMatch(/bank statements? not continuing the previous one \(statement_gap/);
    // Trends: SVG charts with points — funds at risk by status, payout failures by gateway, settlement delay.
    expect(await page.locator("#trends figure.chart svg").count()).toBeGreaterThanOrEqual(3);
    const funds = await page
      .locator("#trend-funds-eur circle.point")
      .evaluateAll((points) => points.map((point) => Number(point.getAttribute("data-value"))));
    expect(funds.some((value) => value > 0)).toBe(true);
    expect(await page.locator('#trend-payout-failures g.series[data-series="adyen"] circle.point').count()).toBe(60);
    expect(await page.locator("#trend-settlement-delay circle.point").count()).toBeGreaterThan(0);
    expect(await page.locator("#trend-payout-failures svg title").first().textContent()).toMatch(
      /Payout failures by gateway \(failures per minute\), \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC to/,
    );
    // One date format for people: no ISO timestamps in what the page shows.
    expect(await page.locator("body").textContent()).not.toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d/);
    // Stray credits are the size of real payments, not millions.
    expect(attention).toMatch(/unmatched items?: [\d,]{1,6}\.\d\d EUR/);
    await context.close();

    // One SIGINT (one Ctrl-C): a graceful stop, exit 0, the port released.
    demo.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(output).toContain("stopping the daemon gracefully");
    expect(output).toContain("payrecon demo: stopped.");
    expect(output).not.toContain("second signal");
    await expect(fetch(`http://127.0.0.1:${port}/readyz`)).rejects.toThrow();
  }, 420_000);
});
