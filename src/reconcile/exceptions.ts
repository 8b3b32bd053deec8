import type { ExceptionKind } from "./types.js";

/**
 * An exception the facts call for, identified by what it is about. The store
 * keeps one row per (kind, subject) and opens, resolves or re-opens it; the
 * pure core only says which should be open now.
 */
export type ExceptionSubject =
  | { type: "payment"; paymentId: string }
  | { type: "bank_entry"; bank: string; entryId: string }
  | { type: "gateway_event"; gateway: string; eventId: string }
  | { type: "batch"; gateway: string; batchId: string }
  | { type: "statement"; bank: string; statementId: string };

export interface DesiredException {
  kind: ExceptionKind;
  subject: ExceptionSubject;
  amountMinor: number;
  currency: string;
  direction: "collection" | "payout" | "credit" | "debit" | null;
  gateway: string | null;
  detail: string;
}

export function subjectKey(subject: ExceptionSubject): string {
  switch (subject.type) {
    case "payment":
      return `payment:${subject.paymentId}`;
    case "bank_entry":
      return `bank_entry:${subject.bank}/${subject.entryId}`;
    case "gateway_event":
      return `gateway_event:${subject.gateway}/${subject.eventId}`;
    case "batch":
      return `batch:${subject.gateway}/${subject.batchId}`;
    case "statement":
      return `statement:${subject.bank}/${subject.statementId}`;
  }
}

export function exceptionKey(exception: { kind: ExceptionKind; subject: ExceptionSubject }): string {
  return `${exception.kind}|${subjectKey(exception.subject)}`;
}
