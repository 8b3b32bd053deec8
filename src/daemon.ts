import type { Server } from "node:http";
import type { Producer } from "kafkajs";
import type pg from "pg";
import type { Config } from "./config.js";
import { createIngestDeps, createReconcileDeps } from "./consumers/ingestDeps.js";
import { inputKindsByTopic } from "./consumers/decode.js";
import { KafkaIngest } from "./consumers/kafkaConsumer.js";
import { rejectedMessagesRetention } from "./consumers/rejectedRetention.js";
import { StripePayoutFetcher } from "./consumers/stripePayoutFetcher.js";
import { type EmbeddedDatabase, startEmbeddedPostgres } from "./db/embeddedPostgres.js";
import { migrate } from "./db/migrate.js";
import { createPool } from "./db/pool.js";
import { lockDataDir } from "./dataDirLock.js";
import { healthRouter } from "./http/routes/health.js";
import { counterpartiesRouter } from "./http/routes/counterparties.js";
import { exceptionsRouter } from "./http/routes/exceptions.js";
import { ingestRouter } from "./http/routes/ingest.js";
import { bankEntryDecisionsRouter } from "./http/routes/bankEntryDecisions.js";
import { bankEntriesRouter } from "./http/routes/bankEntries.js";
import { openApiRouter } from "./http/routes/openapi.js";
import { webhooksRouter } from "./http/routes/webhooks.js";
import { paymentsRouter } from "./http/routes/payments.js";
import { reportsRouter } from "./http/routes/reports.js";
import { statusPageRouter } from "./http/routes/statusPage.js";
import { createHttpApp, listen } from "./http/server.js";
import { createKafka } from "./kafka/client.js";
import { FindingsPublisher } from "./kafka/findingsPublisher.js";
import { OutboxPublisher } from "./kafka/outboxPublisher.js";
import { type Logger, maskUrl } from "./logger.js";
import { sourceFreshness } from "./db/queries/gauges.js";
import { createMetrics, type Metrics, observeEventTime } from "./metrics/registry.js";
import { ItemAlerter } from "./alerts/itemAlerts.js";
import { GaugeRefresher } from "./metrics/gaugeRefresher.js";
import { Sweeper } from "./writer/sweeper.js";
import { WriterLeadership } from "./writer/leadership.js";
import { pruneJournal } from "./db/queries/reconcileJournal.js";
import { forgetGroupMembers, otherGroupMembers, recordGroupMember } from "./db/queries/consumerGroupMembers.js";
import { NotificationDeliverer } from "./followup/deliverer.js";
import { FollowUp, type FollowUpRun } from "./followup/followUp.js";
import { notificationTopicIfPresent } from "./followup/notificationTopic.js";
import { dunningRouter } from "./http/routes/dunning.js";
import { notificationsRouter } from "./http/routes/notifications.js";
import { periodReportsRouter } from "./http/routes/periodReports.js";
import { creditRecordsRouter } from "./http/routes/creditRecords.js";
import { VERSION } from "./version.js";

/** How long the reconcile journal keeps what each transaction stored: a memory engine further behind reloads. */
const JOURNAL_KEPT_MS = 60 * 60 * 1000;

/**
 * The daemon: components started in dependency order and stopped in reverse.
 * Each start is idempotent; stop drains (the batch in progress commits) within
 * the shutdown deadline.
 */
export interface Daemon {
  pool: pg.Pool;
  metrics: Metrics;
  httpPort: number;
  /** The follow-up loop and the notification deliverer, for a caller that drives them (tests, with `clock`). */
  followUp: { runOnce(): Promise<FollowUpRun>; deliverDue(): Promise<number> };
  stop(): Promise<void>;
}

export interface DaemonOptions {
  /** The follow-up's time (dunning steps, promises, notification retries): injectable for tests. */
  clock?: () => Date;
}

export interface Database {
  pool: pg.Pool;
  url: string;
  close(): Promise<void>;
}

/** DATABASE_URL, or the embedded PostgreSQL in DATA_DIR. */
export async function openDatabase(config: Config, log: Logger, poolSize = 10): Promise<Database> {
  const embedded: EmbeddedDatabase | undefined = config.databaseUrl
    ? undefined
    : await startEmbeddedPostgres(config.dataDir, log);
  const url = config.databaseUrl ?? embedded!.url;
  const pool = createPool(url, { max: poolSize, statementTimeoutMs: config.databaseStatementTimeoutMs });
  log.info({ database: maskUrl(url), embedded: embedded !== undefined }, "database configured");
  return {
    pool,
    url,
    async close() {
      await pool.end().catch(() => {});
      await embedded?.stop();
    },
  };
}

