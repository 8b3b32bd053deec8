import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.js";
import { createLabelBounds, OTHER } from "../../../src/metrics/labels.js";
import { createMetrics, initGatewaySeries } from "../../../src/metrics/registry.js";

/** Issue 14 finding 4: label values fed by producers' free text are bounded, through one helper. */
describe("issue 14 finding 4: bounded label values", () => {
  it("finding 4: configured names, then the first N seen, then `other`, each overflowing value reported once", () => {
    const overflow: string[] = [];
    const labels = createLabelBounds({
      gateways: ["stripe", "adyen"],
      banks: ["bank_a"],
      maxSeen: 2,
      onOverflow: (label, value) => overflow.push(`${label}=${value}`),
    });
    const seen = ["stripe", "g1", "g2", "g3", "adyen", "g1", "g4", "g3"].map(labels.gateway);
    expect(seen).toEqual(["stripe", "g1", "g2", OTHER, "adyen", "g1", OTHER, OTHER]);
    expect(overflow).toEqual(["gateway=g3", "gateway=g4"]);
    expect(["bank_a", "b1", "b2", "b3"].map(labels.bank)).toEqual(["bank_a", "b1", "b2", OTHER]);
  });

  it("finding 4: 2,000 distinct gateways make at most configured + METRIC_LABEL_MAX_SEEN + 1 series", async () => {
    const metrics = createMetrics({ version: "t", commit: "t", labels: { maxSeen: 5 } });
    for (let i = 0; i < 2_000; i++) initGatewaySeries(metrics, `g_${i}`);
    const gateways = new Set((await metrics.payoutFailures.get()).values.map((value) => String(value.labels.gateway)));
    expect(gateways.size).toBe(5 + 1);
    expect(gateways.has(OTHER)).toBe(true);
  });

  it("finding 4: METRIC_GATEWAYS, METRIC_BANKS and METRIC_LABEL_MAX_SEEN are configuration", () => {
    const config = loadConfig({
      METRIC_GATEWAYS: "stripe, adyen,paypal",
      METRIC_BANKS: "bank_a",
      METRIC_LABEL_MAX_SEEN: "3",
    });
    expect(config.metricLabels).toEqual({ gateways: ["stripe", "adyen", "paypal"], banks: ["bank_a"], maxSeen: 3 });
    expect(loadConfig({}).metricLabels).toEqual({ gateways: ["stripe", "adyen"], banks: [], maxSeen: 20 });
    expect(() => loadConfig({ METRIC_GATEWAYS: "a b" })).toThrow(/METRIC_GATEWAYS/);
    expect(() => loadConfig({ METRIC_LABEL_MAX_SEEN: "-1" })).toThrow(/METRIC_LABEL_MAX_SEEN/);
  });

  it("finding 1: rejected-message bounds are configuration (REJECTED_MESSAGE_MAX_BYTES, _RETENTION, _MAX_TOTAL_BYTES)", () => {
    expect(loadConfig({}).rejectedMessages).toEqual({
      maxBytes: 65_536,
      retentionMs: 30 * 86_400_000,
      maxTotalBytes: 256 * 1024 * 1024,
    });
    const config = loadConfig({
      REJECTED_MESSAGE_MAX_BYTES: "1024",
      REJECTED_MESSAGES_RETENTION: "7d",
      REJECTED_MESSAGES_MAX_TOTAL_BYTES: "1000000",
    });
    expect(config.rejectedMessages).toEqual({ maxBytes: 1024, retentionMs: 7 * 86_400_000, maxTotalBytes: 1_000_000 });
    expect(() => loadConfig({ REJECTED_MESSAGE_MAX_BYTES: "0" })).toThrow(/REJECTED_MESSAGE_MAX_BYTES/);
  });
});
