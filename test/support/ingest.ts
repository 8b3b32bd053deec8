import { expect } from "vitest";
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
