import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { ROLES } from "../../src/config.js";
import { OPENAPI_PATH, openApiDocument, schemaFromZod } from "../../src/http/openapi.js";
import { exceptionListQuery } from "../../src/http/routes/exceptions.js";
import { paymentListQuery } from "../../src/http/routes/payments.js";
import { reportQuery } from "../../src/http/routes/reports.js";
import { dunningListQuery } from "../../src/http/routes/dunning.js";
import { notificationListQuery } from "../../src/http/routes/notifications.js";
import { periodReportListQuery } from "../../src/http/routes/periodReports.js";
import { counterpartyListQuery } from "../../src/http/routes/creditRecords.js";
import { bankEntrySchema, expectedPaymentSchema } from "../../src/messages/schemas.js";

/** The OpenAPI document on its own: well-formed 3.1, references resolve, generated from the zod schemas. */

// biome-ignore lint/suspicious/noExplicitAny: the document is walked generically
type Any = any;

const doc = openApiDocument() as Any;
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

function operations(): Array<{ path: string; method: string; op: Any }> {
  return Object.entries(doc.paths as Record<string, Any>).flatMap(([path, item]) =>
    METHODS.filter((method) => item[method]).map((method) => ({ path, method, op: item[method] })),
  );
}

function resolvePointer(pointer: string): unknown {
  expect(pointer.startsWith("#/")).toBe(true);
  let node: Any = doc;
  for (const raw of pointer.slice(2).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (node === null || typeof node !== "object" || !(key in node)) return undefined;
    node = node[key];
  }
  return node;
}

function refsIn(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const item of node) refsIn(item, out);
  else if (node && typeof node === "object") {
    for (const [key, value] of Object.entries(node)) {
      if (key === "$ref" && typeof value === "string") out.push(value);
      else refsIn(value, out);
    }
  }
  return out;
}

const QUERY_SCHEMAS: Record<string, z.ZodType> = {
  "/api/v1/payments": paymentListQuery,
  "/api/v1/exceptions": exceptionListQuery,
  "/api/v1/reports/reconciliation": reportQuery,
  "/api/v1/dunning": dunningListQuery,
  "/api/v1/notifications": notificationListQuery,
  "/api/v1/reports": periodReportListQuery,
  "/api/v1/counterparties": counterpartyListQuery,
};

