import type { ScenarioContact } from "./scenario.js";

/**
 * `payrecon simulate`'s dunning: once the daemon has opened a delayed collection's exception, records the
 * operator's contact on it through the API (`contacted`, with a promise), as a person working the dunning list
 * would — one promise already passed (broken at the daemon's next follow-up run), one running.
 */

export interface RecordedContact {
  payment_id: string;
  exception_id: string | null;
  promised_by: string;
  expect: ScenarioContact["expect"];
  /** `recorded`, or why not. */
  result: string;
}

export async function recordContacts(
  url: string,
  operatorToken: string,
  contacts: ScenarioContact[],
  timeoutMs = 60_000,
): Promise<RecordedContact[]> {
  const headers = { Authorization: `Bearer ${operatorToken}`, "Content-Type": "application/json" };
  const out: RecordedContact[] = [];
  for (const contact of contacts) {
    const deadline = Date.now() + timeoutMs;
    let exceptionId: string | null = null;
    // The daemon may still be working through the traffic: wait for the exception to open.
    while (exceptionId === null && Date.now() < deadline) {
      const response = await fetch(
        new URL(`/api/v1/exceptions?kind=delayed&payment_id=${encodeURIComponent(contact.paymentId)}`, url),
        { headers },
      );
      if (response.ok) {
        const body = (await response.json()) as { items: Array<{ id: string }> };
        exceptionId = body.items[0]?.id ?? null;
      } else {
        await response.arrayBuffer();
      }
      if (exceptionId === null) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const base = { payment_id: contact.paymentId, exception_id: exceptionId, promised_by: contact.promisedBy };
    if (exceptionId === null) {
      out.push({ ...base, expect: contact.expect, result: "no delayed exception opened in time" });
      continue;
    }
    const response = await fetch(new URL(`/api/v1/exceptions/${exceptionId}/actions`, url), {
      method: "POST",
      headers,
      body: JSON.stringify({
        action: "contacted",
        channel: contact.channel,
        note: contact.note,
        promised_by: contact.promisedBy,
      }),
    });
    out.push({
      ...base,
      expect: contact.expect,
      result: response.ok ? "recorded" : `answered ${response.status}: ${await response.text()}`,
    });
  }
  return out;
}
