import { describe, expect, it } from "vitest";
import type { RawMessage } from "../../src/consumers/decode.js";
import { GroupCommit, type PartitionOffset, splitByPartition } from "../../src/consumers/groupCommit.js";
import type { IngestResult } from "../../src/consumers/ingest.js";

const raws = (n: number): RawMessage[] =>
  Array.from({ length: n }, (_, i) => ({
    kind: "bank",
    topic: "t",
    partition: 0,
    offset: String(i),
    key: null,
    value: Buffer.from("{}"),
    source: "kafka",
  }));
const offset = (partition: number, next: number, from: number | null = null): PartitionOffset => ({
  topic: "t",
  partition,
  offset: String(next),
  from: from === null ? null : String(from),
});
const result: IngestResult = { lines: [], accepted: 0, duplicates: 0, rejected: 0 };

function recorder() {
  const log: string[] = [];
  let active = 0;
  let maxActive = 0;
  const release: Array<() => void> = [];
  return {
    log,
    release,
    maxActive: () => maxActive,
    store: async (messages: RawMessage[]) => {
      active++;
      maxActive = Math.max(maxActive, active);
      log.push(`store ${messages.length}`);
      await new Promise<void>((resolve) => release.push(resolve));
      active--;
      return result;
    },
    commit: async (offsets: Array<Omit<PartitionOffset, "from">>) => {
      log.push(`commit ${offsets.map((o) => `${o.partition}@${o.offset}`).join(",")}`);
    },
  };
}

/** Until the log holds `entries` lines (a condition with a deadline, not a fixed pause). */
async function logReaches(log: string[], entries: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (log.length < entries) {
    if (Date.now() > deadline) throw new Error(`log stayed at ${JSON.stringify(log)}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe("group commit", () => {
  it("stores two groups at once, never more, and commits each group's offsets after its store", async () => {
    const r = recorder();
    const groups = new GroupCommit(r, 10, 1, 2);
    const done = [
      groups.add(raws(10), offset(0, 10)),
      groups.add(raws(10), offset(1, 10)),
      groups.add(raws(10), offset(2, 10)),
    ];
    await logReaches(r.log, 2);
    expect(r.log).toEqual(["store 10", "store 10"]);
    r.release.shift()!();
    await logReaches(r.log, 4);
    expect(r.log).toEqual(["store 10", "store 10", "commit 0@10", "store 10"]);
    r.release.shift()!();
    r.release.shift()!();
    await Promise.all(done);
    expect(r.maxActive()).toBe(2);
    expect(r.log.slice(3).sort()).toEqual(["commit 1@10", "commit 2@10", "store 10"]);
  });

  it("a failed store rejects only its own group's batches, and commits nothing for them", async () => {
    const log: string[] = [];
    let calls = 0;
    const groups = new GroupCommit(
      {
        store: async () => {
          if (calls++ === 0) throw new Error("database away");
          return result;
        },
        commit: async (offsets) => {
          log.push(offsets.map((o) => `${o.partition}@${o.offset}`).join(","));
        },
      },
      5,
      1,
      2,
    );
    const first = groups.add(raws(5), offset(0, 5));
    const second = groups.add(raws(5), offset(1, 5));
    await expect(first).rejects.toThrow("database away");
    await expect(second).resolves.toEqual({ messages: 5, groupMessages: 5 });
    expect(log).toEqual(["1@5"]);
  });

  it("stores each partition's span once, from its first chunk's position to its last chunk's end", async () => {
    const stored: PartitionOffset[][] = [];
    const committed: string[] = [];
    const groups = new GroupCommit(
      {
        store: async (_messages, positions) => {
          stored.push(positions);
          return result;
        },
        commit: async (offsets) => {
          committed.push(offsets.map((o) => `${o.partition}@${o.offset}`).join(","));
        },
      },
      100,
      1,
      1,
    );
    await Promise.all([
      groups.add(raws(5), offset(0, 15, 10)),
      groups.add(raws(5), offset(1, 5)),
      groups.add(raws(5), offset(0, 20, 15)),
    ]);
    expect(stored).toEqual([[offset(0, 20, 10), offset(1, 5)]]);
    expect(committed).toEqual(["0@20,1@5"]);
  });

  it("a group flushed while the pipeline is idle is split into groups of whole partitions that are stored at once", async () => {
    const r = recorder();
    // Up to 3 groups at once, split into parts of at least 10 messages.
    const groups = new GroupCommit(r, 1_000, 1, 3, 10);
    const done = [
      groups.add(raws(12), offset(0, 12)),
      groups.add(raws(8), offset(1, 8)),
      groups.add(raws(6), offset(2, 6)),
      groups.add(raws(5), offset(3, 5)),
    ];
    // 31 messages: three groups, all stored at once, none smaller than 10 messages' worth of split.
    await logReaches(r.log, 3);
    const sizes = r.log.map((line) => Number(line.split(" ")[1]));
    expect(sizes.reduce((sum, n) => sum + n, 0)).toBe(31);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(12);
    expect(r.maxActive()).toBe(3);
    for (const release of r.release.splice(0)) release();
    await Promise.all(done);
    // Each partition committed once, with its own group.
    expect(
      r.log
        .filter((line) => line.startsWith("commit"))
        .flatMap((line) => line.slice(7).split(","))
        .sort(),
    ).toEqual(["0@12", "1@8", "2@6", "3@5"]);

    // Busy: a group flushed while every slot is taken is not split (it waits whole for a slot). Groups of 20 flush
    // as their second batch arrives: the first, with both slots idle, splits in two; the second finds none idle.
    const busy = recorder();
    const pipeline = new GroupCommit(busy, 20, 1_000, 2, 10);
    const first = [pipeline.add(raws(10), offset(0, 10)), pipeline.add(raws(10), offset(1, 10))];
    await logReaches(busy.log, 2);
    expect(busy.log).toEqual(["store 10", "store 10"]);
    const second = [pipeline.add(raws(10), offset(0, 20, 10)), pipeline.add(raws(10), offset(1, 20, 10))];
    busy.release.shift()!();
    await logReaches(busy.log, 4);
    expect(busy.log[3]).toBe("store 20");
    for (const release of busy.release.splice(0)) release();
    await Promise.all([...first, ...second]);
  });

  it("splits by partition: a partition's batches stay together, parts balanced by messages, never more parts than partitions", () => {
    const item = (partition: number, messages: number, topic = "t") => ({
      raws: new Array(messages).fill(0),
      offset: { topic, partition },
    });
    const items = [item(0, 5), item(1, 9), item(0, 4), item(2, 3), item(1, 1, "u"), item(3, 2)];
    const parts = splitByPartition(items, 3);
    expect(parts).toHaveLength(3);
    expect(parts.flat()).toHaveLength(items.length);
    for (const part of parts) {
      // Partition 0's two batches are in the same part.
      expect(part.includes(items[0]!)).toBe(part.includes(items[2]!));
    }
    // Balanced as largest-first placement guarantees: no part exceeds another by more than the largest partition.
    const sizes = parts.map((part) => part.reduce((sum, i) => sum + i.raws.length, 0));
    expect(sizes.reduce((sum, n) => sum + n, 0)).toBe(24);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(9);
    expect(splitByPartition([item(0, 5), item(0, 6)], 3)).toHaveLength(1);
  });
});
