import {
  type Admin,
  type Batch,
  type Cluster,
  type Consumer,
  type EachBatchPayload,
  type Kafka,
  PartitionAssigners,
} from "kafkajs";
import type { Config } from "../config.js";
import { advanceConsumerPositions, consumerPosition, PositionMovedError } from "../db/queries/consumerPositions.js";
import { isDatabaseUnavailable } from "../db/transaction.js";
import { findMissingTopics, isUnknownTopic, MissingTopicsError } from "../kafka/missingTopics.js";
import type { OutboxPublisher } from "../kafka/outboxPublisher.js";
import { type WriterAnnouncement, writerAssigner } from "../kafka/writerAssigner.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics/registry.js";
import { originalCause, restartPause } from "./consumerRestart.js";
import { type InputKind, inputKindsByTopic, type RawMessage } from "./decode.js";
import { GroupCommit, type PartitionOffset } from "./groupCommit.js";
import { type IngestDeps, type IngestResult, ingestMessages } from "./ingest.js";

/**
 * One consumer group over the three input topics. Each fetched batch is
 * stored in transactions of at most `chunkSize` messages; each transaction
 * also moves its partitions' positions in `consumer_positions` (issue 15), so
 * PostgreSQL says exactly which messages are stored. After it commits, the
 * outbox (dead letters) and findings are published and the offset committed to
 * Kafka too, for lag and tools; a crash in between re-reads nothing, as the
 * first batch of each partition assigned to this instance is checked against
 * the stored position and the consumer seeks there when it differs.
 */
export interface KafkaIngestOptions {
  kafka: Kafka;
  config: NonNullable<Config["kafka"]>;
  topics: Config["topics"];
  ingest: IngestDeps;
  publisher: OutboxPublisher;
  metrics: Metrics;
  log: Logger;
  chunkSize?: number;
  lagIntervalMs?: number;
  /**
   * Engine v2 (RECONCILE_ENGINE=memory): what this member announces to the group's assigner (src/kafka/writerAssigner.ts),
   * read at every join; only the writer is assigned partitions. Without it the instance is a sql-engine member.
   */
  writer?: {
    announce: () => WriterAnnouncement;
    /** After each group join: this member's id, and its id before (a rejoin after a removal gets a new one). */
    joined?: (memberId: string, previous: string | undefined) => void;
  };
}

const SQL_MEMBER: WriterAnnouncement = { engine: "sql", epoch: null };

/** kafkajs' broker has LeaveGroup for any member id, untyped. */
interface LeaveGroupBroker {
  leaveGroup(request: { groupId: string; memberId: string }): Promise<unknown>;
}

export class KafkaIngest {
  private consumer: Consumer | undefined;
  private admin: Admin | undefined;
  private lagTimer: NodeJS.Timeout | undefined;
  private kindByTopic: Map<string, InputKind>;
  private groups: GroupCommit;
  private lastHealthy = 0;
  /** The consumer crashed and kafkajs will not restart it; a fresh one is started after a pause. */
  private consumerDown = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private restarts = 0;
  private stopping = false;
  private reportedFailures = new WeakSet<object>();
  /**
   * Each assigned partition's position as stored in PostgreSQL (null: none stored yet), once its first batch
   * since the group join was checked against it; the next transaction moves it from there.
   */
  private positions = new Map<string, string | null>();
  /** The consumer's cluster (handed to the assigner), for a LeaveGroup on another member's behalf. */
  private cluster: Cluster | undefined;
  /** This member's id since its last group join. */
  private memberId: string | undefined;
  /** Joins and rejoins, one after another: a rejoin waits for the join in flight (which may carry an older epoch). */
  private membership: Promise<void> = Promise.resolve();

  constructor(private readonly options: KafkaIngestOptions) {
    const { topics } = options;
    this.kindByTopic = inputKindsByTopic(topics);
    this.groups = new GroupCommit(
      {
        store: (raws, positions) => this.storeGroup(raws, positions),
        commit: async (offsets) => {
          await this.consumer!.commitOffsets(offsets);
        },
      },
      options.chunkSize ?? 2_000,
      undefined,
      // The memory engine applies a group ahead while the one before it writes (apply-ahead): a third group stores
      // its facts meanwhile, so one is ready to apply when the lock frees. The sql engine reconciles whole under the
      // lock, where a third group would only wait.
      options.writer ? 3 : 2,
    );
  }

