import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";

/**
 * The command line behaves like the tools operators know: help and the version do nothing else,
 * errors are one line with the documented exit code. Before, `payrecon start --help` started the
 * daemon and `payrecon migrate --help` applied migrations.
 */

const SUBCOMMANDS = ["start", "migrate", "report", "import", "simulate"] as const;
const VERSION = (
  JSON.parse(readFileSync(path.resolve(import.meta.dirname, "../../package.json"), "utf8")) as {
    version: string;
  }
).version;

const scratch = mkdtempSync(path.join(tmpdir(), "payrecon-cli-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A DATA_DIR that does not exist yet: a command that did anything would create it. */
const untouched = (name: string) => path.join(scratch, name);

/** A command that should return at once; one that starts a daemon instead is killed and fails the test. */
const run = (args: string[], env: Record<string, string> = {}) => runCli(args, env, 30_000);

describe("help", () => {
  it.each(SUBCOMMANDS)("%s --help and -h print the command's usage and do nothing else", async (command) => {
    const dataDir = untouched(`help-${command}`);
    const env = { DATA_DIR: dataDir };
    const [long, short] = await Promise.all([run([command, "--help"], env), run([command, "-h"], env)]);
    for (const result of [long, short]) {
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^usage: payrecon ${command}`));
      expect(result.stderr).toBe("");
    }
    expect(short.stdout).toBe(long.stdout);
    expect(existsSync(dataDir), "the data directory was created").toBe(false);
  });

  it("--help wins over other arguments and over a bad configuration", async () => {
    const result = await run(["import", "camt053", "missing.xml", "--help"], { HTTP_PORT: "not-a-port" });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^usage: payrecon import/);
  });

  it("help <command> prints that command's help; help alone, --help and -h the overview", async () => {
    const [helpReport, reportHelp, overview, long, short] = await Promise.all([
      run(["help", "report"]),
      run(["report", "--help"]),
      run(["help"]),
      run(["--help"]),
      run(["-h"]),
    ]);
    expect(helpReport.code).toBe(0);
    expect(helpReport.stdout).toBe(reportHelp.stdout);
    expect(helpReport.stdout).toMatch(/^usage: payrecon report/);
    expect(overview.code).toBe(0);
    expect(overview.stdout).toContain("usage: payrecon [command] [options]");
    expect(overview.stdout).toContain("exit codes:");
    expect(long.stdout).toBe(overview.stdout);
    expect(short.stdout).toBe(overview.stdout);
  });
});

describe("version", () => {
  it("--version, -v and version print the package version", async () => {
    const results = await Promise.all([run(["--version"]), run(["-v"]), run(["version"])]);
    for (const result of results) {
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toBe(`${VERSION}\n`);
    }
  });
});

describe("errors are one line with the documented exit code", () => {
  const cases: Array<{ args: string[]; env?: Record<string, string>; line: RegExp }> = [
    { args: ["nope"], line: /^payrecon: unknown command "nope" \(see payrecon --help\)$/ },
    { args: ["help", "nope"], line: /^payrecon: unknown command "nope"/ },
    {
      args: ["start", "--port", "1"],
      line: /^payrecon start: unexpected argument "--port" \(see payrecon start --help\)$/,
    },
    { args: ["migrate", "now"], line: /^payrecon migrate: unexpected argument "now"/ },
    {
      args: ["import", "csv", "x.csv"],
      line: /^payrecon import: unknown format "csv" .*\(see payrecon import --help\)$/,
    },
    { args: ["import", "mt940", "x.sta", "--nope"], line: /^payrecon import: Unknown option '--nope' \(see/ },
    { args: ["simulate", "--rate", "0"], line: /^payrecon simulate: --rate must be a positive number/ },
    { args: ["start"], env: { HTTP_PORT: "not-a-port" }, line: /^payrecon: invalid configuration: HTTP_PORT/ },
  ];
  it.each(cases)("$args exits 2 with one line", async ({ args, env, line }) => {
    const result = await run(args, { DATA_DIR: untouched(`error-${args.join("-")}`), ...env });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stdout).toBe("");
    const lines = result.stderr.trimEnd().split("\n");
    expect(lines, result.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(line);
  });
});

describe("the installed command", () => {
  it("package.json's bin runs from a checkout with nothing built, through a link as npm installs it", () => {
    const pkg = JSON.parse(readFileSync(path.resolve(import.meta.dirname, "../../package.json"), "utf8")) as {
      bin: { payrecon: string };
    };
    const link = path.join(scratch, "payrecon");
    symlinkSync(path.resolve(import.meta.dirname, "../..", pkg.bin.payrecon), link);
    // As npm's shim and `npm start` run it: through node, so the execute bit does not matter.
    const result = spawnSync(process.execPath, [link, "--version"], { encoding: "utf8", timeout: 30_000 });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toBe(`${VERSION}\n`);
  });
});
