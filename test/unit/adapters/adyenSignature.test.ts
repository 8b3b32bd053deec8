import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { AdyenNotificationItem } from "../../../src/adapters/adyenNotification.js";
import { adyenSigningString, verifyAdyenHmac } from "../../../src/adapters/adyenSignature.js";
import { fixture, fixtureNames, type Json } from "./fixtureFiles.js";

const TEST_KEY = "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF";
const OTHER_KEY = "FEDCBA9876543210FEDCBA9876543210FEDCBA9876543210FEDCBA9876543210";

/** Signs an item the way Adyen documents it, independently of the module under test. */
function sign(item: Json, hexKey: string): string {
  const fields = [
    item.pspReference,
    item.originalReference ?? "",
    item.merchantAccountCode,
    item.merchantReference,
    item.amount.value,
    item.amount.currency,
    item.eventCode,
    item.success,
  ];
  return createHmac("sha256", Buffer.from(hexKey, "hex")).update(fields.join(":")).digest("base64");
}

function items(name: string): Json[] {
  return fixture("adyen", name).notificationItems.map((entry: Json) => entry.NotificationRequestItem);
}

describe("verifyAdyenHmac", () => {
  it("matches the published test vectors of Adyen's own (MIT) libraries", () => {
    // Adyen/adyen-php-api-library tests/Adyen/Util/HmacSignatureTest.php and
    // Adyen/adyen-ruby-api-library spec/utils/hmac_validator_spec.rb: same item, two keys.
    const item: AdyenNotificationItem = {
      pspReference: "7914073381342284",
      merchantAccountCode: "TestMerchant",
      merchantReference: "TestPayment-1407325143704",
      amount: { value: 1130, currency: "EUR" },
      eventCode: "AUTHORISATION",
      eventDate: "2014-08-06T13:39:03+02:00",
      success: "true",
    };
    expect(adyenSigningString(item)).toBe(
      "7914073381342284::TestMerchant:TestPayment-1407325143704:1130:EUR:AUTHORISATION:true",
    );
    const php = { ...item, additionalData: { hmacSignature: "Ny9gS2veKo5E4w8/OL6xz1/wvT/hYkAXy1xNc/QvO4I=" } };
    expect(verifyAdyenHmac(php, "DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00")).toBe(true);
    const ruby = { ...item, additionalData: { hmacSignature: "coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0=" } };
    expect(verifyAdyenHmac(ruby, "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056")).toBe(true);
    expect(verifyAdyenHmac(ruby, "DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00")).toBe(false);
  });

  it("accepts every fixture item re-signed with the test key, and rejects it under another key", () => {
    for (const name of fixtureNames("adyen")) {
      for (const item of items(name)) {
        item.additionalData = { ...item.additionalData, hmacSignature: sign(item, TEST_KEY) };
        expect(verifyAdyenHmac(item, TEST_KEY), name).toBe(true);
        expect(verifyAdyenHmac(item, TEST_KEY.toLowerCase()), name).toBe(true);
        expect(verifyAdyenHmac(item, OTHER_KEY), name).toBe(false);
      }
    }
  });

  it("rejects the fixtures' own signatures, made with keys we do not have", () => {
    for (const name of fixtureNames("adyen")) {
      for (const item of items(name)) expect(verifyAdyenHmac(item, TEST_KEY), name).toBe(false);
    }
  });

  it("rejects any signed field changed", () => {
    const original = items("notification_capture-true.json")[0];
    original.additionalData.hmacSignature = sign(original, TEST_KEY);
    const tamper: Array<(item: Json) => void> = [
      (item) => {
        item.amount.value += 1;
      },
      (item) => {
        item.amount.currency = "USX";
      },
      (item) => {
        item.pspReference += "X";
      },
      (item) => {
        item.originalReference = "";
      },
      (item) => {
        item.merchantReference = "other";
      },
      (item) => {
        item.eventCode = "REFUND";
      },
      (item) => {
        item.success = "false";
      },
    ];
    for (const change of tamper) {
      const item = structuredClone(original);
      change(item);
      expect(verifyAdyenHmac(item, TEST_KEY)).toBe(false);
    }
  });

  it("rejects a missing or malformed signature and throws for a key that is not hex", () => {
    const item = items("notification_chargeback.json")[0];
    expect(item.additionalData.hmacSignature).toBeUndefined();
    expect(verifyAdyenHmac(item, TEST_KEY)).toBe(false);
    expect(verifyAdyenHmac({ ...item, additionalData: { hmacSignature: "bm90IGEgbWFj" } }, TEST_KEY)).toBe(false);
    expect(() => verifyAdyenHmac(item, "not-hex")).toThrow(TypeError);
    expect(() => verifyAdyenHmac(item, "ABC")).toThrow(TypeError);
  });
});
