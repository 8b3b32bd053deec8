import { parseArgs } from "node:util";
import type { Producer } from "kafkajs";
import type { Config } from "../config.js";
import { parseDuration } from "../durations.js";
import { createKafka } from "../kafka/client.js";
import type { Logger } from "../logger.js";
import { pushTo } from "../grouping.js";
import { currencyExponent, formatMajor, isCurrency } from "../messages/currencies.js";
import type { BankEntryInput } from "../messages/schemas.js";
import {
  generateScenario,
  type Incident,
  INCIDENT_KINDS,
  type PaymentTruth,
  type Scenario,
  seededRandom,
  shuffled,
} from "../simulate/scenario.js";
import { argsMessage, type Command, USAGE_ERROR, usageError } from "./types.js";
import { type RecordedContact, recordContacts } from "../simulate/contacts.js";
import type { ScenarioContact } from "../simulate/scenario.js";

/**
 * `payrecon simulate`: realistic, seeded traffic with scripted incidents,
 * into Kafka (when KAFKA_BROKERS is set) or a running daemon's HTTP ingest.
 * Prints what it sent, by intended outcome, to check against the report.
 */

export const SIMULATE_USAGE = `usage: payrecon simulate [options]

  --payments N        expected payments to send (default 2000)
  --rate N            messages per second (default 500)
  --duration D        instead of --payments: as many payments as fill D (e.g. 60s) at --rate
  --wave N            payments per wave (default 200); each wave is one generated day
  --seed N            random seed (default 1): the same seed sends the same traffic
  --gateways LIST     default stripe,adyen
  --currencies LIST   default EUR,USD,GBP,JPY,KWD
  --incidents LIST    kind@wave[:gateway], e.g. gateway_outage@3:adyen,hold_wave@5:stripe,bad_data@7,statement_missing@9
                      (default: one of each, spread over the run; "none" for none)
  --duplicates R      share of messages sent twice (default 0.03)
  --statements        after each wave, a statement summary per bank account and currency (CONTRACT §8), dated
                      one day apart: a wave whose statement never arrives leaves a gap the next one shows
  --url URL           daemon base URL for HTTP ingest (default http://127.0.0.1:$HTTP_PORT)
  --token TOKEN       ingester token for HTTP ingest (default: the ingester token in API_TOKENS)
  --operator-token T  operator token to record dunning contacts on two delayed collections (one promise already
                      passed: broken at the daemon's next follow-up; one running) through --url (default: the
                      operator token in API_TOKENS; none: no contacts)
  --json              print the summary as JSON
  -h, --help          this text

Without KAFKA_BROKERS the messages go to POST /api/v1/ingest/{topic}.`;

interface Options {
  payments: number;
  rate: number;
  wave: number;
  seed: number;
  gateways: string[];
  currencies: string[];
  incidents: Map<number, Incident>;
  duplicates: number;
  statements: boolean;
  url: string;
  token: string | undefined;
  operatorToken: string | undefined;
  json: boolean;
}

class UsageError extends Error {}

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new UsageError(`--${name} must be a positive number`);
  return value;
}

function parseIncidents(text: string | undefined, waves: number, gateways: string[]): Map<number, Incident> {
  const out = new Map<number, Incident>();
  if (text === "none") return out;
  if (text === undefined) {
    // One of each, spread over the run, so a demo shows every kind.
    const at = (share: number) => Math.max(1, Math.min(waves, Math.round(waves * share)));
    out.set(at(0.25), { kind: "gateway_outage", gateway: gateways[gateways.length - 1]! });
    out.set(at(0.5), { kind: "hold_wave", gateway: gateways[0]! });
    out.set(at(0.7), { kind: "bad_data" });
    out.set(at(0.9), { kind: "statement_missing" });
    return out;
  }
  for (const item of text
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean)) {
    const match = /^([a-z_]+)@(\d+)(?::([A-Za-z0-9_.-]+))?$/.exec(item);
    const kind = match?.[1] as (typeof INCIDENT_KINDS)[number] | undefined;
    if (!match || !kind || !INCIDENT_KINDS.includes(kind)) {
      throw new UsageError(
        `--incidents: "${item}" is not kind@wave[:gateway] with kind one of ${INCIDENT_KINDS.join(", ")}`,
      );
    }
    const wave = Number(match[2]);
    const gateway = match[3] ?? gateways[0]!;
    out.set(wave, kind === "gateway_outage" || kind === "hold_wave" ? { kind, gateway } : ({ kind } as Incident));
  }
  return out;
}

