import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { api, startTestDaemon, type TestDaemon, TOKENS, waitUntil } from "../support/daemon.js";
import { bankEntry, expectedPayment, gatewayEvent } from "../support/facts.js";

/**
 * Issue 8: the HTTP surface under hostile requests. Authentication answers
 * 401/403 in the JSON error shape; bodies over the limit 413; a slow client is
 * cut off while the server keeps answering; odd ids and paths are 400/404,
 * never 5xx; security headers are on every answer; and the log never holds a
 * token, an Authorization header or a bank account number.
 */

const ACCOUNT = "DE89370400440532013000";
const LONG_TOKEN = `t${"x".repeat(10_000)}`;
const SECRETS = [...Object.values(TOKENS), "not-a-token", "wrong-secret-token", LONG_TOKEN.slice(0, 200), ACCOUNT];

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: bodies are asserted field by field
  body: any;
}

/** node:http, so the path is sent exactly as written (fetch would normalize `..`). */
function send(
  baseUrl: string,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<Answer> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method, path, headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
      });
    });
    req.on("error", reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/** A raw request over a socket: what Node's HTTP parser refuses never reaches express. */
function raw(port: number, text: string | Buffer): Promise<{ status: number; head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let received = "";
    socket.on("data", (chunk) => {
      received += chunk.toString("latin1");
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      const [head = "", body = ""] = received.split("\r\n\r\n");
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head, body });
    });
    socket.write(text);
    setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to ${String(text).slice(0, 60)}`));
    }, 20_000).unref();
  });
}

function errorShape(answer: Pick<Answer, "status" | "body" | "headers">, status: number | number[], code?: string) {
  const statuses = Array.isArray(status) ? status : [status];
  expect(statuses, JSON.stringify(answer.body)).toContain(answer.status);
  expect(answer.headers["content-type"]).toMatch(/^application\/json/);
  expect(answer.body).toEqual({ error: { code: code ?? expect.any(String), message: expect.any(String) } });
}

describe("hostile HTTP", () => {
  let db: TestDatabase;
  let daemon: TestDaemon;
  let port: number;
  const logLines: string[] = [];
  let exceptionId: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    daemon = await startTestDaemon(
      { DATABASE_URL: db.url, HTTP_BODY_LIMIT: "256kb", API_RATE_LIMIT: "off", API_INGEST_RATE_LIMIT: "off" },
      { destination: { write: (line: string) => void logLines.push(line) }, level: "trace" },
    );
    port = Number(new URL(daemon.baseUrl).port);
    // A failed payout: an open exception for the actions endpoint, and a bank entry with an account number.
    const ingest = api(daemon.baseUrl, "ingester");
    const payout = expectedPayment(3, { id: "hh_payout", reference: "HH-PAYOUT", direction: "payout" });
    const failed = gatewayEvent(3, {
      event_id: "hh_failed",
      reference: "HH-PAYOUT",
      type: "payout.failed",
      amount_minor: payout.amount_minor,
      currency: payout.currency,
      failure_code: "account_closed",
    });
    await ingest("/api/v1/ingest/payments.expected", { method: "POST", body: JSON.stringify(payout) });
    await ingest("/api/v1/ingest/gateway.events", { method: "POST", body: JSON.stringify(failed) });
    const entries = [
      JSON.stringify(bankEntry(4, { entry_id: "HH-ENTRY", account: ACCOUNT })),
      JSON.stringify(bankEntry(5, { entry_id: "HH-BAD", account: ACCOUNT, currency: "eur" })),
    ].join("\n");
    const stored = await ingest("/api/v1/ingest/bank.settlements", { method: "POST", body: entries });
    expect(stored.body).toMatchObject({ accepted: 1, rejected: 1 });
    const open = await api(daemon.baseUrl, "operator")("/api/v1/exceptions?state=open&payment_id=hh_payout");
    expect(open.body.items).toHaveLength(1);
    exceptionId = open.body.items[0].id;
  });
  afterAll(async () => {
    await daemon?.stop();
    await db?.drop();
  });

  it("answers every malformed, wrong or missing credential with 401 and the JSON error shape", async () => {
    const path = "/api/v1/payments/hh_payout";
    const cases: Array<[string, Record<string, string>]> = [
      ["no header", {}],
      ["empty header", { Authorization: "" }],
      ["scheme only", { Authorization: "Bearer" }],
      ["scheme and spaces", { Authorization: "Bearer    " }],
      ["token without scheme", { Authorization: TOKENS.viewer }],
      ["wrong token", { Authorization: "Bearer not-a-token" }],
      ["two tokens", { Authorization: `Bearer ${TOKENS.viewer} ${TOKENS.viewer}` }],
      ["token plus garbage", { Authorization: `Bearer ${TOKENS.viewer}, Basic x` }],
      [
        "basic auth with the token as password",
        { Authorization: `Basic ${Buffer.from(`viewer:${TOKENS.viewer}`).toString("base64")}` },
      ],
      [
        "basic auth with the token as user",
        { Authorization: `Basic ${Buffer.from(`${TOKENS.viewer}:`).toString("base64")}` },
      ],
      ["another scheme", { Authorization: `Token ${TOKENS.viewer}` }],
      ["token prefix", { Authorization: `Bearer ${TOKENS.viewer.slice(0, -1)}` }],
      ["token plus a character", { Authorization: `Bearer ${TOKENS.viewer}x` }],
      ["a 10 kB token", { Authorization: `Bearer ${LONG_TOKEN}` }],
      ["token in a cookie", { Cookie: `token=${TOKENS.viewer}` }],
      ["token in another header", { "X-Api-Key": TOKENS.viewer }],
    ];
    for (const [name, headers] of cases) {
      const answer = await send(daemon.baseUrl, "GET", path, { headers });
      expect(answer.status, name).toBe(401);
      errorShape(answer, 401, "unauthenticated");
      expect(answer.headers["www-authenticate"], name).toMatch(/^Bearer realm="payrecon"/);
      expect(answer.text).not.toContain("hh_payout");
    }
    // A token in the query string is not a credential either.
    errorShape(await send(daemon.baseUrl, "GET", `${path}?token=${TOKENS.viewer}`), 401, "unauthenticated");
    errorShape(await send(daemon.baseUrl, "GET", `${path}?access_token=${TOKENS.viewer}`), 401, "unauthenticated");
  });

  it("is lenient only where the standard is: scheme case and extra spaces around the token", async () => {
    for (const header of [
      `bearer ${TOKENS.viewer}`,
      `BEARER ${TOKENS.viewer}`,
      `Bearer    ${TOKENS.viewer}   `,
      `Bearer\t${TOKENS.viewer}`,
    ]) {
      const answer = await send(daemon.baseUrl, "GET", "/api/v1/payments/hh_payout", {
        headers: { Authorization: header },
      });
      expect(answer.status, JSON.stringify(header)).toBe(200);
    }
  });

  it("answers 403 in the JSON shape for a valid token of the wrong role", async () => {
    const cases: Array<[keyof typeof TOKENS, string, string, string?]> = [
      ["ingester", "GET", "/api/v1/payments/hh_payout"],
      ["ingester", "GET", "/api/v1/exceptions?state=open"],
      ["ingester", "GET", "/api/v1/reports/reconciliation"],
      ["viewer", "POST", "/api/v1/ingest/payments.expected", JSON.stringify(expectedPayment(9))],
      ["operator", "POST", "/api/v1/ingest/payments.expected", JSON.stringify(expectedPayment(9))],
      ["viewer", "POST", `/api/v1/exceptions/${exceptionId}/actions`, '{"action":"resolve"}'],
      ["ingester", "POST", `/api/v1/exceptions/${exceptionId}/actions`, '{"action":"resolve"}'],
    ];
    for (const [role, method, path, body] of cases) {
      const answer = await send(daemon.baseUrl, method, path, {
        headers: { Authorization: `Bearer ${TOKENS[role]}`, "Content-Type": "application/json" },
        body,
      });
      expect(answer.status, `${role} ${method} ${path}`).toBe(403);
      errorShape(answer, 403, "forbidden");
    }
    // Nothing was acted on.
    const after = await api(daemon.baseUrl, "operator")(`/api/v1/exceptions/${exceptionId}`);
    expect(after.body.state).toBe("open");
  });

  it("answers headers over Node's 16 kB limit with 431 in the JSON shape, and malformed requests with 400", async () => {
    const huge = await raw(
      port,
      `GET /api/v1/payments/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${"y".repeat(64_000)}\r\n\r\n`,
    );
    expect(huge.status).toBe(431);
    expect(JSON.parse(huge.body)).toEqual({ error: { code: "headers_too_large", message: expect.any(String) } });
    const garbage = await raw(port, "\u0000\u0001 not http at all\r\n\r\n");
    expect(garbage.status).toBe(400);
    expect(JSON.parse(garbage.body)).toMatchObject({ error: { code: "bad_request" } });
    const badMethod = await raw(port, "FOO /api/v1/payments/x HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(badMethod.status).toBe(400);
    expect(JSON.parse(badMethod.body)).toMatchObject({ error: { code: "bad_request" } });
    expect((await fetch(`${daemon.baseUrl}/healthz`)).status).toBe(200);
  });

  it("refuses bodies over the limit with 413, announced or streamed, before reading them all", async () => {
    const ingester = { Authorization: `Bearer ${TOKENS.ingester}` };
    const big = Buffer.alloc(300 * 1024, 0x61);
    errorShape(
      await send(daemon.baseUrl, "POST", "/api/v1/ingest/bank.settlements", { headers: ingester, body: big }),
      413,
      "payload_too_large",
    );
    // Chunked, no Content-Length: cut off once the limit is passed.
    const streamed = await new Promise<Answer>((resolve, reject) => {
      const req = httpRequest(
        {
          host: "127.0.0.1",
          port,
          method: "POST",
          path: "/api/v1/ingest/bank.settlements",
          headers: { ...ingester, "Transfer-Encoding": "chunked" },
        },
        (res) => {
          let text = "";
          res.on("data", (chunk) => {
            text += chunk;
          });
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: JSON.parse(text) }),
          );
        },
      );
      req.on("error", reject);
      for (let i = 0; i < 40; i++) req.write(Buffer.alloc(16 * 1024, 0x62));
      req.end();
    });
    errorShape(streamed, 413, "payload_too_large");
    // The actions endpoint takes 64 kB.
    const action = await send(daemon.baseUrl, "POST", `/api/v1/exceptions/${exceptionId}/actions`, {
      headers: { Authorization: `Bearer ${TOKENS.operator}`, "Content-Type": "application/json" },
      body: JSON.stringify({ action: "note", note: "n".repeat(70_000) }),
    });
    errorShape(action, 413, "payload_too_large");
    // Unauthenticated: refused before the body matters.
    errorShape(await send(daemon.baseUrl, "POST", "/api/v1/ingest/bank.settlements", { body: big }), 401);
  });

  it("cuts off clients that send headers slower than headersTimeout, and keeps answering others", async () => {
    const slow = 10;
    const began = Date.now();
    const outcomes = Array.from(
      { length: slow },
      () =>
        new Promise<{ afterMs: number; received: string }>((resolve) => {
          const socket = connect(port, "127.0.0.1");
          const text = `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${"a".repeat(10_000)}`;
          let received = "";
          let sent = 0;
          const timer = setInterval(() => {
            if (!socket.destroyed && sent < text.length) socket.write(text[sent++]!);
          }, 200);
          socket.on("data", (chunk) => {
            received += chunk.toString();
          });
          socket.on("error", () => {});
          socket.on("close", () => {
            clearInterval(timer);
            resolve({ afterMs: Date.now() - began, received });
          });
        }),
    );
    // Meanwhile the server answers as usual.
    let answered = 0;
    const polling = (async () => {
      while (Date.now() - began < 14_000) {
        const response = await fetch(`${daemon.baseUrl}/healthz`);
        if (response.status === 200) answered++;
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    })();
    const closed = await Promise.all(outcomes);
    await polling;
    for (const { afterMs, received } of closed) {
      expect(afterMs).toBeGreaterThanOrEqual(14_000);
      expect(afterMs).toBeLessThan(20_000);
      expect(received).toMatch(/^HTTP\/1\.1 408 /);
      expect(received).toContain('"request_timeout"');
    }
    expect(answered).toBeGreaterThanOrEqual(10);
    expect((await fetch(`${daemon.baseUrl}/healthz`)).status).toBe(200);
  });

  it("answers odd ids and paths with 400 or 404, never 5xx", async () => {
    const viewer = { Authorization: `Bearer ${TOKENS.viewer}` };
    const operator = { Authorization: `Bearer ${TOKENS.operator}`, "Content-Type": "application/json" };
    const ingester = { Authorization: `Bearer ${TOKENS.ingester}` };
    const cases: Array<[string, string, Record<string, string>, number[], string?]> = [
      ["GET", "/api/v1/payments/..%2F..%2Fetc%2Fpasswd", viewer, [404]],
      ["GET", "/api/v1/payments/../../etc/passwd", viewer, [404]],
      ["GET", "/api/v1/payments/..%252F..%252Fetc%252Fpasswd", viewer, [404]],
      ["GET", "/api/v1/payments/%2e%2e", viewer, [404]],
      ["GET", "/api/v1/payments/%00", viewer, [400]],
      ["GET", "/api/v1/payments/hh_payout%00", viewer, [400]],
      ["GET", "/api/v1/payments/a%0d%0aSet-Cookie:%20x=1", viewer, [400]],
      ["GET", "/api/v1/payments/%2500", viewer, [404]],
      ["GET", `/api/v1/payments/${"a".repeat(10_000)}`, viewer, [400]],
      ["GET", "/api/v1/payments/%F0%9F%92%A9", viewer, [404]],
      ["GET", "/api/v1/payments/%E2%80%AEexe.txt", viewer, [404]],
      ["GET", "/api/v1/payments/%ED%A0%80", viewer, [400]],
      ["GET", "/api/v1/payments/%FF%FE", viewer, [400]],
      ["GET", "/api/v1/payments/%", viewer, [400]],
      ["GET", "/api/v1/payments/%zz", viewer, [400]],
      ["GET", "/api/v1/payments/'%20OR%201=1--", viewer, [404]],
      ["GET", "/api/v1/payments?gateway=%00", viewer, [400]],
      ["GET", "/api/v1/payments?limit=1e999", viewer, [400]],
      ["GET", "/api/v1/payments?limit=-5", viewer, [400]],
      ["GET", "/api/v1/payments?status=settled&status=failed", viewer, [400]],
      ["GET", "/api/v1/payments?cursor=%00", viewer, [400]],
      ["GET", "/api/v1/payments?cursor=not-a-cursor", viewer, [400]],
      ["GET", `/api/v1/payments?cursor=${"A".repeat(10_000)}`, viewer, [400]],
      ["GET", "/api/v1/payments?from=yesterday", viewer, [400]],
      ["GET", "/api/v1/payments?__proto__[polluted]=1", viewer, [200, 400]],
      ["GET", "/api/v1/exceptions?min_age=%00", viewer, [400]],
      ["GET", "/api/v1/exceptions/%00", viewer, [400]],
      ["GET", "/api/v1/exceptions/-1", viewer, [400]],
      ["GET", "/api/v1/exceptions/99999999999999999999", viewer, [400]],
      ["GET", "/api/v1/exceptions/1e3", viewer, [400, 404]],
      ["GET", "/api/v1/exceptions/..%2F1", viewer, [400]],
      ["POST", "/api/v1/exceptions/%00/actions", operator, [400], '{"action":"note","note":"x"}'],
      ["POST", "/api/v1/exceptions/abc/actions", operator, [400], '{"action":"note","note":"x"}'],
      ["POST", "/api/v1/exceptions/999999/actions", operator, [404], '{"action":"note","note":"x"}'],
      ["GET", "/api/v1/counterparties/%00", viewer, [400]],
      ["GET", `/api/v1/counterparties/${"c".repeat(10_000)}`, viewer, [400]],
      ["GET", "/api/v1/reports/reconciliation?from=%00", viewer, [400]],
      ["GET", "/api/v1/reports/reconciliation?format=xml", viewer, [400]],
      ["POST", "/api/v1/ingest/..%2Fpayments.expected", ingester, [404], "{}"],
      ["POST", "/api/v1/ingest/payments.expected%00", ingester, [400], "{}"],
      ["GET", "/api/v1/../../etc/passwd", viewer, [404]],
      ["GET", "/api/v1/%2e%2e/%2e%2e/etc/passwd", viewer, [404]],
      ["GET", "/api/v2/payments", viewer, [404]],
    ];
    for (const [method, path, headers, statuses, body] of cases) {
      const answer = await send(daemon.baseUrl, method, path, { headers, body });
      expect(statuses, `${method} ${path.slice(0, 80)} → ${answer.status} ${answer.text.slice(0, 200)}`).toContain(
        answer.status,
      );
      if (answer.status !== 200) errorShape(answer, statuses);
      expect(answer.text).not.toMatch(/root:|at \/|node_modules|stack/);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await fetch(`${daemon.baseUrl}/healthz`)).status).toBe(200);
  });

  it("answers unknown or unusual methods without 5xx and without echoing the request", async () => {
    const auth = `Authorization: Bearer ${TOKENS.viewer}\r\n`;
    for (const method of ["DELETE", "PUT", "PATCH", "TRACE", "PROPFIND", "MKCOL", "LOCK", "SEARCH"]) {
      const answer = await raw(
        port,
        `${method} /api/v1/payments/hh_payout HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`,
      );
      expect(answer.status, method).toBeGreaterThanOrEqual(400);
      expect(answer.status, method).toBeLessThan(500);
      expect(answer.body, method).not.toContain(TOKENS.viewer);
      expect(JSON.parse(answer.body), method).toMatchObject({ error: { code: expect.any(String) } });
    }
    const options = await raw(
      port,
      `OPTIONS /api/v1/payments/hh_payout HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`,
    );
    expect(options.status).toBeLessThan(500);
    expect(options.body).not.toContain(TOKENS.viewer);
    const head = await send(daemon.baseUrl, "HEAD", "/api/v1/payments/hh_payout", {
      headers: { Authorization: `Bearer ${TOKENS.viewer}` },
    });
    expect(head.status).toBe(200);
    expect(head.text).toBe("");
  });

  it("reads only JSON on the actions endpoint, whatever the content type claims", async () => {
    const path = `/api/v1/exceptions/${exceptionId}/actions`;
    const auth = { Authorization: `Bearer ${TOKENS.operator}` };
    const note = JSON.stringify({ action: "note", note: "wrong type" });
    const refused: Array<[Record<string, string>, string, number, string?]> = [
      [{ "Content-Type": "text/plain" }, note, 400, "invalid_body"],
      [{ "Content-Type": "application/x-www-form-urlencoded" }, "action=note&note=form", 400, "invalid_body"],
      [
        { "Content-Type": "multipart/form-data; boundary=x" },
        `--x\r\nContent-Disposition: form-data; name="action"\r\n\r\nnote\r\n--x--`,
        400,
        "invalid_body",
      ],
      [{}, note, 400, "invalid_body"],
      [{ "Content-Type": "application/json" }, "{not json", 400, "invalid_json"],
      [{ "Content-Type": "application/json" }, "null", 400],
      [{ "Content-Type": "application/json" }, '"note"', 400],
      [{ "Content-Type": "application/json" }, "[]", 400, "invalid_body"],
      [{ "Content-Type": "application/json" }, '{"action":"delete"}', 400, "invalid_body"],
      [{ "Content-Type": "application/json" }, '{"action":"note","note":"   "}', 400, "invalid_body"],
      [{ "Content-Type": "application/json" }, '{"action":"note","note":5}', 400, "invalid_body"],
      [{ "Content-Type": "application/json; charset=utf-16" }, note, 400],
      [{ "Content-Type": "application/json", "Content-Encoding": "gzip" }, note, 400],
    ];
    for (const [headers, body, status, code] of refused) {
      const answer = await send(daemon.baseUrl, "POST", path, { headers: { ...auth, ...headers }, body });
      expect(answer.status, `${JSON.stringify(headers)} ${body.slice(0, 40)} → ${answer.text}`).toBe(status);
      errorShape(answer, status, code);
    }
    const accepted = [
      [{ "Content-Type": "application/json" }, JSON.stringify({ action: "note", note: "plain" })],
      [{ "Content-Type": "application/json; charset=utf-8" }, JSON.stringify({ action: "note", note: "charset" })],
      [
        { "Content-Type": "application/json" },
        '{"action":"note","note":"proto","__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}}}',
      ],
    ] as const;
    for (const [headers, body] of accepted) {
      const answer = await send(daemon.baseUrl, "POST", path, { headers: { ...auth, ...headers }, body });
      expect(answer.status, answer.text).toBe(200);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const trail = (await api(daemon.baseUrl, "operator")(`/api/v1/exceptions/${exceptionId}`)).body.audit;
    expect(trail.map((entry: { note: string | null }) => entry.note)).toEqual(
      expect.arrayContaining(["plain", "charset", "proto"]),
    );
    expect(trail.map((entry: { note: string | null }) => entry.note)).not.toContain("wrong type");
    expect(trail.map((entry: { note: string | null }) => entry.note)).not.toContain("form");
  });

  it("sends the security headers on every answer, and no-store on /api", async () => {
    const viewer = { Authorization: `Bearer ${TOKENS.viewer}` };
    const answers: Array<[string, Answer]> = [
      ["healthz", await send(daemon.baseUrl, "GET", "/healthz")],
      ["metrics", await send(daemon.baseUrl, "GET", "/metrics")],
      ["unknown", await send(daemon.baseUrl, "GET", "/nope")],
      ["api 200", await send(daemon.baseUrl, "GET", "/api/v1/payments/hh_payout", { headers: viewer })],
      ["api list", await send(daemon.baseUrl, "GET", "/api/v1/payments?limit=1", { headers: viewer })],
      ["api 401", await send(daemon.baseUrl, "GET", "/api/v1/payments/hh_payout")],
      ["api 404", await send(daemon.baseUrl, "GET", "/api/v1/payments/none", { headers: viewer })],
      ["api 400", await send(daemon.baseUrl, "GET", "/api/v1/payments/%00", { headers: viewer })],
      ["api unknown", await send(daemon.baseUrl, "GET", "/api/v1/nothing-here", { headers: viewer })],
      [
        "report csv",
        await send(daemon.baseUrl, "GET", "/api/v1/reports/reconciliation?format=csv", { headers: viewer }),
      ],
    ];
    for (const [name, answer] of answers) {
      expect(answer.headers["x-content-type-options"], name).toBe("nosniff");
      expect(answer.headers["x-frame-options"], name).toBe("DENY");
      expect(answer.headers["referrer-policy"], name).toBe("no-referrer");
      expect(answer.headers["x-powered-by"], name).toBeUndefined();
      expect(answer.headers["x-request-id"], name).toBeTruthy();
      if (name.startsWith("api") || name.startsWith("report"))
        expect(answer.headers["cache-control"], name).toBe("no-store");
      if (answer.status >= 400) expect(answer.headers["content-type"], name).toMatch(/^application\/json/);
    }
    // A client's request id is echoed only when it is a harmless token.
    const injected = await send(daemon.baseUrl, "GET", "/healthz", {
      headers: { "X-Request-Id": "<script>alert(1)</script>" },
    });
    expect(injected.headers["x-request-id"]).not.toContain("<");
  });

  it("logs requests without any token, Authorization header or account number", async () => {
    // One more request of each kind that could leak, then read the whole log of this daemon.
    const linesBefore = logLines.length;
    await send(daemon.baseUrl, "GET", `/api/v1/payments/hh_payout?token=${TOKENS.viewer}`, {
      headers: { Authorization: "Bearer wrong-secret-token" },
    });
    await send(daemon.baseUrl, "POST", "/api/v1/ingest/bank.settlements", {
      headers: { Authorization: `Bearer ${TOKENS.ingester}` },
      body: JSON.stringify(bankEntry(6, { entry_id: "HH-LOG", account: ACCOUNT, amount_minor: "12" })),
    });
    // The log stream is asynchronous: wait for these two requests' lines.
    await waitUntil(() => logLines.length >= linesBefore + 2, 10_000, "the two requests' log lines");
    const log = logLines.join("");
    // The capture works: this daemon logged its requests, with status and role.
    expect(log).toMatch(/"status":401/);
    expect(log).toMatch(/"role":"viewer"/);
    expect(logLines.length).toBeGreaterThan(50);
    for (const secret of SECRETS) expect(log.includes(secret), `the log contains ${secret.slice(0, 30)}`).toBe(false);
    expect(log).not.toMatch(/authorization/i);
    expect(log).not.toMatch(/bearer/i);
    // A header smuggled into a path is logged as the (still encoded) path, never as a header.
    expect(log).toContain("Set-Cookie:%20x=1");
    expect(log).not.toMatch(/"set-cookie"/i);
    for (const line of logLines) expect(() => JSON.parse(line)).not.toThrow();
  });
});