  async start(): Promise<void> {
    if (this.consumer) return;
    const { kafka, log } = this.options;
    try {
      this.membership = this.startConsumer();
      await this.membership;
    } catch (error) {
      this.membership = Promise.resolve();
      if (!(error instanceof MissingTopicsError)) throw error;
      // Not a crash loop: up and not ready (/readyz 503), saying which topics to create, trying again.
      log.error({ missingTopics: error.topics }, error.message);
      this.restartLater(this.consumer!);
    }
    this.admin = kafka.admin();
    await this.admin.connect().catch((error) => log.warn({ err: error }, "kafka admin connect failed"));
    this.lagTimer = setInterval(() => {
      this.refreshLag().catch((error) => log.debug({ err: error }, "consumer lag refresh failed"));
    }, this.options.lagIntervalMs ?? 15_000);
    this.lagTimer.unref();
  }

  private async startConsumer(): Promise<void> {
    const { kafka, config, metrics, log } = this.options;
    const announce = this.options.writer?.announce;
    const consumer = kafka.consumer({
      groupId: config.groupId,
      // Memory engine: the writer assigner alone. Sql engine: it too, first (so a group with memory instances in it
      // shares a protocol; with no memory member it is round robin), and round robin for members of older versions.
      partitionAssigners: [
        (assignerConfig) => {
          this.cluster = assignerConfig.cluster;
          return writerAssigner(announce ?? (() => SQL_MEMBER))(assignerConfig);
        },
        ...(announce ? [] : [PartitionAssigners.roundRobin]),
      ],
      sessionTimeout: config.sessionTimeoutMs,
      heartbeatInterval: config.heartbeatIntervalMs,
      rebalanceTimeout: config.rebalanceTimeoutMs,
      maxWaitTimeInMs: config.maxWaitMs,
      maxBytes: config.batchMaxBytes,
      retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 10_000 },
    });
    this.consumer = consumer;
    consumer.on(consumer.events.CRASH, (event) => {
      metrics.consumerCrashes.inc();
      log.error({ err: event.payload.error, restart: event.payload.restart }, "kafka consumer crashed");
      if (!event.payload.restart) this.restartLater(consumer, event.payload.error);
    });
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      this.consumerDown = false;
      this.restarts = 0;
      metrics.consumerRebalances.inc();
      const partitions = Object.values(event.payload.memberAssignment).reduce((sum, list) => sum + list.length, 0);
      metrics.consumerAssignedPartitions.set(partitions);
      const previous = this.memberId;
      this.memberId = event.payload.memberId;
      this.options.writer?.joined?.(event.payload.memberId, previous === event.payload.memberId ? undefined : previous);
      // Partitions may have moved, and come back from another instance that stored more: check each one again.
      this.positions.clear();
      // Partitions may have moved to another instance: drop their series, then read the group's lag afresh.
      metrics.consumerLag.reset();
      this.refreshLag().catch(() => {});
      this.lastHealthy = Date.now();
      log.info(
        { memberId: event.payload.memberId, assignment: event.payload.memberAssignment },
        "joined consumer group",
      );
    });
    consumer.on(consumer.events.FETCH, () => {
      this.lastHealthy = Date.now();
    });
    await consumer.connect();
    try {
      for (const topic of this.kindByTopic.keys()) await consumer.subscribe({ topic, fromBeginning: true });
    } catch (error) {
      if (!isUnknownTopic(error)) throw error;
      throw new MissingTopicsError(await findMissingTopics(kafka, [...this.kindByTopic.keys()]));
    }
    await this.run(consumer);
  }

  private run(consumer: Consumer): Promise<void> {
    return consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.config.partitionsConcurrency,
      eachBatch: (payload) => this.handleBatch(payload),
    });
  }

  /** This member's id since its last group join. */
  get groupMemberId(): string | undefined {
    return this.memberId;
  }

  /**
   * Leaves the group and joins it again as a new member announcing what `writer.announce` says now: the group
   * rebalances at once (kafkajs cannot rejoin with new metadata otherwise). A writer taking over when no member
   * was removed for it, and a writer standing down to a standby, do this. Resolves once joined.
   */
  rejoin(): Promise<void> {
    this.membership = this.membership
      .then(async () => {
        const consumer = this.consumer;
        if (!consumer || this.consumerDown || this.stopping) return;
        await consumer.stop();
        this.positions.clear();
        if (!this.stopping && this.consumer === consumer) await this.run(consumer);
      })
      .catch((error) => this.options.log.warn({ err: error }, "rejoining the consumer group failed"));
    return this.membership;
  }

  /**
   * Takes the group over for a writer that just won the lock: removes the other instances' members from the group
   * on their behalf — the previous writer's (dead, hung or fenced) among them, so the group rebalances now instead of
   * when its session expires; live standbys rejoin — and this member rejoins at its next heartbeat announcing its
   * epoch. When none of them was a member any more, it rejoins itself. Returns the members tried.
   */
  async takeOver(others: (memberId: string | undefined) => Promise<string[]>): Promise<string[]> {
    await this.membership;
    const members = (await others(this.memberId)).filter((member) => member !== this.memberId);
    const removed = await Promise.all(members.map((member) => this.removeMember(member)));
    if (!removed.includes(true)) await this.rejoin();
    return members;
  }

  /** LeaveGroup for `memberId`; false when it is not a member (gone already) or the coordinator did not answer. */
  private async removeMember(memberId: string): Promise<boolean> {
    const { config, log } = this.options;
    if (!this.cluster) return false;
    try {
      const coordinator = await this.cluster.findGroupCoordinator({ groupId: config.groupId });
      await (coordinator as unknown as LeaveGroupBroker).leaveGroup({ groupId: config.groupId, memberId });
      log.info({ memberId }, "member removed from the consumer group for the takeover");
      return true;
    } catch (error) {
      log.info({ memberId, err: error }, "member not removed from the consumer group (gone already?)");
      return false;
    }
  }

  /**
   * kafkajs restarts a crashed consumer only after errors it deems retriable; after any other it stays
   * stopped while the process lives on. Some are transient all the same (a coordinator answering a
   * SyncGroup out of turn), and a permanent one (authorization) is fixed outside: start a fresh consumer
   * after a pause (restartPause: the session timeout after a refused join, else growing), from the
   * committed offsets. Not ready meanwhile.
   */
  private restartLater(crashed: Consumer, error?: unknown): void {
    this.consumerDown = true;
    if (this.stopping || this.restartTimer || this.consumer !== crashed) return;
    const { delayMs, grows } = restartPause(error, this.restarts, this.options.config.sessionTimeoutMs);
    if (grows) this.restarts++;
    this.options.log.warn({ delayMs }, "kafka consumer stopped for good by kafkajs; starting a new one");
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping || this.consumer !== crashed) return;
      crashed
        .disconnect()
        .catch(() => {})
        .then(() => this.startConsumer())
        .catch((error) => {
          this.options.log.error({ err: error }, "kafka consumer did not start");
          if (this.consumer) this.restartLater(this.consumer, error);
        });
    }, delayMs);
    this.restartTimer.unref();
  }

  private async handleBatch(payload: EachBatchPayload) {
    const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload;
    const { metrics } = this.options;
    const kind = this.kindByTopic.get(batch.topic);
    if (!kind || batch.messages.length === 0) return;
    const key = partitionKey(batch.topic, batch.partition);
    if (!this.positions.has(key) && !(await this.resumeAtStoredPosition(payload))) return;
    const chunkSize = this.options.chunkSize ?? 2_000;
    for (let start = 0; start < batch.messages.length; start += chunkSize) {
      // A group join meanwhile: the next batch, fetched from here, checks the stored position first.
      if (!isRunning() || isStale() || !this.positions.has(key)) return;
      const chunk = batch.messages.slice(start, start + chunkSize);
      const raws: RawMessage[] = chunk.map((message) => ({
        kind,
        topic: batch.topic,
        partition: batch.partition,
        offset: message.offset,
        key: message.key,
        value: message.value,
        source: "kafka",
      }));
      const last = chunk[chunk.length - 1]!.offset;
      const next = (BigInt(last) + 1n).toString();
      // Stored with other partitions' batches in one transaction; the offset moves after it commits.
      const from = this.positions.get(key) ?? null;
      const offset = { topic: batch.topic, partition: batch.partition, offset: next, from };
      if (!(await this.storeChunk(raws, offset, payload))) return;
      // Unless the group was joined meanwhile: then the next batch checks the stored position afresh.
      if (this.positions.has(key)) this.positions.set(key, next);
      resolveOffset(last);
      await heartbeat();
      const lag = BigInt(batch.highWatermark) - BigInt(next);
      metrics.consumerLag.set({ topic: batch.topic, partition: String(batch.partition) }, Number(lag < 0n ? 0n : lag));
    }
  }

  /**
   * The first batch of a partition since the group join: where the stored position (the messages up to it
   * are stored) is not where this batch starts — the group's committed offset was not moved after the last
   * commit (a crash in between, a failed offset commit), or another instance stored more before the
   * partition came here — seek there and commit it to Kafka too, dropping the batch: the next fetch starts
   * at the stored position. True when the batch starts there (or no position is stored yet, e.g. after an
   * upgrade: Kafka's committed offset stands), and the partition's messages can be stored.
   */
  private async resumeAtStoredPosition({ batch, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<boolean> {
    const { config, metrics, log } = this.options;
    let stored: string | null;
    try {
      stored = await consumerPosition(this.options.ingest.pool, config.groupId, batch.topic, batch.partition);
    } catch (error) {
      if (!isDatabaseUnavailable(error)) throw error;
      // The batch is fetched again (nothing was resolved); storing it would fail the same way meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      if (isRunning() && !isStale()) await heartbeat();
      return false;
    }
    if (!isRunning() || isStale()) return false;
    const fetched = fetchedOffset(batch);
    if (stored === null || stored === fetched) {
      this.positions.set(partitionKey(batch.topic, batch.partition), stored);
      return true;
    }
    if (BigInt(stored) > BigInt(batch.highWatermark)) {
      // Seeking there would only be reset to the start by Kafka, and skipping to it could lose messages: wait for
      // an operator (the lag grows), slowly.
      log.error(
        { topic: batch.topic, partition: batch.partition, stored, highWatermark: batch.highWatermark },
        "stored position is past the partition's end (topic recreated?): delete its consumer_positions row to read it again",
      );
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      if (isRunning() && !isStale()) await heartbeat();
      return false;
    }
    const consumer = this.consumer!;
    consumer.seek({ topic: batch.topic, partition: batch.partition, offset: stored });
    metrics.consumerPositionSeeks.inc();
    log.info(
      { topic: batch.topic, partition: batch.partition, fetched, stored },
      "partition resumes at the position stored with its facts",
    );
    await consumer
      .commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: stored }])
      .catch((error) => log.warn({ err: error }, "offset commit of the stored position failed; the next one moves it"));
    return false;
  }

  /**
   * Stores a chunk (group commit), publishes the outbox and commits the offset; false when the
   * partition was taken away meanwhile, or its stored position moved under the transaction (which
   * then rolled back; the next batch resumes at the stored position). While the database is away or a statement times out, the
   * same chunk is tried again, heartbeating so the group keeps our partitions: handing them to
   * another instance that cannot store either would only add rebalances, and kafkajs' own retries
   * would end in a consumer restart every minute. Nothing is committed that was not stored.
   *
   * Other errors go to kafkajs unwrapped: its runner retries them, and rejoins the group on the
   * protocol errors that call for it (UNKNOWN_MEMBER_ID after an outage longer than the session,
   * REBALANCE_IN_PROGRESS), where its non-retriable wrapper would stop the consumer for good.
   */
  private async storeChunk(
    raws: RawMessage[],
    offset: PartitionOffset,
    { heartbeat, isRunning, isStale }: EachBatchPayload,
  ): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.groups.add(raws, offset);
        return true;
      } catch (error) {
        if (error instanceof PositionMovedError) {
          // Every partition of the rolled-back group holds the same error: count it once.
          if (!this.reportedFailures.has(error)) {
            this.reportedFailures.add(error);
            this.options.metrics.consumerPositionsMoved.inc();
            this.options.log.warn({ err: error }, "a partition's stored position moved: batch not stored; re-reading");
          }
          this.positions.delete(partitionKey(offset.topic, offset.partition));
          return false;
        }
        if (!isDatabaseUnavailable(error)) throw originalCause(error);
        if (!isRunning() || isStale()) return false;
        const retryInMs = Math.min(250 * 2 ** attempt, 5_000);
        // Every partition of the failed group holds the same error: say it once.
        if (!this.reportedFailures.has(error as object)) {
          this.reportedFailures.add(error as object);
          this.options.log.warn(
            { err: error, attempt, retryInMs },
            "database unavailable: batch not stored, offsets not committed; retrying",
          );
        }
        await new Promise((resolve) => setTimeout(resolve, retryInMs));
        if (!isRunning() || isStale()) return false;
        await heartbeat();
      }
    }
  }

  /** One transaction for a group of batches and their positions, then the outbox, then one offset commit. */
  private async storeGroup(raws: RawMessage[], positions: PartitionOffset[]): Promise<IngestResult> {
    const { ingest, publisher, log, config } = this.options;
    const began = performance.now();
    const advances = positions.map(({ topic, partition, from, offset }) => ({ topic, partition, from, next: offset }));
    const result = await ingestMessages(ingest, raws, {
      inTransaction: (tx) => advanceConsumerPositions(tx, config.groupId, advances),
    });
    await publisher.flush();
    log.info(
      {
        messages: raws.length,
        partitions: new Set(raws.map((raw) => `${raw.topic}/${raw.partition}`)).size,
        accepted: result.accepted,
        duplicates: result.duplicates,
        rejected: result.rejected,
        ms: Math.round(performance.now() - began),
      },
      "batch stored",
    );
    return result;
  }

  /** Lag from the brokers' view: high watermark minus the group's committed offset, for every partition. */
  async refreshLag(): Promise<void> {
    const admin = this.admin;
    if (!admin) return;
    const { config, metrics } = this.options;
    for (const topic of this.kindByTopic.keys()) {
      const [ends, committed] = await Promise.all([
        admin.fetchTopicOffsets(topic),
        admin.fetchOffsets({ groupId: config.groupId, topics: [topic] }),
      ]);
      const committedByPartition = new Map(
        (committed[0]?.partitions ?? []).map((partition) => [partition.partition, partition.offset]),
      );
      for (const end of ends) {
        const done = committedByPartition.get(end.partition);
        const start = done === undefined || done === "-1" ? BigInt(end.low) : BigInt(done);
        const lag = BigInt(end.high) - start;
        metrics.consumerLag.set({ topic, partition: String(end.partition) }, Number(lag < 0n ? 0n : lag));
      }
    }
    this.lastHealthy = Date.now();
  }

  flushOutbox(): Promise<void> {
    return this.options.publisher.flush();
  }

  /**
   * Reachable when the brokers answered recently (a fetch, a join, or a metadata call now) and a
   * consumer runs: while one kafkajs gave up on waits to be replaced, nothing is consumed, however
   * well the brokers answer.
   */
  async isHealthy(): Promise<boolean> {
    if (this.consumerDown) return false;
    if (Date.now() - this.lastHealthy < 15_000) return true;
    const admin = this.admin;
    if (!admin) return false;
    try {
      await Promise.race([
        admin.describeCluster(),
        new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), 2_000)),
      ]);
      this.lastHealthy = Date.now();
      return true;
    } catch {
      return false;
    }
  }

  /** Stops fetching, lets the batch in progress finish and commit, then leaves the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    if (this.lagTimer) clearInterval(this.lagTimer);
    this.lagTimer = undefined;
    // disconnect() waits for the batch in progress, which still needs this.consumer to commit.
    await this.consumer?.disconnect();
    this.consumer = undefined;
    await this.admin?.disconnect().catch(() => {});
    this.admin = undefined;
  }
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/** The offset the batch was fetched from (kafkajs keeps it, untyped); its first message's offset otherwise. */
function fetchedOffset(batch: Batch): string {
  const fetched = (batch as Batch & { fetchedOffset?: string }).fetchedOffset;
  return fetched ?? batch.firstOffset() ?? batch.messages[0]!.offset;
}
