import type pg from "pg";

/**
 * Every payment: an expected version and its gateway events (collections authorized, half of them captured;
 * payouts submitted), due in the coming month, so it stays open. Every tenth is paid by a bank line naming
 * its reference (settled, kept for the late-truth window); one in fifty has an unmatched line beside it.
 */
export function storeOpenPayments(
  pool: pg.Pool,
  payments: number,
  say: (line: string) => void = () => {},
): Promise<{ entries: number }> {
  return storePayments(pool, payments, say, "open");
}

/**
 * Every payment final long ago (the bench's flat-cost phase): created 90–120 days ago and due 3 days later,
 * collections authorized and captured, payouts submitted, each paid by a bank line naming its reference for its
 * amount on its due date.
 */
export function storeFinalPayments(
  pool: pg.Pool,
  payments: number,
  say: (line: string) => void = () => {},
): Promise<{ entries: number }> {
  return storePayments(pool, payments, say, "final");
}

/** What differs between the two kinds: ids, dates, which collections are captured, which payments have lines. */
const KINDS = {
  open: {
    id: "rp_",
    reference: "RP-",
    event: "ev_",
    created: "now() - (g % 20) * interval '1 day' - interval '1 hour'",
    due: "now() + (1 + g % 30) * interval '1 day'",
    captured: "g % 2 = 0",
    lines: `select 'be_' || g as entry_id, case when direction = 'payout' then 'debit' else 'credit' end as direction,
                   amount, currency, (created_at + interval '1 day')::date as booked, reference as e2e
              from bench_payment where g % 10 = 0
            union all
            select 'bu_' || g, 'credit', 500000 + g, currency, (created_at + interval '1 day')::date, 'UNKNOWN-' || g
              from bench_payment where g % 50 = 1`,
  },
  final: {
    id: "fp_",
    reference: "FP-",
    event: "fe_",
    created: "date_trunc('second', now()) - interval '120 days' + (g % 30) * interval '1 day'",
    due: "date_trunc('second', now()) - interval '117 days' + (g % 30) * interval '1 day'",
    captured: "true",
    lines: `select 'bf_' || g as entry_id, case when direction = 'payout' then 'debit' else 'credit' end as direction,
                   amount, currency, (due_at at time zone 'UTC')::date as booked, reference as e2e
              from bench_payment`,
  },
} as const;

async function storePayments(
  pool: pg.Pool,
  payments: number,
  say: (line: string) => void,
  kind: keyof typeof KINDS,
): Promise<{ entries: number }> {
  const shape = KINDS[kind];
  const chunk = 200_000;
  for (let from = 1; from <= payments; from += chunk) {
    const to = Math.min(payments, from + chunk - 1);
    const client = await pool.connect();
    try {
      await client.query("begin");
      await client.query(
        `create temp table bench_payment on commit drop as
         select g, '${shape.id}' || g as id, '${shape.reference}' || g as reference,
                (array['stripe','adyen'])[1 + g % 2] as gateway,
                case when g % 4 = 0 then 'payout' else 'collection' end as direction,
                (array['EUR','USD','GBP'])[1 + g % 3] as currency,
                1000 + (g::bigint * 7919) % 100000 as amount,
                ${shape.created} as created_at,
                ${shape.due} as due_at
           from generate_series($1::int, $2::int) g`,
        [from, to],
      );
      await client.query(
        `insert into expected_payment_versions (payment_id, content_hash, version, cancelled, body, source)
         select id, decode(md5(id), 'hex'), null, false,
                jsonb_build_object('id', id, 'direction', direction, 'amount_minor', amount, 'currency', currency,
                  'gateway', gateway, 'reference', reference, 'counterparty', 'cp_' || (g % 5000),
                  'created_at', to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                  'due_at', to_char(due_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')), 'bench'
           from bench_payment`,
      );
      await client.query(
        `insert into gateway_events (gateway, event_id, type, reference, reference_key, gateway_payment_id, amount_minor,
                                     currency, occurred_at, body, source)
         select gateway, event_id, type, reference, reference, null, amount, currency, occurred_at,
                jsonb_build_object('event_id', event_id, 'gateway', gateway, 'type', type, 'reference', reference,
                  'amount_minor', amount, 'currency', currency, 'gateway_payment_id', null, 'failure_code', null,
                  'failure_message', null, 'hold_reason', null,
                  'occurred_at', to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')), 'bench'
           from (select gateway, '${shape.event}' || g || '_1' as event_id,
                        case when direction = 'payout' then 'payout.submitted' else 'payment.authorized' end as type,
                        reference, amount, currency, created_at + interval '1 minute' as occurred_at
                   from bench_payment
                 union all
                 select gateway, '${shape.event}' || g || '_2', 'payment.captured', reference, amount, currency,
                        created_at + interval '2 minutes'
                   from bench_payment where direction = 'collection' and ${shape.captured}) events`,
      );
      await client.query(
        // With each line's reference token as ingest stores it (the tokens of an upper-case end-to-end id without
        // separators are the id itself).
        `with lines as (
         insert into bank_entries (bank, entry_id, account, direction, amount_minor, currency, booking_date, value_date,
                                   status, end_to_end_id, remittance_info, counterparty_name, return_reason, body, source)
         select 'benchbank', entry_id, 'ACC-1', direction, amount, currency, booked, booked, 'booked', e2e, null, null,
                null,
                jsonb_build_object('entry_id', entry_id, 'bank', 'benchbank', 'account', 'ACC-1', 'direction', direction,
                  'amount_minor', amount, 'currency', currency, 'booking_date', booked, 'value_date', booked,
                  'status', 'booked', 'end_to_end_id', e2e, 'remittance_info', null, 'counterparty_name', null,
                  'return_reason', null), 'bench'
           from (${shape.lines}) entries
         returning seq, end_to_end_id)
         insert into bank_entry_tokens (token, entry_seq) select end_to_end_id, seq from lines`,
      );
      await client.query("commit");
    } catch (error) {
      await client.query("rollback").catch(() => {});
      throw error;
    } finally {
      client.release();
    }
    say(`  stored ${to}/${payments} payments' facts`);
  }
  await pool.query("vacuum analyze expected_payment_versions, gateway_events, bank_entries, bank_entry_tokens");
  return { entries: Number((await pool.query("select count(*) from bank_entries")).rows[0].count) };
}
