import type { Db } from "../pool.js";
import { STATUS_CHANGE_DETAIL_DEFAULTS } from "./paymentState.js";

/** Read models of payments for the API: one payment with its timeline, and filtered pages. */

export interface PaymentRow {
  id: string;
  reference: string;
  gateway: string;
  direction: string;
  currency: string;
  amount_minor: number;
  counterparty: string | null;
  created_at: Date;
  due_at: Date;
  status: string;
  settled_amount_minor: number;
  at_risk_minor: number;
  failure_category: string | null;
  failure_code: string | null;
  failure_message: string | null;
  retry_advice: string | null;
  hold_reason: string | null;
  settled_late: boolean;
  settled_on: string | null;
  accepted_at: Date | null;
  overdue_since: Date | null;
  flags: string[];
  status_reason: string;
  status_since: Date;
  next_deadline: Date | null;
  /** The version in force's installments; null without (000130: the row no longer keeps the whole body). */
  installments: Array<{ amount_minor: number; due_at: string }> | null;
  updated_at: Date;
  fx_line_currency?: string | null;
  fx_line_amount_minor?: number | null;
  fx_difference_minor?: number | null;
}

export async function getPayment(db: Db, id: string): Promise<PaymentRow | undefined> {
  const result = await db.query<PaymentRow>("select * from payments where id = $1", [id]);
  return result.rows[0];
}

export interface TimelineRow {
  at: Date;
  source: string;
  type: string;
  detail: Record<string, unknown>;
  ord: number;
}

/** Every fact of the payment and every status change, in time order (facts before conclusions on ties). */
export async function paymentTimeline(db: Db, payment: PaymentRow): Promise<TimelineRow[]> {
  const result = await db.query<TimelineRow>(
    `select received_at as at, 'expected:' || source as source,
            case when cancelled then 'expected.cancelled' when row_number() over (order by seq) = 1 then 'expected.created'
                 else 'expected.amended' end as type,
            jsonb_build_object('version', version, 'amount_minor', body->'amount_minor', 'due_at', body->'due_at') as detail,
            0 as ord
       from expected_payment_versions where payment_id = $1
     union all
     select occurred_at, 'gateway:' || gateway, type,
            jsonb_strip_nulls(jsonb_build_object('event_id', event_id, 'amount_minor', amount_minor, 'currency', currency,
              'failure_code', failure_code, 'failure_message', body->>'failure_message', 'hold_reason', hold_reason,
              'gateway_payment_id', gateway_payment_id, 'received_at', received_at)), 1
       from gateway_events where reference_key = $2 and gateway = $3 and type <> 'settlement.batch'
     union all
     select b.occurred_at, 'gateway:' || b.gateway, 'settlement.batch',
            jsonb_build_object('batch_id', b.batch_id, 'state', b.state, 'gross_minor', b.gross_minor, 'fee_minor', b.fee_minor,
              'net_minor', b.net_minor, 'carried_forward_minor', b.carried_forward_minor, 'netted', b.netted,
              'expected_arrival', b.expected_arrival, 'settled_on', b.settled_on), 1
       from batch_references br join settlement_batches b on b.gateway = br.gateway and b.batch_id = br.batch_id
      where br.reference_key = $2 and br.gateway = $3
     union all
     select e.value_date::timestamptz, 'bank:' || e.bank, 'bank.' || e.status,
            jsonb_strip_nulls(jsonb_build_object('entry_id', e.entry_id, 'direction', e.direction, 'amount_minor', e.amount_minor,
              'currency', e.currency, 'booking_date', e.booking_date, 'value_date', e.value_date, 'match_method', m.method,
              'return_reason', e.return_reason, 'received_at', e.received_at)), 2
       from bank_entry_matches m join bank_entries e on e.seq = m.entry_seq
      where m.kind = 'payment' and m.payment_id = $1
     union all
     select at, 'payrecon', 'status.' || to_status,
            jsonb_build_object('from', from_status, 'to', to_status, 'reason', reason) || $4::jsonb || detail, 3
       from status_changes where payment_id = $1
     order by at, ord`,
    [
      payment.id,
      payment.reference.trim().toUpperCase(),
      payment.gateway,
      // A change's row keeps only the detail fields that differ from these (000130).
      JSON.stringify(STATUS_CHANGE_DETAIL_DEFAULTS),
    ],
  );
  return result.rows;
}

export interface PaymentFilters {
  status?: string;
  gateway?: string;
  direction?: string;
  counterparty?: string;
  from?: Date;
  to?: Date;
  limit: number;
  after?: { createdAt: Date; id: string };
}

/** Newest first by created_at, id; keyset pagination (no OFFSET), on payments_created (000006). */
export async function listPayments(db: Db, filters: PaymentFilters): Promise<PaymentRow[]> {
  const result = await db.query<PaymentRow>(
    `select * from payments
      where ($1::text is null or status = $1) and ($2::text is null or gateway = $2)
        and ($3::text is null or direction = $3) and ($4::text is null or counterparty = $4)
        and ($5::timestamptz is null or created_at >= $5) and ($6::timestamptz is null or created_at < $6)
        and ($7::timestamptz is null or (created_at, id) < ($7, $8::text))
      order by created_at desc, id desc
      limit $9`,
    [
      filters.status ?? null,
      filters.gateway ?? null,
      filters.direction ?? null,
      filters.counterparty ?? null,
      filters.from ?? null,
      filters.to ?? null,
      filters.after?.createdAt ?? null,
      filters.after?.id ?? null,
      filters.limit,
    ],
  );
  return result.rows;
}
