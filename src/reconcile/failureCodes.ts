/**
 * Gateway and bank failure codes → CONTRACT §2 `failure_category` and `retry_advice`.
 *
 * Pure data and a lookup: the raw code is always kept verbatim by the caller; this
 * module only says which bounded category it belongs to. A code not in the table is
 * `unknown` with `known: false`; the caller logs it once (this module does no I/O).
 *
 * Codes from different families share one namespace, so a key must mean the same
 * thing everywhere (Stripe `declined` and Adyen Transfers `declined` are one row).
 * Families whose codes collide with another family's are left out on purpose
 * (Amex / Discover chargeback codes such as `R03` or `A01` clash with NACHA).
 */

export const FAILURE_CATEGORIES = [
  "account_invalid",
  "account_closed",
  "account_blocked",
  "holder_mismatch",
  "insufficient_funds",
  "currency",
  "declined",
  "technical",
  "compliance",
  "operator_error",
  "unknown",
] as const;
export type FailureCategory = (typeof FAILURE_CATEGORIES)[number];
export type RetryAdvice = "retry" | "after_fix" | "no";

/** CONTRACT §2, `retry_advice` column. */
export const RETRY_ADVICE: Record<FailureCategory, RetryAdvice> = {
  account_invalid: "after_fix",
  account_closed: "no",
  account_blocked: "no",
  holder_mismatch: "after_fix",
  insufficient_funds: "retry",
  currency: "after_fix",
  declined: "no",
  technical: "retry",
  compliance: "no",
  operator_error: "after_fix",
  unknown: "no",
};

export interface FailureClassification {
  category: FailureCategory;
  retryAdvice: RetryAdvice;
  /** false when the code is not in the table (or absent): the caller logs it once. */
  known: boolean;
  /** The code as given, trimmed; null when absent or blank. */
  code: string | null;
}

export interface FailureCodeRow {
  code: string;
  category: FailureCategory;
  source: string;
}

type Rows = ReadonlyArray<readonly [code: string, category: FailureCategory]>;

// Stripe payout `failure_code` (docs.stripe.com/api/payouts/failures), plus the ACH
// charge failure codes that share these names.
const STRIPE_PAYOUT: Rows = [
  ["account_closed", "account_closed"],
  ["account_frozen", "account_blocked"],
  ["bank_account_restricted", "account_blocked"],
  ["bank_ownership_changed", "account_closed"],
  ["could_not_process", "technical"],
  ["debit_not_authorized", "account_blocked"],
  ["declined", "declined"], // also Adyen Transfers `declined`
  ["incorrect_account_holder_address", "holder_mismatch"],
  ["incorrect_account_holder_name", "holder_mismatch"],
  ["incorrect_account_holder_tax_id", "holder_mismatch"],
  ["insufficient_funds", "insufficient_funds"], // also a decline code and a dispute reason
  ["invalid_account_number", "account_invalid"],
  ["invalid_currency", "currency"],
  ["no_account", "account_invalid"],
  ["unsupported_card", "account_invalid"], // the card cannot receive payouts: use another
];

