import pg from "pg";
import type { ReconcileEffects } from "../consumers/ingest.js";
import { bumpWriterEpoch, sharedWriterEpoch } from "../db/queries/writerEpoch.js";
import type { Logger } from "../logger.js";
import type { TouchedFacts } from "../reconcile/touched.js";
import { type ReconcileDeps, reconcileTouched } from "./reconcileTouched.js";
import { WorkingSetReconciler } from "./workingSetReconciler.js";

/**
 * Engine v2, step 5 (docs/architecture.md §3 "Leadership and fencing"): of the instances on one database
 * with RECONCILE_ENGINE=memory, the one holding a session-level advisory lock on its own connection (not
 * the pool's) is the writer: it consumes Kafka, sweeps, and reconciles from its working set. The others
 * wait as hot standbys, trying the lock every POLL_MS.
 *
 * Fencing: the winner bumps `writer_epoch` (000100) and keeps its epoch; every transaction it reconciles
 * reads the epoch `for share` and fails unless it is still its own. The bump waits for transactions that
 * read the old epoch, so each transaction commits wholly before or wholly after a takeover, and one that
 * a paused or cut-off leader runs after it can never commit.
 *
 * Timing: kill -9 closes the leader's socket, PostgreSQL ends its session and frees the lock at once. A
 * hung leader (process stopped, host or network gone) is ended by PostgreSQL after WRITER_LOCK_TIMEOUT of
 * silence on the lock connection (`idle_session_timeout`; the leader pings every fifth of it from the moment
 * it wins), and the leader itself stands down sooner, when a ping goes unanswered for half of it.
 */

/** The writer lock's key (session-level; RECONCILE_LOCK is the transaction-level one). */
export const LEADER_LOCK = 7_248_263_015;
/** How often a standby tries the lock. */
const POLL_MS = 250;

/** A transaction of a leader whose epoch was superseded, or that stood down: rolled back. */
export class FencedError extends Error {}

export interface LeadershipHooks {
  /** After winning and bumping the epoch: load the working set, start consuming and sweeping. */
  lead(): Promise<void>;
  /** After losing the lock or the epoch (`stopping` false), or on stop: stop consuming and sweeping. */
  standDown(stopping: boolean): Promise<void>;
}

export type WriterRole = "leader" | "standby";

export class WriterLeadership {
  /** Set while this process leads: the epoch its transactions must still find. */
  private epoch: number | undefined;
  private workingSet: WorkingSetReconciler | undefined;
  /** The lock's connection while this process holds it. */
  private lockSession: pg.Client | undefined;
  private loadingSince: number | undefined;
  private loadEndedAt: number | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;
  /** Ends the current lock session (lost, fenced, stopping). */
  private lose: (reason: string) => void = () => {};
  private wake: () => void = () => {};
  private tried: () => void = () => {};

  constructor(
    private readonly url: string,
    private readonly deps: ReconcileDeps,
    private readonly log: Logger,
    /** WRITER_LOCK_TIMEOUT: PostgreSQL ends a lock session silent this long, so a hung leader loses the lock. */
    private readonly lockTimeoutMs: number,
    /** How the leader's working set evicts final payments (WORKING_SET_EVICT_AFTER). */
    private readonly eviction: { evictAfterMs?: number } = {},
  ) {}

  /** Readiness: whether the leader's working set is loaded; undefined on a standby, which keeps none. */
  workingSetLoaded(): boolean | undefined {
    return this.workingSet?.loaded();
  }

  /**
   * On taking over: the leader's working set, loaded whole before anything reconciles (WorkingSetReconciler.loadNow).
   * Evaluating a large set is synchronous (tens of seconds for a million open payments), so the lock connection
   * cannot be pinged meanwhile: its idle timeout is off and late pings do not count until a timeout after the load.
   * A kill -9 still frees the lock at once; a leader hung in the load is the one case the timeout does not catch.
   */
  async loadWorkingSet(pool: pg.Pool, clock: () => Date): Promise<void> {
    const session = this.lockSession;
    await session?.query("set idle_session_timeout = 0");
    this.loadingSince = performance.now();
    try {
      await this.workingSet?.loadNow(pool, clock);
    } finally {
      this.loadEndedAt = performance.now();
      this.loadingSince = undefined;
      await session
        ?.query(`set idle_session_timeout = ${Math.round(this.lockTimeoutMs)}`)
        .catch((error) => this.stepDown(`lock connection failed after the load: ${(error as Error).message}`));
    }
  }

  /** Whether a ping may have gone unanswered because this process was busy loading, not because PostgreSQL was. */
  private stalledByLoad(): boolean {
    return (
      this.loadingSince !== undefined ||
      (this.loadEndedAt !== undefined && performance.now() - this.loadEndedAt < this.lockTimeoutMs)
    );
  }

  /** Compares the loaded working set with the stored rows behind the fence, until done or no longer leading. */
  async verifyLoaded(pool: pg.Pool, clock: () => Date): Promise<void> {
    const workingSet = this.workingSet;
    const epoch = this.epoch;
    await workingSet?.verifyLoaded(pool, clock, () => this.epoch !== epoch || this.stopped, this.leaderReconcile);
  }

  /** The epoch this process writes under while it leads; undefined on a standby (and once it stood down). */
  get writerEpoch(): number | undefined {
    return this.epoch;
  }

  get role(): WriterRole {
    return this.epoch === undefined ? "standby" : "leader";
  }

