import { loadConfig } from "../../src/config.js";
import type { RawMessage } from "../../src/consumers/decode.js";
import { createLogger } from "../../src/logger.js";
import { createMetrics } from "../../src/metrics/registry.js";
import type { ReconcileDeps } from "../../src/writer/reconcileTouched.js";
import { expectedPayment } from "./facts.js";

/** Ingesting in the test's own process (ingestMessages): the default config and a writer's dependencies. */
export function inProcessSetup(findingsTopic: string): {
  config: ReturnType<typeof loadConfig>;
  reconcileDeps: ReconcileDeps;
} {
  const config = loadConfig({});
  const reconcileDeps = {
    policy: config.policy,
    metrics: createMetrics({ version: "test", commit: "test" }),
    log: createLogger("silent"),
    findingsTopic,
  };
  return { config, reconcileDeps };
}

/** expectedPayment(n) as the consumer hands it to ingestMessages. */
export function expectedRaw(topic: string, n: number): RawMessage {
  return {
    kind: "expected",
    topic,
    partition: 0,
    offset: String(n),
    key: null,
    value: Buffer.from(JSON.stringify(expectedPayment(n))),
    source: "kafka",
  };
}
