import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

/**
 * Issue 15: every index of payments is an entry written per payment row, and every column one names keeps an
 * update of that column from being HOT; an index dropped must not leave a reader scanning the table. On a filled
 * table, the API's lists, the alerts' and gauges' lookups and the report's aggregates each read an index.
 */

const PAYMENTS = 60_000;

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  Plans?: PlanNode[];
}

/** Every node of a plan, depth first. */
function nodesOf(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(nodesOf)];
}

describe("query plans on a filled payments table", () => {
  let db: TestDatabase;
  const now = new Date();
  const period = { from: new Date(now.getTime() - 7 * 86_400_000), to: new Date(now.getTime() + 86_400_000) };

  beforeAll(async () => {
    db = await createTestDatabase();
    // A year of payments, most settled, a few at risk: the bench's synthetic mix, dated from the run's now.
    await db.pool.query(
      `insert into payments (id, reference, reference_key, gateway, direction, currency, amount_minor, counterparty,
                             created_at, due_at, cancelled, status, settled_amount_minor, at_risk_minor, status_since,
                             overdue_since, next_deadline, fx_line_currency, updated_at)
       select 'pay_' || g, 'REF-' || g, 'REF-' || g, (array['stripe','adyen','paypal'])[1 + g % 3],
              case when g % 3 = 0 then 'payout' else 'collection' end, (array['EUR','USD','GBP','JPY','KWD'])[1 + g % 5],
              1000 + g % 100000, 'cp_' || (g % 5000), $2::timestamptz - (g % 365) * interval '1 day' - g * interval '1 ms',
              $2::timestamptz - (g % 365 - 5) * interval '1 day', false, s.status,
              case when s.status = 'settled' then 1000 + g % 100000 else 0 end,
              case when s.status in ('failed','held','delayed') then 1000 + g % 100000 else 0 end, $2,
              case when s.status = 'delayed' then $2::timestamptz - (g % 10) * interval '1 day' end,
              case when s.status in ('pending', 'in_flight') then $2::timestamptz + (g % 10) * interval '1 day' end,
              case when g % 97 = 0 then 'USD' end, $2
         from generate_series(1, $1::int) g,
              lateral (select case when g % 50 = 0 then (array['in_flight','failed','delayed','held','pending'])[1 + g / 50 % 5]
                                   else 'settled' end as status) s`,
      [PAYMENTS, now],
    );
    await db.pool.query("vacuum analyze payments");
  }, 120_000);
  afterAll(async () => {
    await db?.drop();
  });

  const plan = async (sql: string, params: unknown[]) => {
    const result = await db.pool.query<{ "QUERY PLAN": Array<{ Plan: PlanNode }> }>(
      `explain (format json) ${sql}`,
      params,
    );
    return nodesOf(result.rows[0]!["QUERY PLAN"][0]!.Plan);
  };
  const seqScans = (nodes: PlanNode[]) =>
    nodes.filter((node) => node["Node Type"] === "Seq Scan" && node["Relation Name"] === "payments");

  it.each([
    ["newest first", "select * from payments order by created_at desc, id desc limit 50", []],
    [
      "next page",
      "select * from payments where (created_at, id) < ($1, $2) order by created_at desc, id desc limit 50",
      [period.from, "pay_9"],
    ],
    ["by status", "select * from payments where status = $1 order by created_at desc, id desc limit 50", ["failed"]],
    [
      "by counterparty",
      "select * from payments where counterparty = $1 order by created_at desc, id desc limit 50",
      ["cp_42"],
    ],
    [
      "at risk by amount (item alerts)",
      `select id from payments where status in ('failed', 'held', 'delayed') and at_risk_minor >= $1
        order by at_risk_minor desc limit 50`,
      [0],
    ],
    [
      "oldest unsettled (gauges)",
      `select created_at from payments where gateway = $1 and direction = $2
          and status in ('pending', 'in_flight', 'partially_settled', 'delayed', 'held') order by created_at limit 1`,
      ["stripe", "collection"],
    ],
    ["due deadlines", "select id from payments where next_deadline <= $1 order by next_deadline limit 1000", [now]],
    [
      "report totals",
      `select gateway, currency, direction, status, count(*), sum(amount_minor), sum(settled_amount_minor)
         from payments where created_at >= $1 and created_at < $2 group by 1, 2, 3, 4`,
      [period.from, period.to],
    ],
    [
      "report aging",
      `select gateway, currency, direction, count(*) from payments
        where created_at >= $1 and created_at < $2 and status = 'delayed' group by 1, 2, 3`,
      [period.from, period.to],
    ],
    [
      "report FX differences",
      `select gateway, currency, direction, fx_line_currency, count(*), sum(fx_line_amount_minor), sum(fx_difference_minor)
         from payments where created_at >= $1 and created_at < $2 and fx_line_currency is not null group by 1, 2, 3, 4`,
      [period.from, period.to],
    ],
  ] as const)("%s reads an index, not every payment", async (_name, sql, params) => {
    const nodes = await plan(sql, [...params]);
    expect(seqScans(nodes)).toEqual([]);
  });
});
