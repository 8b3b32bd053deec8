import type { Db } from "../db/pool.js";
import { storedGatewayEventBodies } from "../db/queries/facts.js";
import { canonicalJson } from "./decode.js";

/**
 * CONTRACT §8 "Same key, different content": a gateway event whose id is stored already with other facts
 * is a conflict, never a duplicate; the first version stays in force. What counts as the facts is the
 * event without its metadata and failure_message, which are for people to read (a gateway's free text,
 * Adyen's unsigned fields): the same event re-sent with other wording is still a duplicate.
 */

export interface GatewayEventKey {
  gateway: string;
  eventId: string;
  body: unknown;
}

export function gatewayFactContent(body: unknown): string {
  if (typeof body !== "object" || body === null) return canonicalJson(body);
  const { metadata: _metadata, failure_message: _message, ...facts } = body as Record<string, unknown>;
  return canonicalJson(facts);
}

/** The events (of `candidates`, none of them newly stored) whose stored version holds other facts. */
export async function conflictingGatewayEvents<T extends GatewayEventKey>(db: Db, candidates: T[]): Promise<T[]> {
  if (candidates.length === 0) return [];
  const stored = await storedGatewayEventBodies(db, candidates);
  return candidates.filter((event) => {
    const first = stored.get(`${event.gateway}\u0000${event.eventId}`);
    return first !== undefined && gatewayFactContent(first) !== gatewayFactContent(event.body);
  });
}