/** The flags `payrecon simulate` accepts. */
export const SIMULATE_OPTIONS = {
  payments: { type: "string" },
  rate: { type: "string" },
  wave: { type: "string" },
  seed: { type: "string" },
  gateways: { type: "string" },
  currencies: { type: "string" },
  incidents: { type: "string" },
  duplicates: { type: "string" },
  statements: { type: "boolean" },
  url: { type: "string" },
  token: { type: "string" },
  "operator-token": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  // Accepted for symmetry with --payments: a run's length in time at the given rate.
  duration: { type: "string" },
} as const;

function parseOptions(config: Config, args: string[]): Options | "help" {
  const { values } = parseArgs({ args, options: SIMULATE_OPTIONS, strict: true });
  if (values.help) return "help";
  const rate = positive("rate", values.rate, 500);
  const gateways = (values.gateways ?? "stripe,adyen")
    .split(",")
    .map((g) => g.trim())
    .filter(Boolean);
  if (gateways.some((g) => !/^[A-Za-z0-9_.-]+$/.test(g)))
    throw new UsageError("--gateways: names are letters, digits, _ . -");
  const currencies = (values.currencies ?? "EUR,USD,GBP,JPY,KWD").split(",").map((c) => c.trim().toUpperCase());
  const unknown = currencies.find((c) => !isCurrency(c));
  if (unknown) throw new UsageError(`--currencies: ${unknown} is not an ISO 4217 code`);
  let payments = Math.floor(positive("payments", values.payments, 2_000));
  if (values.duration !== undefined) {
    const ms = parseDuration(values.duration);
    if (ms === undefined) throw new UsageError("--duration must be a duration like 60s");
    // About 2.7 messages per payment in the generated mix.
    payments = Math.max(1, Math.floor(((ms / 1000) * rate) / 2.7));
  }
  const wave = Math.floor(positive("wave", values.wave, 200));
  const waves = Math.ceil(payments / wave);
  const duplicates = values.duplicates === undefined ? 0.03 : Number(values.duplicates);
  if (!(duplicates >= 0 && duplicates < 1)) throw new UsageError("--duplicates must be between 0 and 1");
  return {
    payments,
    rate,
    wave,
    seed: Math.floor(positive("seed", values.seed, 1)),
    gateways,
    currencies,
    incidents: parseIncidents(values.incidents, waves, gateways),
    duplicates,
    statements: values.statements ?? false,
    url: values.url ?? `http://127.0.0.1:${config.http.port}`,
    token: values.token ?? config.http.tokens.find((token) => token.role === "ingester")?.token,
    operatorToken: values["operator-token"] ?? config.http.tokens.find((token) => token.role === "operator")?.token,
    json: values.json ?? false,
  };
}

interface Message {
  kind: "expected" | "gateway" | "bank";
  key: string;
  value: string;
}

function messagesOf(scenario: Scenario): Message[] {
  return [
    ...scenario.expected.map((m) => ({ kind: "expected" as const, key: String(m.id), value: JSON.stringify(m) })),
    ...scenario.events.map((m) => ({
      kind: "gateway" as const,
      key: String("reference" in m ? m.reference : m.batch_id),
      value: JSON.stringify(m),
    })),
    ...scenario.entries.map((m) => ({ kind: "bank" as const, key: m.entry_id, value: JSON.stringify(m) })),
    ...scenario.statements.map((m) => ({ kind: "bank" as const, key: m.statement_id, value: JSON.stringify(m) })),
  ];
}

type Sender = (messages: Message[]) => Promise<void>;

async function kafkaSender(config: Config, log: Logger): Promise<{ send: Sender; close: () => Promise<void> }> {
  const producer: Producer = createKafka(config.kafka!, log).producer();
  await producer.connect();
  const topic = { expected: config.topics.expected, gateway: config.topics.gateway, bank: config.topics.bank };
  return {
    send: async (messages) => {
      await producer.sendBatch({
        acks: -1,
        topicMessages: (["expected", "gateway", "bank"] as const).map((kind) => ({
          topic: topic[kind],
          messages: messages.filter((m) => m.kind === kind).map(({ key, value }) => ({ key, value })),
        })),
      });
    },
    close: () => producer.disconnect(),
  };
}

function httpSender(config: Config, url: string, token: string): { send: Sender; close: () => Promise<void> } {
  const topic = { expected: config.topics.expected, gateway: config.topics.gateway, bank: config.topics.bank };
  return {
    send: async (messages) => {
      for (const kind of ["expected", "gateway", "bank"] as const) {
        const lines = messages.filter((m) => m.kind === kind).map((m) => m.value);
        if (lines.length === 0) continue;
        const response = await fetch(new URL(`/api/v1/ingest/${encodeURIComponent(topic[kind])}`, url), {
          method: "POST",
          headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/x-ndjson" },
          body: lines.join("\n"),
        });
        if (!response.ok)
          throw new Error(`ingest ${topic[kind]} answered ${response.status}: ${await response.text()}`);
      }
    },
    close: async () => {},
  };
}

