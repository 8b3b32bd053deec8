import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAILURE_CATEGORIES } from "../../src/reconcile/failureCodes.js";
import { generateScenario } from "../../src/simulate/scenario.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { api, startTestDaemon, type TestDaemon, waitUntil } from "../support/daemon.js";
import { connectedProducer, kafkaEnv, uniqueTopics } from "../support/kafka.js";

/** CONTRACT §4: every metric with its labels, valid exposition, no identifiers in labels, gauges equal to the data. */
const CONTRACT_METRICS: Record<string, { type: string; labels: string[] }> = {
  payrecon_events_ingested_total: { type: "counter", labels: ["topic"] },
  payrecon_events_rejected_total: { type: "counter", labels: ["topic", "reason"] },
  payrecon_payments: { type: "gauge", labels: ["status", "direction", "gateway"] },
  payrecon_funds_at_risk: { type: "gauge", labels: ["status", "direction", "currency"] },
  payrecon_payout_failures_total: { type: "counter", labels: ["gateway", "failure_category"] },
  payrecon_unmatched_bank_entries: { type: "gauge", labels: ["bank", "currency"] },
  payrecon_settlement_duration_seconds: { type: "histogram", labels: ["gateway", "direction"] },
  payrecon_oldest_unsettled_age_seconds: { type: "gauge", labels: ["gateway", "direction"] },
  payrecon_last_event_timestamp_seconds: { type: "gauge", labels: ["topic", "source"] },
  payrecon_consumer_lag: { type: "gauge", labels: ["topic", "partition"] },
  payrecon_reconcile_duration_seconds: { type: "histogram", labels: [] },
};

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parse(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (sample) {
      const labels: Record<string, string> = {};
      for (const match of (sample[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[match[1]!] = match[2]!;
      samples.push({ name: sample[1]!, labels, value: Number(sample[3]) });
    }
  }
  return { types, samples };
}

describe("metrics", () => {
  const topics = uniqueTopics();
  let db: TestDatabase;
  let daemon: TestDaemon;
  const scenario = generateScenario({ seed: 3, now: Date.now(), payments: 300, prefix: "m" });

  beforeAll(async () => {
    db = await createTestDatabase();
    daemon = await startTestDaemon({
      DATABASE_URL: db.url,
      ...kafkaEnv(topics),
      UNMATCHED_GRACE: "1s",
      SWEEP_INTERVAL: "1s",
    });
    const producer = await connectedProducer();
    await producer.send({
      topic: topics.expected,
      messages: scenario.expected.map((m) => ({ key: String(m.id), value: JSON.stringify(m) })),
    });
    await producer.send({
      topic: topics.gateway,
      messages: scenario.events.map((m) => ({ value: JSON.stringify(m) })),
    });
    await producer.send({
      topic: topics.bank,
      messages: scenario.entries.map((m) => ({ key: m.entry_id, value: JSON.stringify(m) })),
    });
    await producer.send({ topic: topics.bank, messages: [{ value: "not json" }] });
    await producer.disconnect();
    await waitUntil(
      async () => {
        const { samples } = parse(await (await fetch(`${daemon.baseUrl}/metrics`)).text());
        const payments = samples.filter((s) => s.name === "payrecon_payments").reduce((sum, s) => sum + s.value, 0);
        const unmatched = samples
          .filter((s) => s.name === "payrecon_unmatched_bank_entries")
          .reduce((sum, s) => sum + s.value, 0);
        return payments === scenario.truth.size && unmatched === scenario.unmatchedEntries.length;
      },
      60_000,
      "gauges to reflect the scenario",
    );
  });
  afterAll(async () => {
    await daemon?.stop();
    await db?.drop();
  });

  it("passes promtool check metrics for every application metric", async () => {
    const text = await (await fetch(`${daemon.baseUrl}/metrics`)).text();
    // prom-client's Node defaults name three gauges *_total (its own, upstream); payrecon's families must be clean.
    const ours = text
      .split("\n")
      .filter((line) => /^(# (HELP|TYPE) )?payrecon_/.test(line))
      .join("\n");
    expect(ours).toContain("payrecon_payments");
    const result = spawnSync("promtool", ["check", "metrics"], { input: `${ours}\n`, encoding: "utf8" });
    expect(result.stdout + result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes /m);
  });

  it("exports every contract metric with exactly its labels, and no identifier in any label", async () => {
    const { types, samples } = parse(await (await fetch(`${daemon.baseUrl}/metrics`)).text());
    for (const [name, spec] of Object.entries(CONTRACT_METRICS)) {
      expect(types.get(name), name).toBe(spec.type);
      const series = samples.filter((s) => s.name === name || s.name.startsWith(`${name}_`));
      expect(series.length, `${name} has samples`).toBeGreaterThan(0);
      for (const sample of series) {
        const labels = Object.keys(sample.labels)
          .filter((label) => label !== "le")
          .sort();
        expect(labels, name).toEqual([...spec.labels].sort());
      }
    }
    const ids = new Set([
      ...scenario.truth.keys(),
      ...scenario.entries.map((e) => e.entry_id),
      "DE89370400440532013000",
    ]);
    const references = new Set([...scenario.truth.keys()].map((id) => id.toUpperCase().replace("_", "-")));
    for (const sample of samples) {
      for (const value of Object.values(sample.labels)) {
        expect(ids.has(value) || references.has(value), `${sample.name} carries ${value}`).toBe(false);
      }
    }
  });

  it("has a zero series for every gateway × failure category, and a histogram edge at the settlement objective", async () => {
    const { samples } = parse(await (await fetch(`${daemon.baseUrl}/metrics`)).text());
    for (const gateway of ["stripe", "adyen"]) {
      for (const category of FAILURE_CATEGORIES) {
        expect(
          samples.some(
            (s) =>
              s.name === "payrecon_payout_failures_total" &&
              s.labels.gateway === gateway &&
              s.labels.failure_category === category,
          ),
          `${gateway}/${category}`,
        ).toBe(true);
      }
    }
    expect(
      samples.some((s) => s.name === "payrecon_settlement_duration_seconds_bucket" && s.labels.le === "86400"),
    ).toBe(true);
    expect(samples.find((s) => s.name === "payrecon_build_info")?.value).toBe(1);
    expect(samples.find((s) => s.name === "payrecon_ready")?.value).toBe(1);
    expect(
      samples.find((s) => s.name === "payrecon_events_rejected_total" && s.labels.reason === "invalid_json")?.value,
    ).toBe(1);
  });

  it("reports funds at risk in major units, equal to the payments' amounts at risk", async () => {
    const { samples } = parse(await (await fetch(`${daemon.baseUrl}/metrics`)).text());
    const rows = await db.pool.query<{ status: string; direction: string; currency: string; minor: string }>(
      `select status, direction, currency, sum(at_risk_minor)::text as minor from payments
        where status in ('failed', 'held', 'delayed', 'mismatch') group by 1, 2, 3`,
    );
    const exponent: Record<string, number> = { JPY: 0, KWD: 3 };
    for (const row of rows.rows) {
      const sample = samples.find(
        (s) =>
          s.name === "payrecon_funds_at_risk" &&
          s.labels.status === row.status &&
          s.labels.direction === row.direction &&
          s.labels.currency === row.currency,
      );
      expect(sample?.value, `${row.status}/${row.direction}/${row.currency}`).toBeCloseTo(
        Number(row.minor) / 10 ** (exponent[row.currency] ?? 2),
        6,
      );
    }
    const failedPayouts = [...scenario.truth.values()].filter(
      (t) => t.status === "failed" && t.direction === "payout",
    ).length;
    const counted = samples
      .filter((s) => s.name === "payrecon_payout_failures_total")
      .reduce((sum, s) => sum + s.value, 0);
    expect(counted).toBe(failedPayouts);
    void api;
  });
});
