import type { ChildProcess } from "node:child_process";
import { loadConfig } from "../src/config.js";
import { freshDatabase } from "./database.js";
import { differencesFromWorld } from "../test/support/worldCheck.js";

/**
 * (g) Standby takeover (BENCH_ENGINE=memory; issue 15, engine v2 step 5): a leader and two standbys on a fresh
 * database and a fresh consumer group, whose load is everything the earlier phases produced (the realistic mix
 * and the steady loads, as a backlog); the leader is killed with kill -9 at fixed shares of the progress, KILLS times; the second kill hits the
 * new leader the moment it wins the lock (a kill during a takeover). Each takeover is timed from the kill to the
 * first offset the next leader commits (its first stored batch). Afterwards the database must equal the
 * from-scratch reconciliation (reconcileWorld over the stored facts).
 */

export interface TakeoverDaemon {
  child: ChildProcess;
  base: string;
}

export interface TakeoverDeps {
  /** The daemon's database role's URL (the fresh database is created for it) and the superuser's. */
  databaseUrl: string;
  superuserUrl: string;
  /** Starts `payrecon start` (dist) on the database and group, with extra environment; resolves once ready. */
  startDaemon(url: string, groupId: string, env: Record<string, string>): Promise<TakeoverDaemon>;
  /** The group's progress over the input topics. */
  committedAll(groupId: string): Promise<{ done: boolean; committed: number; total: number }>;
  /** Environment the daemons share with the comparison (the policy's settings). */
  policyEnv: Record<string, string>;
  kills: number;
  say(line: string): void;
}

/** Kafka expires a dead member after its session: the floor under any takeover of a consumer group. */
export const TAKEOVER_KAFKA_ENV = {
  KAFKA_SESSION_TIMEOUT: "6s",
  KAFKA_HEARTBEAT_INTERVAL: "1s",
  KAFKA_REBALANCE_TIMEOUT: "6s",
};

