import { EXCEPTION_KINDS } from "../reconcile/types.js";
import { z } from "zod";
import type { Config, Role } from "../config.js";
import {
  amountMinor,
  bankEntrySchema,
  calendarDate,
  cancellationSchema,
  currency,
  expectedPaymentSchema,
  gatewayEventSchema,
  MAX_AMOUNT_MINOR,
  statementSummarySchema,
  nonNegativeAmount,
  positiveAmount,
  timestamp,
} from "../messages/schemas.js";
import { inputKindsByTopic } from "../consumers/decode.js";
import { FAILURE_CATEGORIES } from "../reconcile/failureCodes.js";
import { PAYMENT_STATUSES } from "../reconcile/types.js";
import { AGING_BUCKETS, STATUS_BUCKET_NAMES, STATUS_BUCKETS } from "../reports/reconciliation.js";
import { VERSION } from "../version.js";
import { encodeCursor } from "./pagination.js";
import { batchQuery, entryListQuery, entryQuery } from "./routes/bankEntries.js";
import { manualMatchBody, manualUnmatchBody } from "./routes/bankEntryDecisions.js";
import { exceptionAction, exceptionListQuery } from "./routes/exceptions.js";
import { paymentListQuery } from "./routes/payments.js";
import { reportQuery } from "./routes/reports.js";
import { contactedAction, dunningListQuery } from "./routes/dunning.js";
import { notificationListQuery } from "./routes/notifications.js";
import { periodReportListQuery, periodReportQuery, signoffBody } from "./routes/periodReports.js";
import { counterpartyListQuery } from "./routes/creditRecords.js";
import { NOTIFICATION_KINDS } from "../db/queries/notifications.js";

/**
 * The OpenAPI 3.1 description of payrecon's HTTP interface (CONTRACT §3),
 * served at GET /api/v1/openapi.json. Message, query and body schemas are
 * generated from the zod schemas the endpoints validate with, so the document
 * cannot drift from what the server accepts; response schemas follow the views
 * the routes return. Pure: the same input gives the same document.
 */

type Json = Record<string, unknown>;

export const OPENAPI_PATH = "/api/v1/openapi.json";

import { DEFAULT_TOPICS, type TopicNames } from "./statusPage/model.js";

// --- zod → JSON Schema ------------------------------------------------------------------------

/**
 * What zod refinements mean, which JSON Schema cannot infer from a `.refine`:
 * amounts are integers, times RFC 3339, dates ISO, currencies ISO 4217 codes.
 */
function refinements(ctx: { zodSchema: unknown; jsonSchema: Json }): void {
  const { zodSchema, jsonSchema } = ctx;
  if (zodSchema === amountMinor || zodSchema === positiveAmount || zodSchema === nonNegativeAmount) {
    jsonSchema.type = "integer";
    if (zodSchema === positiveAmount) jsonSchema.minimum = 1;
    if (zodSchema === nonNegativeAmount) jsonSchema.minimum = 0;
    if (zodSchema === amountMinor) jsonSchema.minimum = -MAX_AMOUNT_MINOR;
    jsonSchema.maximum = MAX_AMOUNT_MINOR;
    jsonSchema.description =
      "amount in the currency's minor unit (ISO 4217 exponent), never a float; at most 2^40 − 1 so totals stay exact";
  } else if (zodSchema === timestamp) {
    jsonSchema.format = "date-time";
    jsonSchema.description = "RFC 3339 time with offset";
  } else if (zodSchema === calendarDate) {
    jsonSchema.format = "date";
  } else if (zodSchema === currency) {
    jsonSchema.pattern = "^[A-Z]{3}$";
    jsonSchema.description = "ISO 4217 currency code";
  }
}

/** A zod schema as an OpenAPI 3.1 (JSON Schema 2020-12) schema, as the client sends it (`io: input`). */
export function schemaFromZod(schema: z.ZodType): Json {
  const json = z.toJSONSchema(schema, {
    io: "input",
    unrepresentable: "any",
    override: (ctx) => refinements(ctx as unknown as { zodSchema: unknown; jsonSchema: Json }),
  }) as Json;
  delete json.$schema;
  return json;
}

// --- small builders ----------------------------------------------------------------------------

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const responseRef = (name: string) => ({ $ref: `#/components/responses/${name}` });
const nullable = (schema: Json): Json => ({ anyOf: [schema, { type: "null" }] });
const str = (description?: string): Json => (description ? { type: "string", description } : { type: "string" });
const int = (description?: string): Json => (description ? { type: "integer", description } : { type: "integer" });
const dateTime = (description?: string): Json => ({ ...str(description), format: "date-time" });
const object = (properties: Record<string, Json>, required: string[], extra: Json = {}): Json => ({
  type: "object",
  properties,
  required,
  ...extra,
});
const json = (schema: Json, description: string): Json => ({
  description,
  content: { "application/json": { schema } },
});

/** Example values for query parameters; each must be accepted by the endpoint (tested). */
const QUERY_EXAMPLES: Record<string, Record<string, unknown>> = {
  "/api/v1/payments": {
    status: "delayed",
    gateway: "stripe",
    direction: "payout",
    counterparty: "cust_77",
    from: "2026-11-01T00:00:00Z",
    to: "2026-12-01T00:00:00Z",
    limit: 50,
    cursor: encodeCursor(["2026-11-20T10:00:00.000Z", "exp_1001"]),
  },
  "/api/v1/exceptions": {
    state: "open",
    kind: "failed",
    gateway: "stripe",
    currency: "EUR",
    priority: "p1",
    payment_id: "exp_1001",
    min_amount_minor: 10000,
    min_age: "3d",
    limit: 50,
    cursor: encodeCursor(["2026-11-20T10:00:00.000Z", 42]),
  },
  "/api/v1/bank-entries": {
    state: "ambiguous",
    bank: "bank_a",
    account: "DE89370400440532013000",
    currency: "EUR",
    direction: "credit",
    amount_minor: 12000,
    from: "2026-11-01",
    to: "2026-12-01",
    q: "INV-2026-0042",
    limit: 50,
    cursor: encodeCursor(["2026-11-20", 42]),
  },
  "/api/v1/bank-entries/{entry_id}": { bank: "bank_a" },
  "/api/v1/batches/{batch_id}": { gateway: "stripe" },
  "/api/v1/dunning": {
    state: "due",
    gateway: "stripe",
    currency: "EUR",
    limit: 50,
    cursor: encodeCursor(["2026-11-20T10:00:00.000Z", 42]),
  },
  "/api/v1/reports": {
    schedule: "daily",
    limit: 50,
    cursor: encodeCursor(["2026-11-20T00:00:00.000Z", 42]),
  },
  "/api/v1/counterparties": {
    sort: "risk",
    limit: 50,
    cursor: encodeCursor([0, 2, "cust_77"]),
  },
  "/api/v1/reports/{id}": {
    format: "md",
    bom: "true",
  },
  "/api/v1/notifications": {
    state: "failed",
    kind: "retry_suggested",
    payment_id: "exp_1001",
    limit: 50,
    cursor: encodeCursor([42]),
  },
  "/api/v1/reports/reconciliation": {
    from: "2024-11-01",
    to: "2024-12-01",
    format: "csv",
    bom: "true",
    locale: "de-DE",
  },
};

const QUERY_DESCRIPTIONS: Record<string, string> = {
  status: "only payments with this status",
  gateway: "only this gateway",
  direction: "collection (money owed to us) or payout (money we owe)",
  counterparty: "only this counterparty",
  from: "created at or after (a date YYYY-MM-DD, midnight UTC, or an RFC 3339 time with offset)",
  to: "created before (a date YYYY-MM-DD, midnight UTC, or an RFC 3339 time with offset)",
  limit: "page size",
  cursor: "next_cursor of the previous page",
  state: "open, acknowledged, resolved, unresolved (open or acknowledged) or all",
  kind: "only exceptions of this kind",
  currency: "ISO 4217 code",
  priority: "only this priority",
  payment_id: "only exceptions of this expected payment",
  min_amount_minor: "at least this amount, in minor units",
  min_age: "open at least this long, a duration like 30m, 72h or 3d",
  format: "json, csv or md",
  bom: "CSV only: start with a UTF-8 byte order mark (for Excel)",
  locale:
    "CSV only: the spreadsheet form for this locale (BCP 47, e.g. de-DE, fr-FR): a UTF-8 byte order mark, amounts " +
    "in major units with the locale's decimal mark, and ; between fields where that mark is a comma. Without it, " +
    "the machine form (RFC 4180: comma, dot decimals). Ignored for json and md, as bom is",
};

