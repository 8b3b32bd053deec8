import type { ExceptionChange } from "./exceptionSync.js";
import { subjectKey } from "../reconcile/exceptions.js";
import type { PaymentOutcome } from "../reconcile/paymentStatus.js";
import type { PaymentStatus } from "../reconcile/types.js";

/**
 * Finding messages for `payrecon.findings`: every payment status change, and
 * every exception about something other than a payment (bank entries,
 * batches, gateway events) as it opens or closes. Keyed by payment id or
 * entry id (CONTRACT §1).
 */
export interface Finding {
  key: string;
  value: Record<string, unknown>;
}

export function paymentFinding(outcome: PaymentOutcome, previous: PaymentStatus | null, at: Date): Finding {
  const payment = outcome.payment;
  return {
    key: outcome.paymentId,
    value: {
      type: "payment.status_changed",
      at: at.toISOString(),
      payment_id: outcome.paymentId,
      reference: payment.reference,
      gateway: payment.gateway,
      direction: payment.direction,
      currency: payment.currency,
      amount_minor: payment.amount_minor,
      settled_amount_minor: outcome.settledAmountMinor,
      counterparty: payment.counterparty ?? null,
      previous_status: previous,
      status: outcome.status,
      reason: outcome.reason,
      failure_category: outcome.failureCategory,
      failure_code: outcome.failureCode,
      retry_advice: outcome.retryAdvice,
      hold_reason: outcome.holdReason,
      settled_late: outcome.settledLate,
      flags: outcome.flags,
    },
  };
}

export function exceptionFinding(change: ExceptionChange, at: Date): Finding | undefined {
  const desired = change.desired;
  const subject = desired?.subject;
  const rowKey = change.row?.subjectKey;
  if (subject?.type === "payment" || rowKey?.startsWith("payment:")) return undefined; // told by the payment finding
  const key =
    subject?.type === "bank_entry"
      ? subject.entryId
      : subject
        ? subjectKey(subject)
        : (rowKey?.replace(/^bank_entry:[^/]*\//, "") ?? String(change.id));
  return {
    key,
    value: {
      type: change.action === "auto_resolved" ? "exception.resolved" : `exception.${change.action}`,
      at: at.toISOString(),
      exception_id: String(change.id),
      kind: desired?.kind ?? change.row?.kind,
      subject: desired ? subjectKey(desired.subject) : rowKey,
      amount_minor: desired?.amountMinor ?? change.row?.amountMinor,
      currency: desired?.currency,
      detail: desired?.detail ?? change.row?.detail,
    },
  };
}