export async function startDaemon(config: Config, log: Logger, options: DaemonOptions = {}): Promise<Daemon> {
  const clock = options.clock ?? (() => new Date());
  const began = performance.now();
  const stack: Array<{ name: string; stop: () => Promise<unknown> }> = [];
  const stopAll = async () => {
    for (const component of stack.reverse()) {
      try {
        await component.stop();
      } catch (error) {
        log.warn({ err: error, component: component.name }, "component did not stop cleanly");
      }
    }
  };
  try {
    // One daemon per embedded database; with DATABASE_URL, instances share the database by design.
    if (!config.databaseUrl) {
      const unlock = lockDataDir(config.dataDir);
      stack.push({ name: "data dir lock", stop: async () => unlock() });
    }
    const database = await openDatabase(config, log);
    stack.push({ name: "database", stop: () => database.close() });
    const applied = await migrate(database.pool);
    if (applied.length > 0) log.info({ applied }, "migrations applied");

    const metrics = createMetrics({
      version: VERSION,
      commit: config.buildCommit,
      gateways: config.metricLabels.gateways,
      inputTopics: [...inputKindsByTopic(config.topics).keys()],
      labels: {
        ...config.metricLabels,
        onOverflow: (label, value) =>
          log.warn({ label, value, maxSeen: config.metricLabels.maxSeen }, "metric label value counted as other"),
      },
    });
    // Freshness survives restarts: a source silent since before the restart must still look silent.
    for (const row of await sourceFreshness(database.pool)) {
      observeEventTime(metrics, row.topic, row.source, row.last_event.getTime() / 1000);
    }
    const reconcileDeps = createReconcileDeps(config, log, metrics);
    // Engine v2: the instance holding the writer lock consumes, sweeps and reconciles; the others wait as standbys.
    const leadership =
      config.reconcileEngine === "memory"
        ? new WriterLeadership(database.url, reconcileDeps, log, config.writerLockTimeoutMs, {
            evictAfterMs: config.workingSetEvictAfterMs,
          })
        : undefined;
    const itemAlerts = config.alertmanagerUrl
      ? new ItemAlerter(
          database.pool,
          {
            alertmanagerUrl: config.alertmanagerUrl,
            ...config.itemAlerts,
            runbookBaseUrl: config.runbookBaseUrl,
          },
          metrics,
          log,
        )
      : undefined;
    if (itemAlerts) {
      itemAlerts.start();
      stack.push({ name: "item alerts", stop: () => itemAlerts.stop() });
    }
    const gauges = new GaugeRefresher(database.pool, metrics, log, undefined, config.policy.feeSchedule);
    await gauges.refresh();
    gauges.start();
    stack.push({ name: "gauges", stop: () => gauges.stop() });
    const notificationTopic =
      config.kafka && config.followUp.notify.topic
        ? await notificationTopicIfPresent(createKafka(config.kafka, log), config.followUp.notify.topic, log)
        : undefined;
    const deliverer = new NotificationDeliverer(database.pool, config.followUp.notify, metrics, log, clock);
    const followUp = new FollowUp(
      database.pool,
      {
        config: config.followUp,
        tiers: config.policy.priorityTiers,
        kafkaTopic: notificationTopic,
      },
      metrics,
      log,
      clock,
      () => deliverer.kick(),
    );
    // State gauges, item alerts and follow-up follow each committed batch within moments, not at the next tick.
    const ingest = createIngestDeps(config, database.pool, reconcileDeps, {
      afterCommit: () => {
        gauges.refreshSoon();
        itemAlerts?.pushSoon();
        followUp.runSoon();
      },
      ...(leadership ? { workingSet: leadership } : {}),
    });

    let kafkaIngest: KafkaIngest | undefined;
    let startConsumer: () => Promise<void> = async () => {};
    let takeOverGroup: (ingest: KafkaIngest) => Promise<void> = async () => {};
    if (config.kafka) {
      const kafkaConfig = config.kafka;
      const kafka = createKafka(config.kafka, log);
      const producer: Producer = kafka.producer({ allowAutoTopicCreation: false });
      await producer.connect();
      stack.push({ name: "producer", stop: () => producer.disconnect() });
      const findings = new FindingsPublisher(database.pool, producer, config.topics.findings, metrics);
      const publisher = new OutboxPublisher(database.pool, producer, log, undefined, findings);
      publisher.start();
      stack.push({ name: "outbox", stop: () => publisher.stop() });
      /** Every instance's member, so that a new writer can remove the others from the group at once. */
      const recordMember = async (memberId: string, previous: string | undefined) => {
        await recordGroupMember(database.pool, kafkaConfig.groupId, memberId, previous).catch((error) =>
          log.warn({ err: error }, "recording this instance's consumer group member failed"),
        );
      };
      // Best-effort bookkeeping (a busy pool, a failing query must not stop a takeover, issue 15): without the
      // recorded members the new writer takes the group over by a rejoin announcing its epoch, and a dead member's
      // partitions move only once its session times out (KAFKA_SESSION_TIMEOUT) instead of at once.
      takeOverGroup = async (ingest) => {
        const tried = await ingest.takeOver((self) =>
          otherGroupMembers(database.pool, kafkaConfig.groupId, self).catch((error) => {
            log.warn(
              { err: error },
              "reading the recorded consumer group members failed; taking the group over by a rejoin",
            );
            return [];
          }),
        );
        if (tried.length === 0) return;
        await forgetGroupMembers(database.pool, kafkaConfig.groupId, tried).catch((error) =>
          log.warn(
            { err: error },
            "forgetting removed consumer group members failed; the next takeover tries them again",
          ),
        );
      };
      startConsumer = async () => {
        kafkaIngest = new KafkaIngest({
          kafka,
          config: kafkaConfig,
          topics: config.topics,
          // The leader's: a batch in flight when it stands down fails, and Kafka re-delivers it to the next.
          ingest: leadership ? { ...ingest, reconcile: leadership.leaderReconcile } : ingest,
          publisher,
          metrics,
          log,
          chunkSize: kafkaConfig.groupMaxMessages,
          ...(leadership
            ? {
                writer: {
                  // Every instance is a member; the assigner gives the partitions to the highest epoch announced.
                  announce: () => ({ engine: "memory" as const, epoch: leadership.writerEpoch ?? null }),
                  joined: (memberId: string, previous: string | undefined) => void recordMember(memberId, previous),
                },
              }
            : {}),
        });
        await kafkaIngest.start();
      };
      // With leadership every instance joins once its role is known (after leadership.start): the writer in lead().
      if (!leadership) await startConsumer();
      stack.push({ name: "consumer", stop: async () => kafkaIngest?.stop() });
    }
    // Before the role is known there is no consumer yet.
    const kafkaHealthy = config.kafka ? () => kafkaIngest?.isHealthy() ?? Promise.resolve(true) : undefined;

    const stripeApiKey = config.gateways.stripe.apiKey;
    if (stripeApiKey) {
      const fetcher = new StripePayoutFetcher(
        database.pool,
        { ...config.gateways.stripe, apiKey: stripeApiKey },
        ingest,
        config.topics.rawStripe ?? "stripe.api",
        log,
      );
      // Not awaited: Stripe being slow or away must not delay readiness.
      fetcher.fetchOnce().catch((error) => log.warn({ err: error }, "stripe payout fetch failed; will retry"));
      fetcher.start();
      stack.push({ name: "stripe payouts", stop: () => fetcher.stop() });
    }

    let publisherFlush: () => Promise<void> = async () => {};
    if (config.kafka) publisherFlush = async () => kafkaIngest?.flushOutbox();
    const retention = rejectedMessagesRetention(database.pool, config.rejectedMessages, metrics, log);
    const sweeper = new Sweeper(
      database.pool,
      reconcileDeps,
      config.sweepIntervalMs,
      log,
      async () => {
        gauges.refreshSoon();
        itemAlerts?.pushSoon();
        followUp.runSoon();
        await publisherFlush();
      },
      undefined,
      async (now) => {
        await retention(now);
        await pruneJournal(database.pool, new Date(now.getTime() - JOURNAL_KEPT_MS));
      },
      leadership ? { reconcile: leadership.leaderReconcile } : undefined,
    );
    if (!leadership) {
      await sweeper.sweepOnce();
      sweeper.start();
    }
    stack.push({ name: "sweeper", stop: () => sweeper.stop() });
    if (leadership) stack.push({ name: "writer leadership", stop: () => leadership.stop() });
    let verifying: Promise<void> = Promise.resolve();
    await leadership?.start({
      // The working set loads (before anything reconciles: the consumer's first batch waits for it) while the group
      // rebalances to this writer (docs/architecture.md §4 step 5).
      lead: async () => {
        // A standby is a group member already: it takes the group over (the other members removed, or a rejoin
        // announcing its epoch); an instance leading from its start joins with its epoch.
        const joinAsWriter = kafkaIngest ? takeOverGroup(kafkaIngest) : startConsumer();
        await Promise.all([leadership.loadWorkingSet(database.pool, () => new Date()), joinAsWriter]);
        // Not a reason to stand down (and load again): the timer sweeps again.
        await sweeper.sweepOnce().catch((error) => log.warn({ err: error }, "sweep failed; will retry"));
        sweeper.start();
        // The stored rows are compared with the loaded set in the background, a share per transaction.
        verifying = leadership
          .verifyLoaded(database.pool, () => new Date())
          .catch((error) => log.warn({ err: error }, "comparing the loaded working set with the stored rows failed"));
      },
      standDown: async (stopping) => {
        if (stopping) {
          await kafkaIngest?.stop();
          kafkaIngest = undefined;
        } else {
          // A standby again: it leaves (its batch in flight fails the fence) and rejoins announcing no epoch, which
          // also moves the partitions to the writer that fenced it. Not awaited: the lock is tried again meanwhile.
          void kafkaIngest?.rejoin();
        }
        await sweeper.stop();
        await verifying;
      },
    });
    // A standby joins the group as a member assigned nothing, so that a takeover needs no cold join.
    if (leadership && leadership.role === "standby" && !kafkaIngest) await startConsumer();
    // Not fatal: after a long load the pool may be busy with the batches that waited for it (issue 15); the timer
    // runs the follow-up again.
    await followUp.runOnce().catch((error) => log.warn({ err: error }, "follow-up failed; will retry"));
    followUp.start();
    stack.push({ name: "follow-up", stop: () => followUp.stop() });
    deliverer.start();
    stack.push({ name: "notifications", stop: () => deliverer.stop() });

    const app = createHttpApp(config.http, log, {
      open: [
        healthRouter(database.pool, metrics, {
          kafkaHealthy,
          ...(leadership ? { role: () => leadership.role, workingSetLoaded: () => leadership.workingSetLoaded() } : {}),
        }),
        openApiRouter(config.topics),
        webhooksRouter({
          gateways: config.gateways,
          topics: config.topics,
          ingest,
          metrics,
          log,
          rateLimit: config.http.rateLimit.ingest,
        }),
        statusPageRouter(database.pool, metrics, config.http.tokens, {
          topics: config.topics,
          kafkaHealthy,
          rateLimit: config.http.rateLimit.api,
          staleness: config.staleness,
          ingest,
        }),
      ],
      api: [
        ingestRouter(config.topics, config.http.bodyLimit, ingest),
        paymentsRouter(database.pool),
        // Before the exceptions router: it takes the `contacted` action and passes every other one on.
        dunningRouter(database.pool, config.followUp.dunningScheduleMs, clock),
        exceptionsRouter(database.pool, ingest),
        bankEntryDecisionsRouter(ingest),
        bankEntriesRouter(database.pool),
        notificationsRouter(database.pool),
        reportsRouter(database.pool, config.policy.feeSchedule),
        // After the reports router: /reports/reconciliation is its own, /reports/{id} are stored period reports.
        periodReportsRouter(database.pool, clock),
        counterpartiesRouter(database.pool, clock),
        creditRecordsRouter(database.pool, clock),
      ],
    });
    const server: Server = await listen(app, config.http.port);
    stack.push({
      name: "http",
      stop: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        }),
    });
    const address = server.address();
    const httpPort = typeof address === "object" && address ? address.port : config.http.port;
    metrics.ready.set(1);
    log.info(
      { httpPort, kafka: config.kafka !== undefined, ms: Math.round(performance.now() - began) },
      "payrecon ready",
    );
    return {
      pool: database.pool,
      metrics,
      httpPort,
      followUp: { runOnce: () => followUp.runOnce(), deliverDue: () => deliverer.deliverDue() },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
