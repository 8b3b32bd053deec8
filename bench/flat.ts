import type { ChildProcess } from "node:child_process";
import { createPool } from "../src/db/pool.js";
import { migrate } from "../src/db/migrate.js";
import { storeFinalPayments } from "../test/support/openPayments.js";
import { createOwnedDatabase } from "./database.js";
import { rssBytes, startDaemon as startWithoutKafka, stopDaemon, verified } from "./restart.js";

/**
 * (i) Flat cost (issue 15, BENCH_ENGINE=memory, BENCH_FLAT_PAYMENTS=N): (b)'s backlog drained again by a daemon
 * restarted on a database that already holds N final payments with their facts and read model; its throughput
 * against (b)'s on an empty database (target ≥ 0.90). The facts are stored in bulk (generate_series, the shapes
 * the ingest writers store); the read model is written by the daemon itself (a first start, no Kafka, whose
 * background comparison writes every row as the writers do), then the timed daemon starts (memory engine, a
 * late-truth window of 1 s so final groups may leave memory) and consumes the input topics in a group of its own.
 */

export interface FlatDeps {
  databaseUrl: string;
  superuserUrl: string;
  payments: number;
  /** Starts `payrecon start` (dist) with Kafka on the database and group, with extra environment; resolves once ready. */
  startDaemon(
    url: string,
    groupId: string,
    env: Record<string, string>,
  ): Promise<{ child: ChildProcess; base: string }>;
  committedAll(groupId: string): Promise<{ done: boolean; committed: number; total: number }>;
  say(line: string): void;
}

export interface FlatResult {
  payments: number;
  statuses: Record<string, number>;
  seedSeconds: number;
  readModelSeconds: number;
  restartSeconds: number;
  rssReadyMiB: number;
  rssEndMiB: number;
  messages: number;
  drainSeconds: number;
  rate: number;
  evictedPayments: number;
  reloadedPayments: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function metricSum(base: string, name: string, labels = ""): Promise<number> {
  const text = await fetch(`${base}/metrics`).then(
    (response) => response.text(),
    () => "",
  );
  return [...text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, "gm"))]
    .filter((m) => (m[1] ?? "").includes(labels))
    .reduce((sum, m) => sum + Number(m[2]), 0);
}

export async function flatPhase(deps: FlatDeps): Promise<FlatResult> {
  const { say } = deps;
  const url = await createOwnedDatabase(deps.superuserUrl, deps.databaseUrl, "bench_flat");
  const pool = createPool(url, { max: 2, applicationName: "payrecon bench" });
  pool.on("error", () => {});
  try {
    await migrate(pool);
    let began = performance.now();
    say(`(i) storing ${deps.payments} final payments' facts`);
    await storeFinalPayments(pool, deps.payments, say);
    const seedSeconds = (performance.now() - began) / 1000;
    say("(i) the read model written by a first start (no Kafka): load, then every row compared and written");
    began = performance.now();
    const first = await startWithoutKafka(url);
    await verified(first);
    await stopDaemon(first);
    const readModelSeconds = (performance.now() - began) / 1000;
    const statuses = Object.fromEntries(
      (
        await pool.query<{ status: string; n: number }>(
          "select status, count(*)::int as n from payments group by status order by status",
        )
      ).rows.map((row) => [row.status, row.n]),
    );
    say(`  ${readModelSeconds.toFixed(1)} s; statuses ${JSON.stringify(statuses)}`);
    await pool.query("vacuum analyze");

    say("(i) restart on them (memory engine, WORKING_SET_EVICT_AFTER=1s), then (b)'s backlog drained again");
    began = performance.now();
    const daemon = await deps.startDaemon(url, "bench-flat", { WORKING_SET_EVICT_AFTER: "1s" });
    const ready = performance.now();
    const restartSeconds = (ready - began) / 1000;
    const rssReadyMiB = rssBytes(daemon.child.pid!) / 1_048_576;
    let progress = await deps.committedAll("bench-flat");
    let lastSaid = ready;
    while (!progress.done) {
      await sleep(500);
      progress = await deps.committedAll("bench-flat");
      if (performance.now() - lastSaid > 5_000) {
        say(`  committed ${progress.committed}/${progress.total}`);
        lastSaid = performance.now();
      }
    }
    const drainSeconds = (performance.now() - ready) / 1000;
    const rssEndMiB = rssBytes(daemon.child.pid!) / 1_048_576;
    const evictedPayments = await metricSum(daemon.base, "payrecon_working_set_items", 'state="evicted"');
    const reloadedPayments = await metricSum(daemon.base, "payrecon_working_set_reloads_total");
    const exited = new Promise((resolve) => daemon.child.once("exit", resolve));
    daemon.child.kill("SIGTERM");
    await exited;
    const result = {
      payments: deps.payments,
      statuses,
      seedSeconds,
      readModelSeconds,
      restartSeconds,
      rssReadyMiB,
      rssEndMiB,
      messages: progress.total,
      drainSeconds,
      rate: progress.total / drainSeconds,
      evictedPayments,
      reloadedPayments,
    };
    say(
      `  restart ${restartSeconds.toFixed(1)} s (RSS ${Math.round(rssReadyMiB)} MiB), ${progress.total} messages in ` +
        `${drainSeconds.toFixed(1)} s: ${Math.round(result.rate)} msg/s; RSS at the end ${Math.round(rssEndMiB)} MiB, ` +
        `${evictedPayments} items evicted, ${reloadedPayments} payments loaded back`,
    );
    return result;
  } finally {
    await pool.end();
  }
}

/** The results table's rows: measure, payrecon, ceiling, ratio, target, met. */
export function flatRows(result: FlatResult, emptyRate: number): string[][] {
  const ratio = result.rate / emptyRate;
  return [
    [
      `(i) (b)'s backlog again on ${result.payments} stored final payments`,
      `${Math.round(result.rate)} msg/s (${result.messages} in ${result.drainSeconds.toFixed(1)} s)`,
      `${Math.round(emptyRate)} msg/s on an empty database (b)`,
      ratio.toFixed(2),
      "≥ 0.90",
      ratio >= 0.9 ? "yes" : "no",
    ],
    [
      "(i) restart to ready on them, RSS",
      `${result.restartSeconds.toFixed(1)} s, ${Math.round(result.rssReadyMiB)} MiB → ${Math.round(result.rssEndMiB)} MiB after the drain`,
      `${result.evictedPayments} items evicted, ${result.reloadedPayments} payments loaded back`,
      "",
      "",
      "",
    ],
  ];
}
