import express, { type Express } from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROLES } from "../../src/config.js";
import { OPENAPI_PATH, openApiDocument } from "../../src/http/openapi.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { api, startTestDaemon, TOKENS, type TestDaemon } from "../support/daemon.js";
import { dateDaysFromNow, isoDaysFromNow } from "../support/clock.js";
import { bankEntry, expectedPayment, gatewayEvent } from "../support/facts.js";

/**
 * The OpenAPI document against the running daemon: every route the express
 * app serves is documented and every documented operation is served, the
 * documented roles are the enforced ones, every documented query parameter
 * is accepted, and real responses fit the documented schemas.
 *
 * The daemon does not expose its express app, so the test captures it when it
 * starts listening (express apps copy `express.application` when created) and
 * walks `app.router.stack`: the routes are read from the app itself, not from a
 * list that could drift.
 */

// biome-ignore lint/suspicious/noExplicitAny: documents, layers and bodies are walked generically
type Any = any;

const METHODS = ["get", "put", "post", "delete", "patch"];
const doc = openApiDocument() as Any;

function documentedOperations(): Array<{ path: string; method: string; op: Any }> {
  return Object.entries(doc.paths as Record<string, Any>).flatMap(([path, item]) =>
    METHODS.filter((method) => item[method]).map((method) => ({ path, method, op: item[method] })),
  );
}

/** "GET /api/v1/payments/{id}" for every route of the app, mounted routers included. */
function appRoutes(app: Express): string[] {
  const out: string[] = [];
  const walk = (stack: Any[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        const path = `${prefix}${layer.route.path}`.replace(/:(\w+)/g, "{$1}");
        for (const method of Object.keys(layer.route.methods).filter((m) => m !== "_all")) {
          out.push(`${method.toUpperCase()} ${path}`);
        }
      } else if (Array.isArray(layer.handle?.stack)) {
        const mount = typeof layer.rawPath === "string" && layer.rawPath !== "/" ? layer.rawPath : "";
        walk(layer.handle.stack, prefix + mount);
      }
    }
  };
  walk((app as Any).router.stack, "");
  return [...new Set(out)].sort();
}

/** A path with its path parameters replaced by their documented examples. */
function concrete(path: string, op: Any): string {
  return path.replace(/\{(\w+)\}/g, (_, name) => {
    const parameter = op.parameters.find((p: Any) => p.in === "path" && p.name === name);
    return encodeURIComponent(String(parameter.example));
  });
}

// --- a small validator for the JSON Schema subset the document uses ----------------------------

function resolveRef(pointer: string): Any {
  return pointer
    .slice(2)
    .split("/")
    .reduce((node: Any, key) => node?.[key], doc);
}

function typeMatches(type: string, value: unknown): boolean {
  switch (type) {
    case "null":
      return value === null;
    case "integer":
      return Number.isInteger(value);
    case "number":
      return typeof value === "number";
    case "array":
      return Array.isArray(value);
    case "object":
      return typeof value === "object" && value !== null && !Array.isArray(value);
    default:
      return typeof value === type;
  }
}

/**
 * Errors of `value` against `schema`. `closed`: properties not in the schema are
 * errors unless it allows additional properties — so undocumented fields are found.
 */