export interface TakeoverResult {
  takeoverSeconds: number[];
  duringTakeoverSeconds: number | null;
  maxSeconds: number;
  met: boolean;
  messages: number;
  differences: string[];
  identical: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function roleOf(daemon: TakeoverDaemon): Promise<string | undefined> {
  try {
    return ((await (await fetch(`${daemon.base}/healthz`)).json()) as { role?: string }).role;
  } catch {
    return undefined;
  }
}

export async function takeoverPhase(deps: TakeoverDeps): Promise<TakeoverResult> {
  const { say } = deps;
  const groupId = "bench-takeover";
  const { url, pool } = await freshDatabase(deps.databaseUrl, deps.superuserUrl, "bench_takeover", 2);
  const committed = async () => (await deps.committedAll(groupId)).committed;

  const env = { ...TAKEOVER_KAFKA_ENV, ...deps.policyEnv };
  const live: TakeoverDaemon[] = [];
  const spawn = async () => {
    const daemon = await deps.startDaemon(url, groupId, env);
    live.push(daemon);
    return daemon;
  };
  const leader = async (timeoutMs = 30_000): Promise<TakeoverDaemon> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const daemon of live) if ((await roleOf(daemon)) === "leader") return daemon;
      if (Date.now() > deadline) throw new Error("no instance took the writer lock");
      await sleep(20);
    }
  };
  const kill = async (daemon: TakeoverDaemon) => {
    live.splice(live.indexOf(daemon), 1);
    const exited = new Promise((resolve) => daemon.child.once("exit", resolve));
    daemon.child.kill("SIGKILL");
    return { at: performance.now(), exited };
  };
  /** Seconds from `at` until `reached` first holds, polled every 50 ms. */
  const secondsUntil = async (at: number, what: string, reached: () => Promise<boolean>): Promise<number> => {
    for (;;) {
      if (await reached()) return (performance.now() - at) / 1000;
      if (performance.now() - at > 120_000) throw new Error(`no ${what} within 120 s of the kill`);
      await sleep(50);
    }
  };
  /** The gauge of partitions assigned; null from a build without it (a before/after pair's "before"). */
  const assignedPartitions = async (daemon: TakeoverDaemon): Promise<number | null> => {
    try {
      const text = await (await fetch(`${daemon.base}/metrics`)).text();
      const value = /^payrecon_kafka_assigned_partitions (\S+)$/m.exec(text)?.[1];
      return value === undefined ? null : Number(value);
    } catch {
      return 0;
    }
  };
  /**
   * From the kill: the next leader's lock won, the group assigned to it (its partitions gauge), the first offset
   * committed after `before`; polled side by side, each timed when first seen.
   */
  const firstCommit = async (at: number, before: number) => {
    const standbys = [...live];
    let unknown = false;
    const [lock, assigned, commit] = await Promise.all([
      secondsUntil(at, "leader", async () => {
        for (const daemon of standbys) if ((await roleOf(daemon)) === "leader") return true;
        return false;
      }),
      secondsUntil(at, "assignment", async () => {
        for (const daemon of standbys) {
          if ((await roleOf(daemon)) !== "leader") continue;
          const partitions = await assignedPartitions(daemon);
          if (partitions === null) unknown = true;
          if (partitions === null) return true;
          if (partitions > 0) return true;
        }
        return false;
      }),
      secondsUntil(at, "commit", async () => (await committed()) > before),
    ]);
    return { lock, assigned: unknown ? null : assigned, commit };
  };
  const breakdown = (times: { lock: number; assigned: number | null; commit: number }) =>
    `lock won ${times.lock.toFixed(2)} s, group assigned ${times.assigned?.toFixed(2) ?? "(not reported by this build)"} s, first commit ${times.commit.toFixed(2)} s`;

  try {
    await spawn();
    await spawn();
    await spawn();
    const messages = (await deps.committedAll(groupId)).total;
    say(
      `  ${messages} messages produced; leader + 2 standbys; ${deps.kills} kill -9s; ${Object.entries(
        TAKEOVER_KAFKA_ENV,
      )
        .map(([name, value]) => `${name}=${value}`)
        .join(" ")}`,
    );
    const takeoverSeconds: number[] = [];
    let duringTakeoverSeconds: number | null = null;
    for (let k = 1; k <= deps.kills; k++) {
      // Kill at k / (kills + 1) of the backlog.
      const target = Math.floor((k * messages) / (deps.kills + 1));
      while ((await committed()) < target) await sleep(100);
      let killed = await kill(await leader());
      // Read after the kill: a dead leader commits nothing more.
      const before = await committed();
      if (k === 2) {
        // During the takeover: the next leader dies as soon as it holds the lock.
        const next = await leader();
        killed = await kill(next);
        const times = await firstCommit(killed.at, before);
        duringTakeoverSeconds = times.commit;
        say(`  kill ${k} (during a takeover), from the second kill: ${breakdown(times)}`);
      } else {
        const times = await firstCommit(killed.at, before);
        takeoverSeconds.push(times.commit);
        say(`  kill ${k}: ${breakdown(times)}`);
      }
      await killed.exited;
      while (live.length < 3) await spawn();
    }
    while (!(await deps.committedAll(groupId)).done) await sleep(500);
    // Both sides at one moment; a deadline passing between the last sweep and now is retried after a sweep.
    const policy = loadConfig(deps.policyEnv).policy;
    let differences: string[] = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      differences = await differencesFromWorld(pool, policy, Date.now());
      if (differences.length === 0) break;
      say(`  ${differences.length} differences from the from-scratch reconciliation; comparing after the next sweep`);
      await sleep(6_000);
    }
    const all = [...takeoverSeconds, ...(duringTakeoverSeconds === null ? [] : [duringTakeoverSeconds])];
    const maxSeconds = Math.max(...all);
    return {
      takeoverSeconds,
      duringTakeoverSeconds,
      maxSeconds,
      met: maxSeconds <= 10,
      messages,
      differences: differences.slice(0, 20),
      identical: differences.length === 0,
    };
  } catch (error) {
    say(`  (g) failed: ${(error as Error).stack ?? error}`);
    throw error;
  } finally {
    const exits = live
      .filter((daemon) => daemon.child.exitCode === null && daemon.child.signalCode === null)
      .map((daemon) => new Promise((resolve) => daemon.child.once("exit", resolve)));
    for (const daemon of live) daemon.child.kill("SIGTERM");
    await Promise.all(exits);
    await pool.end();
  }
}
