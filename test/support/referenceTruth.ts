import { configSchema } from "../../src/config.js";
import { IMPORT_USAGE } from "../../src/commands/import.js";
import { MIGRATE_USAGE } from "../../src/commands/migrate.js";
import { REPORT_USAGE } from "../../src/commands/report.js";
import { SIMULATE_USAGE } from "../../src/commands/simulate.js";
import { START_USAGE } from "../../src/commands/start.js";
import { openApiDocument, schemaFromZod } from "../../src/http/openapi.js";
import {
  bankEntrySchema,
  cancellationSchema,
  expectedPaymentSchema,
  gatewayEventSchema,
  statementSummarySchema,
} from "../../src/messages/schemas.js";
import { createMetrics } from "../../src/metrics/registry.js";
import { FAILURE_CATEGORIES, RETRY_ADVICE } from "../../src/reconcile/failureCodes.js";
import { EXCEPTION_KINDS, PAYMENT_STATUSES } from "../../src/reconcile/types.js";
import { COMMAND_OPTIONS } from "./docCommands.js";

/** What the code says, for comparison with docs/reference.md: names, not prose. */

export const configKeys = (): string[] => Object.keys(configSchema.shape).sort();

/** payrecon's own metrics (not the Node process defaults), with type and help. */
export async function metrics(): Promise<Array<{ name: string; type: string; help: string; labels: string[] }>> {
  const { registry } = createMetrics({ version: "0", commit: "x" });
  const json = await registry.getMetricsAsJSON();
  return json
    .filter((metric) => metric.name.startsWith("payrecon_"))
    .map((metric) => ({
      name: metric.name,
      type: String(metric.type),
      help: metric.help,
      labels: [...((registry.getSingleMetric(metric.name) as unknown as { labelNames?: string[] })?.labelNames ?? [])],
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

// biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document is plain JSON
const openApi = openApiDocument() as any;

export function endpoints(): Array<{ operation: string; summary: string; roles: string }> {
  const out: Array<{ operation: string; summary: string; roles: string }> = [];
  for (const [path, operations] of Object.entries(openApi.paths)) {
    // biome-ignore lint/suspicious/noExplicitAny: plain JSON
    for (const [method, operation] of Object.entries(operations as Record<string, any>)) {
      const security = (operation.security ?? []) as Array<Record<string, string[]>>;
      const roles = operation["x-roles"]
        ? (operation["x-roles"] as string[]).join(", ")
        : security.length === 0 || security.some((entry) => Object.keys(entry).length === 0)
          ? "anyone"
          : "viewer, operator";
      out.push({ operation: `${method.toUpperCase()} ${path}`, summary: operation.summary ?? "", roles });
    }
  }
  return out;
}

export const USAGES: Record<string, string> = {
  start: START_USAGE,
  migrate: MIGRATE_USAGE,
  report: REPORT_USAGE,
  import: IMPORT_USAGE,
  simulate: SIMULATE_USAGE,
};

export const commandFlags = (): Record<string, string[]> =>
  Object.fromEntries(Object.entries(COMMAND_OPTIONS).map(([command, options]) => [command, Object.keys(options)]));

// biome-ignore lint/suspicious/noExplicitAny: JSON schema
function typeOf(property: any): string {
  if (property.enum) return property.enum.map(String).join(" \\| ");
  if (property.anyOf) return property.anyOf.map(typeOf).join(" or ");
  if (property.format === "date-time") return "RFC 3339 time";
  if (property.format === "date") return "date";
  return String(property.type ?? "object");
}

/** Top-level fields of each message, as the zod schemas accept them (unions merged). */
export function messageFields(): Record<string, Array<{ name: string; required: boolean; type: string }>> {
  const fieldsOf = (schema: Parameters<typeof schemaFromZod>[0]) => {
    const json = schemaFromZod(schema) as {
      properties?: Record<string, { type?: unknown; enum?: unknown[] }>;
      required?: string[];
      oneOf?: unknown[];
      anyOf?: unknown[];
    };
    const variants = (json.oneOf ?? json.anyOf ?? [json]) as Array<typeof json>;
    const fields = new Map<string, { name: string; required: boolean; type: string }>();
    for (const variant of variants) {
      for (const [name, property] of Object.entries(variant.properties ?? {})) {
        const type = typeOf(property);
        const required = variants.every((v) => (v.required ?? []).includes(name));
        const known = fields.get(name);
        fields.set(name, { name, required, type: known && known.type !== type ? `${known.type} \\| ${type}` : type });
      }
    }
    return [...fields.values()];
  };
  return {
    ExpectedPayment: fieldsOf(expectedPaymentSchema),
    Cancellation: fieldsOf(cancellationSchema),
    GatewayEvent: fieldsOf(gatewayEventSchema),
    BankEntry: fieldsOf(bankEntrySchema),
    StatementSummary: fieldsOf(statementSummarySchema),
  };
}

export const paymentStatuses = (): string[] => [...PAYMENT_STATUSES];
export const exceptionKinds = (): string[] => [...EXCEPTION_KINDS];
export const failureCategories = (): Array<{ category: string; advice: string }> =>
  FAILURE_CATEGORIES.map((category) => ({ category, advice: RETRY_ADVICE[category] }));

export const defaultTopics = (): Record<string, string> => {
  const shape = configSchema.shape as Record<string, { parse: (v: undefined) => unknown }>;
  return Object.fromEntries(
    Object.keys(shape)
      .filter((key) => key.startsWith("TOPIC_"))
      .map((key) => [key, String(shape[key]!.parse(undefined))]),
  );
};
