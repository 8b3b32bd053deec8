import { expect } from "vitest";
import type { generateScenario } from "../../src/simulate/scenario.js";
import { shuffled } from "../../src/simulate/scenario.js";
import { api } from "./daemon.js";

/** Posts messages to a daemon's HTTP ingest as NDJSON and expects every line stored. */
export async function ingestAll(baseUrl: string, topic: string, messages: object[]) {
  const response = await api(baseUrl, "ingester")(`/api/v1/ingest/${topic}`, {
    method: "POST",
    body: messages.map((message) => JSON.stringify(message)).join("\n"),
  });
  expect(response.status).toBe(200);
  expect(response.body.rejected).toBe(0);
  return response.body;
}

/**
 * A generated scenario posted to a daemon's HTTP ingest topic by topic, each topic's messages out of order in groups
 * of 50, the share `twice` of them a second time.
 */
export async function ingestScenario(
  baseUrl: string,
  scenario: ReturnType<typeof generateScenario>,
  random: () => number,
  twice = 0,
): Promise<void> {
  const topics = [
    ["payments.expected", scenario.expected],
    ["gateway.events", scenario.events],
    ["bank.settlements", scenario.entries],
  ] as const;
  for (const [topic, values] of topics) {
    const sent = shuffled([...values, ...values.filter(() => random() < twice)], random);
    for (let i = 0; i < sent.length; i += 50) {
      const response = await api(baseUrl, "ingester")(`/api/v1/ingest/${topic}`, {
        method: "POST",
        body: sent
          .slice(i, i + 50)
          .map((value) => JSON.stringify(value))
          .join("\n"),
      });
      expect(response.status).toBe(200);
    }
  }
}
