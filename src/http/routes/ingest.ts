import express, { type Router } from "express";
import type { Config } from "../../config.js";
import { inputKindsByTopic, type RawMessage } from "../../consumers/decode.js";
import { type IngestDeps, ingestMessages } from "../../consumers/ingest.js";
import { requireRole } from "../auth.js";
import { HttpError } from "../errors.js";

/** Lines in one request; a bigger file is sent in several requests. */
const MAX_LINES = 50_000;

/** Splits on newline bytes, so one line's bad UTF-8 cannot spoil its neighbours. */
function splitLines(body: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  for (let index = body.indexOf(0x0a); index !== -1; index = body.indexOf(0x0a, start)) {
    lines.push(body.subarray(start, index));
    start = index + 1;
  }
  if (start < body.length) lines.push(body.subarray(start));
  return lines.map((line) => (line.at(-1) === 0x0d ? line.subarray(0, -1) : line));
}

/**
 * POST /api/v1/ingest/{topic}: NDJSON through the same validation,
 * idempotency and dead-lettering as Kafka; one result per line, rejected
 * lines recorded with their reason.
 */
export function ingestRouter(topics: Config["topics"], bodyLimit: string, ingest: IngestDeps): Router {
  const router = express.Router();
  const kinds = new Map([...inputKindsByTopic(topics)].map(([topic, kind]) => [topic, { kind, topic }] as const));
  router.post(
    "/ingest/:topic",
    requireRole("ingester"),
    express.raw({ type: () => true, limit: bodyLimit }),
    async (req, res) => {
      const target = kinds.get(String(req.params.topic));
      if (!target) {
        throw new HttpError(404, "unknown_topic", `topic must be one of ${[...kinds.keys()].join(", ")}`);
      }
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const numbered = splitLines(body)
        .map((value, index) => ({ value, line: index + 1 }))
        .filter((line) => line.value.toString("latin1").trim() !== "");
      if (numbered.length === 0) throw new HttpError(400, "empty_body", "send one JSON message per line (NDJSON)");
      if (numbered.length > MAX_LINES) {
        throw new HttpError(413, "too_many_lines", `at most ${MAX_LINES} lines per request`);
      }
      const raws: RawMessage[] = numbered.map(({ value }) => ({
        kind: target.kind,
        topic: target.topic,
        partition: null,
        offset: null,
        key: null,
        value,
        source: "http",
      }));
      const result = await ingestMessages(ingest, raws);
      res.json({
        accepted: result.accepted,
        duplicates: result.duplicates,
        rejected: result.rejected,
        lines: result.lines.map((line, index) => ({ line: numbered[index]!.line, ...line })),
      });
    },
  );
  return router;
}
