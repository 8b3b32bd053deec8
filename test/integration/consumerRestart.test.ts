import { afterAll, describe, expect, inject, it } from "vitest";
import { waitUntil } from "../support/daemon.js";
import {
  allCommitted,
  type FaultRig,
  FaultStream,
  inputTopics,
  startFaultRig,
  stopFaultRig,
} from "../support/faults.js";
import { uniqueTopics } from "../support/kafka.js";

/**
 * The mock cluster refuses a follower's SyncGroup that arrives after the leader's with INVALID_REQUEST, and
 * kafkajs then stops the consumer for good: a second instance joining the group lost that race in 27 of 51
 * joins measured, now and then three in a row (CI's consumerPositions failure). Forced here on a group of one
 * by pushing the error twice: each refused join is followed by a fresh consumer after the session timeout
 * (6 s in the tests' Kafka env), not after 5 s, then 10 s, as for a lasting fault.
 */

const SYNC_GROUP = 14;
const INVALID_REQUEST = 42;
const BROKER = 1;

describe.skipIf(!inject("kafkaIsMock"))("a consumer whose group join is refused", () => {
  const topics = uniqueTopics();
  const stream = new FaultStream(topics);
  let rig: FaultRig | undefined;

  afterAll(async () => {
    await stopFaultRig(rig, [rig?.daemon]);
  });

  it("joins again after the session timeout each time, then consumes", { timeout: 120_000 }, async () => {
    rig = await startFaultRig(topics, {
      brokers: 1,
      logLevel: "info",
      arrange: (mock) => mock.pushBrokerRequestErrors(BROKER, SYNC_GROUP, Array(2).fill(INVALID_REQUEST)),
    });
    const { daemon } = rig;
    const pauses = daemon
      .output()
      .split("\n")
      .filter((line) => line.includes("kafka consumer stopped for good"))
      .map((line) => (JSON.parse(line) as { delayMs: number }).delayMs);
    expect(pauses).toEqual([6_000, 6_000]);

    await stream.produce(rig.producer, 2);
    await waitUntil(
      () => allCommitted(rig!.admin, topics.groupId, inputTopics(topics)),
      60_000,
      "the stream consumed after the refused joins",
    );
  });
});
