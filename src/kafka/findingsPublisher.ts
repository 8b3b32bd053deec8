import type { Producer } from "kafkajs";
import type pg from "pg";
import {
  advanceFindingsCursor,
  type FindingRow,
  findingsAfterCursor,
  lockFindingsCursor,
} from "../db/queries/findings.js";
import { withTransaction } from "../db/transaction.js";
import type { Metrics } from "../metrics/registry.js";
import { type Finding, findingOfExceptionChange, findingOfStatusChange } from "../writer/findings.js";

/**
 * Publishes findings from the rows reconciliation commits anyway (issue 15): status changes and exception audit
 * rows carrying a `finding` (000090), after a durable cursor (findings_cursor) that moves, in the same
 * transaction that holds it locked, only once the brokers acknowledged (acks = all). A crash between the send
 * and the commit sends those findings again: at-least-once, nothing lost.
 *
 * Why the cursor is (reconciliation time, id) and not a sequence alone: sequence numbers are taken when a row
 * is inserted, not when its transaction commits, so a cursor on them could pass a row whose transaction took a
 * lower number and commits after a higher one was seen — and never send it. The reconciliation time is taken
 * under the reconciliation lock (advanceReconcileClock: unique and increasing per reconciliation), and that
 * lock is held until commit; PostgreSQL makes a commit visible before it releases the transaction's locks, so
 * a reconciliation's time is greater than that of every reconciliation visible before it committed, and every
 * one with a smaller time committed before it. Nothing can commit behind the cursor. (`pg_snapshot_xmin` with
 * an xid column would not skip rows either, but orders by transaction start: a reconciliation that began first
 * and waited for the lock would publish its later status changes before the earlier ones of the same payment.)
 *
 * One publisher at a time (the cursor row is locked while sending; another instance skips its turn), one send
 * per chunk in cursor order: each payment's findings reach its partition in the order they happened.
 */
export class FindingsPublisher {
  constructor(
    private readonly pool: pg.Pool,
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly metrics: Metrics | undefined,
    private readonly chunkSize = 1_000,
  ) {}

  /** Sends every finding committed before the call, unless another publisher is sending them now. */
  async drain(): Promise<void> {
    for (;;) {
      const sent = await withTransaction(this.pool, async (tx) => {
        if (!(await lockFindingsCursor(tx))) return 0;
        const rows = await findingsAfterCursor(tx, this.chunkSize);
        if (rows.length === 0) return 0;
        await this.producer.send({
          topic: this.topic,
          acks: -1,
          messages: rows.map((row) => {
            const finding = findingOf(row);
            return { key: finding.key, value: JSON.stringify(finding.value) };
          }),
        });
        await advanceFindingsCursor(tx, rows);
        return rows.length;
      });
      if (sent > 0) this.metrics?.findingsPublished.inc(sent);
      if (sent < this.chunkSize) return;
    }
  }
}

export function findingOf(row: FindingRow): Finding {
  return row.source === "status_change" ? findingOfStatusChange(row) : findingOfExceptionChange(row);
}
