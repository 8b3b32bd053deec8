import type { ExpectedPayment } from "../messages/schemas.js";
import { type ExceptionChangeFinding, type StatusChangeFinding, withFindingDefaults } from "../db/queries/findings.js";
import type { ExceptionChange } from "./exceptionSync.js";
import { subjectKey } from "../reconcile/exceptions.js";
import type { PaymentOutcome } from "../reconcile/paymentStatus.js";
import type { PaymentStatus } from "../reconcile/types.js";

/**
 * Finding messages for `payrecon.findings`: every payment status change, and
 * every exception about something other than a payment (bank entries,
 * batches, gateway events) as it opens or closes. Keyed by payment id or
 * entry id (CONTRACT §1).
 *
 * A finding is not stored as a message (issue 15): the row the writer writes for the change anyway — a
 * status_changes row, an exception_audit row — carries what the finding says beyond that row and beyond what
 * the publisher can still read as it was then (`finding`, jsonb), and the publisher builds the message from the
 * committed row.
 */
export interface Finding {
  key: string;
  value: Record<string, unknown>;
}

/** A status change's timeline detail (status_changes.detail): also fields of its finding. */
export interface StatusChangeDetail {
  failure_category: string | null;
  failure_code: string | null;
  settled_amount_minor: number;
  settled_late: boolean;
}

export function statusChangeDetail(outcome: PaymentOutcome): StatusChangeDetail {
  return {
    failure_category: outcome.failureCategory,
    failure_code: outcome.failureCode,
    settled_amount_minor: outcome.settledAmountMinor,
    settled_late: outcome.settledLate,
  };
}

/**
 * The payment's identity in its findings: fields of the version in force. A status change's row does not keep
 * them (000110): the publisher reads them from the payment's row, which holds that version until an amendment
 * rewrites it — and an amendment first copies them into the rows of the findings not yet published
 * (saveIdentities), so each finding still says what was true at its change.
 */
export function paymentIdentityFields(payment: ExpectedPayment): Record<string, unknown> {
  return {
    reference: payment.reference,
    gateway: payment.gateway,
    direction: payment.direction,
    currency: payment.currency,
    amount_minor: payment.amount_minor,
    counterparty: payment.counterparty ?? null,
  };
}

/**
 * What a status change's row keeps for its finding (status_changes.finding): the outcome's fields that neither
 * the row nor the payment's identity holds, each only when it differs from its default (null, no flags), so
 * most rows keep `{}`. withFindingDefaults (db/queries/findings.ts) restores the omitted ones.
 */
export function statusChangeFindingFields(outcome: PaymentOutcome): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  if (outcome.retryAdvice !== null) kept.retry_advice = outcome.retryAdvice;
  if (outcome.holdReason !== null) kept.hold_reason = outcome.holdReason;
  if (outcome.flags.length > 0) kept.flags = outcome.flags;
  return kept;
}

export function findingOfStatusChange(row: StatusChangeFinding): Finding {
  const { detail, fields } = row;
  return {
    key: row.paymentId,
    value: {
      type: "payment.status_changed",
      at: row.at.toISOString(),
      payment_id: row.paymentId,
      reference: fields.reference,
      gateway: fields.gateway,
      direction: fields.direction,
      currency: fields.currency,
      amount_minor: fields.amount_minor,
      settled_amount_minor: detail.settled_amount_minor,
      counterparty: fields.counterparty,
      previous_status: row.fromStatus,
      status: row.toStatus,
      reason: row.reason,
      failure_category: detail.failure_category,
      failure_code: detail.failure_code,
      retry_advice: fields.retry_advice,
      hold_reason: fields.hold_reason,
      settled_late: detail.settled_late,
      flags: fields.flags,
    },
  };
}

/** The finding of a payment's status change, as the publisher will build it from the committed row. */
export function paymentFinding(outcome: PaymentOutcome, previous: PaymentStatus | null, at: Date): Finding {
  return findingOfStatusChange({
    paymentId: outcome.paymentId,
    at,
    fromStatus: previous,
    toStatus: outcome.status,
    reason: outcome.reason,
    detail: { ...statusChangeDetail(outcome) },
    fields: { ...paymentIdentityFields(outcome.payment), ...withFindingDefaults(statusChangeFindingFields(outcome)) },
  });
}

/**
 * What an exception change's audit row keeps for its finding (the key, subject, amount and detail as they were
 * then); undefined when the change is not a finding (an exception about a payment: its status change tells it).
 */
export function exceptionFindingFields(change: ExceptionChange): Record<string, unknown> | undefined {
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
    kind: desired?.kind ?? change.row?.kind,
    subject: desired ? subjectKey(desired.subject) : rowKey,
    amount_minor: desired?.amountMinor ?? change.row?.amountMinor,
    currency: desired?.currency,
    detail: desired?.detail ?? change.row?.detail,
  };
}

export function findingOfExceptionChange(row: ExceptionChangeFinding): Finding {
  const { fields } = row;
  return {
    key: String(fields.key),
    value: {
      type: row.action === "auto_resolved" ? "exception.resolved" : `exception.${row.action}`,
      at: row.at.toISOString(),
      exception_id: String(row.exceptionId),
      kind: fields.kind,
      subject: fields.subject,
      amount_minor: fields.amount_minor,
      currency: fields.currency,
      detail: fields.detail,
    },
  };
}

/** The finding of an exception change, as the publisher will build it from the committed audit row. */
export function exceptionFinding(change: ExceptionChange, at: Date): Finding | undefined {
  const fields = exceptionFindingFields(change);
  return fields && findingOfExceptionChange({ exceptionId: change.id, at, action: change.action, fields });
}
