import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { api, startTestDaemon, type TestDaemon, waitUntil } from "../support/daemon.js";

/**
 * examples/ as its README tells a reader to use it: each file through refresh-dates.mjs, posted to the
 * ingest endpoint; every payment reaches the status the README's table gives it. Then the files as they
 * are (dates of 2026-11) to a second database: the same statuses, since none depends on the day.
 */

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const examples = path.join(repoRoot, "examples");
const FILES = [
  ["expected.ndjson", "payments.expected"],
  ["gateway.ndjson", "gateway.events"],
  ["bank.ndjson", "bank.settlements"],
] as const;

/** The table in examples/README.md: payment id → status. */
function statusesInReadme(): Record<string, string> {
  const readme = readFileSync(path.join(examples, "README.md"), "utf8");
  return Object.fromEntries([...readme.matchAll(/^\| `(exp_[\w]+)` \| `(\w+)` \|/gm)].map((m) => [m[1]!, m[2]!]));
}

/** What the reader's pipeline sends: the file through refresh-dates.mjs (a Node process, like theirs). */
async function refreshed(file: string): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [path.join(examples, "refresh-dates.mjs"), path.join(examples, file)],
    {
      env: process.env,
    },
  );
  return stdout;
}

async function postAndCheck(daemon: TestDaemon, body: (file: string) => Promise<string>) {
  for (const [file, topic] of FILES) {
    const response = await api(daemon.baseUrl, "ingester")(`/api/v1/ingest/${topic}`, {
      method: "POST",
      body: await body(file),
    });
    expect(response.status, `${file}: ${JSON.stringify(response.body)}`).toBeLessThan(300);
  }
  const wanted = statusesInReadme();
  expect(Object.keys(wanted)).toHaveLength(5);
  const viewer = api(daemon.baseUrl, "viewer");
  const actual = await waitUntil(
    async () => {
      const statuses: Record<string, string> = {};
      for (const id of Object.keys(wanted)) statuses[id] = (await viewer(`/api/v1/payments/${id}`)).body?.status;
      return JSON.stringify(statuses) === JSON.stringify(wanted) ? statuses : false;
    },
    30_000,
    "the examples' statuses",
  ).catch(async (error) => {
    const now: Record<string, string> = {};
    for (const id of Object.keys(wanted)) now[id] = (await viewer(`/api/v1/payments/${id}`)).body?.status;
    throw new Error(`${String(error)}: ${JSON.stringify(now)}`);
  });
  expect(actual).toEqual(wanted);
  const failed = (await viewer("/api/v1/payments/exp_ex_2")).body;
  expect(failed).toMatchObject({ failure_category: "account_closed", retry_advice: "no" });
}

describe("examples/", () => {
  const databases: TestDatabase[] = [];
  const daemons: TestDaemon[] = [];
  const daemon = async () => {
    const db = await createTestDatabase();
    databases.push(db);
    const started = await startTestDaemon({ DATABASE_URL: db.url });
    daemons.push(started);
    return started;
  };
  afterAll(async () => {
    for (const d of daemons) await d.stop();
    for (const db of databases) await db.drop();
  });

  it("refresh-dates.mjs moves the newest example day to today and keeps the spacing", async () => {
    const text = await refreshed("expected.ndjson");
    const today = new Date().toISOString().slice(0, 10);
    const original = readFileSync(path.join(examples, "expected.ndjson"), "utf8");
    const shiftDays = (Date.parse(today) - Date.parse("2026-11-21")) / 86_400_000;
    const first = JSON.parse(text.split("\n")[0]!);
    const before = JSON.parse(original.split("\n")[0]!);
    expect((Date.parse(first.due_at) - Date.parse(before.due_at)) / 86_400_000).toBe(shiftDays);
    expect(Date.parse(first.due_at) - Date.parse(first.created_at)).toBe(
      Date.parse(before.due_at) - Date.parse(before.created_at),
    );
  });

  it("posted as the README says (dates refreshed), each payment reaches the status its table gives", async () => {
    await postAndCheck(await daemon(), refreshed);
  });

  it("posted as they are, the statuses are the same: none depends on the day", async () => {
    await postAndCheck(await daemon(), async (file) => readFileSync(path.join(examples, file), "utf8"));
  });
});