// Stripe charge `failure_code` / API error codes and decline codes (docs.stripe.com/declines/codes).
// Cardholder verification (CVC, PIN, ZIP, 3DS) counts as holder_mismatch: fixable by the payer.
// Stripe's own risk blocks are compliance; issuer declines (incl. lost/stolen) are declined.
const STRIPE_CHARGE: Rows = [
  ["account_holder_name_verification_failed", "holder_mismatch"],
  ["amount_too_large", "operator_error"],
  ["amount_too_small", "operator_error"],
  ["approve_with_id", "declined"],
  ["authentication_required", "holder_mismatch"],
  ["balance_insufficient", "insufficient_funds"],
  ["bank_account_declined", "declined"],
  ["bank_account_unusable", "account_invalid"],
  ["bank_account_verification_failed", "account_invalid"],
  ["call_issuer", "declined"],
  ["capture_charge_authorization_expired", "operator_error"],
  ["card_decline_rate_limit_exceeded", "declined"],
  ["card_declined", "declined"],
  ["card_not_supported", "declined"],
  ["card_velocity_exceeded", "insufficient_funds"],
  ["charge_expired_for_capture", "operator_error"],
  ["currency_not_supported", "currency"],
  ["do_not_honor", "declined"],
  ["do_not_try_again", "declined"],
  ["duplicate_transaction", "operator_error"],
  ["elevated_risk_level", "compliance"], // Radar outcome.reason
  ["expired_card", "account_invalid"],
  ["fraudulent", "compliance"], // Stripe suspects fraud; also a dispute reason
  ["generic_decline", "declined"],
  ["highest_risk_level", "compliance"], // Radar outcome.reason
  ["incorrect_cvc", "holder_mismatch"],
  ["incorrect_number", "account_invalid"],
  ["incorrect_pin", "holder_mismatch"],
  ["incorrect_zip", "holder_mismatch"],
  ["invalid_account", "account_invalid"],
  ["invalid_amount", "operator_error"],
  ["invalid_cvc", "holder_mismatch"],
  ["invalid_expiry_month", "account_invalid"],
  ["invalid_expiry_year", "account_invalid"],
  ["invalid_number", "account_invalid"],
  ["invalid_pin", "holder_mismatch"],
  ["issuer_not_available", "technical"],
  ["lost_card", "declined"],
  ["merchant_blacklist", "compliance"],
  ["new_account_information_available", "account_invalid"],
  ["no_action_taken", "declined"],
  ["not_permitted", "declined"],
  ["offline_pin_required", "holder_mismatch"],
  ["online_or_offline_pin_required", "holder_mismatch"],
  ["pickup_card", "declined"],
  ["pin_try_exceeded", "holder_mismatch"],
  ["processing_error", "technical"],
  ["reenter_transaction", "technical"],
  ["restricted_card", "declined"],
  ["revocation_of_all_authorizations", "declined"],
  ["revocation_of_authorization", "declined"],
  ["rule", "compliance"], // Radar outcome.reason: blocked by one of our rules
  ["security_violation", "declined"],
  ["service_not_allowed", "declined"],
  ["stolen_card", "declined"],
  ["stop_payment_order", "declined"],
  ["testmode_decline", "operator_error"], // a test card used in live mode
  ["transaction_not_allowed", "declined"],
  ["try_again_later", "technical"],
  ["withdrawal_count_limit_exceeded", "insufficient_funds"],
];

// Stripe dispute `reason` (the chargeback's failure_code); fraudulent, debit_not_authorized and
// insufficient_funds are rows above. Chargebacks are declined, fraud ones compliance.
const STRIPE_DISPUTE: Rows = [
  ["bank_cannot_process", "declined"],
  ["check_returned", "declined"],
  ["credit_not_processed", "declined"],
  ["customer_initiated", "declined"],
  ["duplicate", "declined"],
  ["general", "declined"],
  ["incorrect_account_details", "declined"],
  ["product_not_received", "declined"],
  ["product_unacceptable", "declined"],
  ["subscription_canceled", "declined"],
  ["unrecognized", "compliance"], // Stripe treats it as fraud
];