/**
 * Statement summaries for a wave's bank lines, one per bank × account × currency, dated `date`: opening is the
 * account's running balance, closing that plus the booked lines (credits in, debits out). Lines withheld
 * (their statement never arrived) move the running balance without a statement, as the real account's would.
 */
export class StatementBook {
  private readonly balances = new Map<string, number>();

  private keyOf(line: BankEntryInput): string {
    return `${line.bank}\u0000${line.account}\u0000${line.currency}`;
  }

  private balance(key: string, currency: string): number {
    // A plausible opening balance: 100,000 major units.
    return this.balances.get(key) ?? 100_000 * 10 ** currencyExponent(currency);
  }

  private static net(line: BankEntryInput): number {
    if (line.status === "pending") return 0;
    return line.direction === "credit" ? line.amount_minor : -line.amount_minor;
  }

  withhold(lines: BankEntryInput[]): void {
    for (const line of lines) {
      const key = this.keyOf(line);
      this.balances.set(key, this.balance(key, line.currency) + StatementBook.net(line));
    }
  }

  statements(lines: BankEntryInput[], date: string, prefix: string): Array<Record<string, unknown>> {
    const groups = new Map<string, BankEntryInput[]>();
    for (const line of lines) pushTo(groups, this.keyOf(line), line);
    return [...groups].map(([key, group]) => {
      const first = group[0]!;
      const opening = this.balance(key, first.currency);
      const closing = group.reduce((sum, line) => sum + StatementBook.net(line), opening);
      this.balances.set(key, closing);
      return {
        type: "statement",
        statement_id: `${prefix}-${first.bank}-${first.currency}`,
        bank: first.bank,
        account: first.account,
        currency: first.currency,
        from_date: date,
        to_date: date,
        opening_booked_minor: opening,
        closing_booked_minor: closing,
        entry_ids: group.map((line) => line.entry_id),
      };
    });
  }
}

interface Tally {
  count: number;
  amountMinor: number;
}

function summarize(truths: PaymentTruth[]) {
  const rows = new Map<string, Map<string, Tally>>();
  for (const truth of truths) {
    const key = `${truth.gateway}|${truth.currency}|${truth.direction}`;
    const row = rows.get(key) ?? new Map<string, Tally>();
    for (const status of ["expected", truth.status]) {
      const tally = row.get(status) ?? { count: 0, amountMinor: 0 };
      tally.count++;
      tally.amountMinor += truth.amountMinor;
      row.set(status, tally);
    }
    rows.set(key, row);
  }
  return [...rows]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, tallies]) => {
      const [gateway, currency, direction] = key.split("|") as [string, string, string];
      return {
        gateway,
        currency,
        direction,
        statuses: Object.fromEntries(
          [...tallies].map(([status, tally]) => [
            status,
            { count: tally.count, amount_minor: tally.amountMinor, amount: formatMajor(tally.amountMinor, currency) },
          ]),
        ),
      };
    });
}

