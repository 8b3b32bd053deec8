import { AssignerProtocol, type Cluster } from "kafkajs";
import { describe, expect, it } from "vitest";
import {
  consumingMembers,
  decodeAnnouncement,
  encodeAnnouncement,
  type WriterAnnouncement,
  writerAssigner,
} from "../../src/kafka/writerAssigner.js";

const memory = (epoch: number | null): WriterAnnouncement => ({ engine: "memory", epoch });
const sql: WriterAnnouncement = { engine: "sql", epoch: null };

/** Runs the assigner as a group leader would, over members announcing these, two topics of 3 and 2 partitions. */
async function assign(
  announcements: Record<string, WriterAnnouncement>,
): Promise<Record<string, Record<string, number[]>>> {
  const cluster = {
    findTopicPartitionMetadata: (topic: string) =>
      Array.from({ length: topic === "a" ? 3 : 2 }, (_, partitionId) => ({ partitionId })),
  } as unknown as Cluster;
  const members = Object.entries(announcements).map(([memberId, announcement]) => ({
    memberId,
    memberMetadata: writerAssigner(() => announcement)({ cluster, groupId: "g", logger: undefined as never }).protocol({
      topics: ["a", "b"],
    }).metadata,
  }));
  const assigner = writerAssigner(() => sql)({ cluster, groupId: "g", logger: undefined as never });
  const result = await assigner.assign({ members, topics: ["a", "b"] });
  return Object.fromEntries(
    result.map(({ memberId, memberAssignment }) => [
      memberId,
      AssignerProtocol.MemberAssignment.decode(memberAssignment)!.assignment,
    ]),
  );
}

describe("the writer assigner (engine v2 takeover)", () => {
  it("gives every partition to the memory member announcing the highest epoch; standbys and an older writer get none", async () => {
    expect(await assign({ standby: memory(null), writer: memory(7), old: memory(6), other: memory(null) })).toEqual({
      standby: {},
      writer: { a: [0, 1, 2], b: [0, 1] },
      old: {},
      other: {},
    });
  });

  it("assigns nothing when no memory member leads, or when two announce the same epoch", async () => {
    expect(await assign({ x: memory(null), y: memory(null) })).toEqual({ x: {}, y: {} });
    expect(await assign({ x: memory(3), y: memory(3), z: memory(null) })).toEqual({ x: {}, y: {}, z: {} });
  });

  it("without memory members it is RoundRobinAssigner's assignment; sql members share with the writer", async () => {
    expect(await assign({ m2: sql, m1: sql })).toEqual({ m1: { a: [0, 2], b: [1] }, m2: { a: [1], b: [0] } });
    expect(await assign({ s: sql, w: memory(2), standby: memory(null) })).toEqual({
      s: { a: [0, 2], b: [1] },
      w: { a: [1], b: [0] },
      standby: {},
    });
  });

  it("reads a member whose metadata is not its own as a sql member", () => {
    expect(decodeAnnouncement(Buffer.from("not json"))).toEqual(sql);
    expect(decodeAnnouncement(null)).toEqual(sql);
    expect(decodeAnnouncement(encodeAnnouncement(memory(4)))).toEqual(memory(4));
    expect(consumingMembers([{ memberId: "a", announcement: memory(null) }])).toEqual([]);
  });
});