// ISO 20022 ExternalStatusReason / ExternalReturnReason codes (pain.002, pacs.004, camt.05x RtrInf).
// There is no AM08 in the ISO list.
const ISO_20022: Rows = [
  ["AB01", "technical"],
  ["AB02", "technical"],
  ["AB03", "technical"],
  ["AB04", "technical"],
  ["AB05", "technical"],
  ["AB06", "technical"],
  ["AB07", "technical"],
  ["AB08", "technical"],
  ["AB09", "technical"],
  ["AB10", "technical"],
  ["AB11", "technical"],
  ["AC01", "account_invalid"],
  ["AC02", "account_invalid"],
  ["AC03", "account_invalid"],
  ["AC04", "account_closed"],
  ["AC05", "account_closed"],
  ["AC06", "account_blocked"],
  ["AC07", "account_closed"],
  ["AC08", "account_invalid"],
  ["AC09", "currency"],
  ["AC10", "currency"],
  ["AC11", "currency"],
  ["AC12", "account_invalid"],
  ["AC13", "account_invalid"],
  ["AC14", "account_invalid"],
  ["AC15", "account_invalid"],
  ["AC16", "account_invalid"],
  ["AC17", "account_blocked"], // account in liquidation
  ["AG01", "account_blocked"],
  ["AG02", "operator_error"],
  ["AG03", "account_blocked"],
  ["AG07", "declined"],
  ["AG08", "operator_error"],
  ["AM01", "operator_error"],
  ["AM02", "operator_error"],
  ["AM03", "currency"],
  ["AM04", "insufficient_funds"],
  ["AM05", "operator_error"],
  ["AM06", "operator_error"],
  ["AM07", "compliance"], // amount blocked by regulatory authorities
  ["AM09", "operator_error"],
  ["AM10", "operator_error"],
  ["AM11", "currency"],
  ["AM12", "operator_error"],
  ["AM13", "operator_error"],
  ["AM14", "operator_error"],
  ["BE01", "holder_mismatch"],
  ["BE04", "holder_mismatch"],
  ["BE05", "operator_error"],
  ["BE06", "account_invalid"],
  ["BE07", "holder_mismatch"],
  ["CNOR", "account_invalid"],
  ["CURR", "currency"],
  ["CUST", "declined"],
  ["DNOR", "account_invalid"],
  ["DT01", "operator_error"],
  ["DUPL", "operator_error"],
  ["ED01", "technical"],
  ["ED03", "technical"],
  ["ED05", "technical"],
  ["FF01", "operator_error"],
  ["FF05", "operator_error"],
  ["FOCR", "operator_error"], // returned after our own cancellation request
  ["FR01", "compliance"],
  ["FRAD", "compliance"],
  ["MD01", "account_blocked"], // no mandate: the debit is not authorized
  ["MD02", "operator_error"],
  ["MD05", "operator_error"],
  ["MD06", "declined"], // SEPA DD refund requested by the payer
  ["MD07", "account_closed"], // end customer deceased
  ["MS02", "declined"],
  ["MS03", "technical"],
  ["NARR", "unknown"], // the reason is free text: known code, no category
  ["NOAS", "declined"],
  ["NOOR", "operator_error"],
  ["RC01", "account_invalid"],
  ["RC07", "account_invalid"],
  ["RF01", "operator_error"],
  ["RR01", "holder_mismatch"],
  ["RR02", "holder_mismatch"],
  ["RR03", "holder_mismatch"],
  ["RR04", "compliance"],
  ["RR05", "compliance"],
  ["SL01", "declined"],
  ["TECH", "technical"],
  ["TM01", "technical"],
  ["UPAY", "operator_error"],
];

// NACHA ACH return codes. Unauthorized-debit returns follow Stripe's debit_not_authorized
// (account_blocked); returns caused by our file or entry are operator_error.
const NACHA: Rows = [
  ["R01", "insufficient_funds"],
  ["R02", "account_closed"],
  ["R03", "account_invalid"],
  ["R04", "account_invalid"],
  ["R05", "account_blocked"],
  ["R06", "operator_error"],
  ["R07", "account_blocked"],
  ["R08", "declined"],
  ["R09", "insufficient_funds"],
  ["R10", "account_blocked"],
  ["R11", "account_blocked"],
  ["R12", "account_closed"],
  ["R13", "account_invalid"],
  ["R14", "account_closed"],
  ["R15", "account_closed"],
  ["R16", "account_blocked"],
  ["R17", "operator_error"],
  ["R18", "operator_error"],
  ["R19", "operator_error"],
  ["R20", "account_blocked"],
  ["R21", "operator_error"],
  ["R22", "holder_mismatch"],
  ["R23", "declined"],
  ["R24", "operator_error"],
  ["R25", "operator_error"],
  ["R26", "operator_error"],
  ["R27", "operator_error"],
  ["R28", "account_invalid"],
  ["R29", "account_blocked"],
  ["R30", "account_invalid"],
  ["R31", "declined"],
  ["R32", "technical"],
  ["R33", "declined"],
  ["R34", "compliance"],
  ["R35", "operator_error"],
  ["R36", "operator_error"],
  ["R37", "declined"],
  ["R38", "declined"],
  ["R39", "operator_error"],
  ["R40", "operator_error"],
  ["R41", "operator_error"],
  ["R42", "account_invalid"],
  ["R43", "account_invalid"],
  ["R44", "holder_mismatch"],
  ["R45", "holder_mismatch"],
  ["R46", "operator_error"],
  ["R47", "operator_error"],
  ["R50", "compliance"],
  ["R51", "operator_error"],
  ["R52", "declined"],
  ["R53", "operator_error"],
  ["R61", "operator_error"],
  ["R62", "operator_error"],
  ["R67", "operator_error"],
  ["R68", "operator_error"],
  ["R69", "operator_error"],
  ["R70", "operator_error"],
  ["R71", "operator_error"],
  ["R72", "operator_error"],
  ["R73", "operator_error"],
  ["R74", "operator_error"],
  ["R75", "operator_error"],
  ["R76", "operator_error"],
  ["R77", "operator_error"],
  ["R80", "operator_error"],
  ["R81", "account_invalid"],
  ["R82", "account_invalid"],
  ["R83", "technical"],
  ["R84", "technical"],
  ["R85", "operator_error"],
];

