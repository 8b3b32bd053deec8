/**
 * Restart to ready with the memory engine (issue 15): N open payments stored in bulk (SQL generate_series,
 * not through Kafka), then the daemon (RECONCILE_ENGINE=memory) started and timed from spawn to /readyz 200
 * with its working set loaded (payments are evaluated after that, in slices: the time until
 * payrecon_working_set_unevaluated_payments is 0 is printed too); its RSS against the same daemon's on an empty
 * database gives bytes per open item.
 *
 * Run alone (`npm run build && npm run bench:restart`, embedded PostgreSQL, no Kafka) or as a phase of
 * `npm run bench` with BENCH_ENGINE=memory.
 *
 *   BENCH_RESTART_PAYMENTS  open payments stored (default 1,000,000)
 *   BENCH_CPU_PROF=1        profile the timed start (--cpu-prof) and print its hottest functions
 *   BENCH_CPU_PROF_KEEP=DIR the timed start's .cpuprofile is kept in DIR (for a tree view: DevTools, speedscope)
 *   BENCH_DAEMON_LOG=FILE   the daemons' info-level logs (the working set's load times), appended to FILE
 *   BENCH_RESTART_WAIT_VERIFIED=0  stop at ready, without timing the background comparison with the stored rows
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { cpSync, createWriteStream, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { freePort, startEmbeddedPostgres } from "../src/db/embeddedPostgres.js";
import { migrate } from "../src/db/migrate.js";
import { createLogger } from "../src/logger.js";
import { createOwnedDatabase } from "./database.js";
import { hottest } from "./profile.js";
import { storeOpenPayments } from "../test/support/openPayments.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const RESTART_PAYMENTS = Number(process.env.BENCH_RESTART_PAYMENTS ?? 1_000_000);
const CPU_PROF = process.env.BENCH_CPU_PROF === "1";
const CPU_PROF_KEEP = process.env.BENCH_CPU_PROF_KEEP;
const DAEMON_LOG = process.env.BENCH_DAEMON_LOG;
const WAIT_VERIFIED = process.env.BENCH_RESTART_WAIT_VERIFIED !== "0";
const TARGET_SECONDS = 30;
const say = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

export interface Started {
  child: ChildProcess;
  base: string;
  readySeconds: number;
  /** The daemon's CPU (user + system) from spawn to ready. */
  cpuSeconds: number;
}