const PATH_QUERY_DESCRIPTIONS: Record<string, Record<string, string>> = {
  "/api/v1/bank-entries": {
    state: "matched, tentative (matched by a pending line), unmatched, ambiguous, duplicate or conflict",
    bank: "only this bank",
    account: "only this account",
    direction: "credit (money in) or debit (money out)",
    amount_minor: "exactly this amount, in minor units",
    from: "value date on or after (YYYY-MM-DD)",
    to: "value date on or before (YYYY-MM-DD)",
    q: "words each found whole in the end-to-end id or the remittance text (references, batch ids, names)",
  },
  "/api/v1/bank-entries/{entry_id}": { bank: "the bank, when several banks have this entry id" },
  "/api/v1/batches/{batch_id}": { gateway: "the gateway, when several gateways have this batch id" },
  "/api/v1/dunning": {
    state:
      "due (default: a reminder step is due — today's work list), promised (a promise is running), open, closed or all",
    gateway: "only payments of this gateway",
  },
  "/api/v1/counterparties": {
    sort: "risk: riskiest first (band D to A, then the most open payments, then the id)",
  },
  "/api/v1/reports": {
    schedule: "only reports of this schedule: daily, weekly or monthly",
  },
  "/api/v1/notifications": {
    state: "pending, failed (a delivery's last attempt failed), delivered, or stored (no webhook configured)",
    kind: "only notifications of this kind",
    payment_id: "only notifications about this expected payment",
  },
  "/api/v1/reports/reconciliation": {
    from: "payments created at or after (a date or RFC 3339 time); default: 30 days before to",
    to: "payments created before (a date or RFC 3339 time); default: now",
  },
};

/** One query parameter per property of a zod query schema. */
function queryParameters(path: string, schema: z.ZodObject): Json[] {
  const json = schemaFromZod(schema);
  const properties = (json.properties ?? {}) as Record<string, Json>;
  const required = new Set((json.required as string[] | undefined) ?? []);
  return Object.entries(properties).map(([name, property]) => {
    const parameter: Json = {
      name,
      in: "query",
      required: required.has(name),
      schema: property,
    };
    const description = PATH_QUERY_DESCRIPTIONS[path]?.[name] ?? QUERY_DESCRIPTIONS[name];
    if (description) parameter.description = description;
    const example = QUERY_EXAMPLES[path]?.[name];
    if (example !== undefined) parameter.example = example;
    return parameter;
  });
}

const pathParameter = (name: string, description: string, example: string, schema: Json = str()): Json => ({
  name,
  in: "path",
  required: true,
  description,
  schema,
  example,
});

/** RECONCILE_ENGINE=memory only: the writer (holds the writer lock) or a hot standby (README "Scaling"). */
const writerRole = {
  type: "string",
  enum: ["leader", "standby"],
  description:
    "RECONCILE_ENGINE=memory only: `leader` holds the writer lock (consumes Kafka, sweeps, reconciles from memory); " +
    "`standby` waits for it and serves reads and HTTP ingest meanwhile",
} as const;

/** Any one of the roles may call the operation (each security requirement is an alternative). */
function roles(...allowed: Role[]): Json {
  return {
    security: allowed.map((role) => ({ bearerAuth: [role] })),
    "x-roles": allowed,
  };
}

const OPEN: Json = { security: [] };

const apiErrors = (...extra: string[]): Record<string, Json> => {
  const responses: Record<string, Json> = {
    "401": responseRef("Unauthorized"),
    "403": responseRef("Forbidden"),
    "503": responseRef("Unavailable"),
  };
  for (const status of extra) responses[status] = responseRef(ERROR_RESPONSES[status]!.name);
  return responses;
};

const ERROR_RESPONSES: Record<string, { name: string; description: string }> = {
  "400": { name: "BadRequest", description: "invalid query, path parameter or body: the message names the field" },
  "401": { name: "Unauthorized", description: "no valid bearer token" },
  "403": { name: "Forbidden", description: "the token's role may not call this endpoint" },
  "404": { name: "NotFound", description: "no such resource" },
  "409": { name: "Conflict", description: "the action does not apply in the current state" },
  "413": { name: "PayloadTooLarge", description: "request body or line count over the limit" },
  "503": { name: "Unavailable", description: "the database is unavailable; try again" },
};

// --- response schemas --------------------------------------------------------------------------

const installment = object({ amount_minor: int(), due_at: dateTime() }, ["amount_minor", "due_at"]);

const MATCH_RULES = ["end_to_end_id", "reference_token", "batch", "amount_date", "manual"];

/** An explained match (CONTRACT §7): which rule matched the bank entry and what it saw, for a person. */
const matchSchema = object(
  {
    entry_id: str("the bank entry"),
    bank: str(),
    rule: { type: "string", enum: MATCH_RULES },
    tentative: {
      type: "boolean",
      description: "the bank line is pending: not settled until a booked line confirms it",
    },
    explanation: str(
      'what the rule saw when it decided, amounts in major units, e.g. "amount 120.00 EUR, value date 2026-12-01 ' +
        'within 3d of due date 2026-12-02 of payment …, the only open candidate of 1"',
    ),
    batch_id: nullable(str("set when the entry paid a settlement batch listing the payment")),
    payment_id: nullable(str("on a bank entry's matches: the payment")),
    gateway: nullable(str("on a bank entry's matches: the batch's gateway")),
  },
  ["entry_id", "rule", "tentative", "explanation"],
);

const entryIdParameter = pathParameter(
  "entry_id",
  "bank entry id",
  "DE89370400440532013000:20261201:h0a1b2c3d4e5f6a7b",
  {
    type: "string",
    maxLength: 200,
  },
);

const entryMatch = nullable(
  object(
    {
      payment_id: nullable(str()),
      batch_id: nullable(str()),
      gateway: nullable(str("the batch's gateway")),
      rule: { type: "string", enum: MATCH_RULES },
      tentative: { type: "boolean" },
      explanation: str(),
    },
    ["payment_id", "batch_id", "gateway", "rule", "tentative", "explanation"],
  ),
);

const bankEntryProperties = {
  entry_id: str(),
  bank: str(),
  account: str(),
  direction: { type: "string", enum: ["credit", "debit"] },
  amount_minor: int(),
  currency: { type: "string", pattern: "^[A-Z]{3}$" },
  booking_date: { type: "string", format: "date" },
  value_date: { type: "string", format: "date" },
  status: { type: "string", enum: ["booked", "pending", "returned"] },
  end_to_end_id: nullable(str()),
  remittance_info: nullable(str()),
  counterparty_name: nullable(str()),
  return_reason: nullable(str()),
  received_at: dateTime(),
  state: { type: "string", enum: ["matched", "tentative", "unmatched", "ambiguous", "duplicate", "conflict"] },
  match: entryMatch,
};
const bankEntryRequired = [
  "entry_id",
  "bank",
  "direction",
  "amount_minor",
  "currency",
  "value_date",
  "status",
  "state",
  "match",
];

const bankEntryView = object(bankEntryProperties, bankEntryRequired);

const bankEntryDetail = object(
  {
    ...bankEntryProperties,
    matches: { type: "array", items: ref("Match") },
    candidates: { type: "array", items: ref("MatchCandidate") },
    exceptions: {
      type: "array",
      items: object({ id: str(), kind: str(), state: str(), detail: str(), opened_at: dateTime() }, [
        "id",
        "kind",
        "state",
        "detail",
        "opened_at",
      ]),
    },
    audit: {
      type: "array",
      description: "the operators' match / unmatch decisions, oldest first",
      items: object({ at: dateTime(), actor: str(), action: str(), target: str(), note: nullable(str()) }, [
        "at",
        "actor",
        "action",
        "target",
        "note",
      ]),
    },
  },
  [...bankEntryRequired, "matches", "candidates", "exceptions", "audit"],
);