  /**
   * The FactReconciler of every writer path (Kafka, HTTP ingest, webhooks, operators' decisions, the
   * sweeper): the leader's working set behind the fence; on a standby the sql engine, which journals what it
   * stores (reconcile_journal) so the leader's working set catches up with it — an operator's request that
   * reaches a standby is done, not refused.
   */
  reconcile = async (tx: pg.PoolClient, touched: TouchedFacts, clock: () => Date): Promise<ReconcileEffects> => {
    if (this.epoch === undefined) return reconcileTouched(tx, touched, clock, this.deps);
    return this.leaderReconcile(tx, touched, clock);
  };

  /**
   * The consumer's and the sweeper's FactReconciler: the leader's alone. Once it stood down (lock lost, epoch
   * superseded) their transactions in flight fail here, however they were started; Kafka re-delivers.
   */
  leaderReconcile = async (tx: pg.PoolClient, touched: TouchedFacts, clock: () => Date): Promise<ReconcileEffects> => {
    const { epoch, workingSet } = this;
    if (epoch === undefined || !workingSet) throw new FencedError("not the writer (stood down): not committed");
    const current = await sharedWriterEpoch(tx);
    if (current !== epoch) {
      this.stepDown(`epoch ${epoch} superseded by ${current}`);
      throw new FencedError(`writer epoch ${epoch} superseded by ${current}: not committed`);
    }
    if (this.epoch !== epoch) throw new FencedError(`writer epoch ${epoch} given up: not committed`);
    return workingSet.reconcile(tx, touched, clock);
  };

  /** Resolves after the first try: leading (a lone instance is the writer once ready, as before), or standing by. */
  start(hooks: LeadershipHooks): Promise<void> {
    return new Promise((resolve) => {
      this.tried = resolve;
      this.loop ??= this.run(hooks);
    });
  }

  /** Stands down (the consumer and the sweeper drain first, still leading), releases the lock. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.lose("stopping");
    this.wake();
    await this.loop;
  }

  /** Stops writing at once: transactions that have not passed the fence yet fail it. */
  private stepDown(reason: string): void {
    this.epoch = undefined;
    this.workingSet = undefined;
    this.lose(reason);
  }

  private async run(hooks: LeadershipHooks): Promise<void> {
    const { metrics } = this.deps;
    while (!this.stopped) {
      const client = new pg.Client({
        connectionString: this.url,
        application_name: "payrecon writer lock",
        keepAlive: true,
        keepAliveInitialDelayMillis: 5_000,
        connectionTimeoutMillis: 5_000,
      });
      const gone = new Promise<string>((resolve) => {
        this.lose = resolve;
      });
      client.on("error", (error) => this.stepDown(`lock connection failed: ${error.message}`));
      client.on("end", () => this.stepDown("lock connection ended"));
      let led = false;
      try {
        await client.connect();
        await client.query(`set idle_session_timeout = ${Math.round(this.lockTimeoutMs)}`);
        for (;;) {
          if (this.stopped) return;
          const { rows } = await client.query<{ won: boolean }>("select pg_try_advisory_lock($1) as won", [
            LEADER_LOCK,
          ]);
          if (rows[0]!.won) break;
          this.tried();
          if (await this.pauseUnless(gone, POLL_MS)) throw new Error(await gone);
        }
        const began = performance.now();
        const epoch = await bumpWriterEpoch(client);
        this.lockSession = client;
        this.workingSet = new WorkingSetReconciler(this.deps, this.eviction);
        this.epoch = epoch;
        led = true;
        metrics.writerLeader.set(1);
        // Pinging from now: loading and joining the group take seconds, longer than the lock may stay silent.
        const held = this.hold(client, gone);
        await hooks.lead();
        this.log.info({ epoch, ms: Math.round(performance.now() - began) }, "writer lock won: leading");
        this.tried();
        const reason = await held;
        this.log.warn({ epoch, reason }, "writer standing down");
      } catch (error) {
        this.tried();
        if (!this.stopped) this.log.warn({ err: error }, "writer lock session failed; waiting for the lock again");
      } finally {
        if (led) {
          metrics.writerLeader.set(0);
          await hooks
            .standDown(this.stopped)
            .catch((error) => this.log.warn({ err: error }, "standing down did not finish"));
        }
        this.epoch = undefined;
        this.workingSet = undefined;
        this.lockSession = undefined;
        client.removeAllListeners("end");
        await client.end().catch(() => {});
      }
      if (!this.stopped) await this.pauseUnless(new Promise(() => {}), POLL_MS);
    }
  }

  /** While leading: pings the lock connection until it is lost, the epoch is, or stop; says why it ended. */
  private async hold(client: pg.Client, gone: Promise<string>): Promise<string> {
    for (;;) {
      if (await this.pauseUnless(gone, this.lockTimeoutMs / 5)) return gone;
      if (this.loadingSince !== undefined) continue;
      try {
        // Unanswered for half the lock's timeout: cut off; stand down before PostgreSQL frees the lock.
        await client.query({ text: "select 1", query_timeout: this.lockTimeoutMs / 2 } as pg.QueryConfig);
      } catch (error) {
        // A connection that failed says so by itself ('error', 'end'); a ping late because of the load is not lost.
        if (this.stalledByLoad()) continue;
        this.stepDown(`lock connection unanswered: ${(error as Error).message}`);
        return gone;
      }
    }
  }

  /** Waits `ms`; true when `gone` settled (or stop) first. */
  private async pauseUnless(gone: Promise<string>, ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      gone.then(() => true),
      new Promise<boolean>((resolve) => {
        this.wake = () => resolve(true);
        timer = setTimeout(() => resolve(this.stopped), ms);
      }),
    ]);
    clearTimeout(timer);
    return result || this.stopped;
  }
}