/** CPU time (user + system) a process used so far, from /proc (clock ticks of 10 ms). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Spawns the daemon (memory engine, no Kafka) and waits for /readyz 200; the time is from spawn. */
export async function startDaemon(databaseUrl: string, options: { profileDir?: string } = {}): Promise<Started> {
  const port = await freePort();
  const began = performance.now();
  const args = [
    ...(options.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${options.profileDir}`] : []),
    "dist/src/main.js",
    "start",
  ];
  const child = spawn(process.execPath, args, {
    cwd: root,
    stdio: ["ignore", DAEMON_LOG ? "pipe" : "ignore", "inherit"],
    env: {
      PATH: process.env.PATH ?? "",
      DATABASE_URL: databaseUrl,
      HTTP_PORT: String(port),
      API_TOKENS: "viewer:bench",
      LOG_LEVEL: DAEMON_LOG ? "info" : "warn",
      UNMATCHED_GRACE: "24h",
      RECONCILE_ENGINE: "memory",
    },
  });
  if (DAEMON_LOG) child.stdout?.pipe(createWriteStream(DAEMON_LOG, { flags: "a" }));
  const base = `http://127.0.0.1:${port}`;
  const deadline = 1_800_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`payrecon exited (${child.exitCode}) before it was ready`);
    try {
      if ((await fetch(`${base}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (performance.now() - began > deadline) throw new Error("payrecon did not become ready");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { child, base, readySeconds: (performance.now() - began) / 1000, cpuSeconds: cpuSeconds(child.pid!) };
}

export async function stopDaemon(daemon: Started): Promise<void> {
  const exited = new Promise((resolve) => daemon.child.once("exit", resolve));
  daemon.child.kill("SIGTERM");
  await exited;
}

export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
}

/** RSS once it stops moving (the load's garbage collected or not, as a running daemon would hold it). */
async function settledRss(pid: number): Promise<number> {
  let last = rssBytes(pid);
  for (let i = 0; i < 20; i++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const now = rssBytes(pid);
    if (Math.abs(now - last) < 1_048_576) return now;
    last = now;
  }
  return last;
}

/** Waits until the daemon has compared its loaded working set with the stored rows whole; seconds it took. */
export async function verified(daemon: Started): Promise<number> {
  return gaugeZero(daemon, "payrecon_working_set_unverified_keys", performance.now());
}

/**
 * Waits until the daemon's gauge `name` is 0 (payrecon_working_set_unevaluated_payments: every loaded payment
 * evaluated; payrecon_working_set_unverified_keys: the loaded working set compared with the stored rows whole);
 * seconds it took from `began`.
 */
async function gaugeZero(daemon: Started, name: string, began: number): Promise<number> {
  const zero = new RegExp(`^${name} 0$`, "m");
  for (;;) {
    // A scrape may fail while the daemon is busy: scraped again.
    const text = await fetch(`${daemon.base}/metrics`).then(
      (response) => response.text(),
      () => "",
    );
    // A build without the gauge (one that evaluates every payment before ready) counts as 0.
    if (zero.test(text) || (text.includes("payrecon_build_info") && !text.includes(`${name} `)))
      return (performance.now() - began) / 1000;
    if (daemon.child.exitCode !== null) throw new Error(`payrecon exited (${daemon.child.exitCode})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function loadsAtStart(daemon: Started): Promise<number> {
  const text = await (await fetch(`${daemon.base}/metrics`)).text();
  return Number(/^payrecon_working_set_loads_total\{reason="start"\} (\S+)/m.exec(text)?.[1] ?? 0);
}

export interface RestartResult {
  payments: number;
  entries: number;
  readySeconds: number;
  cpuSeconds: number;
  /** After ready, until every loaded payment was evaluated (in the background), and the daemon's CPU from spawn to then. */
  evaluatedSeconds: number;
  evaluatedCpuSeconds: number;
  /** After ready, until the stored rows were compared with the working set whole (in the background); NaN: not waited. */
  verifiedSeconds: number;
  rssEmptyBytes: number;
  rssLoadedBytes: number;
  bytesPerItem: number;
  profile: string[];
}

/**
 * The phase: a database of its own (created by the superuser, owned by the daemon's role), the daemon's RSS on it
 * empty, N open payments' facts stored, then the daemon started and timed to ready. A load reads facts and the
 * reconcile clock only, never the read model, so a fresh database's start is a restart's; what differs is the
 * background comparison after it, which here writes every payment's row (timed unless BENCH_RESTART_WAIT_VERIFIED=0).
 */
export async function restartPhase(superuserUrl: string, url: string, payments: number): Promise<RestartResult> {
  const databaseUrl = await createOwnedDatabase(superuserUrl, url, "bench_restart");
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  try {
    await migrate(pool);
    const empty = await startDaemon(databaseUrl);
    const rssEmptyBytes = await settledRss(empty.child.pid!);
    await stopDaemon(empty);
    say(`restart: storing ${payments} open payments' facts`);
    const { entries } = await storeOpenPayments(pool, payments, say);
    say("restart: timed start");
    const profileDir = CPU_PROF ? mkdtempSync(path.join(tmpdir(), "payrecon-restart-prof-")) : undefined;
    const timed = await startDaemon(databaseUrl, profileDir ? { profileDir } : {});
    // At ready: the working set and what loading it left for the collector (the comparison starts now).
    const rssLoadedBytes = rssBytes(timed.child.pid!);
    if ((await loadsAtStart(timed)) < 1) throw new Error("ready before its working set was loaded");
    const ready = performance.now();
    const evaluatedSeconds = await gaugeZero(timed, "payrecon_working_set_unevaluated_payments", ready);
    const evaluatedCpuSeconds = cpuSeconds(timed.child.pid!);
    const verifiedSeconds = WAIT_VERIFIED
      ? await gaugeZero(timed, "payrecon_working_set_unverified_keys", ready)
      : Number.NaN;
    await stopDaemon(timed);
    const profile = profileDir ? hottest(profileDir, root) : [];
    if (profileDir && CPU_PROF_KEEP) cpSync(profileDir, CPU_PROF_KEEP, { recursive: true });
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
    const items = payments + entries;
    const result = {
      payments,
      entries,
      readySeconds: timed.readySeconds,
      cpuSeconds: timed.cpuSeconds,
      evaluatedSeconds,
      evaluatedCpuSeconds,
      verifiedSeconds,
      rssEmptyBytes,
      rssLoadedBytes,
      bytesPerItem: (rssLoadedBytes - rssEmptyBytes) / items,
      profile,
    };
    say(
      `  ready in ${result.readySeconds.toFixed(1)} s, every payment evaluated ${evaluatedSeconds.toFixed(1)} s later, ` +
        `stored rows compared ${verifiedSeconds.toFixed(1)} s later; ` +
        `${Math.round(result.bytesPerItem)} bytes per open item`,
    );
    return result;
  } finally {
    await pool.end();
  }
}

/** The results table's rows: measure, payrecon, ceiling, ratio, target, met. */
export function restartRows(result: RestartResult): string[][] {
  const mib = (bytes: number) => `${(bytes / 1_048_576).toFixed(0)} MiB`;
  return [
    [
      `restart to ready with ${result.payments} open payments`,
      `${result.readySeconds.toFixed(1)} s (daemon CPU ${result.cpuSeconds.toFixed(1)} s)`,
      `${TARGET_SECONDS} s`,
      (result.readySeconds / TARGET_SECONDS).toFixed(2),
      `≤ ${TARGET_SECONDS} s`,
      result.readySeconds <= TARGET_SECONDS ? "yes" : "no",
    ],
    [
      "every loaded payment evaluated (after ready, in slices between reconciliations)",
      `${result.evaluatedSeconds.toFixed(1)} s after ready (daemon CPU from spawn ${result.evaluatedCpuSeconds.toFixed(1)} s)`,
      "",
      "",
      "",
      "",
    ],
    [
      `bytes per open item (${result.payments} payments + ${result.entries} bank lines)`,
      `${Math.round(result.bytesPerItem)} B`,
      `RSS ${mib(result.rssEmptyBytes)} empty → ${mib(result.rssLoadedBytes)}`,
      "",
      "",
      "",
    ],
  ];
}

async function main() {
  const work = mkdtempSync(path.join(tmpdir(), "payrecon-bench-restart-"));
  // Embedded PostgreSQL may run as another user (under root): it must reach its directory.
  execFileSync("chmod", ["755", work]);
  const database = await startEmbeddedPostgres(work, createLogger("silent"), { database: "bench" });
  try {
    const result = await restartPhase(database.adminUrl, database.url, RESTART_PAYMENTS);
    for (const row of restartRows(result)) process.stdout.write(`${row.join(" | ")}\n`);
    process.stdout.write(
      `every loaded payment evaluated ${result.evaluatedSeconds.toFixed(1)} s after ready, in the background ` +
        `(daemon CPU from spawn ${result.evaluatedCpuSeconds.toFixed(1)} s)\n`,
    );
    process.stdout.write(
      `stored rows compared with the working set (here: every payment's row written) ${result.verifiedSeconds.toFixed(1)} s after ready, in the background\n`,
    );
    if (result.profile.length)
      process.stdout.write(`\nhottest functions of the timed start (self time):\n${result.profile.join("\n")}\n`);
  } finally {
    await database.stop().catch(() => {});
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    () => process.exit(0),
    (error) => {
      process.stderr.write(`bench failed: ${error?.stack ?? error}\n`);
      process.exit(1);
    },
  );
}