const batchSchema = object(
  {
    batch_id: str(),
    gateway: str(),
    event_id: str(),
    currency: { type: "string", pattern: "^[A-Z]{3}$" },
    gross_minor: int(),
    fee_minor: int(),
    net_minor: int(),
    carried_forward_minor: nullable(int("carried forward from an earlier batch, when the gateway reports it")),
    expected_fee_minor: nullable(int("the fee the gateway's price list implies, when known")),
    expected_arrival: { type: "string", format: "date" },
    occurred_at: dateTime(),
    state: { type: "string", enum: ["waiting", "settled", "mismatch"] },
    settled_on: nullable({ type: "string", format: "date" }),
    difference_minor: nullable(int()),
    payments: {
      type: "array",
      items: object(
        { reference: str(), payment_id: nullable(str()), status: nullable(str()), amount_minor: nullable(int()) },
        ["reference", "payment_id", "status", "amount_minor"],
      ),
    },
    bank_entries: { type: "array", items: ref("BankEntryView"), description: "the entries that paid it" },
  },
  ["batch_id", "gateway", "gross_minor", "fee_minor", "net_minor", "payments", "bank_entries"],
);

const entryDecision = object(
  {
    entry_id: str(),
    bank: str(),
    decision: object(
      {
        seq: str("arrival number: later decisions on an entry win"),
        action: { type: "string", enum: ["match", "unmatch"] },
        target: str("payment:ID or batch:GATEWAY/ID"),
        actor: str(),
        at: dateTime(),
        note: nullable(str()),
      },
      ["seq", "action", "target", "actor", "at", "note"],
    ),
    match: nullable(
      object(
        {
          payment_id: nullable(str()),
          batch_id: nullable(str()),
          method: nullable(str()),
          explanation: str(),
        },
        ["payment_id", "batch_id", "method", "explanation"],
      ),
    ),
    state: str("the entry's match after the decision: payment, batch, ambiguous, none"),
  },
  ["entry_id", "bank", "decision", "match", "state"],
);

/** A candidate an ambiguous bank entry fits: the same fields as a match, naming the payment or batch. */
const candidateSchema = object(
  {
    payment_id: nullable(str()),
    batch_id: nullable(str()),
    gateway: nullable(str("the batch's gateway")),
    entry_id: str(),
    bank: str(),
    rule: { type: "string", enum: MATCH_RULES },
    tentative: { type: "boolean" },
    explanation: str(),
  },
  ["payment_id", "batch_id", "entry_id", "rule", "tentative", "explanation"],
);

function paymentSchema(): Json {
  return object(
    {
      id: str("expected payment id"),
      reference: str(),
      status: { type: "string", enum: [...PAYMENT_STATUSES] },
      direction: { type: "string", enum: ["collection", "payout"] },
      gateway: str(),
      currency: { type: "string", pattern: "^[A-Z]{3}$" },
      amount_minor: int("expected amount, minor units"),
      settled_amount_minor: int("amount the bank shows as settled, minor units"),
      at_risk_minor: int("amount counted in payrecon_funds_at_risk, minor units"),
      failure_category: nullable({ type: "string", enum: [...FAILURE_CATEGORIES] }),
      failure_code: nullable(str("the gateway's or bank's own code, verbatim")),
      failure_message: nullable(str()),
      retry_advice: nullable({ type: "string", enum: ["retry", "after_fix", "no"] }),
      hold_reason: nullable(str()),
      settled_late: { type: "boolean" },
      settled_on: nullable({ type: "string", format: "date" }),
      counterparty: nullable(str()),
      created_at: dateTime(),
      due_at: dateTime(),
      installments: nullable({ type: "array", items: installment }),
      accepted_at: nullable(dateTime("when the gateway accepted it")),
      overdue_since: nullable(dateTime()),
      status_reason: str(),
      status_since: dateTime(),
      next_deadline: nullable(dateTime("when a time-based check next looks at it")),
      flags: { type: "array", items: str() },
      updated_at: dateTime(),
      fx: nullable(
        object(
          {
            line_currency: { type: "string", pattern: "^[A-Z]{3}$", description: "currency of the bank lines" },
            line_amount_minor: int("their amount in that currency, minor units"),
            difference_minor: int(
              "FX difference in the payment's currency: converted amount − amount settled (0 for instructed amounts)",
            ),
          },
          ["line_currency", "line_amount_minor", "difference_minor"],
          { description: "settled (in part) by bank lines in another currency (CONTRACT §8 FX); null when not" },
        ),
      ),
      matches: { type: "array", items: ref("Match"), description: "the bank entries matched to it, explained" },
    },
    [
      "id",
      "matches",
      "status",
      "direction",
      "gateway",
      "currency",
      "amount_minor",
      "settled_amount_minor",
      "failure_category",
      "failure_code",
      "retry_advice",
      "settled_late",
    ],
  );
}

const timelineEntry = object(
  {
    at: dateTime(),
    source: str("where the fact came from: expected, gateway, bank or payrecon"),
    type: str("e.g. expected.created, gateway.payout.paid, bank.booked, status.settled"),
  },
  ["at", "source", "type"],
  { additionalProperties: true, description: "one fact with its time and source; more fields by type" },
);

const paymentDetail: Json = {
  allOf: [
    ref("Payment"),
    object(
      {
        timeline: { type: "array", items: ref("TimelineEntry"), description: "every fact, in time order" },
        exceptions: {
          type: "array",
          items: object({ id: str(), kind: str(), state: str() }, ["id", "kind", "state"]),
        },
      },
      ["timeline", "exceptions"],
    ),
  ],
};

const auditEntry = object(
  {
    at: dateTime(),
    actor: str("role and token fingerprint, or payrecon"),
    action: str(),
    note: nullable(str()),
  },
  ["at", "actor", "action", "note"],
);

const exceptionSchema = object(
  {
    id: str(),
    kind: { type: "string", enum: [...EXCEPTION_KINDS] },
    subject: str("what the exception is about (payment, bank entry, gateway event, batch or statement key)"),
    payment_id: nullable(str()),
    entry_id: nullable(str()),
    bank: nullable(str()),
    event_id: nullable(str()),
    batch_id: nullable(str()),
    gateway: nullable(str()),
    amount_minor: int(),
    currency: { type: "string", pattern: "^[A-Z]{3}$" },
    direction: nullable(str()),
    detail: str(),
    state: { type: "string", enum: ["open", "acknowledged", "resolved"] },
    priority: { type: "string", enum: ["p1", "p2", "p3"] },
    due_by: nullable(dateTime()),
    overdue: { type: "boolean" },
    opened_at: dateTime(),
    resolved_at: nullable(dateTime()),
    age_seconds: int(),
    audit: { type: "array", items: ref("AuditEntry") },
    candidates: {
      type: "array",
      items: ref("MatchCandidate"),
      description: "ambiguous exceptions only: every payment or batch the entry fits, explained",
    },
    dunning: {
      ...ref("DunningRecord"),
      description: "the `contacted` action's answer only: the payment's dunning record after the contact",
    },
    versions: {
      type: "array",
      description:
        "conflict exceptions, GET /exceptions/{id} only: both contents of each conflict (CONTRACT §8), the first " +
        "version (in force) and the one received with the same key",
      items: object(
        {
          topic: str(),
          first: { type: "object" },
          received: { type: "object" },
          received_at: dateTime(),
        },
        ["topic", "first", "received", "received_at"],
      ),
    },
  },
  ["id", "kind", "payment_id", "entry_id", "amount_minor", "currency", "opened_at", "state", "age_seconds", "audit"],
);

const dunningRecord = object(
  {
    id: str(),
    payment_id: str(),
    reference: str(),
    exception_id: nullable(str("the payment's newest unresolved exception: where `contacted` is recorded")),
    priority: nullable({ type: "string", enum: ["p1", "p2", "p3"] }),
    reason: { type: "string", enum: ["delayed", "failed", "held"], description: "the status that opened the record" },
    status: { type: "string", enum: [...PAYMENT_STATUSES] },
    direction: { type: "string", enum: ["collection", "payout"] },
    gateway: str(),
    currency: { type: "string", pattern: "^[A-Z]{3}$" },
    counterparty: nullable(str()),
    amount_minor: int(),
    outstanding_minor: int("amount not yet settled, minor units"),
    since: dateTime("when the payment became due (delayed) or failed / was held: the steps count from here"),
    days_overdue: int("whole days since `since`"),
    state: { type: "string", enum: ["due", "open", "closed"] },
    opened_at: dateTime(),
    closed_at: nullable(dateTime()),
    closed_status: nullable(str("the status the payment moved to when the record closed")),
    steps: {
      type: "array",
      description: "one per DUNNING_SCHEDULE entry",
      items: object(
        {
          step: int("1-based"),
          due_at: dateTime(),
          state: {
            type: "string",
            enum: ["scheduled", "due", "sent", "skipped"],
            description:
              "scheduled: not reached; due: reached, nobody has reminded yet (reminder_due notified); sent: a contact " +
              "was recorded while it was due; skipped: a later step came due, a promise was running, or the record closed",
          },
          changed_at: nullable(dateTime()),
        },
        ["step", "due_at", "state", "changed_at"],
      ),
    },
    contacts: {
      type: "array",
      items: object(
        {
          id: str(),
          at: dateTime(),
          actor: str(),
          channel: { type: "string", enum: ["email", "phone", "letter", "other"] },
          note: nullable(str()),
          promised_by: nullable({ type: "string", format: "date" }),
          promise_state: nullable({ type: "string", enum: ["pending", "kept", "broken"] }),
        },
        ["id", "at", "actor", "channel", "note", "promised_by", "promise_state"],
      ),
    },
    promise: nullable(
      object(
        {
          promised_by: { type: "string", format: "date" },
          state: { type: "string", enum: ["pending", "kept", "broken"] },
        },
        ["promised_by", "state"],
      ),
    ),
  },
  ["id", "payment_id", "reason", "status", "since", "state", "steps", "contacts", "promise"],
);

