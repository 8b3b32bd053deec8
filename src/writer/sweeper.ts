import type pg from "pg";
import { dueWork } from "../db/queries/paymentState.js";
import { withTransaction } from "../db/transaction.js";
import type { Logger } from "../logger.js";
import { type ReconcileDeps, reconcileTouched } from "./reconcileTouched.js";
import { escalateByAge } from "../db/queries/exceptions.js";
import { emptyTouched } from "../reconcile/touched.js";
import type { ReconcileEffects } from "../consumers/ingest.js";
import type { WorkingSetReconciler } from "./workingSetReconciler.js";

/**
 * Time-based transitions (overdue → delayed, captured too long → held, grace
 * over → unmatched) every SWEEP_INTERVAL: only rows whose indexed deadline
 * has passed are re-reconciled, in chunks, each in its own transaction. With the memory engine the
 * working set's deadline heap knows what is due: one transaction applies the time that passed.
 */
export class Sweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly deps: ReconcileDeps,
    private readonly intervalMs: number,
    private readonly log: Logger,
    private readonly afterSweep: () => Promise<void> = async () => {},
    private readonly chunkSize = 2_000,
    /** Upkeep that rides on the sweep's schedule (retention of rejected messages); its failure fails no sweep. */
    private readonly housekeeping: (now: Date) => Promise<void> = async () => {},
    /** Engine v2: its working set knows every deadline; one transaction applies the time that passed. */
    private readonly workingSet?: Pick<WorkingSetReconciler, "reconcile">,
  ) {}

  /** Runs until nothing is due at `now`; returns how many items were re-evaluated. */
  sweepOnce(now: () => Date = () => new Date()): Promise<number> {
    if (!this.running) {
      this.running = this.drain(now).finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  private async drain(now: () => Date): Promise<number> {
    const total = this.workingSet ? await this.applyTime(this.workingSet, now) : await this.sweepDueRows(now);
    if (total > 0) {
      this.log.info({ items: total }, "sweep applied time-based transitions");
      await this.afterSweep();
    }
    await this.housekeeping(now()).catch((error) => this.log.warn({ err: error }, "housekeeping failed; will retry"));
    return total;
  }

  /** The sql engine: the rows whose indexed deadline has passed, in chunks. */
  private async sweepDueRows(now: () => Date): Promise<number> {
    let total = 0;
    for (;;) {
      const at = now();
      const { count, effects, raised } = await withTransaction(this.pool, async (tx) => {
        const due = await dueWork(tx, at, this.chunkSize);
        const count = due.paymentIds.length + due.entrySeqs.length + due.orphanSeqs.length;
        if (count === 0)
          return { count, effects: undefined, raised: await escalateByAge(tx, at, this.deps.policy.priorityTiers) };
        const touched = emptyTouched();
        for (const id of due.paymentIds) touched.paymentIds.add(id);
        for (const seq of due.entrySeqs) touched.recheckEntrySeqs.add(seq);
        for (const seq of due.orphanSeqs) touched.dueOrphanSeqs.add(seq);
        return { count, effects: await reconcileTouched(tx, touched, now, this.deps), raised: 0 };
      });
      effects?.afterCommit();
      if (raised > 0) this.log.info({ raised }, "exceptions raised in priority as they aged");
      total += count;
      if (count < this.chunkSize) return total;
    }
  }

  private async applyTime(workingSet: Pick<WorkingSetReconciler, "reconcile">, now: () => Date): Promise<number> {
    let effects: ReconcileEffects | undefined;
    const raised = await withTransaction(this.pool, async (tx) => {
      effects = await workingSet.reconcile(tx, emptyTouched(), now);
      return escalateByAge(tx, now(), this.deps.policy.priorityTiers);
    });
    effects?.afterCommit();
    if (raised > 0) this.log.info({ raised }, "exceptions raised in priority as they aged");
    return effects?.changed ?? 0;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.sweepOnce().catch((error) => this.log.warn({ err: error }, "sweep failed; will retry"));
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => {});
  }
}
