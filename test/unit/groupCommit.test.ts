import { describe, expect, it } from "vitest";
import type { RawMessage } from "../../src/consumers/decode.js";
import { GroupCommit, type PartitionOffset } from "../../src/consumers/groupCommit.js";
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
});