export const runSimulate: Command = async (config, log, args) => {
  let options: Options | "help";
  try {
    options = parseOptions(config, args);
  } catch (error) {
    return usageError("simulate", error instanceof UsageError ? error.message : argsMessage(error));
  }
  if (options === "help") {
    process.stdout.write(`${SIMULATE_USAGE}\n`);
    return 0;
  }
  if (!config.kafka && !options.token) {
    process.stderr.write("payrecon simulate: HTTP ingest needs an ingester token (--token, or API_TOKENS)\n");
    return USAGE_ERROR;
  }
  const sender = config.kafka ? await kafkaSender(config, log) : httpSender(config, options.url, options.token!);
  const progress = process.stderr.isTTY;
  const random = seededRandom(options.seed);
  const waves = Math.ceil(options.payments / options.wave);
  const truths: PaymentTruth[] = [];
  const sent = { expected: 0, gateway: 0, bank: 0, duplicates: 0, statements: 0 };
  const book = new StatementBook();
  // Statement days: the first wave's is `waves` days ago, the last one's yesterday.
  const statementDate = (wave: number) =>
    new Date(Date.now() - (waves - wave + 1) * 86_400_000).toISOString().slice(0, 10);
  const exceptions = { unmatched: 0, duplicate: 0, batchMismatch: 0, withheldBankLines: 0 };
  const incidents: string[] = [];
  const contacts: ScenarioContact[] = [];
  const began = Date.now();
  let total = 0;
  try {
    for (let wave = 1; wave <= waves; wave++) {
      const incident = options.incidents.get(wave);
      const scenario = generateScenario({
        seed: options.seed * 1_000 + wave,
        now: Date.now(),
        payments: Math.min(options.wave, options.payments - (wave - 1) * options.wave),
        gateways: options.gateways,
        currencies: options.currencies,
        prefix: `s${options.seed}w${wave}`,
        incident,
      });
      if (incident)
        incidents.push(`wave ${wave}: ${incident.kind}${"gateway" in incident ? ` at ${incident.gateway}` : ""}`);
      truths.push(...scenario.truth.values());
      if (contacts.length === 0) contacts.push(...scenario.contacts);
      exceptions.unmatched += scenario.unmatchedEntries.length;
      exceptions.duplicate += scenario.duplicateEntries.length;
      exceptions.batchMismatch += scenario.mismatchedBatches.length;
      exceptions.withheldBankLines += scenario.withheldEntries;
      const base = messagesOf(scenario);
      const again = base.filter(() => random() < options.duplicates);
      // Out of order, as at-least-once delivery from three systems is.
      const stream = shuffled([...base, ...again], random);
      sent.duplicates += again.length;
      for (let start = 0; start < stream.length; ) {
        const size = Math.max(1, Math.min(500, Math.round(options.rate / 4)));
        const chunk = stream.slice(start, start + size);
        await sender.send(chunk);
        for (const message of chunk) sent[message.kind]++;
        start += chunk.length;
        total += chunk.length;
        // Pace to the rate: the chunk's share of a second, minus what sending took.
        const due = began + (total / options.rate) * 1000;
        if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
        if (progress) {
          process.stderr.write(
            `\rwave ${wave}/${waves}${incident ? ` (${incident.kind})` : ""}: ${total} messages, ${Math.round((total * 1000) / Math.max(1, Date.now() - began))}/s   `,
          );
        }
      }
      if (options.statements) {
        // After the lines, as importers publish them; a withheld statement only moves the balances.
        book.withhold(scenario.withheldLines);
        const summaries = book.statements(scenario.entries, statementDate(wave), `s${options.seed}w${wave}-stmt`);
        if (summaries.length > 0) {
          await sender.send(
            summaries.map((summary) => ({
              kind: "bank",
              key: String(summary.statement_id),
              value: JSON.stringify(summary),
            })),
          );
          sent.statements += summaries.length;
          total += summaries.length;
        }
      }
    }
  } finally {
    await sender.close();
    if (progress) process.stderr.write("\n");
  }
  let dunning: RecordedContact[] = [];
  if (options.operatorToken && contacts.length > 0) {
    dunning = await recordContacts(options.url, options.operatorToken, contacts);
  }
  const summary = {
    dunning_contacts: dunning,
    target: config.kafka ? `kafka ${config.kafka.brokers.join(",")}` : `http ${options.url}`,
    seed: options.seed,
    seconds: Math.round((Date.now() - began) / 100) / 10,
    messages: { ...sent, total },
    payments: truths.length,
    incidents,
    expected_exceptions: exceptions,
    by_gateway_currency_direction: summarize(truths),
  };
  if (options.json) {
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  } else {
    const lines = [
      `sent ${total} messages to ${summary.target} in ${summary.seconds}s (seed ${options.seed}):`,
      `  ${sent.expected} expected payments, ${sent.gateway} gateway events, ${sent.bank} bank lines (${sent.duplicates} duplicates, out of order)${options.statements ? `, ${sent.statements} statement summaries` : ""}`,
      `  incidents: ${incidents.length ? incidents.join("; ") : "none"}`,
      `  bank lines that should be exceptions: ${exceptions.unmatched} unmatched, ${exceptions.duplicate} duplicate, ${exceptions.batchMismatch} batches paid short; ${exceptions.withheldBankLines} bank lines withheld (statement never arrived)`,
      "",
      `  dunning contacts: ${
        dunning.length === 0
          ? "none (no operator token)"
          : dunning.map((c) => `${c.payment_id} promised by ${c.promised_by} (${c.expect}): ${c.result}`).join("; ")
      }`,
      "",
      "intended outcome per gateway × currency × direction (count / amount), to compare with `payrecon report`:",
    ];
    for (const row of summary.by_gateway_currency_direction) {
      const cells = Object.entries(row.statuses)
        .map(([status, tally]) => `${status} ${tally.count}/${tally.amount}`)
        .join(", ");
      lines.push(`  ${row.gateway} ${row.currency} ${row.direction}: ${cells}`);
    }
    process.stdout.write(`${lines.join("\n")}\n`);
  }
  return 0;
};
