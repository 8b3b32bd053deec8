import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.js";
import { backoffMs } from "../../../src/followup/deliverer.js";
import { signNotification, verifyNotification } from "../../../src/followup/signature.js";

/** The follow-up's settings (CONTRACT §9), the webhook signature and the retry backoff. */

describe("follow-up configuration", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "payrecon-notify-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("has the contract's defaults", () => {
    const { followUp } = loadConfig({});
    expect(followUp).toEqual({
      intervalMs: 30_000,
      dunningScheduleMs: [1, 3, 7, 14].map((days) => days * 86_400_000),
      notify: {
        webhookUrls: [],
        webhookSecret: undefined,
        minPriority: "p2",
        timeoutMs: 10_000,
        retryMinMs: 10_000,
        retryMaxMs: 3_600_000,
        retryForMs: 86_400_000,
        topic: "payrecon.notifications",
      },
      reports: { schedules: [], tz: "UTC" },
    });
  });

  it("reads webhooks, their secret (also from NOTIFY_WEBHOOK_SECRET_FILE), the schedule and the topic", () => {
    const file = path.join(dir, "secret");
    writeFileSync(file, "whsec_file\n", { mode: 0o600 });
    const { followUp } = loadConfig({
      NOTIFY_WEBHOOK_URLS: "https://crm.example/hooks/payrecon, http://chat.internal:8080/in",
      NOTIFY_WEBHOOK_SECRET_FILE: file,
      NOTIFY_MIN_PRIORITY: "p1",
      DUNNING_SCHEDULE: "12h,2d,10d",
      TOPIC_NOTIFICATIONS: "",
    });
    expect(followUp.notify.webhookUrls).toEqual(["https://crm.example/hooks/payrecon", "http://chat.internal:8080/in"]);
    expect(followUp.notify.webhookSecret).toBe("whsec_file");
    expect(followUp.notify.minPriority).toBe("p1");
    expect(followUp.notify.topic).toBeUndefined();
    expect(followUp.dunningScheduleMs).toEqual([43_200_000, 172_800_000, 864_000_000]);
  });

  it("refuses unsigned webhooks, a bad URL without echoing it, and a schedule that does not increase", () => {
    expect(() => loadConfig({ NOTIFY_WEBHOOK_URLS: "https://crm.example/h" })).toThrow(
      "invalid configuration: NOTIFY_WEBHOOK_SECRET: required with NOTIFY_WEBHOOK_URLS: every notification is signed",
    );
    expect(() =>
      loadConfig({ NOTIFY_WEBHOOK_URLS: "https://ok.example,ftp://token@x", NOTIFY_WEBHOOK_SECRET: "s" }),
    ).toThrow("invalid configuration: NOTIFY_WEBHOOK_URLS: entry 2 is not an http(s) URL");
    expect(() => loadConfig({ DUNNING_SCHEDULE: "3d,1d" })).toThrow(/DUNNING_SCHEDULE: the steps must increase/);
    expect(() => loadConfig({ DUNNING_SCHEDULE: "1d,soon" })).toThrow(/DUNNING_SCHEDULE: "soon" is not a list/);
    expect(() => loadConfig({ NOTIFY_MIN_PRIORITY: "p4" })).toThrow(/NOTIFY_MIN_PRIORITY/);
    expect(() => loadConfig({ REPORT_SCHEDULE: "hourly@05" })).toThrow(/REPORT_SCHEDULE: "hourly@05" is not/);
    expect(() => loadConfig({ REPORT_SCHEDULE: "daily@06:00,daily@07:00" })).toThrow(/at most one schedule per kind/);
    expect(() => loadConfig({ REPORT_TZ: "Mars/Olympus" })).toThrow(/REPORT_TZ: must be an IANA time zone/);
  });
});

describe("Payrecon-Signature", () => {
  it("is t=<unix>,v1=<hex HMAC-SHA256 of t.body>, verified by a receiver and refused when anything changes", () => {
    const body = '{"id":"1","kind":"retry_suggested"}';
    const header = signNotification(body, "whsec_x", 1_767_225_600);
    // HMAC-SHA256("whsec_x", "1767225600.{…}") computed independently with openssl.
    expect(header).toBe("t=1767225600,v1=253b52f3b32de7822b86076699accf32573765fa3d6579ccd5fe18326de11b10");
    expect(verifyNotification(body, header, "whsec_x")).toBe(true);
    expect(verifyNotification(`${body} `, header, "whsec_x")).toBe(false);
    expect(verifyNotification(body, header, "whsec_y")).toBe(false);
    expect(verifyNotification(body, header.replace("t=1767225600", "t=1767225601"), "whsec_x")).toBe(false);
    expect(verifyNotification(body, "garbage", "whsec_x")).toBe(false);
  });
});

describe("retry backoff", () => {
  it("doubles from NOTIFY_RETRY_MIN up to NOTIFY_RETRY_MAX, jittered between half and all of it", () => {
    const low = () => 0;
    const high = () => 1;
    expect([1, 2, 3, 4].map((n) => backoffMs(n, 10_000, 3_600_000, high))).toEqual([10_000, 20_000, 40_000, 80_000]);
    expect(backoffMs(1, 10_000, 3_600_000, low)).toBe(5_000);
    expect(backoffMs(20, 10_000, 3_600_000, high)).toBe(3_600_000);
    expect(backoffMs(500, 10_000, 3_600_000, high)).toBe(3_600_000);
  });
});
