import { describe, expect, it } from "vitest";
import { getStripeJson, StripeApiError } from "../../src/consumers/stripeApi.js";

/** A scripted Stripe: each call takes the next answer (a status and headers, or a network error). */
function scripted(answers: Array<{ status: number; headers?: Record<string, string> } | "network">) {
  const seen: Array<{ version: string | null; authorization: string | null }> = [];
  const fetch = (async (_url: string, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    seen.push({ version: headers.get("stripe-version"), authorization: headers.get("authorization") });
    const answer = answers[seen.length - 1] ?? { status: 200 };
    if (answer === "network") throw new TypeError("fetch failed");
    return new Response(JSON.stringify({ attempt: seen.length }), {
      status: answer.status,
      headers: answer.headers,
    });
  }) as typeof globalThis.fetch;
  const slept: number[] = [];
  const sleep = async (ms: number) => {
    slept.push(ms);
  };
  return { fetch, sleep, seen, slept };
}

const URL_ = "https://api.stripe.test/v1/balance_transactions?payout=po_1";
const init = { headers: { Authorization: "Bearer sk_test" } };

describe("Stripe API requests", () => {
  it("pin the API version on every request and keep the caller's headers", async () => {
    const stripe = scripted([{ status: 200 }]);
    expect(await getStripeJson(URL_, init, { apiVersion: "2024-06-20", ...stripe })).toEqual({ attempt: 1 });
    expect(stripe.seen).toEqual([{ version: "2024-06-20", authorization: "Bearer sk_test" }]);
  });

  it("retry 429 and 5xx with backoff, honouring Retry-After, then succeed", async () => {
    const stripe = scripted([{ status: 429, headers: { "retry-after": "2" } }, { status: 503 }, { status: 200 }]);
    const body = await getStripeJson(URL_, init, { apiVersion: "v", random: () => 1, ...stripe });
    expect(body).toEqual({ attempt: 3 });
    expect(stripe.slept).toEqual([2_000, 1_000]); // Retry-After beats the 500 ms backoff; then 500 × 2
    expect(stripe.seen.every((call) => call.version === "v")).toBe(true);
  });

  it("give up after the attempts, with a retriable error naming the status", async () => {
    const stripe = scripted([{ status: 500 }, { status: 502 }, { status: 500 }]);
    const failed = getStripeJson(URL_, init, { apiVersion: "v", attempts: 3, ...stripe });
    await expect(failed).rejects.toMatchObject({ name: "StripeApiError", status: 500, retriable: true });
    expect(stripe.seen).toHaveLength(3);
  });

  it("never retry other 4xx, and follow Stripe-Should-Retry either way", async () => {
    for (const status of [400, 401, 404]) {
      const stripe = scripted([{ status }]);
      await expect(getStripeJson(URL_, init, { apiVersion: "v", ...stripe })).rejects.toBeInstanceOf(StripeApiError);
      expect(stripe.seen, String(status)).toHaveLength(1);
    }
    const no = scripted([{ status: 500, headers: { "stripe-should-retry": "false" } }]);
    await expect(getStripeJson(URL_, init, { apiVersion: "v", ...no })).rejects.toMatchObject({ retriable: false });
    expect(no.seen).toHaveLength(1);
    const yes = scripted([{ status: 409, headers: { "stripe-should-retry": "true" } }, { status: 200 }]);
    expect(await getStripeJson(URL_, init, { apiVersion: "v", ...yes })).toEqual({ attempt: 2 });
  });

  it("retry a network failure", async () => {
    const stripe = scripted(["network", { status: 200 }]);
    expect(await getStripeJson(URL_, init, { apiVersion: "v", ...stripe })).toEqual({ attempt: 2 });
    expect(stripe.slept).toHaveLength(1);
  });
});
