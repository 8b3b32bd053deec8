import { type Kafka, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } from "kafkajs";
import { afterEach, describe, expect, it, vi } from "vitest";
import { restartPause } from "../../src/consumers/consumerRestart.js";
import { fakeKafkaIngest } from "../support/fakeKafkaIngest.js";

/**
 * A consumer kafkajs stopped for good is replaced after a pause. A join refused with INVALID_REQUEST (a
 * coordinator that answered the leader's SyncGroup before this follower's: the mock cluster does, and the
 * follower loses that race about every other join under load) used to wait 5 s, 10 s, 20 s… like a lasting
 * fault: a second instance that lost three joins in a row waited 35 s and more, and CI's consumerPositions
 * test ran out of its 90 s. Now it joins again after the session timeout, however often it lost.
 */

const protocolError = (type: string, code: number) =>
  new KafkaJSProtocolError({ type, code, retriable: false, message: type } as unknown as Error);
const joinRefused = () => protocolError("INVALID_REQUEST", 42);
const notAuthorized = () => protocolError("GROUP_AUTHORIZATION_FAILED", 30);

describe("the pause before a stopped consumer is replaced", () => {
  it("is the session timeout after a refused join, however many came before, and it does not grow", () => {
    for (const restarts of [0, 1, 5]) {
      expect(restartPause(joinRefused(), restarts, 6_000)).toEqual({ delayMs: 6_000, grows: false });
    }
    // Under kafkajs' wrapper too.
    expect(
      restartPause(new KafkaJSNumberOfRetriesExceeded(joinRefused(), { retryCount: 5, retryTime: 1_000 }), 0, 30_000),
    ).toEqual({
      delayMs: 30_000,
      grows: false,
    });
  });

  it("doubles from 5 s to 60 s after any other crash", () => {
    const pauses = [0, 1, 2, 3, 4, 5].map((restarts) => restartPause(notAuthorized(), restarts, 6_000).delayMs);
    expect(pauses).toEqual([5_000, 10_000, 20_000, 40_000, 60_000, 60_000]);
    expect(restartPause(new Error("connection refused"), 0, 6_000)).toEqual({ delayMs: 5_000, grows: true });
    expect(restartPause(undefined, 1, 6_000)).toEqual({ delayMs: 10_000, grows: true });
  });
});

/** A cluster whose consumers kafkajs stops at will: `crash(error)` crashes the newest one, as its runner would. */
function crashingKafka() {
  const crashHandlers: Array<(event: unknown) => void> = [];
  const consumer = () => ({
    events: { CRASH: "crash", GROUP_JOIN: "join", FETCH: "fetch" },
    on: (event: string, handler: (event: unknown) => void) => {
      if (event === "crash") crashHandlers.push(handler);
    },
    connect: async () => {},
    disconnect: async () => {},
    subscribe: async () => {},
    run: async () => {},
  });
  const admin = { connect: async () => {}, disconnect: async () => {} };
  const kafka = { consumer, admin: () => admin } as unknown as Kafka;
  return {
    kafka,
    started: () => crashHandlers.length,
    crash: (error: Error) => crashHandlers.at(-1)!({ payload: { error, restart: false } }),
  };
}

describe("a consumer stopped for good by kafkajs", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("is replaced after the session timeout when its join was refused, after a growing pause otherwise", async () => {
    vi.useFakeTimers();
    const cluster = crashingKafka();
    const { ingest, lines } = fakeKafkaIngest<{ msg: string; delayMs?: number }>(cluster.kafka, {
      KAFKA_SESSION_TIMEOUT: "6s",
    });
    const pauses = () =>
      lines.filter((line) => line.msg.startsWith("kafka consumer stopped for good")).map((line) => line.delayMs);
    try {
      await ingest.start();
      // Each crash, then the pause it logged: a fresh consumer starts once it has passed, not before.
      for (const error of [
        joinRefused(),
        joinRefused(),
        joinRefused(),
        notAuthorized(),
        joinRefused(),
        notAuthorized(),
      ]) {
        const consumers = cluster.started();
        cluster.crash(error);
        const delayMs = pauses().at(-1)!;
        await vi.advanceTimersByTimeAsync(delayMs - 1);
        expect(cluster.started()).toBe(consumers);
        await vi.advanceTimersByTimeAsync(1);
        expect(cluster.started()).toBe(consumers + 1);
      }
      expect(pauses()).toEqual([6_000, 6_000, 6_000, 5_000, 6_000, 10_000]);
    } finally {
      await ingest.stop();
    }
  });
});
