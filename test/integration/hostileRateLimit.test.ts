import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { startTestDaemon, type TestDaemon, TOKENS, waitUntil } from "../support/daemon.js";
import { gatewayEvent } from "../support/facts.js";

/**
 * Issue 8: API rate limiting — a token bucket per principal (the token, or the
 * client address when unauthenticated), a separate limit for ingest, 429 with
 * Retry-After and the JSON error shape; health and metrics are never limited.
 */

describe("API rate limiting", () => {
  let db: TestDatabase;
  let daemon: TestDaemon;
  beforeAll(async () => {
    db = await createTestDatabase();
    // Reads: 5 at once, then one every 12 s (no refill during the test). Ingest: 3 at once, then one every 2 s.
    daemon = await startTestDaemon({ DATABASE_URL: db.url, API_RATE_LIMIT: "5/m:5", API_INGEST_RATE_LIMIT: "30/m:3" });
  });
  afterAll(async () => {
    await daemon?.stop();
    await db?.drop();
  });

  const call = async (path: string, token?: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (token !== undefined) headers.set("Authorization", `Bearer ${token}`);
    const response = await fetch(`${daemon.baseUrl}${path}`, { ...init, headers });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text };
  };

  function limited(answer: Awaited<ReturnType<typeof call>>, retryAfter: number) {
    expect(answer.status).toBe(429);
    expect(Number(answer.headers.get("retry-after"))).toBe(retryAfter);
    expect(answer.headers.get("content-type")).toMatch(/^application\/json/);
    expect(answer.headers.get("cache-control")).toBe("no-store");
    expect(answer.headers.get("x-content-type-options")).toBe("nosniff");
    expect(JSON.parse(answer.text)).toEqual({
      error: { code: "rate_limited", message: `too many requests; retry after ${retryAfter} s` },
    });
  }

  it("limits unauthenticated attempts per client address, whatever token they guess", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await call("/api/v1/payments/x", `guess-${i}`)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401]);
    limited(await call("/api/v1/payments/x", "guess-5"), 12);
    limited(await call("/api/v1/payments/x"), 12);
    limited(await call("/api/v1/ingest/gateway.events", "guess-6", { method: "POST", body: "{}" }), 12);
  });

  it("gives each valid token its own budget, even from that same address", async () => {
    const viewer: number[] = [];
    for (let i = 0; i < 5; i++) viewer.push((await call("/api/v1/payments/x", TOKENS.viewer)).status);
    expect(viewer).toEqual([404, 404, 404, 404, 404]);
    limited(await call("/api/v1/payments?limit=1", TOKENS.viewer), 12);
    // Another principal is not affected.
    expect((await call("/api/v1/payments/x", TOKENS.operator)).status).toBe(404);
  });

  it("limits ingest separately (its own, higher limit), and admits again after Retry-After", async () => {
    const post = (n: number) =>
      call("/api/v1/ingest/gateway.events", TOKENS.ingester, { method: "POST", body: JSON.stringify(gatewayEvent(n)) });
    const statuses: number[] = [];
    for (let n = 0; n < 3; n++) statuses.push((await post(n)).status);
    expect(statuses).toEqual([200, 200, 200]);
    const refused = await post(3);
    // Whole seconds until one request is available: 2, or 1 if the three posts took over a second.
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect([1, 2]).toContain(retryAfter);
    limited(refused, retryAfter);
    // The refused request stored nothing.
    const stored = await db.pool.query<{ n: number }>("select count(*)::int as n from gateway_events");
    expect(stored.rows[0]!.n).toBe(3);
    // The ingester's read budget is separate: a read is refused for its role, not for its rate.
    expect((await call("/api/v1/payments/x", TOKENS.ingester)).status).toBe(403);
    // Admitted again once the bucket refills: within Retry-After, plus slack for a busy machine.
    await waitUntil(async () => (await post(3)).status === 200, retryAfter * 1_000 + 10_000, "ingest admitted again");
  });

  it("never limits health, readiness or metrics", async () => {
    const statuses = await Promise.all(
      Array.from({ length: 60 }, (_, i) => fetch(`${daemon.baseUrl}${["/healthz", "/readyz", "/metrics"][i % 3]}`)),
    );
    expect(statuses.every((response) => response.status === 200)).toBe(true);
  });
});