// Adyen refusal reasons (docs.adyen.com "Refusal reasons") and classic payout decline reasons:
// free text, matched after lowercasing and collapsing spaces. Adyen's/the acquirer's risk
// engine is compliance; the issuer's fraud suspicion is a decline.
const ADYEN_REFUSAL: Rows = [
  ["3D Not Authenticated", "holder_mismatch"],
  ["3DS Authentication Error", "technical"],
  ["AVS Declined", "holder_mismatch"],
  ["Acquirer Error", "technical"],
  ["Acquirer Fraud", "compliance"],
  ["Authentication required", "holder_mismatch"],
  ["Blocked Card", "account_blocked"],
  ["CVC Declined", "holder_mismatch"],
  ["CVM Required Restart Payment", "technical"],
  ["Cancelled", "operator_error"],
  ["Card requires online pin", "holder_mismatch"],
  ["Chip downgrade mode", "technical"],
  ["Contactless fallback", "technical"],
  ["Current AID is in Penalty Box", "technical"],
  ["Declined Non Generic", "declined"],
  ["Error", "technical"], // also Adyen Transfers `error`
  ["Expired Card", "account_invalid"],
  ["FRAUD", "compliance"],
  ["FRAUD-CANCELLED", "compliance"],
  ["Insufficient balance on payment", "operator_error"], // refund/capture above the remaining amount
  ["Invalid Amount", "operator_error"],
  ["Invalid Card Number", "account_invalid"],
  ["Invalid Pin", "holder_mismatch"],
  ["Issuer Suspected Fraud", "declined"],
  ["Issuer Unavailable", "technical"],
  ["Mobile pin required", "holder_mismatch"],
  ["No checking account available on Card", "account_invalid"],
  ["No savings account available on Card", "account_invalid"],
  ["Not Submitted", "technical"],
  ["Not Supported", "declined"],
  ["Not enough balance", "insufficient_funds"],
  ["Online PIN required", "holder_mismatch"],
  ["Pin tries exceeded", "holder_mismatch"],
  ["Pin validation not possible", "technical"],
  ["RReq not received from DS", "technical"],
  ["Referral", "declined"],
  ["Refused", "declined"],
  ["Restricted Card", "declined"],
  ["Revocation Of Auth", "declined"],
  ["Shopper Cancelled", "declined"],
  ["Transaction Not Permitted", "declined"],
  ["Transaction blocked by Adyen to prevent excessive retry fees", "declined"],
  ["Try another interface", "technical"],
  ["Withdrawal amount exceeded", "insufficient_funds"],
  ["Withdrawal count exceeded", "insufficient_funds"],
];

// Adyen Transfers API `reason` (balance platform transfers and payouts).
const ADYEN_TRANSFERS: Rows = [
  ["amountLimitExceeded", "operator_error"],
  ["balanceAccountTemporarilyBlockedByTransactionRule", "compliance"],
  ["counterpartyAccountBlocked", "account_blocked"],
  ["counterpartyAccountClosed", "account_closed"],
  ["counterpartyAccountNotFound", "account_invalid"],
  ["counterpartyAddressRequired", "holder_mismatch"],
  ["counterpartyBankTimedOut", "technical"],
  ["counterpartyBankUnavailable", "technical"],
  ["declinedByTransactionRule", "compliance"],
  ["directDebitNotSupported", "account_invalid"],
  ["notEnoughBalance", "insufficient_funds"],
  ["refusedByCounterpartyBank", "declined"],
  ["refusedByCustomer", "declined"],
  ["routeNotFound", "operator_error"],
  ["scaFailed", "operator_error"],
  ["transferInstrumentDoesNotExist", "operator_error"],
];

