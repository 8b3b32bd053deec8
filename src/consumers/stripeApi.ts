/**
 * GET requests to Stripe's API as Stripe asks clients to make them: a pinned API version (without it the
 * account's default version decides the shape of every response, and changes when someone upgrades the
 * account), and retries with backoff on 429, 5xx and network errors — honouring `Stripe-Should-Retry` and
 * `Retry-After` — but never on other 4xx, which will not get better by asking again.
 */

/** The version the adapters read (balance transactions with `source` expandable, payouts, charges). */
export const DEFAULT_STRIPE_API_VERSION = "2024-06-20";

export interface StripeRequestOptions {
  apiVersion: string;
  /** Attempts in all, the first included. */
  attempts?: number;
  /** First backoff; doubled each retry, with full jitter, capped at 10 s. */
  baseDelayMs?: number;
  fetch?: typeof globalThis.fetch;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export class StripeApiError extends Error {
  override name = "StripeApiError";
  constructor(
    message: string,
    readonly status: number | null,
    readonly retriable: boolean,
  ) {
    super(message);
  }
}

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function getStripeJson(url: string, init: RequestInit, options: StripeRequestOptions): Promise<unknown> {
  const attempts = options.attempts ?? 4;
  const doFetch = options.fetch ?? globalThis.fetch;
  const sleep = options.sleep ?? sleepFor;
  const random = options.random ?? Math.random;
  const headers = new Headers(init.headers);
  headers.set("Stripe-Version", options.apiVersion);
  const path = new URL(url).pathname;
  for (let attempt = 1; ; attempt++) {
    let failure: StripeApiError;
    let retryAfterMs: number | undefined;
    try {
      const response = await doFetch(url, { ...init, headers });
      if (response.ok) return await response.json();
      const shouldRetry = response.headers.get("stripe-should-retry");
      const retriable =
        shouldRetry === "true" || (shouldRetry !== "false" && (response.status === 429 || response.status >= 500));
      const retryAfter = Number(response.headers.get("retry-after"));
      if (Number.isFinite(retryAfter) && retryAfter > 0) retryAfterMs = retryAfter * 1_000;
      failure = new StripeApiError(`Stripe answered ${response.status} for ${path}`, response.status, retriable);
    } catch (error) {
      if (error instanceof StripeApiError) throw error;
      failure = new StripeApiError(`Stripe could not be reached for ${path}: ${String(error)}`, null, true);
    }
    if (!failure.retriable || attempt >= attempts) throw failure;
    const backoff = random() * Math.min(10_000, (options.baseDelayMs ?? 500) * 2 ** (attempt - 1));
    await sleep(Math.min(30_000, Math.max(backoff, retryAfterMs ?? 0)));
  }
}
