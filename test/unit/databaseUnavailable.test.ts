import { describe, expect, it } from "vitest";
import { isDatabaseUnavailable } from "../../src/db/transaction.js";

/** Which errors make the consumer keep its batch and retry it (issue 8), and which go on to kafkajs. */
const withCode = (code: string, message = "pg error") => Object.assign(new Error(message), { code });

describe("isDatabaseUnavailable", () => {
  it.each([
    ["connection refused (server stopped)", withCode("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:5432")],
    ["connection reset", withCode("ECONNRESET")],
    ["the server is shutting down", withCode("57P01", "terminating connection due to administrator command")],
    ["the server is starting up", withCode("57P03", "the database system is starting up")],
    ["a connection exception", withCode("08006")],
    ["too many connections", withCode("53300")],
    ["a statement timeout", withCode("57014", "canceling statement due to statement timeout")],
    ["a lock timeout", withCode("55P03")],
    ["a deadlock", withCode("40P01")],
    ["the connection dropped mid-query", new Error("Connection terminated unexpectedly")],
    ["the pool could not connect in time", new Error("timeout exceeded when trying to connect")],
    [
      "pg-pool's wrapper around a failed connect",
      new Error("Connection terminated due to connection timeout", { cause: new Error("timeout expired") }),
    ],
  ])("%s: retry the batch", (_what, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it.each([
    ["a unique violation", withCode("23505")],
    ["a syntax error", withCode("42601")],
    ["a bug", new TypeError("cannot read properties of undefined")],
    [
      "a Kafka error",
      Object.assign(new Error("The request timed out"), { name: "KafkaJSProtocolError", retriable: true }),
    ],
    ["not an error", "ECONNREFUSED"],
    ["nothing", undefined],
  ])("%s: not the database being away", (_what, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
  });
});