const periodReportSchema = object(
  {
    id: str(),
    period: object(
      {
        schedule: { type: "string", enum: ["daily", "weekly", "monthly"] },
        label: str("2026-12-03, 2026-11-23..2026-11-30 or 2026-11"),
        tz: str("REPORT_TZ when it was produced"),
        from: dateTime("inclusive"),
        to: dateTime("exclusive"),
      },
      ["schedule", "label", "tz", "from", "to"],
    ),
    generated_at: dateTime(),
    signed_off: nullable(
      object({ at: dateTime(), by: str("role and token fingerprint"), note: nullable(str()) }, ["at", "by", "note"]),
    ),
    adjustments: int("post-close adjustments found since the sign-off"),
  },
  ["id", "period", "generated_at", "signed_off", "adjustments"],
);

const periodReportDetail = {
  allOf: [
    periodReportSchema,
    object(
      {
        post_close_adjustments: {
          type: "array",
          items: object(
            {
              id: str(),
              detected_at: dateTime(),
              changes: {
                type: "array",
                items: object(
                  {
                    row: str("gateway|currency|direction; gateway (bank) or (total) for those rows"),
                    field: str("expected, a status bucket, bank_settled, unmatched_bank_entries or overdue_<bucket>"),
                    before: object({ count: int(), amount_minor: int() }, ["count", "amount_minor"]),
                    after: object({ count: int(), amount_minor: int() }, ["count", "amount_minor"]),
                  },
                  ["row", "field", "before", "after"],
                ),
              },
            },
            ["id", "detected_at", "changes"],
          ),
        },
        report: { ...ref("ReconciliationReport"), description: "the figures as signed off, else as generated" },
      },
      ["post_close_adjustments", "report"],
    ),
  ],
};

const notificationSchema = object(
  {
    id: str("also the Payrecon-Notification-Id header and the body's id: receivers dedupe by it (at least once)"),
    kind: { type: "string", enum: [...NOTIFICATION_KINDS] },
    created_at: dateTime(),
    payment_id: nullable(str()),
    state: {
      type: "string",
      enum: ["pending", "failed", "delivered", "stored"],
      description: "failed: a delivery's last attempt failed (retried until give_up_at); stored: no webhook configured",
    },
    payload: { type: "object", description: "the body sent, besides id, kind and created_at" },
    deliveries: {
      type: "array",
      description: "one per NOTIFY_WEBHOOK_URLS entry, with every attempt",
      items: object(
        {
          destination: str("the webhook's origin (its path and query may hold a secret and are not shown)"),
          state: { type: "string", enum: ["pending", "failed", "delivered"] },
          attempts: int(),
          next_attempt_at: nullable(dateTime()),
          give_up_at: dateTime(),
          gave_up: { type: "boolean" },
          delivered_at: nullable(dateTime()),
          last_error: nullable(str()),
          log: {
            type: "array",
            items: object(
              {
                at: dateTime(),
                result: { type: "string", enum: ["delivered", "failed"] },
                http_status: nullable(int()),
                error: nullable(str()),
                duration_ms: int(),
              },
              ["at", "result", "http_status", "error", "duration_ms"],
            ),
          },
        },
        ["destination", "state", "attempts", "next_attempt_at", "give_up_at", "delivered_at", "last_error", "log"],
      ),
    },
  },
  ["id", "kind", "created_at", "payment_id", "state", "payload", "deliveries"],
);

const listOf = (item: string): Json =>
  object(
    {
      items: { type: "array", items: ref(item) },
      next_cursor: nullable(str("pass as cursor for the next page; null on the last page")),
    },
    ["items", "next_cursor"],
  );

const errorSchema = object(
  {
    error: object({ code: str("machine-readable, e.g. invalid_query, not_found"), message: str() }, [
      "code",
      "message",
    ]),
  },
  ["error"],
);

const ingestResult = object(
  {
    accepted: int("new facts stored"),
    duplicates: int("facts already known (idempotent re-delivery)"),
    rejected: int("lines that failed validation: recorded and dead-lettered"),
    lines: {
      type: "array",
      items: object(
        {
          line: int("1-based line number in the body"),
          status: { type: "string", enum: ["accepted", "duplicate", "rejected", "ignored"] },
          reason: {
            type: "string",
            enum: [
              "empty",
              "invalid_utf8",
              "invalid_json",
              "not_an_object",
              "schema",
              "too_large",
              "gateway_payload",
              "conflict",
            ],
          },
          detail: str(),
        },
        ["line", "status"],
      ),
    },
  },
  ["accepted", "duplicates", "rejected", "lines"],
);

const amountText = str("the amount in major units, exact, with the currency's decimals");

const money = (description: string): Json =>
  object({ count: int(), amount_minor: int(), amount: amountText }, ["count", "amount_minor", "amount"], {
    description,
  });

const reportRow = object(
  {
    row_type: {
      type: "string",
      enum: ["gateway", "bank", "total"],
      description: "a gateway's row, the bank-only row (unmatched entries), or the total",
    },
    gateway: str("gateway name, (bank) or (total)"),
    currency: { type: "string", pattern: "^[A-Z]{3}$" },
    exponent: int("the currency's decimals (ISO 4217)"),
    direction: { type: "string", enum: ["collection", "payout"] },
    expected: money("expected payments"),
    ...Object.fromEntries(
      STATUS_BUCKET_NAMES.map((name) => [name, money(`payments now ${STATUS_BUCKETS[name].join(" or ")}`)]),
    ),
    bank_settled: object({ amount_minor: int(), amount: amountText }, ["amount_minor", "amount"], {
      description: "what the bank shows as settled",
    }),
    unmatched_bank_entries: money("bank entries that match no expected payment"),
    overdue: object(
      Object.fromEntries(AGING_BUCKETS.map((name) => [name, money(`overdue ${name}`)])),
      [...AGING_BUCKETS],
      { description: "aging buckets: how long past due unsettled payments are" },
    ),
    batch_fees: object(
      {
        batches: int("settlement batches expected to arrive in the period"),
        charged: object({ amount_minor: int(), amount: amountText }, ["amount_minor", "amount"], {
          description: "fees the gateway charged on them",
        }),
        expected: nullable(
          object({ amount_minor: int(), amount: amountText }, ["amount_minor", "amount"], {
            description: "fees FEE_SCHEDULE expects (null: no rule for this gateway and currency)",
          }),
        ),
      },
      ["batches", "charged", "expected"],
      { description: "a gateway's collection rows and the totals only: its settlement batches' fees (CONTRACT §8)" },
    ),
    fx_differences: {
      type: "array",
      description:
        "CONTRACT §8 FX: payments settled by bank lines in another currency, per pair (line currency → this row's); absent when none",
      items: object(
        {
          pair: str("e.g. EURUSD: line currency, then the row's"),
          line_currency: { type: "string", pattern: "^[A-Z]{3}$" },
          payments: int(),
          line_amount: object({ amount_minor: int(), amount: amountText }, ["amount_minor", "amount"], {
            description: "the lines' amount, in the line currency",
          }),
          difference: object({ amount_minor: int(), amount: amountText }, ["amount_minor", "amount"], {
            description: "FX difference in the row's currency: converted − settled",
          }),
        },
        ["pair", "line_currency", "payments", "line_amount", "difference"],
      ),
    },
  },
  [
    "row_type",
    "gateway",
    "currency",
    "exponent",
    "direction",
    "expected",
    ...STATUS_BUCKET_NAMES,
    "bank_settled",
    "unmatched_bank_entries",
    "overdue",
  ],
);

