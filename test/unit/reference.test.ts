import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { SECRET_VARIABLES } from "../../src/config.js";
import {
  commandFlags,
  configKeys,
  defaultTopics,
  endpoints,
  exceptionKinds,
  failureCategories,
  messageFields,
  metrics,
  paymentStatuses,
  USAGES,
} from "../support/referenceTruth.js";
import { repoRoot } from "./monitoring/tools.js";

/**
 * docs/reference.md is the product's reference in the repository: every name in it exists in the code and
 * every name in the code is in it (topics, message fields, statuses, exception kinds, failure categories,
 * endpoints, metrics, configuration, commands and flags).
 */

const reference = readFileSync(path.join(repoRoot, "docs", "reference.md"), "utf8");

/** The text under a heading, up to the next heading of the same or a higher level. */
function section(title: string, level = 2): string {
  const marker = `${"#".repeat(level)} ${title}\n`;
  const start = reference.indexOf(marker);
  if (start === -1) throw new Error(`docs/reference.md has no "${marker.trim()}"`);
  const rest = reference.slice(start + marker.length);
  const next = rest.search(new RegExp(`^#{1,${level}} `, "m"));
  return next === -1 ? rest : rest.slice(0, next);
}

/** Table rows of a section: their cells, trimmed (header and rule rows left out). */
function rows(text: string): string[][] {
  return text
    .split("\n")
    .filter((line) => line.startsWith("| `"))
    .map((line) =>
      line
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim()),
    );
}

/** Every `name` in a cell. */
const codeIn = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1]!);
const firstCells = (text: string) => rows(text).flatMap((cells) => codeIn(cells[0]!));
const sorted = (values: Iterable<string>) => [...values].sort();

describe("docs/reference.md agrees with the code", () => {
  it("configuration: every variable of the schema, and no other (the *_FILE variants of secrets aside)", () => {
    const files = new Set(SECRET_VARIABLES.map((name) => `${name}_FILE`));
    const documented = firstCells(section("Configuration")).filter((name) => !files.has(name));
    expect(sorted(new Set(documented))).toEqual(configKeys());
  });

  it("metrics: every metric payrecon registers, with its type, and no other", async () => {
    const documented = rows(section("Metrics")).map((cells) => `${codeIn(cells[0]!)[0]} ${cells[1]}`);
    expect(sorted(documented)).toEqual(sorted((await metrics()).map((metric) => `${metric.name} ${metric.type}`)));
  });

  it("HTTP: every operation of the OpenAPI document, and no other", () => {
    expect(sorted(firstCells(section("HTTP endpoints")))).toEqual(sorted(endpoints().map((e) => e.operation)));
  });

  it("command line: each command's help text verbatim, and every flag its parser accepts", () => {
    const cli = section("Command line");
    for (const [command, usage] of Object.entries(USAGES)) {
      expect(cli, `payrecon ${command} --help`).toContain(usage);
    }
    for (const [command, flags] of Object.entries(commandFlags())) {
      const help = USAGES[command]!;
      for (const flag of flags) expect(help, `payrecon ${command} --${flag}`).toContain(`--${flag}`);
    }
  });

  it("topics: every topic variable with its default, and no other", () => {
    const documented = rows(section("Topics")).map((cells) => [codeIn(cells[1]!)[0], codeIn(cells[0]!)[0]]);
    expect(Object.fromEntries(documented)).toEqual(defaultTopics());
  });

  it("payment statuses, exception kinds and failure categories (with retry advice)", () => {
    expect(firstCells(section("Payment statuses"))).toEqual(paymentStatuses());
    expect(firstCells(section("Exception kinds"))).toEqual(exceptionKinds());
    expect(rows(section("Failure categories")).map((cells) => cells.map((cell) => codeIn(cell)[0]))).toEqual(
      failureCategories().map((c) => [c.category, c.advice]),
    );
  });

  it("messages: every field of each message schema, required as the schema says", () => {
    for (const [message, fields] of Object.entries(messageFields())) {
      const documented = rows(section(message, 4)).map((cells) => ({
        name: codeIn(cells[0]!)[0],
        required: cells[1] === "yes",
      }));
      expect(documented, message).toEqual(fields.map((field) => ({ name: field.name, required: field.required })));
    }
  });

  it("the README sends readers to the reference in the repository, not to a file outside it", () => {
    const readme = readFileSync(path.join(repoRoot, "README.md"), "utf8");
    expect(readme).toContain("(docs/reference.md)");
    expect(readme).not.toContain("../shared/");
  });
});
