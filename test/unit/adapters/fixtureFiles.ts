import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** The shared, read-only gateway fixtures (see /work/shared/fixtures/SOURCES.md). */
export const FIXTURES = "/work/shared/fixtures";

export function fixtureNames(gateway: "stripe" | "adyen"): string[] {
  return readdirSync(join(FIXTURES, gateway))
    .filter((name) => name.endsWith(".json"))
    .sort();
}

export function fixtureBytes(gateway: "stripe" | "adyen", name: string): Buffer {
  return readFileSync(join(FIXTURES, gateway, name));
}

// biome-ignore lint/suspicious/noExplicitAny: fixtures are arbitrary JSON read field by field in the tests
export type Json = any;

/** A fresh parsed copy each call, so a test may modify it. */
export function fixture(gateway: "stripe" | "adyen", name: string): Json {
  return JSON.parse(fixtureBytes(gateway, name).toString("utf8"));
}

/** A Stripe event envelope around an API object, as Stripe would send it. */
export function stripeEvent(type: string, object: Json, extra: Json = {}): Json {
  return {
    id: `evt_test_${type}`,
    object: "event",
    type,
    created: 1_700_000_000,
    livemode: false,
    data: { object },
    ...extra,
  };
}

export function unixDate(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 10);
}