const reconciliationReport = object(
  {
    report: { const: "reconciliation" },
    from: dateTime("start of the period (inclusive)"),
    to: dateTime("end of the period (exclusive)"),
    as_of: dateTime("when the report was computed"),
    selection: str(),
    buckets: {
      type: "object",
      description: "which payment statuses each status bucket counts",
      additionalProperties: { type: "array", items: str() },
    },
    rows: { type: "array", items: ref("ReconciliationReportRow") },
  },
  ["report", "from", "to", "as_of", "selection", "buckets", "rows"],
  { description: "per gateway × currency × direction: expected, settled, failed, held, delayed, mismatch …" },
);

const rateOf = (what: string, parts: Record<string, Json>): Json =>
  object({ rate: nullable({ type: "number", minimum: 0, maximum: 1, description: what }), ...parts }, [
    "rate",
    ...Object.keys(parts),
  ]);

const counterpartyAmounts = {
  currency: { type: "string", pattern: "^[A-Z]{3}$" },
  exponent: int(),
  count: int(),
  amount_minor: int(),
  amount: amountText,
  settled_amount_minor: int(),
  settled_amount: amountText,
};

const rate = (description: string): Json => nullable({ type: "number", minimum: 0, maximum: 1, description });
const creditWindow = object(
  {
    days: int(),
    due: int("payments that came due in the window (cancelled ones left out)"),
    on_time: int(),
    on_time_rate: rate("settled by the due date, among those due; null when none was due"),
    late: int("settled late, or still delayed"),
    average_days_late: nullable({ type: "number", description: "over the late ones; null when none" }),
    max_days_delayed: { type: "number", description: "the longest a still-delayed payment has been overdue" },
    failed: int(),
    failure_rate: rate("failed among those due"),
    failures_by_category: {
      type: "array",
      items: object(
        { category: { type: "string", enum: [...FAILURE_CATEGORIES] }, count: int(), rate: { type: "number" } },
        ["category", "count", "rate"],
      ),
    },
    open_by_currency: {
      type: "array",
      items: object({ currency: str(), amount_minor: int(), amount: str() }, ["currency", "amount_minor", "amount"]),
    },
  },
  ["days", "due", "on_time_rate", "average_days_late", "failure_rate", "failures_by_category", "open_by_currency"],
);
const creditProperties: Record<string, Json> = {
  windows: object({ "30d": creditWindow, "90d": creditWindow, "365d": creditWindow }, ["30d", "90d", "365d"], {
    description: "credit record (CONTRACT §9) over payments that came due in the last 30, 90 and 365 days",
  }),
  broken_promises_90d: int("promises to pay broken in the last 90 days (dunning)"),
  risk: {
    type: "string",
    enum: ["A", "B", "C", "D"],
    description:
      "from the 90-day window (365 with fewer than 3 due in 90): D — a promise broken in 90 days, on time < 50 %, " +
      "failure rate ≥ 20 % or money delayed > 30 days; C — on time < 75 %, failure rate ≥ 10 % or > 14 days late on " +
      "average; B — on time < 95 %, failure rate ≥ 2 %, > 3 days late on average, or fewer than 3 due in 365 days; A — otherwise",
  },
  risk_reasons: { type: "array", items: str(), description: "the rules that decided the band" },
};

const counterpartyHistory = object(
  {
    counterparty: str(),
    payments: int("expected payments naming this counterparty"),
    first_payment_at: nullable(dateTime()),
    last_payment_at: nullable(dateTime()),
    by_currency: {
      type: "array",
      items: object(counterpartyAmounts, Object.keys(counterpartyAmounts)),
    },
    by_status: {
      type: "array",
      items: object({ status: { type: "string", enum: [...PAYMENT_STATUSES] }, ...counterpartyAmounts }, [
        "status",
        ...Object.keys(counterpartyAmounts),
      ]),
    },
    late_rate: rateOf("settled late among settled; null when none settled", { settled_late: int(), settled: int() }),
    failure_rate: rateOf("failed among settled + failed; null when none ended", { failed: int(), ended: int() }),
    last_failure: nullable(
      object(
        {
          payment_id: str(),
          at: dateTime(),
          failure_category: nullable(str()),
          failure_code: nullable(str()),
          currency: str(),
          amount_minor: int(),
          amount: amountText,
        },
        ["payment_id", "at", "failure_category", "failure_code", "currency", "amount_minor", "amount"],
      ),
    ),
    open_exceptions: int(),
    ...creditProperties,
  },
  [
    "counterparty",
    "payments",
    "first_payment_at",
    "last_payment_at",
    "by_currency",
    "by_status",
    "late_rate",
    "failure_rate",
    "last_failure",
    "open_exceptions",
    "windows",
    "risk",
  ],
  { description: "payment history: counts and amounts by status, late and failed rate; its credit record" },
);

const counterpartyCredit = object({ counterparty: str(), ...creditProperties }, ["counterparty", "windows", "risk"], {
  description: "a counterparty's credit record",
});

// --- the document ------------------------------------------------------------------------------

export interface OpenApiOptions {
  /** Topic names as configured (CONTRACT §6); the ingest path takes one of them. */
  topics?: TopicNames | Config["topics"];
}

