import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, SECRET_VARIABLES } from "../../src/config.js";
import { formatDuration, parseDuration } from "../../src/durations.js";
import { createLogger } from "../../src/logger.js";

describe("durations", () => {
  it.each([
    ["500ms", 500],
    ["30s", 30_000],
    ["15m", 900_000],
    ["72h", 259_200_000],
    ["3d", 259_200_000],
  ])("%s is %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
    expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
  it.each(["", "3", "3 d", "-1s", "1.5h", "10w", "h"])("rejects %j", (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe("loadConfig", () => {
  it("reads the gateway adapters' secrets as lists (two while one is rolled) and switches raw topics off when empty", () => {
    const config = loadConfig({
      STRIPE_WEBHOOK_SECRETS: " whsec_old , whsec_new ",
      ADYEN_HMAC_KEYS: "44782DEF547AAA06,00ff",
      TOPIC_RAW_STRIPE: "",
      TOPIC_RAW_ADYEN: "bridge.adyen",
    });
    expect(config.gateways.stripe.webhookSecrets).toEqual(["whsec_old", "whsec_new"]);
    expect(config.gateways.adyen.hmacKeys).toEqual(["44782DEF547AAA06", "00ff"]);
    expect(config.topics.rawStripe).toBeUndefined();
    expect(config.topics.rawAdyen).toBe("bridge.adyen");
    expect(() => loadConfig({ ADYEN_HMAC_KEYS: "not-hex" })).toThrow(/ADYEN_HMAC_KEYS: each key must be hex/);
    expect(() => loadConfig({ STRIPE_API_URL: "nope" })).toThrow(/STRIPE_API_URL/);
  });

  it("has the CONTRACT defaults", () => {
    const config = loadConfig({});
    expect(config.databaseUrl).toBeUndefined();
    expect(config.dataDir).toBe("./.payrecon");
    expect(config.databaseStatementTimeoutMs).toBe(30_000);
    expect(config.kafka).toBeUndefined();
    expect(config.topics).toEqual({
      expected: "payments.expected",
      gateway: "gateway.events",
      bank: "bank.settlements",
      dlq: "payrecon.dlq",
      findings: "payrecon.findings",
      rawStripe: "gateway.raw.stripe",
      rawAdyen: "gateway.raw.adyen",
    });
    expect(config.gateways).toEqual({
      stripe: {
        webhookSecrets: [],
        webhookToleranceMs: parseDuration("5m"),
        apiKey: undefined,
        apiUrl: "https://api.stripe.com",
        apiVersion: "2024-06-20",
        payoutFetchIntervalMs: parseDuration("1m"),
      },
      adyen: { hmacKeys: [] },
    });
    expect(config.http.port).toBe(8080);
    expect(config.http.tokens).toEqual([]);
    expect(config.policy).toMatchObject({
      holdThresholdMs: parseDuration("72h"),
      matchWindowMs: parseDuration("3d"),
      unmatchedGraceMs: parseDuration("24h"),
      amountToleranceMinor: 0,
      // CONTRACT §8: no schedule, no fee checks; FEE_TOLERANCE 2%.
      feeSchedule: [],
      feeTolerancePpm: 20_000,
      // CONTRACT §8 "FX": FX_TOLERANCE 1%, no reference rates.
      fxTolerancePpm: 10_000,
      fxReferenceRates: {},
    });
    expect(config.sweepIntervalMs).toBe(parseDuration("30s"));
    expect(config.alertmanagerUrl).toBeUndefined();
    // Every partition of a fetch stored in one group: kafkajs fetches again only when all of them are stored.
    expect(loadConfig({ KAFKA_BROKERS: "k:9092" }).kafka).toMatchObject({ partitionsConcurrency: 256, maxWaitMs: 100 });
  });

  it("parses every variable", () => {
    const config = loadConfig({
      KAFKA_BROKERS: "k1:9092, k2:9093",
      KAFKA_CLIENT_ID: "c",
      KAFKA_GROUP_ID: "g",
      KAFKA_SSL: "true",
      KAFKA_SASL_MECHANISM: "scram-sha-512",
      KAFKA_SASL_USERNAME: "u",
      KAFKA_SASL_PASSWORD: "p",
      API_TOKENS: "viewer:abc,operator:def,ingester:ghi",
      HOLD_THRESHOLD: "48h",
      AMOUNT_TOLERANCE_MINOR: "5",
      AMOUNT_TOLERANCE_BY_GATEWAY: "stripe:100",
      DATABASE_STATEMENT_TIMEOUT: "2s",
      FEE_SCHEDULE: "stripe:EUR=1.4%+25, stripe:*=2.9%+30,adyen:*=0.6%+12",
      FEE_TOLERANCE: "0.5%",
      FX_TOLERANCE: "1.5%",
      FX_REFERENCE_RATES: "EURUSD=1.0842, GBPEUR=1.17",
    });
    expect(config.policy.fxTolerancePpm).toBe(15_000);
    expect(config.policy.fxReferenceRates).toEqual({ EURUSD: 1.0842, GBPEUR: 1.17 });
    expect(config.policy.feeSchedule).toEqual([
      { gateway: "stripe", currency: "EUR", percentPpm: 14_000, fixedMinor: 25 },
      { gateway: "stripe", currency: "*", percentPpm: 29_000, fixedMinor: 30 },
      { gateway: "adyen", currency: "*", percentPpm: 6_000, fixedMinor: 12 },
    ]);
    expect(config.policy.feeTolerancePpm).toBe(5_000);
    expect(config.kafka).toMatchObject({
      brokers: ["k1:9092", "k2:9093"],
      clientId: "c",
      groupId: "g",
      ssl: true,
      sasl: { mechanism: "scram-sha-512", username: "u", password: "p" },
    });
    expect(config.http.tokens.map((token) => token.role)).toEqual(["viewer", "operator", "ingester"]);
    expect(config.policy.holdThresholdMs).toBe(48 * 3_600_000);
    expect(config.policy.amountToleranceByGateway).toEqual({ stripe: 100 });
    expect(config.databaseStatementTimeoutMs).toBe(2_000);
  });

  it.each([
    ["HOLD_THRESHOLD", "72 hours"],
    ["SWEEP_INTERVAL", "often"],
    ["HTTP_PORT", "70000"],
    ["KAFKA_BROKERS", "localhost"],
    ["API_TOKENS", "admin:secret"],
    ["AMOUNT_TOLERANCE_MINOR", "-1"],
    ["DATABASE_URL", "not a url"],
    ["KAFKA_SASL_USERNAME", "only-half"],
    ["DATABASE_STATEMENT_TIMEOUT", "30"],
    ["FEE_SCHEDULE", "stripe=1.4%+25"],
    ["FEE_SCHEDULE", "stripe:EUR=1.4%+25,stripe:EUR=2%"],
    ["FEE_SCHEDULE", "stripe:eur=1.4%"],
    ["FEE_TOLERANCE", "0.02"],
    ["FX_TOLERANCE", "1"],
    ["FX_REFERENCE_RATES", "EUR/USD=1.08"],
    ["FX_REFERENCE_RATES", "EURUSD=1.08,USDEUR=0.92"],
    ["FX_REFERENCE_RATES", "EUREUR=1"],
    ["FX_REFERENCE_RATES", "EURUSD=0"],
  ])("a bad %s is one line naming it", (variable, value) => {
    let error: unknown;
    try {
      loadConfig({ [variable]: value });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).not.toContain("\n");
    expect(message).toContain(variable === "KAFKA_SASL_USERNAME" ? "KAFKA_SASL" : variable);
    if (variable === "API_TOKENS") expect(message).not.toContain("secret");
  });

  it("stops the binary with exit code 2 and one line on stderr", () => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
    const result = spawnSync(process.execPath, ["--import", "tsx", "src/main.ts", "start"], {
      cwd: root,
      env: { PATH: process.env.PATH ?? "", MATCH_WINDOW: "three days" },
      encoding: "utf8",
    });
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toContain("MATCH_WINDOW");
  });
});

describe("API_TOKENS roles", () => {
  it("refuses a token given two roles, naming API_TOKENS and never the token", () => {
    const attempt = () => loadConfig({ API_TOKENS: "viewer:s3cret,operator:s3cret" });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/^invalid configuration: API_TOKENS: one token is given two roles \(viewer and operator\)/);
    expect(attempt).not.toThrow(/s3cret/);
    // The same pair twice is one principal, not a conflict.
    expect(loadConfig({ API_TOKENS: "viewer:v,viewer:v,operator:o" }).http.tokens.map((t) => t.role)).toEqual([
      "viewer",
      "viewer",
      "operator",
    ]);
  });

  it("stops `payrecon start` with one line naming API_TOKENS and exit code 2", () => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
    const result = spawnSync(process.execPath, ["--import", "tsx", "src/main.ts", "start"], {
      cwd: root,
      // A DATA_DIR never created (start-up stops before it), and a deadline: the old code started the daemon.
      env: { PATH: process.env.PATH ?? "", API_TOKENS: "viewer:v,operator:v", DATA_DIR: path.join(tmpdir(), "never") },
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split("\n")).toEqual([
      "payrecon: invalid configuration: API_TOKENS: one token is given two roles (viewer and operator); each token has one role",
    ]);
  });
});

describe("*_FILE secrets", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "payrecon-secrets-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const secretFile = (name: string, text: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, text, { mode: 0o600 });
    return file;
  };

  it("reads each secret from the file its _FILE variable names, without the final newline", () => {
    const config = loadConfig({
      DATABASE_URL_FILE: secretFile("db", "postgres://u:p@db:5432/payrecon\n"),
      KAFKA_BROKERS: "k:9092",
      KAFKA_SASL_MECHANISM: "plain",
      KAFKA_SASL_USERNAME: "svc",
      KAFKA_SASL_PASSWORD_FILE: secretFile("sasl", "pa ss\n"),
      API_TOKENS_FILE: secretFile("tokens", "viewer:v,operator:o\r\n"),
      STRIPE_WEBHOOK_SECRETS_FILE: secretFile("whsec", "whsec_a,whsec_b"),
      STRIPE_API_KEY_FILE: secretFile("stripe", "rk_live_x\n"),
      ADYEN_HMAC_KEYS_FILE: secretFile("adyen", "00ff\n"),
    });
    expect(config.databaseUrl).toBe("postgres://u:p@db:5432/payrecon");
    expect(config.kafka?.sasl).toEqual({ mechanism: "plain", username: "svc", password: "pa ss" });
    expect(config.http.tokens).toEqual([
      { role: "viewer", token: "v" },
      { role: "operator", token: "o" },
    ]);
    expect(config.gateways.stripe.webhookSecrets).toEqual(["whsec_a", "whsec_b"]);
    expect(config.gateways.stripe.apiKey).toBe("rk_live_x");
    expect(config.gateways.adyen.hmacKeys).toEqual(["00ff"]);
  });

  it.each(SECRET_VARIABLES)("refuses both %s and its _FILE set", (name) => {
    const file = secretFile(`both-${name}`, "x");
    expect(() => loadConfig({ [name]: "y", [`${name}_FILE`]: file })).toThrow(
      `invalid configuration: ${name}_FILE: ${name} is set too; set one of them`,
    );
  });

  it("names the variable and the file it cannot read; a file's contents are validated like the variable", () => {
    const missing = path.join(dir, "missing");
    expect(() => loadConfig({ API_TOKENS_FILE: missing })).toThrow(
      `invalid configuration: API_TOKENS_FILE: cannot read ${missing} (ENOENT)`,
    );
    expect(() => loadConfig({ ADYEN_HMAC_KEYS_FILE: secretFile("bad-hex", "zz") })).toThrow(
      /ADYEN_HMAC_KEYS: each key/,
    );
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("log lines", () => {
  it('name their level ("level":"info"), as log shippers and people expect', () => {
    const lines: string[] = [];
    const log = createLogger("info", { write: (line: string) => void lines.push(line) });
    log.info("hello");
    log.error("oops");
    expect(lines.map((line) => JSON.parse(line).level)).toEqual(["info", "error"]);
  });
});
