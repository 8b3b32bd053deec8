import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.js";
import { clientKey, parseRateLimit, TokenBuckets } from "../../../src/http/rateLimit.js";

/** Issue 8: the token bucket behind API rate limiting, with an injected clock. */

function clock(start = 0) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe("parseRateLimit", () => {
  it("reads rate/unit with an optional burst, or off", () => {
    expect(parseRateLimit("50/s")).toEqual({ ratePerSecond: 50, burst: 100 });
    expect(parseRateLimit("50/s:10")).toEqual({ ratePerSecond: 50, burst: 10 });
    expect(parseRateLimit("600/m")).toEqual({ ratePerSecond: 10, burst: 20 });
    expect(parseRateLimit("36/h:5")).toEqual({ ratePerSecond: 0.01, burst: 5 });
    expect(parseRateLimit("1/h")).toEqual({ ratePerSecond: 1 / 3600, burst: 1 });
    expect(parseRateLimit(" OFF ")).toBeNull();
    for (const bad of ["", "50", "50/d", "-1/s", "0/s", "50/s:0", "50/s:-1", "fast", "50 /s", "1e3/s", "50/s:1.5"]) {
      expect(parseRateLimit(bad), bad).toBeUndefined();
    }
  });

  it("is configured by API_RATE_LIMIT and API_INGEST_RATE_LIMIT, a bad value naming the variable", () => {
    const defaults = loadConfig({});
    expect(defaults.http.rateLimit).toEqual({
      api: { ratePerSecond: 50, burst: 100 },
      ingest: { ratePerSecond: 200, burst: 1000 },
    });
    const custom = loadConfig({ API_RATE_LIMIT: "5/s:5", API_INGEST_RATE_LIMIT: "off" });
    expect(custom.http.rateLimit).toEqual({ api: { ratePerSecond: 5, burst: 5 }, ingest: null });
    expect(() => loadConfig({ API_RATE_LIMIT: "lots" })).toThrow(
      /^invalid configuration: API_RATE_LIMIT: "lots" is not a rate/,
    );
    expect(() => loadConfig({ API_INGEST_RATE_LIMIT: "5/x" })).toThrow(/API_INGEST_RATE_LIMIT/);
  });
});

describe("TokenBuckets", () => {
  it("allows a burst, then one request per 1/rate, and says when to retry", () => {
    const time = clock();
    const buckets = new TokenBuckets({ ratePerSecond: 2, burst: 3 }, 100, time.now);
    expect([1, 2, 3].map(() => buckets.take("a").ok)).toEqual([true, true, true]);
    expect(buckets.take("a")).toEqual({ ok: false, retryAfterSeconds: 1 });
    // Another principal has its own bucket.
    expect(buckets.take("b").ok).toBe(true);
    time.advance(499);
    expect(buckets.take("a").ok).toBe(false);
    time.advance(501);
    // One second at 2/s: two requests (refused requests cost nothing).
    expect([1, 2, 3].map(() => buckets.take("a").ok)).toEqual([true, true, false]);
    // A long pause refills to the burst, not beyond.
    time.advance(3_600_000);
    expect([1, 2, 3, 4].map(() => buckets.take("a").ok)).toEqual([true, true, true, false]);
  });

  it("rounds Retry-After up to whole seconds for slow rates", () => {
    const time = clock();
    const buckets = new TokenBuckets({ ratePerSecond: 1 / 60, burst: 1 }, 100, time.now);
    expect(buckets.take("a").ok).toBe(true);
    expect(buckets.take("a")).toEqual({ ok: false, retryAfterSeconds: 60 });
    time.advance(30_000);
    expect(buckets.take("a")).toEqual({ ok: false, retryAfterSeconds: 30 });
  });

  it("never admits more than burst + rate × elapsed (fast-check)", () => {
    let runs = 0;
    fc.assert(
      fc.property(
        fc.record({
          rate: fc.integer({ min: 1, max: 100 }),
          burst: fc.integer({ min: 1, max: 200 }),
          gaps: fc.array(fc.integer({ min: 0, max: 200 }), { minLength: 1, maxLength: 300 }),
        }),
        ({ rate, burst, gaps }) => {
          runs++;
          const time = clock();
          const buckets = new TokenBuckets({ ratePerSecond: rate, burst }, 100, time.now);
          let admitted = 0;
          for (const gap of gaps) {
            time.advance(gap);
            const taken = buckets.take("k");
            if (taken.ok) admitted++;
            else expect(taken.retryAfterSeconds).toBeGreaterThanOrEqual(1);
          }
          expect(admitted).toBeLessThanOrEqual(burst + Math.floor((rate * time.now()) / 1000) + 1);
          // With no pause at all, exactly the burst gets through.
          const fresh = new TokenBuckets({ ratePerSecond: rate, burst }, 100, () => 0);
          const first = Array.from({ length: burst + 5 }, () => fresh.take("k").ok);
          expect(first.filter(Boolean)).toHaveLength(burst);
        },
      ),
      { numRuns: 1_000 },
    );
    console.log(`[hostile rate limit] fast-check: ${runs} runs`);
  });

  it("bounds its memory when addresses are sprayed, dropping idle (full) buckets first", () => {
    const time = clock();
    const buckets = new TokenBuckets({ ratePerSecond: 1, burst: 2 }, 1_000, time.now);
    buckets.take("busy");
    buckets.take("busy");
    for (let i = 0; i < 50_000; i++) buckets.take(`ip:${i}`);
    expect(buckets.size).toBeLessThanOrEqual(1_000);
    // The least recently used go first; a principal that keeps calling keeps its (empty) bucket.
    const time2 = clock();
    const lru = new TokenBuckets({ ratePerSecond: 0.001, burst: 1 }, 10, time2.now);
    lru.take("attacker");
    for (let i = 0; i < 100; i++) {
      lru.take(`spray:${i}`);
      expect(lru.take("attacker").ok).toBe(false);
    }
  });
});

describe("clientKey", () => {
  it("keys IPv4 by address, IPv4-mapped IPv6 as IPv4, and IPv6 by its /64", () => {
    expect(clientKey("203.0.113.7")).toBe("ip:203.0.113.7");
    expect(clientKey("::ffff:203.0.113.7")).toBe("ip:203.0.113.7");
    expect(clientKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd")).toBe("ip6:2001:db8:1:2::/64");
    expect(clientKey("2001:db8:1:2::1")).toBe(clientKey("2001:0db8:0001:0002:ffff::9"));
    expect(clientKey("2001:db8::1")).toBe("ip6:2001:db8:0:0::/64");
    expect(clientKey("::1")).toBe("ip6:0:0:0:0::/64");
    expect(clientKey("fe80::1%eth0")).toBe("ip6:fe80:0:0:0::/64");
    expect(clientKey(undefined)).toBe("ip:unknown");
  });
});