export function openApiDocument(options: OpenApiOptions = {}): Json {
  const topics = options.topics ?? DEFAULT_TOPICS;

  const components = {
    securitySchemes: {
      browserBasic: {
        type: "http",
        scheme: "basic",
        description:
          "Status pages only: a browser sends a viewer or operator token as the Basic password (any user name), " +
          "so the token never appears in a URL.",
      },
      bearerAuth: {
        type: "http",
        scheme: "bearer",
        description:
          "Tokens and their roles come from API_TOKENS (role:token pairs). viewer reads payments, exceptions and reports; " +
          "operator reads and acts on exceptions; ingester only posts facts. Each operation lists the roles that may call it.",
      },
    },
    schemas: {
      ExpectedPayment: schemaFromZod(expectedPaymentSchema),
      Cancellation: schemaFromZod(cancellationSchema),
      GatewayEvent: schemaFromZod(gatewayEventSchema),
      BankEntry: schemaFromZod(bankEntrySchema),
      StatementSummary: schemaFromZod(statementSummarySchema),
      Error: errorSchema,
      Payment: paymentSchema(),
      PaymentDetail: paymentDetail,
      TimelineEntry: timelineEntry,
      Match: matchSchema,
      ManualMatch: schemaFromZod(manualMatchBody),
      ManualUnmatch: schemaFromZod(manualUnmatchBody),
      EntryDecision: entryDecision,
      BankEntryView: bankEntryView,
      BankEntryList: listOf("BankEntryView"),
      BankEntryDetail: bankEntryDetail,
      Batch: batchSchema,
      MatchCandidate: candidateSchema,
      PaymentList: listOf("Payment"),
      Exception: exceptionSchema,
      AuditEntry: auditEntry,
      ExceptionList: listOf("Exception"),
      ExceptionAction: { oneOf: [schemaFromZod(exceptionAction), schemaFromZod(contactedAction)] },
      DunningRecord: dunningRecord,
      DunningList: listOf("DunningRecord"),
      Notification: notificationSchema,
      PeriodReport: periodReportSchema,
      PeriodReportDetail: periodReportDetail,
      PeriodReportList: listOf("PeriodReport"),
      Signoff: schemaFromZod(signoffBody),
      NotificationList: listOf("Notification"),
      IngestResult: ingestResult,
      ReconciliationReport: reconciliationReport,
      ReconciliationReportRow: reportRow,
      CounterpartyHistory: counterpartyHistory,
      CounterpartyCredit: counterpartyCredit,
      CounterpartyCreditList: listOf("CounterpartyCredit"),
      Readiness: object(
        {
          status: { type: "string", enum: ["ready", "not_ready"] },
          checks: object(
            {
              postgres: { type: "string", enum: ["ok", "unreachable"] },
              migrations: { type: "string", enum: ["ok", "pending"] },
              kafka: { type: "string", enum: ["ok", "unreachable", "not_configured"] },
              working_set: {
                type: "string",
                enum: ["ok", "loading", "not_used"],
                description: "RECONCILE_ENGINE=memory: the working set is loaded (not_used with the sql engine)",
              },
            },
            ["postgres", "migrations", "kafka"],
          ),
          role: writerRole,
        },
        ["status", "checks"],
      ),
    },
    responses: Object.fromEntries(
      Object.values(ERROR_RESPONSES).map(({ name, description }) => [name, json(ref("Error"), description)]),
    ),
  };

  const html = (description: string) => ({ description, content: { "text/html": { schema: { type: "string" } } } });
  /** Server-rendered pages for people; answers are HTML, challenges are Basic (see browserBasic). */
  const page = (operationId: string, summary: string, responses: Record<string, Json>, parameters: Json[] = []) => ({
    get: {
      operationId,
      tags: ["status page"],
      summary,
      "x-browser-page": true,
      security: [{}, { browserBasic: [] }, { bearerAuth: [] }],
      parameters,
      responses,
    },
  });

  const entryPageParameters = [
    { name: "bank", in: "path", required: true, schema: { type: "string", maxLength: 64 }, example: "bank_a" },
    { name: "entry_id", in: "path", required: true, schema: { type: "string", maxLength: 200 }, example: "E-1" },
  ];
  /** A status page form (x-www-form-urlencoded, with the page's CSRF token); success is a redirect to the page. */
  const entryForm = (operationId: string, summary: string, fields: Record<string, Json>) => ({
    post: {
      operationId,
      tags: ["status page"],
      summary,
      "x-browser-page": true,
      security: [{ browserBasic: [] }, { bearerAuth: [] }],
      parameters: entryPageParameters,
      requestBody: {
        required: true,
        content: {
          "application/x-www-form-urlencoded": {
            schema: {
              type: "object",
              properties: {
                csrf: { type: "string", description: "the token in the entry page's forms (statusPage/csrf.ts)" },
                ...fields,
                note: { type: "string", maxLength: 4000 },
              },
              required: ["csrf", ...Object.keys(fields)],
            },
          },
        },
      },
      responses: {
        "303": { description: "decided: back to the entry page" },
        "400": html("the form lacks a payment id"),
        "401": html("a Basic challenge"),
        "403": html(
          "not an operator, or the CSRF token is missing, wrong, of another entry or expired, or the form came from another site",
        ),
        "404": html("no such entry or payment"),
        "409": html("the decision cannot be taken (currency, direction, nothing to unmatch)"),
      },
    },
  });

  const paths: Record<string, Json> = {
    "/": page(
      "statusPage",
      "Status page: funds at risk, failure ratios, exceptions, freshness, lag (details with a token)",
      {
        "200": html("the page; payment-level details only with a viewer or operator token"),
      },
    ),
    "/login": page(
      "statusPageLogin",
      "Asks the browser for a token as the Basic password, then shows the status page",
      {
        "200": html("signed in"),
        "401": html("a Basic challenge"),
      },
    ),
    "/dunning": page(
      "dunningPage",
      "Today's dunning work list and the promises running, as a page (viewer or operator)",
      {
        "200": html("the work list"),
        "401": html("a Basic challenge"),
        "403": html("the role may not read payments"),
      },
    ),
    "/payments/{id}": page(
      "paymentPage",
      "One payment's details, exceptions and timeline as a page (viewer or operator)",
      {
        "200": html("the payment"),
        "401": html("a Basic challenge"),
        "403": html("the role may not read payments"),
        "404": html("no such payment"),
      },
      [{ name: "id", in: "path", required: true, schema: { type: "string", maxLength: 200 } }],
    ),
    "/bank-entries": page(
      "bankEntriesPage",
      "Bank entries searched by words of remittance text or end-to-end id, amount in major units (`q`, `amount`, `currency`, `from`, `to`, `state`), as a page (viewer or operator)",
      {
        "200": html("the search form and the entries found"),
        "400": html("the search could not be read"),
        "401": html("a Basic challenge"),
        "403": html("the role may not read bank entries"),
      },
    ),
    "/bank-entries/{bank}/{entry_id}": page(
      "bankEntryPage",
      "One bank entry as a page: its match explained, the candidates, exceptions and decisions; an operator also gets the match and unmatch forms",
      {
        "200": html("the entry"),
        "401": html("a Basic challenge"),
        "403": html("the role may not read bank entries"),
        "404": html("no such entry"),
      },
      entryPageParameters,
    ),
    "/bank-entries/{bank}/{entry_id}/match": entryForm(
      "bankEntryPageMatch",
      "The entry page's match form (operator, CSRF token): the same decision as POST /api/v1/bank-entries/{entry_id}/match",
      { payment_id: { type: "string", maxLength: 200 } },
    ),
    "/bank-entries/{bank}/{entry_id}/unmatch": entryForm(
      "bankEntryPageUnmatch",
      "The entry page's unmatch form (operator, CSRF token): the same decision as POST /api/v1/bank-entries/{entry_id}/unmatch",
      {},
    ),
    "/healthz": {
      get: {
        operationId: "healthz",
        tags: ["operations"],
        summary: "Liveness: the process answers",
        ...OPEN,
        responses: { "200": json(object({ status: { const: "ok" }, role: writerRole }, ["status"]), "alive") },
      },
    },
    "/readyz": {
      get: {
        operationId: "readyz",
        tags: ["operations"],
        summary:
          "Readiness: PostgreSQL reachable, migrations applied, (if configured) Kafka reachable and (memory engine) the working set loaded",
        ...OPEN,
        responses: {
          "200": json(ref("Readiness"), "ready"),
          "503": json(ref("Readiness"), "not ready: checks says what is missing"),
        },
      },
    },
    "/metrics": {
      get: {
        operationId: "metrics",
        tags: ["operations"],
        summary: "Prometheus metrics (CONTRACT §4)",
        ...OPEN,
        responses: {
          "200": {
            description: "Prometheus text exposition format",
            content: { "text/plain": { schema: { type: "string" } } },
          },
        },
      },
    },
    [OPENAPI_PATH]: {
      get: {
        operationId: "openapi",
        tags: ["operations"],
        summary: "This document (OpenAPI 3.1); no token needed",
        ...OPEN,
        responses: { "200": json({ type: "object" }, "the OpenAPI document") },
      },
    },
    "/webhooks/stripe": {
      post: {
        operationId: "stripeWebhook",
        tags: ["gateways"],
        summary: "Stripe webhook endpoint: point a Stripe account's webhooks here",
        description:
          "Authenticated by the Stripe-Signature header (HMAC-SHA256 over the timestamp and the raw body under any of " +
          "STRIPE_WEBHOOK_SECRETS, within STRIPE_WEBHOOK_TOLERANCE), not by a bearer token. A verified event is " +
          "mapped to GatewayEvents (or, for our own automatic payout, held until its balance transactions are known) " +
          "and acknowledged after the database commit. Unknown event types are acknowledged and counted in " +
          "payrecon_gateway_events_ignored_total; an event that cannot be mapped is acknowledged and dead-lettered.",
        "x-webhook": "stripe",
        ...OPEN,
        requestBody: {
          required: true,
          description: "a Stripe Event object, the bytes exactly as Stripe sent them",
          content: { "application/json": { schema: { type: "object" } } },
        },
        responses: {
          "200": json(
            object(
              {
                received: { const: true },
                status: { type: "string", enum: ["accepted", "duplicate", "rejected", "ignored"] },
                reason: str(),
                detail: str(),
              },
              ["received", "status"],
            ),
            "stored (or known, ignored, dead-lettered): Stripe need not re-send",
          ),
          "400": json(
            ref("Error"),
            "bad or missing signature, or a timestamp outside the tolerance: nothing processed",
          ),
          "413": responseRef("PayloadTooLarge"),
          "429": json(ref("Error"), "rate limited (API_INGEST_RATE_LIMIT per client address)"),
          "503": json(ref("Error"), "not configured (STRIPE_WEBHOOK_SECRETS), or the database is unavailable"),
        },
      },
    },
    "/webhooks/adyen": {
      post: {
        operationId: "adyenWebhook",
        tags: ["gateways"],
        summary: "Adyen (classic) notification endpoint: answers [accepted]",
        description:
          "Every NotificationRequestItem must carry a valid additionalData.hmacSignature under one of ADYEN_HMAC_KEYS; " +
          "one that does not refuses the whole body (400, nothing processed). Items are mapped to GatewayEvents " +
          "(idempotent by PSP reference, event code and success) and the body is acknowledged with `[accepted]` " +
          "after the database commit. Only the signed fields decide a fact; an item whose Adyen-filled signed field " +
          "(pspReference, originalReference, merchantAccountCode, eventCode, currency, success) holds a colon is " +
          "refused, as the signing string would be ambiguous. An item whose event id is stored already with other " +
          "content is a conflict: dead-lettered, the first version kept, still acknowledged, and said in " +
          "X-Payrecon-Rejected.",
        "x-webhook": "adyen",
        ...OPEN,
        requestBody: {
          required: true,
          description: "an Adyen notification body {live, notificationItems: [{NotificationRequestItem}]}",
          content: { "application/json": { schema: { type: "object" } } },
        },
        responses: {
          "200": {
            description: "stored: Adyen stops re-sending",
            headers: {
              "X-Payrecon-Rejected": {
                description: "present when the body was recorded as rejected, e.g. `conflict: …` (reason: detail)",
                schema: { type: "string" },
              },
            },
            content: { "text/plain": { schema: { const: "[accepted]" } } },
          },
          "400": json(
            ref("Error"),
            "not a notification body, notificationItems empty (nothing verifiable), an item's HMAC does not verify, " +
              "or a signed field is ambiguous: nothing processed nor stored",
          ),
          "413": responseRef("PayloadTooLarge"),
          "429": json(ref("Error"), "rate limited (API_INGEST_RATE_LIMIT per client address)"),
          "503": json(ref("Error"), "not configured (ADYEN_HMAC_KEYS), or the database is unavailable"),
        },
      },
    },
    "/api/v1/ingest/{topic}": {
      post: {
        operationId: "ingest",
        tags: ["ingest"],
        summary: "Post input messages for one topic as NDJSON",
        description:
          "One JSON message per line for one of the input topics: ExpectedPayment or Cancellation for " +
          `${topics.expected}, GatewayEvent for ${topics.gateway}, BankEntry or StatementSummary (\`"type": "statement"\`) for ${topics.bank}, and the gateways' ` +
          "own payloads on the raw topics (Stripe events or balance transactions, Adyen notification bodies). The same validation, " +
          "idempotency and dead-lettering as the Kafka path; one result per line. Invalid lines are rejected with " +
          "their reason (the others are still stored); at most 50,000 lines per request.",
        ...roles("ingester"),
        parameters: [
          {
            name: "topic",
            in: "path",
            required: true,
            description: "the input topic (names as configured)",
            schema: { type: "string", enum: [...inputKindsByTopic(topics).keys()] },
            example: topics.expected,
          },
        ],
        requestBody: {
          required: true,
          description: "NDJSON: each line one message of the topic's schema",
          content: {
            "application/x-ndjson": {
              // OpenAPI 3.1 has no item schema for streaming media types (3.2's itemSchema): the schema describes one line.
              schema: {
                description: "one line: a message of the path's topic",
                oneOf: [
                  ref("ExpectedPayment"),
                  ref("Cancellation"),
                  ref("GatewayEvent"),
                  ref("BankEntry"),
                  ref("StatementSummary"),
                ],
              },
              example:
                '{"id":"exp_1001","direction":"collection","amount_minor":125000,"currency":"EUR","gateway":"stripe",' +
                '"reference":"ORD-1001","counterparty":"cust_77","created_at":"2026-11-20T10:00:00Z","due_at":"2026-11-24T17:00:00Z"}\n' +
                '{"id":"exp_1002","cancelled":true}\n',
            },
          },
        },
        responses: {
          "200": json(ref("IngestResult"), "every line's outcome"),
          "400": responseRef("BadRequest"),
          "404": responseRef("NotFound"),
          "413": responseRef("PayloadTooLarge"),
          ...apiErrors(),
        },
      },
    },
    "/api/v1/payments": {
      get: {
        operationId: "listPayments",
        tags: ["payments"],
        summary: "Expected payments, newest first, cursor-paginated",
        ...roles("viewer", "operator"),
        parameters: queryParameters("/api/v1/payments", paymentListQuery),
        responses: { "200": json(ref("PaymentList"), "a page of payments"), ...apiErrors("400") },
      },
    },
    "/api/v1/payments/{id}": {
      get: {
        operationId: "getPayment",
        tags: ["payments"],
        summary: "One expected payment: status, amounts, failure, flags and its timeline",
        ...roles("viewer", "operator"),
        parameters: [pathParameter("id", "expected payment id", "exp_1001", { type: "string", maxLength: 200 })],
        responses: { "200": json(ref("PaymentDetail"), "the payment"), ...apiErrors("400", "404") },
      },
    },
    "/api/v1/exceptions": {
      get: {
        operationId: "listExceptions",
        tags: ["exceptions"],
        summary: "Exceptions (the work queue) with age, amount and audit trail",
        ...roles("viewer", "operator"),
        parameters: queryParameters("/api/v1/exceptions", exceptionListQuery),
        responses: { "200": json(ref("ExceptionList"), "a page of exceptions"), ...apiErrors("400") },
      },
    },
    "/api/v1/exceptions/{id}": {
      get: {
        operationId: "getException",
        tags: ["exceptions"],
        summary: "One exception with its audit trail",
        ...roles("viewer", "operator"),
        parameters: [pathParameter("id", "exception id", "42", { type: "string", pattern: "^[0-9]+$" })],
        responses: { "200": json(ref("Exception"), "the exception"), ...apiErrors("400", "404") },
      },
    },
    "/api/v1/exceptions/{id}/actions": {
      post: {
        operationId: "actOnException",
        tags: ["exceptions"],
        summary: "Acknowledge, resolve, annotate, write off or reopen an exception, or record a contact (dunning)",
        description:
          "Appended to the exception's audit trail with the actor and time; nothing is ever deleted. " +
          "A note needs text; acknowledging needs an open exception; resolving an unresolved one. " +
          "write_off (a note required; exceptions of a payment) makes the payment written_off: final, out of " +
          "payrecon_funds_at_risk and item alerts, its own report column; money that arrives later still settles it. " +
          "It is a fact the reconciler applies, kept across restarts. reopen re-opens a resolved exception (taking back " +
          "a write-off). " +
          "`contacted` (CONTRACT §9) records a contact on the payment's dunning record (channel, note, and an optional " +
          "promise to pay by `promised_by`; a day already passed — a promise logged after the fact — is broken at the next " +
          "follow-up run); the steps that were due count as sent, and the answer " +
          "carries the record as `dunning`. 409 when the action does not apply (for `contacted`: the exception is resolved or its payment owes no follow-up).",
        ...roles("operator"),
        parameters: [pathParameter("id", "exception id", "42", { type: "string", pattern: "^[0-9]+$" })],
        requestBody: {
          required: true,
          content: { "application/json": { schema: ref("ExceptionAction") } },
        },
        responses: {
          "200": json(ref("Exception"), "the exception after the action"),
          ...apiErrors("400", "404", "409", "413"),
        },
      },
    },
    "/api/v1/bank-entries": {
      get: {
        operationId: "listBankEntries",
        tags: ["bank entries"],
        summary: "Bank entries, newest value date first, filtered and searched, cursor-paginated",
        ...roles("viewer", "operator"),
        parameters: queryParameters("/api/v1/bank-entries", entryListQuery),
        responses: { "200": json(ref("BankEntryList"), "a page of bank entries"), ...apiErrors("400") },
      },
    },
    "/api/v1/bank-entries/{entry_id}": {
      get: {
        operationId: "getBankEntry",
        tags: ["bank entries"],
        summary:
          "One bank entry: its match explained, the candidates considered, exceptions and the operators' decisions",
        ...roles("viewer", "operator"),
        parameters: [entryIdParameter, ...queryParameters("/api/v1/bank-entries/{entry_id}", entryQuery)],
        responses: { "200": json(ref("BankEntryDetail"), "the entry"), ...apiErrors("400", "404", "409") },
      },
    },
    "/api/v1/batches/{batch_id}": {
      get: {
        operationId: "getBatch",
        tags: ["bank entries"],
        summary:
          "One settlement batch: gross, fee, net, the payments it lists with their statuses, the entry that paid it",
        ...roles("viewer", "operator"),
        parameters: [
          pathParameter("batch_id", "the gateway's batch (payout) id", "po_1QxYz", { type: "string", maxLength: 200 }),
          ...queryParameters("/api/v1/batches/{batch_id}", batchQuery),
        ],
        responses: { "200": json(ref("Batch"), "the batch"), ...apiErrors("400", "404", "409") },
      },
    },
    "/api/v1/bank-entries/{entry_id}/match": {
      post: {
        operationId: "matchBankEntry",
        tags: ["bank entries"],
        summary: "Match a bank entry to a payment by hand",
        description:
          "A manual match wins over every rule. It is a fact: stored with its actor, time and note, applied by the " +
          "reconciler in the same transaction, kept across restarts, replays and a from-scratch reconciliation. " +
          "409 when the payment's currency or direction cannot be settled by this entry.",
        ...roles("operator"),
        parameters: [entryIdParameter],
        requestBody: { required: true, content: { "application/json": { schema: ref("ManualMatch") } } },
        responses: {
          "200": json(ref("EntryDecision"), "the decision and the entry's match after it"),
          ...apiErrors("400", "404", "409", "413"),
        },
      },
    },
    "/api/v1/bank-entries/{entry_id}/unmatch": {
      post: {
        operationId: "unmatchBankEntry",
        tags: ["bank entries"],
        summary: "Remove a bank entry's match (rule or manual)",
        description:
          "The rules never match that entry to that payment (or batch) again; a later manual match may. Stored and " +
          "audited like a manual match. 409 when the entry is matched to nothing.",
        ...roles("operator"),
        parameters: [entryIdParameter],
        requestBody: { required: false, content: { "application/json": { schema: ref("ManualUnmatch") } } },
        responses: {
          "200": json(ref("EntryDecision"), "the decision and the entry's match after it"),
          ...apiErrors("400", "404", "409", "413"),
        },
      },
    },
    "/api/v1/dunning": {
      get: {
        operationId: "listDunning",
        tags: ["follow-up"],
        summary: "Dunning records, oldest first: by default today's work list (a reminder step is due)",
        description:
          "Every delayed collection and every failed or held payout has a record with steps from DUNNING_SCHEDULE " +
          "after it became due or failed; a promise that passes unpaid raises the exception one priority.",
        ...roles("viewer", "operator"),
        parameters: queryParameters("/api/v1/dunning", dunningListQuery),
        responses: { "200": json(ref("DunningList"), "a page of dunning records"), ...apiErrors("400") },
      },
    },
    "/api/v1/dunning/{id}": {
      get: {
        operationId: "getDunning",
        tags: ["follow-up"],
        summary: "One dunning record with its steps and contacts",
        ...roles("viewer", "operator"),
        parameters: [pathParameter("id", "dunning record id", "42", { type: "string", pattern: "^[0-9]+$" })],
        responses: { "200": json(ref("DunningRecord"), "the record"), ...apiErrors("400", "404") },
      },
    },
    "/api/v1/notifications": {
      get: {
        operationId: "listNotifications",
        tags: ["follow-up"],
        summary: "Outbound notifications, newest first, each with its delivery log",
        description:
          "Kinds: reminder_due, promise_broken, exception_opened (at or above NOTIFY_MIN_PRIORITY), retry_suggested " +
          "(a failed payout whose retry_advice is retry, once per failure), report_ready, post_close_adjustment. " +
          "Each is POSTed as JSON to every NOTIFY_WEBHOOK_URLS entry with `Payrecon-Signature: t=<unix>,v1=<hex " +
          'HMAC-SHA256 of "t.body" with NOTIFY_WEBHOOK_SECRET>`, at least once, in order per payment, retried with ' +
          "backoff for NOTIFY_RETRY_FOR (24h), and published to TOPIC_NOTIFICATIONS when Kafka is configured.",
        ...roles("viewer", "operator"),
        parameters: queryParameters("/api/v1/notifications", notificationListQuery),
        responses: { "200": json(ref("NotificationList"), "a page of notifications"), ...apiErrors("400") },
      },
    },
    "/api/v1/notifications/{id}": {
      get: {
        operationId: "getNotification",
        tags: ["follow-up"],
        summary: "One notification with its delivery log",
        ...roles("viewer", "operator"),
        parameters: [pathParameter("id", "notification id", "42", { type: "string", pattern: "^[0-9]+$" })],
        responses: { "200": json(ref("Notification"), "the notification"), ...apiErrors("400", "404") },
      },
    },
    "/api/v1/reports/reconciliation": {
      get: {
        operationId: "reconciliationReport",
        tags: ["reports"],
        summary: "Reconciliation report per gateway × currency × direction",
        ...roles("viewer", "operator"),
        parameters: queryParameters("/api/v1/reports/reconciliation", reportQuery),
        responses: {
          "200": {
            description: "the report: JSON, CSV (an attachment) or Markdown, by format",
            content: {
              "application/json": { schema: ref("ReconciliationReport") },
              "text/csv": { schema: { type: "string" } },
              "text/markdown": { schema: { type: "string" } },
            },
          },
          ...apiErrors("400"),
        },
      },
    },
    "/api/v1/reports": {
      get: {
        operationId: "listPeriodReports",
        tags: ["reports"],
        summary: "Stored reports of closed periods (REPORT_SCHEDULE), newest period first",
        ...roles("viewer", "operator"),
        parameters: queryParameters("/api/v1/reports", periodReportListQuery),
        responses: { "200": json(ref("PeriodReportList"), "a page of stored reports"), ...apiErrors("400") },
      },
    },
    "/api/v1/reports/{id}": {
      get: {
        operationId: "getPeriodReport",
        tags: ["reports"],
        summary: "One stored period report: JSON (with its sign-off and post-close adjustments), CSV or Markdown",
        description:
          "The reconciliation report of the period as of its end, as signed off (else as generated). A fact that " +
          "changes a signed-off period later is a post-close adjustment, listed here and notified (post_close_adjustment).",
        ...roles("viewer", "operator"),
        parameters: [
          pathParameter("id", "stored report id", "1", { type: "string", pattern: "^[0-9]+$" }),
          ...queryParameters("/api/v1/reports/{id}", periodReportQuery),
        ],
        responses: {
          "200": {
            description: "the report: JSON, CSV (an attachment) or Markdown, by format",
            content: {
              "application/json": { schema: ref("PeriodReportDetail") },
              "text/csv": { schema: { type: "string" } },
              "text/markdown": { schema: { type: "string" } },
            },
          },
          ...apiErrors("400", "404"),
        },
      },
    },
    "/api/v1/reports/{id}/signoff": {
      post: {
        operationId: "signOffPeriodReport",
        tags: ["reports"],
        summary: "Sign a period off: its figures as they stand now are the ones later changes are measured from",
        ...roles("operator"),
        parameters: [pathParameter("id", "stored report id", "1", { type: "string", pattern: "^[0-9]+$" })],
        requestBody: { required: false, content: { "application/json": { schema: ref("Signoff") } } },
        responses: {
          "200": json(ref("PeriodReportDetail"), "the report, signed off"),
          ...apiErrors("400", "404", "409", "413"),
        },
      },
    },
    "/api/v1/counterparties": {
      get: {
        operationId: "listCounterparties",
        tags: ["reports"],
        summary: "Counterparties with a payment due in the last 365 days and their credit records, riskiest first",
        ...roles("viewer", "operator"),
        parameters: queryParameters("/api/v1/counterparties", counterpartyListQuery),
        responses: { "200": json(ref("CounterpartyCreditList"), "a page of counterparties"), ...apiErrors("400") },
      },
    },
    "/api/v1/counterparties/{id}": {
      get: {
        operationId: "getCounterparty",
        tags: ["reports"],
        summary: "A counterparty's payment history: counts and amounts by status, late and failed rate",
        ...roles("viewer", "operator"),
        parameters: [pathParameter("id", "counterparty id, as in ExpectedPayment.counterparty", "cust_77")],
        responses: { "200": json(ref("CounterpartyHistory"), "the history"), ...apiErrors("400", "404") },
      },
    },
  };

  return {
    openapi: "3.1.0",
    jsonSchemaDialect: "https://spec.openapis.org/oas/3.1/dialect/base",
    info: {
      title: "payrecon",
      version: VERSION,
      summary: "Payment-gateway monitoring and reconciliation",
      description:
        "Expected payments, gateway events and bank entries in; reconciled statuses, exceptions and reports out. " +
        "Everything under /api/v1 needs `Authorization: Bearer <token>` (except this document); errors are " +
        '`{"error": {"code", "message"}}`. Amounts are integers in the currency\'s minor unit.',
    },
    tags: [
      { name: "operations", description: "health, readiness, metrics" },
      { name: "ingest", description: "facts in, when Kafka is not used" },
      { name: "payments", description: "expected payments and their status" },
      { name: "exceptions", description: "what needs a person" },
      { name: "reports", description: "finance reports and counterparty history" },
      { name: "follow-up", description: "dunning records and outbound notifications (CONTRACT §9)" },
    ],
    security: [{ bearerAuth: [] }],
    paths,
    components,
  };
}