function validate(schema: Any, value: unknown, where = "$", closed = true): string[] {
  if (schema.$ref) return validate(resolveRef(schema.$ref), value, where, closed);
  const errors: string[] = [];
  const isObject = typeMatches("object", value);
  if (schema.allOf) {
    for (const part of schema.allOf) errors.push(...validate(part, value, where, false));
    if (closed && isObject) {
      const known = new Set(schema.allOf.flatMap((part: Any) => knownProperties(part)));
      for (const key of Object.keys(value as object))
        if (!known.has(key)) errors.push(`${where}.${key}: not documented`);
    }
  }
  if (schema.anyOf && !schema.anyOf.some((part: Any) => validate(part, value, where, closed).length === 0)) {
    errors.push(`${where}: matches none of anyOf (${JSON.stringify(value)?.slice(0, 80)})`);
  }
  if (schema.oneOf) {
    const matching = schema.oneOf.filter((part: Any) => validate(part, value, where, closed).length === 0).length;
    if (matching !== 1) errors.push(`${where}: matches ${matching} of oneOf`);
  }
  if ("const" in schema && value !== schema.const) errors.push(`${where}: is not ${JSON.stringify(schema.const)}`);
  if (schema.enum && !schema.enum.includes(value)) errors.push(`${where}: ${JSON.stringify(value)} is not in the enum`);
  if (
    schema.type &&
    !(Array.isArray(schema.type) ? schema.type : [schema.type]).some((t: string) => typeMatches(t, value))
  ) {
    return [...errors, `${where}: ${JSON.stringify(value)?.slice(0, 80)} is not of type ${schema.type}`];
  }
  if (typeof value === "string") {
    if (schema.pattern && !new RegExp(schema.pattern).test(value))
      errors.push(`${where}: does not match ${schema.pattern}`);
    if (schema.format === "date-time" && (!/T/.test(value) || Number.isNaN(Date.parse(value))))
      errors.push(`${where}: ${value} is not a date-time`);
    if (schema.format === "date" && !/^\d{4}-\d{2}-\d{2}$/.test(value)) errors.push(`${where}: ${value} is not a date`);
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${where}: below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${where}: above ${schema.maximum}`);
  }
  if (Array.isArray(value) && schema.items) {
    value.forEach((item, index) => {
      errors.push(...validate(schema.items, item, `${where}[${index}]`));
    });
  }
  if (isObject) {
    const record = value as Record<string, unknown>;
    for (const key of schema.required ?? []) if (!(key in record)) errors.push(`${where}.${key}: required, missing`);
    for (const [key, inner] of Object.entries(record)) {
      const property = schema.properties?.[key];
      if (property) errors.push(...validate(property, inner, `${where}.${key}`));
      else if (typeof schema.additionalProperties === "object")
        errors.push(...validate(schema.additionalProperties, inner, `${where}.${key}`));
      else if (schema.properties && closed && schema.additionalProperties !== true)
        errors.push(`${where}.${key}: not documented`);
    }
  }
  return errors;
}

function knownProperties(schema: Any): string[] {
  if (schema.$ref) return knownProperties(resolveRef(schema.$ref));
  return [...Object.keys(schema.properties ?? {}), ...(schema.allOf ?? []).flatMap(knownProperties)];
}

function responseSchema(path: string, method: string, status: string, media = "application/json"): Any {
  let response = doc.paths[path][method].responses[status];
  if (response.$ref) response = resolveRef(response.$ref);
  return response.content[media].schema;
}

// ------------------------------------------------------------------------------------------------

describe("OpenAPI document against the running daemon", () => {
  let db: TestDatabase;
  let daemon: TestDaemon;
  let app: Express | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    const listen = express.application.listen;
    express.application.listen = function (this: Express, ...args: unknown[]) {
      app = this;
      return (listen as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof listen;
    try {
      // p3: the failed payout's exception is notified (stored: no webhook), so a notification can be checked too.
      // A report schedule: stored report 1 (the day before yesterday, empty) exists from start-up.
      daemon = await startTestDaemon({
        DATABASE_URL: db.url,
        NOTIFY_MIN_PRIORITY: "p3",
        REPORT_SCHEDULE: "daily@06:00",
      });
    } finally {
      express.application.listen = listen;
    }

    // Facts behind every kind of response: a settled collection, a failed payout with its exception.
    const post = api(daemon.baseUrl, "ingester");
    const collection = expectedPayment(1, {
      direction: "collection",
      currency: "EUR",
      gateway: "stripe",
      counterparty: "cust_77",
    });
    const payout = expectedPayment(3, {
      direction: "payout",
      currency: "EUR",
      gateway: "adyen",
      counterparty: "cust_77",
    });
    const ingest = async (topic: string, messages: unknown[]) => {
      const result = await post(`/api/v1/ingest/${topic}`, {
        method: "POST",
        body: messages.map((message) => JSON.stringify(message)).join("\n"),
      });
      expect(result.status).toBe(200);
      expect(result.body.rejected).toBe(0);
    };
    await ingest("payments.expected", [collection, payout]);
    await ingest("gateway.events", [
      gatewayEvent(3, { type: "payout.failed", gateway: "adyen", failure_code: "account_closed", currency: "EUR" }),
    ]);
    await ingest("bank.settlements", [bankEntry(1, { amount_minor: collection.amount_minor, currency: "EUR" })]);
    // The documented examples of a bank entry and a batch exist (CONTRACT §7 resources).
    await ingest("gateway.events", [
      {
        event_id: "evt_batch_example",
        gateway: "stripe",
        type: "settlement.batch",
        batch_id: "po_1QxYz",
        references: ["NOT-LISTED-1"],
        gross_minor: 10_000,
        fee_minor: 300,
        amount_minor: 9_700,
        currency: "EUR",
        occurred_at: isoDaysFromNow(-2),
        expected_arrival: dateDaysFromNow(0),
      },
    ]);
    await ingest("bank.settlements", [
      bankEntry(2, {
        entry_id: "DE89370400440532013000:20261201:h0a1b2c3d4e5f6a7b",
        amount_minor: 9_700,
        currency: "EUR",
        remittance_info: "STRIPE PAYOUT po_1QxYz",
      }),
    ]);
  });

  afterAll(async () => {
    await daemon?.stop();
    await db?.drop();
  });

  it("serves the document at /api/v1/openapi.json without a token", async () => {
    const response = await fetch(`${daemon.baseUrl}${OPENAPI_PATH}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await response.json()).toEqual(doc);
  });

  it("documents every route the app serves, and the app serves every documented operation", () => {
    expect(app, "the daemon's express app was not captured").toBeDefined();
    const served = appRoutes(app!);
    const documented = documentedOperations()
      .map(({ path, method }) => `${method.toUpperCase()} ${path}`)
      .sort();
    expect(served.length).toBeGreaterThan(5);
    expect(
      served.filter((route) => !documented.includes(route)),
      "served but not documented",
    ).toEqual([]);
    expect(
      documented.filter((route) => !served.includes(route)),
      "documented but not served",
    ).toEqual([]);
  });

  it("enforces exactly the documented roles on every operation", async () => {
    for (const { path, method, op } of documentedOperations()) {
      const url = `${daemon.baseUrl}${concrete(path, op)}`;
      const init: RequestInit = { method: method.toUpperCase() };
      if (op.requestBody?.content["application/json"]) {
        init.body = JSON.stringify({ action: "note", note: "role check" });
        init.headers = { "Content-Type": "application/json" };
      }
      const allowed: string[] | undefined = op["x-roles"];
      const anonymous = await fetch(url, init);
      if (op["x-browser-page"]) {
        // Pages answer people: the public page is open, the others challenge with Basic, in HTML.
        await anonymous.arrayBuffer();
        if (anonymous.status === 401) expect(anonymous.headers.get("www-authenticate")).toMatch(/^Basic/);
        else expect(anonymous.status, `${method} ${path}`).toBe(200);
        continue;
      }
      if (op["x-webhook"]) {
        // Authenticated by the gateway's signature: unsigned, it is refused (or unconfigured), never 401.
        await anonymous.arrayBuffer();
        expect([400, 503], `${method} ${path} unsigned`).toContain(anonymous.status);
        continue;
      }
      if (!allowed) {
        expect(anonymous.status, `${method} ${path} is open`).toBe(200);
        continue;
      }
      expect(anonymous.status, `${method} ${path} without a token`).toBe(401);
      expect(await anonymous.json()).toMatchObject({ error: { code: "unauthenticated" } });
      for (const role of ROLES) {
        const headers = new Headers(init.headers);
        headers.set("Authorization", `Bearer ${TOKENS[role]}`);
        const response = await fetch(url, { ...init, headers });
        await response.arrayBuffer();
        if (allowed.includes(role)) expect(response.status, `${method} ${path} as ${role}`).not.toBe(403);
        else expect(response.status, `${method} ${path} as ${role}`).toBe(403);
      }
    }
  });

  it("accepts every documented query parameter with its example value, alone and all together", async () => {
    let checked = 0;
    for (const { path, method, op } of documentedOperations()) {
      const query = (op.parameters ?? []).filter((p: Any) => p.in === "query");
      if (query.length === 0) continue;
      const call = api(daemon.baseUrl, op["x-roles"][0]);
      const combos = [
        ...query.map((p: Any) => [p]),
        query.filter((p: Any) => p.name !== "cursor"),
        query, // a cursor from another query is still a well-formed cursor
      ];
      for (const combo of combos) {
        const search = new URLSearchParams(combo.map((p: Any) => [p.name, String(p.example)])).toString();
        const result = await call(`${concrete(path, op)}?${search}`, { method: method.toUpperCase() });
        expect(result.status, `${method} ${path}?${search}: ${JSON.stringify(result.body)}`).toBe(200);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(20);
  });

  it("answers with bodies that fit the documented response schemas", async () => {
    const viewer = api(daemon.baseUrl, "viewer");
    const check = (path: string, method: string, status: string, body: unknown, media?: string) => {
      expect(validate(responseSchema(path, method, status, media), body), `${method} ${path} ${status}`).toEqual([]);
    };

    const payments = await viewer("/api/v1/payments");
    expect(payments.status).toBe(200);
    expect(payments.body.items.length).toBe(2);
    check("/api/v1/payments", "get", "200", payments.body);
    const paged = await viewer("/api/v1/payments?limit=1");
    expect(paged.body.next_cursor).toEqual(expect.any(String));
    check("/api/v1/payments", "get", "200", paged.body);

    for (const id of ["exp_1", "exp_3"]) {
      const payment = await viewer(`/api/v1/payments/${id}`);
      expect(payment.status).toBe(200);
      check("/api/v1/payments/{id}", "get", "200", payment.body);
    }
    expect((await viewer("/api/v1/payments/exp_1")).body.status).toBe("settled");
    expect((await viewer("/api/v1/payments/exp_3")).body).toMatchObject({
      status: "failed",
      failure_category: "account_closed",
    });

    const entries = await viewer("/api/v1/bank-entries");
    expect(entries.body.items.length).toBe(2);
    check("/api/v1/bank-entries", "get", "200", entries.body);
    for (const item of entries.body.items) {
      const entry = await viewer(`/api/v1/bank-entries/${encodeURIComponent(item.entry_id)}`);
      check("/api/v1/bank-entries/{entry_id}", "get", "200", entry.body);
    }
    const batch = await viewer("/api/v1/batches/po_1QxYz");
    // (The role check above unmatched the example entry from it as the operator: its entries may be none.)
    expect(batch.status).toBe(200);
    check("/api/v1/batches/{batch_id}", "get", "200", batch.body);

    const exceptions = await viewer("/api/v1/exceptions?state=all");
    expect(exceptions.status).toBe(200);
    expect(exceptions.body.items.length).toBeGreaterThan(0);
    check("/api/v1/exceptions", "get", "200", exceptions.body);
    // The failed payout's exception: open whatever else the facts raised and resolved on the way.
    const exceptionId = exceptions.body.items.find(
      (item: { kind: string; payment_id: string | null; state: string }) =>
        item.kind === "failed" && item.payment_id === "exp_3" && item.state === "open",
    )?.id;
    expect(exceptionId, JSON.stringify(exceptions.body.items)).toBeDefined();
    const one = await viewer(`/api/v1/exceptions/${exceptionId}`);
    check("/api/v1/exceptions/{id}", "get", "200", one.body);
    const acted = await api(daemon.baseUrl, "operator")(`/api/v1/exceptions/${exceptionId}/actions`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ action: "acknowledge", note: "looking into it" }),
    });
    expect(acted.status).toBe(200);
    expect(acted.body.state).toBe("acknowledged");
    expect(acted.body.audit.length).toBeGreaterThan(0);
    check("/api/v1/exceptions/{id}/actions", "post", "200", acted.body);

    // Follow-up: the failed payout's dunning record, a contact on it, and the notification of its exception.
    await daemon.followUp.runOnce();
    const dunning = await viewer("/api/v1/dunning?state=open");
    expect(dunning.body.items.map((item: { payment_id: string }) => item.payment_id)).toEqual(["exp_3"]);
    check("/api/v1/dunning", "get", "200", dunning.body);
    check("/api/v1/dunning/{id}", "get", "200", (await viewer(`/api/v1/dunning/${dunning.body.items[0].id}`)).body);
    const contacted = await api(daemon.baseUrl, "operator")(`/api/v1/exceptions/${exceptionId}/actions`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ action: "contacted", channel: "email", note: "asked for new bank details" }),
    });
    expect(contacted.status).toBe(200);
    expect(contacted.body.dunning.contacts).toHaveLength(1);
    check("/api/v1/exceptions/{id}/actions", "post", "200", contacted.body);
    const notifications = await viewer("/api/v1/notifications");
    expect(notifications.body.items.map((item: { kind: string }) => item.kind)).toContain("exception_opened");
    check("/api/v1/notifications", "get", "200", notifications.body);
    const notification = await viewer(`/api/v1/notifications/${notifications.body.items[0].id}`);
    check("/api/v1/notifications/{id}", "get", "200", notification.body);

    const stored = await viewer("/api/v1/reports");
    expect(stored.body.items).toHaveLength(1);
    check("/api/v1/reports", "get", "200", stored.body);
    check("/api/v1/reports/{id}", "get", "200", (await viewer(`/api/v1/reports/${stored.body.items[0].id}`)).body);

    const report = await viewer(`/api/v1/reports/reconciliation?from=${dateDaysFromNow(-30)}&to=${dateDaysFromNow(1)}`);
    expect(report.status).toBe(200);
    expect(report.body.rows.length).toBeGreaterThan(0);
    check("/api/v1/reports/reconciliation", "get", "200", report.body);
    const csv = await fetch(`${daemon.baseUrl}/api/v1/reports/reconciliation?format=csv`, {
      headers: { Authorization: `Bearer ${TOKENS.viewer}` },
    });
    expect(csv.headers.get("content-type")).toMatch(/^text\/csv/);
    expect(Object.keys(responseSchema("/api/v1/reports/reconciliation", "get", "200", "text/csv"))).toContain("type");

    const counterparty = await viewer("/api/v1/counterparties/cust_77");
    expect(counterparty.status).toBe(200);
    check("/api/v1/counterparties/{id}", "get", "200", counterparty.body);
    expect(counterparty.body.risk).toMatch(/^[A-D]$/);
    const counterparties = await viewer("/api/v1/counterparties?sort=risk");
    expect(counterparties.status).toBe(200);
    check("/api/v1/counterparties", "get", "200", counterparties.body);

    const ingested = await api(daemon.baseUrl, "ingester")("/api/v1/ingest/bank.settlements", {
      method: "POST",
      body: `${JSON.stringify(bankEntry(9))}\n{"not":"an entry"}\n`,
    });
    check("/api/v1/ingest/{topic}", "post", "200", ingested.body);

    const healthz = await api(daemon.baseUrl, null)("/healthz");
    check("/healthz", "get", "200", healthz.body);
    const readyz = await api(daemon.baseUrl, null)("/readyz");
    check("/readyz", "get", "200", readyz.body);

    // Errors: {error: {code, message}} with the documented status.
    const errors: Array<[string, string, string, Awaited<ReturnType<ReturnType<typeof api>>>]> = [
      ["/api/v1/payments", "get", "401", await api(daemon.baseUrl, null)("/api/v1/payments")],
      ["/api/v1/payments", "get", "403", await api(daemon.baseUrl, "ingester")("/api/v1/payments")],
      ["/api/v1/payments", "get", "400", await viewer("/api/v1/payments?limit=0")],
      ["/api/v1/payments/{id}", "get", "404", await viewer("/api/v1/payments/nope")],
      ["/api/v1/counterparties/{id}", "get", "404", await viewer("/api/v1/counterparties/nobody")],
      ["/api/v1/exceptions/{id}", "get", "400", await viewer("/api/v1/exceptions/abc")],
    ];
    for (const [path, method, status, result] of errors) {
      expect(String(result.status), `${method} ${path}`).toBe(status);
      check(path, method, status, result.body);
    }
  });

  it("finds what the validator is for: an undocumented or missing field is reported", () => {
    const schema = { $ref: "#/components/schemas/Error" };
    expect(validate(schema, { error: { code: "x", message: "y" } })).toEqual([]);
    expect(validate(schema, { error: { code: "x" } })).toEqual(["$.error.message: required, missing"]);
    expect(validate(schema, { error: { code: "x", message: "y", extra: 1 } })).toEqual([
      "$.error.extra: not documented",
    ]);
  });
});