// Card scheme chargeback reason codes (Adyen `chargebackReasonCode`, Stripe network_reason_code):
// fraud reasons are compliance, authorisation / processing / consumer disputes declined.
const CHARGEBACK_SCHEME: Rows = [
  // Visa
  ["10.1", "compliance"],
  ["10.2", "compliance"],
  ["10.3", "compliance"],
  ["10.4", "compliance"],
  ["10.5", "compliance"],
  ["11.1", "declined"],
  ["11.2", "declined"],
  ["11.3", "declined"],
  ["12.1", "declined"],
  ["12.2", "declined"],
  ["12.3", "declined"],
  ["12.4", "declined"],
  ["12.5", "declined"],
  ["12.6.1", "declined"],
  ["12.6.2", "declined"],
  ["12.7", "declined"],
  ["13.1", "declined"],
  ["13.2", "declined"],
  ["13.3", "declined"],
  ["13.4", "declined"],
  ["13.5", "declined"],
  ["13.6", "declined"],
  ["13.7", "declined"],
  ["13.8", "declined"],
  ["13.9", "declined"],
  // Mastercard
  ["4807", "declined"],
  ["4808", "declined"],
  ["4812", "declined"],
  ["4831", "declined"],
  ["4834", "declined"],
  ["4837", "compliance"],
  ["4840", "compliance"],
  ["4841", "declined"],
  ["4842", "declined"],
  ["4846", "declined"],
  ["4849", "compliance"],
  ["4850", "declined"],
  ["4853", "declined"],
  ["4854", "declined"],
  ["4855", "declined"],
  ["4859", "declined"],
  ["4860", "declined"],
  ["4863", "compliance"],
  ["4870", "compliance"],
  ["4871", "compliance"],
  ["4999", "declined"],
];

// Codes our own adapters emit where the gateway gives none (src/adapters).
const PAYRECON_ADAPTERS: Rows = [
  ["payout_canceled", "operator_error"], // Stripe payout.canceled: someone on our side cancelled it
  ["payout_declined", "operator_error"], // Adyen PAYOUT_DECLINE without a reason: declined by our reviewer
  ["payout_expired", "operator_error"], // Adyen PAYOUT_EXPIRE: not confirmed in time
];

const FAMILIES: ReadonlyArray<readonly [source: string, rows: Rows]> = [
  ["stripe payout failure_code", STRIPE_PAYOUT],
  ["stripe charge / decline code", STRIPE_CHARGE],
  ["stripe dispute reason", STRIPE_DISPUTE],
  ["iso 20022 reason code", ISO_20022],
  ["nacha return code", NACHA],
  ["adyen refusal / payout decline reason", ADYEN_REFUSAL],
  ["adyen transfers reason", ADYEN_TRANSFERS],
  ["card scheme chargeback reason", CHARGEBACK_SCHEME],
  ["payrecon adapter code", PAYRECON_ADAPTERS],
];

/** Every row, for tests and documentation; `code` as written in the source family. */
export const FAILURE_CODE_TABLE: readonly FailureCodeRow[] = FAMILIES.flatMap(([source, rows]) =>
  rows.map(([code, category]) => ({ code, category, source })),
);

/** Lookup key: trimmed, lowercased, inner whitespace collapsed (Adyen reasons are free text). */
export function normalizeFailureCode(code: string): string {
  return code.trim().toLowerCase().replace(/\s+/g, " ");
}

// First row wins; the tests assert there is no second one.
const BY_CODE: ReadonlyMap<string, FailureCategory> = new Map(
  [...FAILURE_CODE_TABLE].reverse().map((row) => [normalizeFailureCode(row.code), row.category] as const),
);

export function classifyFailure(code: string | null | undefined): FailureClassification {
  const trimmed = code?.trim() ?? "";
  if (trimmed === "") return { category: "unknown", retryAdvice: RETRY_ADVICE.unknown, known: false, code: null };
  const category = BY_CODE.get(normalizeFailureCode(trimmed));
  if (category === undefined) {
    return { category: "unknown", retryAdvice: RETRY_ADVICE.unknown, known: false, code: trimmed };
  }
  return { category, retryAdvice: RETRY_ADVICE[category], known: true, code: trimmed };
}
