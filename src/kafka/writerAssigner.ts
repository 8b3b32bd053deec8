import { AssignerProtocol, type PartitionAssigner } from "kafkajs";

/**
 * Engine v2 step 5 (docs/architecture.md §4): the consumer group's partition assigner when instances use the
 * memory engine. Every instance joins the group from the start and says in its member metadata (userData)
 * which engine it runs and, with the memory engine, the writer epoch it holds (none on a standby). Partitions
 * go round robin to the sql-engine members and to the one memory member announcing the highest epoch (the
 * writer); memory standbys are members assigned nothing, heartbeating. So when the writer is killed, the
 * standby that takes the lock — already a member — removes the dead writer's member from the group
 * (KafkaIngest.takeOver), rejoins announcing its new epoch and is assigned everything, without a cold join.
 *
 * With no memory member this is RoundRobinAssigner's assignment. Sql-engine instances list it first and
 * RoundRobinAssigner second (KafkaIngest.startConsumer), so they share a protocol with memory instances and
 * with instances of older versions (round robin) alike.
 */
export const WRITER_ASSIGNER = "PayreconWriterAssigner";

/** How long the group leader waits before its SyncGroup, once per rebalance. */
const FOLLOWERS_FIRST_MS = 200;

/** What a member announces in its metadata. */
export interface WriterAnnouncement {
  engine: "sql" | "memory";
  /** The writer epoch a memory instance holds while it leads; null on a standby. */
  epoch: number | null;
}

export function encodeAnnouncement(announcement: WriterAnnouncement): Buffer {
  return Buffer.from(JSON.stringify(announcement));
}

/** A member whose metadata says nothing readable counts as a sql-engine member (it consumes as before). */
export function decodeAnnouncement(userData: Buffer | null | undefined): WriterAnnouncement {
  try {
    const parsed = JSON.parse(userData?.toString() ?? "") as Partial<WriterAnnouncement>;
    if (parsed.engine === "memory") {
      return { engine: "memory", epoch: typeof parsed.epoch === "number" ? parsed.epoch : null };
    }
  } catch {
    // Not ours: consumes round robin.
  }
  return { engine: "sql", epoch: null };
}

/**
 * The members that consume, in round-robin order: the sql-engine members and the memory member with the
 * highest epoch (none when two announce it: a state the epoch's bump cannot produce; nobody writes then).
 */
export function consumingMembers(members: Array<{ memberId: string; announcement: WriterAnnouncement }>): string[] {
  const consuming = members.filter(({ announcement }) => announcement.engine === "sql").map(({ memberId }) => memberId);
  let writer: string | undefined;
  let highest = -Infinity;
  let tied = false;
  for (const { memberId, announcement } of members) {
    if (announcement.engine !== "memory" || announcement.epoch === null) continue;
    if (announcement.epoch > highest) {
      highest = announcement.epoch;
      writer = memberId;
      tied = false;
    } else if (announcement.epoch === highest) {
      tied = true;
    }
  }
  if (writer !== undefined && !tied) consuming.push(writer);
  return consuming.sort();
}

/** The assigner; `announce` is read at every join, so a member's next join carries its current epoch. */
export function writerAssigner(announce: () => WriterAnnouncement): PartitionAssigner {
  return ({ cluster }) => ({
    name: WRITER_ASSIGNER,
    version: 0,
    async assign({ members, topics }) {
      // The followers' SyncGroup requests first: librdkafka's mock coordinator (tests, bench) answers a follower's
      // that comes after the leader's with INVALID_REQUEST, which stops a kafkajs consumer (one more rebalance).
      if (members.length > 1) await new Promise((resolve) => setTimeout(resolve, FOLLOWERS_FIRST_MS));
      const consuming = consumingMembers(
        members.map(({ memberId, memberMetadata }) => ({
          memberId,
          announcement: decodeAnnouncement(AssignerProtocol.MemberMetadata.decode(memberMetadata)?.userData),
        })),
      );
      const assignment = new Map<string, Record<string, number[]>>(members.map(({ memberId }) => [memberId, {}]));
      if (consuming.length > 0) {
        let i = 0;
        for (const topic of topics) {
          for (const { partitionId } of cluster.findTopicPartitionMetadata(topic)) {
            const member = assignment.get(consuming[i++ % consuming.length]!)!;
            member[topic] = [...(member[topic] ?? []), partitionId];
          }
        }
      }
      return [...assignment].map(([memberId, partitions]) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 0,
          assignment: partitions,
          userData: Buffer.alloc(0),
        }),
      }));
    },
    protocol({ topics }) {
      return {
        name: WRITER_ASSIGNER,
        metadata: AssignerProtocol.MemberMetadata.encode({
          version: 0,
          topics,
          userData: encodeAnnouncement(announce()),
        }),
      };
    },
  });
}