describe("OpenAPI document", () => {
  it("is OpenAPI 3.1 with info, paths, components and a bearer scheme", () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info).toMatchObject({ title: "payrecon", version: expect.any(String) });
    expect(Object.keys(doc.paths).length).toBeGreaterThan(5);
    expect(doc.components.securitySchemes.bearerAuth).toEqual(
      expect.objectContaining({ type: "http", scheme: "bearer" }),
    );
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
    expect(openApiDocument()).toEqual(doc);
  });

  it("gives every path operations, each with a unique operationId and described responses", () => {
    const ids = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths as Record<string, Any>)) {
      expect(path.startsWith("/")).toBe(true);
      expect(
        METHODS.some((method) => item[method]),
        path,
      ).toBe(true);
    }
    for (const { path, method, op } of operations()) {
      const where = `${method.toUpperCase()} ${path}`;
      expect(typeof op.operationId, where).toBe("string");
      expect(ids.has(op.operationId), where).toBe(false);
      ids.add(op.operationId);
      expect(Object.keys(op.responses ?? {}).length, where).toBeGreaterThan(0);
      // A status page form succeeds with 303 to its page (post/redirect/get); everything else with a 2xx.
      expect(
        Object.keys(op.responses).some(
          (status) => status.startsWith("2") || (op["x-browser-page"] && method === "post" && status === "303"),
        ),
        where,
      ).toBe(true);
      for (const [status, response] of Object.entries(op.responses as Record<string, Any>)) {
        expect(status, where).toMatch(/^[1-5]\d\d$/);
        const resolved = response.$ref ? (resolvePointer(response.$ref) as Any) : response;
        expect(typeof resolved?.description, `${where} ${status}`).toBe("string");
      }
    }
  });

  it("resolves every $ref", () => {
    const refs = refsIn(doc);
    expect(refs.length).toBeGreaterThan(20);
    for (const pointer of refs) expect(resolvePointer(pointer), pointer).toBeDefined();
  });

  it("declares each path template parameter, and only those", () => {
    for (const { path, method, op } of operations()) {
      const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]);
      const declared = (op.parameters ?? []).filter((p: Any) => p.in === "path");
      expect(declared.map((p: Any) => p.name).sort(), `${method} ${path}`).toEqual(inPath.sort());
      for (const parameter of declared) expect(parameter.required).toBe(true);
    }
  });

  it("documents the roles of every /api/v1 operation; health, metrics, webhooks and the document itself are open", () => {
    const open = new Set(["/healthz", "/readyz", "/metrics", OPENAPI_PATH]);
    for (const { path, method, op } of operations()) {
      const where = `${method} ${path}`;
      if (open.has(path)) {
        expect(op.security, where).toEqual([]);
        continue;
      }
      if (op["x-webhook"]) {
        // A gateway's webhook: authenticated by its signature, outside /api/v1, refused with 400 when unsigned.
        expect(path, where).toBe(`/webhooks/${op["x-webhook"]}`);
        expect(op.security, where).toEqual([]);
        expect(op.responses["400"], where).toBeDefined();
        continue;
      }
      if (op["x-browser-page"]) {
        // Pages for people: open, or a token as the Basic password; never under /api/v1.
        expect(path.startsWith("/api/"), where).toBe(false);
        expect(op.security, where).toContainEqual({ browserBasic: [] });
        continue;
      }
      expect(path.startsWith("/api/v1/"), where).toBe(true);
      expect(op["x-roles"].length, where).toBeGreaterThan(0);
      for (const role of op["x-roles"]) expect(ROLES).toContain(role);
      expect(op.security, where).toEqual(op["x-roles"].map((role: string) => ({ bearerAuth: [role] })));
      expect(op.responses["401"], where).toBeDefined();
      expect(op.responses["403"], where).toBeDefined();
    }
    const roles = (path: string, method = "get") => doc.paths[path][method]["x-roles"];
    expect(roles("/api/v1/ingest/{topic}", "post")).toEqual(["ingester"]);
    expect(roles("/api/v1/exceptions/{id}/actions", "post")).toEqual(["operator"]);
    expect(roles("/api/v1/payments")).toEqual(["viewer", "operator"]);
  });

  it("has the message schemas as components, generated from zod", () => {
    const schemas = doc.components.schemas;
    for (const name of ["ExpectedPayment", "Cancellation", "GatewayEvent", "BankEntry"])
      expect(schemas[name]).toBeDefined();
    expect(schemas.BankEntry).toEqual(schemaFromZod(bankEntrySchema));
    expect(schemas.ExpectedPayment.required).toEqual(
      expect.arrayContaining(["id", "direction", "amount_minor", "currency", "gateway", "reference", "created_at"]),
    );
    // What zod refinements mean is kept: integer minor units, RFC 3339 times, ISO dates.
    expect(schemas.BankEntry.properties.amount_minor).toMatchObject({ type: "integer", minimum: 1 });
    expect(schemas.BankEntry.properties.value_date).toMatchObject({ type: "string", format: "date" });
    expect(schemas.ExpectedPayment.properties.due_at).toMatchObject({ type: "string", format: "date-time" });
    expect(schemas.ExpectedPayment.properties.currency.pattern).toBe("^[A-Z]{3}$");
    expect(schemas.GatewayEvent.oneOf).toHaveLength(2);
    expect(schemas.Cancellation.properties.cancelled).toMatchObject({ const: true });
    // The same zod schema the ingest path validates with decides what the document says is required.
    const example = {
      id: "exp_1001",
      direction: "collection",
      amount_minor: 125000,
      currency: "EUR",
      gateway: "stripe",
      reference: "ORD-1001",
      created_at: "2026-11-20T10:00:00Z",
      due_at: "2026-11-24T17:00:00Z",
    };
    expect(expectedPaymentSchema.safeParse(example).success).toBe(true);
    for (const field of schemas.ExpectedPayment.required) {
      const { [field]: _dropped, ...without } = example as Record<string, unknown>;
      expect(expectedPaymentSchema.safeParse(without).success, field).toBe(false);
    }
  });

  it("takes the ingest body as NDJSON of the message schemas (statement summaries too), for the configured topics", () => {
    const op = doc.paths["/api/v1/ingest/{topic}"].post;
    const media = op.requestBody.content["application/x-ndjson"];
    expect(media.schema.oneOf.map((s: Any) => s.$ref)).toEqual([
      "#/components/schemas/ExpectedPayment",
      "#/components/schemas/Cancellation",
      "#/components/schemas/GatewayEvent",
      "#/components/schemas/BankEntry",
      "#/components/schemas/StatementSummary",
    ]);
    expect(op.parameters[0].schema.enum).toEqual([
      "payments.expected",
      "gateway.events",
      "bank.settlements",
      "gateway.raw.stripe",
      "gateway.raw.adyen",
    ]);
    const custom = openApiDocument({ topics: { expected: "a.exp", gateway: "a.gw", bank: "a.bank" } }) as Any;
    expect(custom.paths["/api/v1/ingest/{topic}"].post.parameters[0].schema.enum).toEqual(["a.exp", "a.gw", "a.bank"]);
  });

  it("describes payments, exceptions, list envelopes and errors with the contract's required fields", () => {
    const schemas = doc.components.schemas;
    expect(schemas.Payment.required).toEqual(
      expect.arrayContaining([
        "id",
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
      ]),
    );
    expect(schemas.PaymentDetail.allOf[1].required).toContain("timeline");
    expect(schemas.TimelineEntry.required).toEqual(["at", "source", "type"]);
    expect(schemas.Exception.required).toEqual(
      expect.arrayContaining([
        "id",
        "kind",
        "payment_id",
        "entry_id",
        "amount_minor",
        "currency",
        "opened_at",
        "state",
        "age_seconds",
        "audit",
      ]),
    );
    expect(schemas.Exception.properties.kind.enum).toEqual([
      "failed",
      "held",
      "delayed",
      "mismatch",
      "unmatched",
      "ambiguous",
      "duplicate",
      "unconfirmed",
      "conflict",
      "statement_imbalance",
      "statement_gap",
      "fee_variance",
    ]);
    expect(schemas.AuditEntry.required).toEqual(["at", "actor", "action", "note"]);
    for (const list of ["PaymentList", "ExceptionList"]) {
      expect(schemas[list].required).toEqual(["items", "next_cursor"]);
      expect(schemas[list].properties.next_cursor.anyOf).toContainEqual({ type: "null" });
    }
    expect(schemas.Error).toMatchObject({
      required: ["error"],
      properties: { error: { required: ["code", "message"] } },
    });
    for (const response of Object.values(doc.components.responses as Record<string, Any>)) {
      expect(response.content["application/json"].schema).toEqual({ $ref: "#/components/schemas/Error" });
    }
  });

  it("takes query parameters from the zod schemas, with examples those schemas accept", () => {
    for (const [path, schema] of Object.entries(QUERY_SCHEMAS)) {
      const parameters = doc.paths[path].get.parameters.filter((p: Any) => p.in === "query");
      const shape = Object.keys((schema as unknown as z.ZodObject).shape);
      expect(
        parameters.map((p: Any) => p.name),
        path,
      ).toEqual(shape);
      const all: Record<string, string> = {};
      for (const parameter of parameters) {
        expect(parameter.example, `${path} ${parameter.name}`).toBeDefined();
        // Query strings are text: the example as the server receives it.
        const value = String(parameter.example);
        all[parameter.name] = value;
        expect(schema.safeParse({ [parameter.name]: value }).success, `${path} ${parameter.name}=${value}`).toBe(true);
      }
      expect(schema.safeParse(all).success, path).toBe(true);
    }
    expect(doc.paths["/api/v1/payments"].get.parameters.find((p: Any) => p.name === "limit").schema).toMatchObject({
      type: "integer",
      minimum: 1,
      maximum: 500,
      default: 50,
    });
  });
});
