import type pg from "pg";

/**
 * Every payment: an expected version and its gateway events (collections authorized, half of them captured;
 * payouts submitted), due in the coming month, so it stays open. Every tenth is paid by a bank line naming
 * its reference (settled, kept for the late-truth window); one in fifty has an unmatched line beside it.
 */
export async function storeOpenPayments(
  pool: pg.Pool,
  payments: number,
  say: (line: string) => void = () => {},
): Promise<{ entries: number }> {
  const chunk = 200_000;
  for (let from = 1; from <= payments; from += chunk) {
    const to = Math.min(payments, from + chunk - 1);
    const client = await pool.connect();
    try {
      await client.query("begin");
      await client.query(
        `create temp table bench_payment on commit drop as
         select g, 'rp_' || g as id, 'RP-' || g as reference,
                (array['stripe','adyen'])[1 + g % 2] as gateway,
                case when g % 4 = 0 then 'payout' else 'collection' end as direction,
                (array['EUR','USD','GBP'])[1 + g % 3] as currency,
                1000 + (g::bigint * 7919) % 100000 as amount,
                now() - (g % 20) * interval '1 day' - interval '1 hour' as created_at,
                now() + (1 + g % 30) * interval '1 day' as due_at
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
           from (select gateway, 'ev_' || g || '_1' as event_id,
                        case when direction = 'payout' then 'payout.submitted' else 'payment.authorized' end as type,
                        reference, amount, currency, created_at + interval '1 minute' as occurred_at
                   from bench_payment
                 union all
                 select gateway, 'ev_' || g || '_2', 'payment.captured', reference, amount, currency,
                        created_at + interval '2 minutes'
                   from bench_payment where direction = 'collection' and g % 2 = 0) events`,
      );
      await client.query(
        `insert into bank_entries (bank, entry_id, account, direction, amount_minor, currency, booking_date, value_date,
                                   status, end_to_end_id, remittance_info, counterparty_name, return_reason, body, source)
         select 'benchbank', entry_id, 'ACC-1', direction, amount, currency, booked, booked, 'booked', e2e, null, null,
                null,
                jsonb_build_object('entry_id', entry_id, 'bank', 'benchbank', 'account', 'ACC-1', 'direction', direction,
                  'amount_minor', amount, 'currency', currency, 'booking_date', booked, 'value_date', booked,
                  'status', 'booked', 'end_to_end_id', e2e, 'remittance_info', null, 'counterparty_name', null,
                  'return_reason', null), 'bench'
           from (select 'be_' || g as entry_id, case when direction = 'payout' then 'debit' else 'credit' end as direction,
                        amount, currency, (created_at + interval '1 day')::date as booked, reference as e2e
                   from bench_payment where g % 10 = 0
                 union all
                 select 'bu_' || g, 'credit', 500000 + g, currency, (created_at + interval '1 day')::date, 'UNKNOWN-' || g
                   from bench_payment where g % 50 = 1) entries`,
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
  await pool.query("vacuum analyze expected_payment_versions, gateway_events, bank_entries");
  return { entries: Number((await pool.query("select count(*) from bank_entries")).rows[0].count) };
}
