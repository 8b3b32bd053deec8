import type { RawMessage } from "./decode.js";
import type { IngestResult } from "./ingest.js";

/**
 * Group commit: batches fetched from several partitions at once are stored in
 * one transaction, then their offsets are committed in one request. Each
 * partition's handler waits for the group its messages went into, so an
 * offset still moves only after the transaction holding its messages
 * committed (and its dead letters and findings were published).
 *
 * A group is flushed when it holds `maxMessages`, or `lingerMs` after its
 * first batch arrived: under load groups fill at once, when idle a lone
 * batch waits a few milliseconds at most.
 *
 * Up to `concurrency` groups are stored at once (a pipeline): while one
 * reconciles under the reconcile lock, the next decodes and inserts its facts,
 * then waits for the lock — as two instances do, with the same results (the
 * memory engine also applies it in memory before the lock, docs/architecture.md
 * §4 step 8, and runs 3 groups at once). A
 * partition is never in two groups at once (its handler waits for its group
 * before the next batch is fetched), so each partition's facts are still
 * inserted in offset order, and offsets of different groups never overlap.
 *
 * At a steady rate one fetch is one group, and kafkajs fetches again only when
 * it is stored: the pipeline would hold one group at a time, each paying its
 * whole cost in series. So a group flushed while pipeline slots are idle is
 * split into up to that many groups of whole partitions (at least
 * `minSplitMessages` each), which overlap as a backlog's groups do.
 */
export interface PartitionOffset {
  topic: string;
  partition: number;
  /** The next offset to read (last stored + 1). */
  offset: string;
  /** The partition's stored position these messages follow (null: none stored yet). */
  from: string | null;
}

export interface GroupStore {
  /**
   * Stores and reconciles the messages in one transaction, moving each partition's stored position from
   * `from` to `offset` in it, and publishes the outbox.
   */
  store(raws: RawMessage[], positions: PartitionOffset[]): Promise<IngestResult>;
  /** Commits the offsets of every partition in the group to Kafka (for lag and tools; the database has them already). */
  commit(offsets: Array<Omit<PartitionOffset, "from">>): Promise<void>;
}

interface Waiting {
  raws: RawMessage[];
  offset: PartitionOffset;
  resolve: (result: { messages: number; groupMessages: number }) => void;
  reject: (error: unknown) => void;
}

export class GroupCommit {
  private waiting: Waiting[] = [];
  private size = 0;
  private timer: NodeJS.Timeout | undefined;
  private ready: Waiting[][] = [];
  private active = 0;

  constructor(
    private readonly target: GroupStore,
    private readonly maxMessages = 2_000,
    private readonly lingerMs = 5,
    private readonly concurrency = 2,
    private readonly minSplitMessages = 200,
  ) {}

  /** Resolves once these messages are stored and their partition's offset committed. */
  add(raws: RawMessage[], offset: PartitionOffset): Promise<{ messages: number; groupMessages: number }> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ raws, offset, resolve, reject });
      this.size += raws.length;
      if (this.size >= this.maxMessages) this.flush();
      else if (!this.timer) this.timer = setTimeout(() => this.flush(), this.lingerMs);
    });
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const group = this.waiting;
    const size = this.size;
    this.waiting = [];
    this.size = 0;
    if (group.length === 0) return;
    const idle = this.concurrency - this.active - this.ready.length;
    const parts = Math.min(idle, Math.floor(size / this.minSplitMessages));
    this.ready.push(...(parts > 1 ? splitByPartition(group, parts) : [group]));
    this.pump();
  }

  private pump(): void {
    while (this.active < this.concurrency && this.ready.length > 0) {
      const group = this.ready.shift()!;
      this.active++;
      this.run(group).finally(() => {
        this.active--;
        this.pump();
      });
    }
  }

  private async run(group: Waiting[]): Promise<void> {
    try {
      const raws = group.flatMap((item) => item.raws);
      // Per partition, from its first chunk's start to its last chunk's end (a partition's chunks are consecutive).
      const spans = new Map<string, PartitionOffset>();
      for (const item of group) {
        const key = `${item.offset.topic}\u0000${item.offset.partition}`;
        const seen = spans.get(key);
        if (!seen) spans.set(key, { ...item.offset });
        else if (BigInt(item.offset.offset) > BigInt(seen.offset)) seen.offset = item.offset.offset;
        else seen.from = item.offset.from;
      }
      const positions = [...spans.values()];
      await this.target.store(raws, positions);
      await this.target.commit(positions.map(({ topic, partition, offset }) => ({ topic, partition, offset })));
      for (const item of group) item.resolve({ messages: item.raws.length, groupMessages: raws.length });
    } catch (error) {
      for (const item of group) item.reject(error);
    }
  }
}

/**
 * The batches in up to `parts` groups, balanced by messages, each partition's batches together (its facts stay in
 * offset order: a partition is in one group in flight). Fewer parts when there are fewer partitions.
 */
export function splitByPartition<T extends { raws: unknown[]; offset: { topic: string; partition: number } }>(
  items: T[],
  parts: number,
): T[][] {
  const byPartition = new Map<string, T[]>();
  for (const item of items) {
    const key = `${item.offset.topic}\u0000${item.offset.partition}`;
    const list = byPartition.get(key);
    if (list) list.push(item);
    else byPartition.set(key, [item]);
  }
  const size = (list: T[]) => list.reduce((sum, item) => sum + item.raws.length, 0);
  const groups = Array.from({ length: Math.min(parts, byPartition.size) }, () => ({ items: [] as T[], size: 0 }));
  // Largest partitions first, each to the smallest group so far.
  for (const list of [...byPartition.values()].sort((a, b) => size(b) - size(a))) {
    const smallest = groups.reduce((min, group) => (group.size < min.size ? group : min));
    smallest.items.push(...list);
    smallest.size += size(list);
  }
  return groups.map((group) => group.items);
}
