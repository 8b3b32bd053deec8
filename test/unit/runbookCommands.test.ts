import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  composeServicesUsed,
  curlProblem,
  type DocCommand,
  docCommands,
  payreconProblem,
} from "../support/docCommands.js";
import { repoRoot } from "./monitoring/tools.js";

/**
 * Every command a runbook tells on-call to run exists and accepts what is shown: payrecon subcommands and
 * flags through the CLI's own parsers (import formats included: a runbook once said to import a camt.052),
 * curl endpoints and query parameters through the OpenAPI document, `docker compose run` services through
 * docker-compose.yml.
 */

const runbookDir = path.join(repoRoot, "docs", "runbooks");
const commands: DocCommand[] = readdirSync(runbookDir)
  .filter((name) => name.endsWith(".md"))
  .flatMap((name) => docCommands(`docs/runbooks/${name}`, readFileSync(path.join(runbookDir, name), "utf8")));

describe("runbook commands", () => {
  it("finds the commands (payrecon, curl, docker compose run, a Kubernetes Job)", () => {
    expect(commands.filter((c) => c.kind === "payrecon" && !c.mention).length).toBeGreaterThanOrEqual(6);
    expect(commands.filter((c) => c.kind === "curl").length).toBeGreaterThanOrEqual(8);
    expect(commands.some((c) => c.text.startsWith("Job "))).toBe(true);
    expect(commands.some((c) => c.text.startsWith("docker compose run"))).toBe(true);
  });

  it("every payrecon command names a subcommand that exists, with flags and formats it accepts", () => {
    const problems = commands
      .filter((c) => c.kind === "payrecon")
      .flatMap((c) => {
        const problem = payreconProblem(c.args, c.mention);
        return problem ? [`${c.file}: ${c.text}: ${problem}`] : [];
      });
    expect(problems).toEqual([]);
  });

  it("every curl command calls an endpoint, method and query parameters of the API", () => {
    const problems = commands
      .filter((c) => c.kind === "curl")
      .flatMap((c) => {
        const problem = curlProblem(c.args);
        return problem ? [`${c.file}: ${c.text}: ${problem}`] : [];
      });
    expect(problems).toEqual([]);
  });

  it("docker compose run names the compose service that runs the payrecon image", () => {
    const compose = parse(readFileSync(path.join(repoRoot, "docker-compose.yml"), "utf8")) as {
      services: Record<string, { build?: unknown }>;
    };
    expect(composeServicesUsed.size).toBeGreaterThan(0);
    for (const service of composeServicesUsed) expect(compose.services[service]?.build, service).toBe(".");
  });

  it("the checks catch what they are for", () => {
    expect(payreconProblem(["import", "camt052", "statement.xml", "--bank", "bank_a"], false)).toMatch(
      /unknown format/,
    );
    expect(payreconProblem(["report", "--since", "2026-11-01"], false)).toMatch(/--since/);
    expect(payreconProblem(["reconcile"], true)).toMatch(/no subcommand/);
    expect(payreconProblem(["migrate", "--dry-run"], false)).toMatch(/--dry-run/);
    expect(curlProblem(["-s", "http://payrecon:8080/api/v1/exception?state=open"])).toMatch(/no endpoint/);
    expect(curlProblem(["-s", "http://payrecon:8080/api/v1/exceptions?status=open"])).toMatch(/no query parameter/);
    expect(curlProblem(["-X", "DELETE", "http://payrecon:8080/api/v1/payments/p1"])).toMatch(/DELETE/);
    expect(curlProblem(["-s", "http://payrecon:8080/api/v1/payments/<payment_id>"])).toBeUndefined();
    expect(payreconProblem(["import", "camt052"], true)).toMatch(/unknown format/);
  });
});
