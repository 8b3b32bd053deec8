import { randomUUID } from "node:crypto";
import { type Server, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import express, { type Express, type Router } from "express";
import type { Config } from "../config.js";
import type { Logger } from "../logger.js";
import { createAuthenticator } from "./auth.js";
import { errorHandler, notFound, sendError } from "./errors.js";
import { StartRefused } from "../startRefused.js";
import { createRateLimiter } from "./rateLimit.js";

/**
 * One express app on one port: health and metrics open, everything under
 * /api/v1 behind bearer tokens. Routers are built by the caller (each from
 * its own room) and mounted here.
 */
export interface HttpRouters {
  open: Router[];
  api: Router[];
}

export function createHttpApp(config: Config["http"], log: Logger, routers: HttpRouters): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", false);
  app.use((req, res, next) => {
    const incoming = req.headers["x-request-id"];
    const requestId = typeof incoming === "string" && /^[\w.-]{1,64}$/.test(incoming) ? incoming : randomUUID();
    res.setHeader("X-Request-Id", requestId);
    res.setHeader("X-Content-Type-Options", "nosniff");
    res.setHeader("X-Frame-Options", "DENY");
    res.setHeader("Referrer-Policy", "no-referrer");
    res.setHeader("Cross-Origin-Resource-Policy", "same-origin");
    const began = performance.now();
    res.on("finish", () => {
      // The path only: query strings may hold filters but never secrets; headers are never logged.
      const fields = {
        requestId,
        method: req.method,
        path: req.originalUrl.split("?")[0]?.slice(0, 512),
        status: res.statusCode,
        ms: Math.round(performance.now() - began),
        role: req.principal?.role,
      };
      if (req.path === "/metrics" || req.path === "/healthz" || req.path === "/readyz") log.debug(fields, "http");
      else log.info(fields, "http");
    });
    next();
  });
  app.use((req, res, next) => {
    // Percent-encoded control characters (NUL above all: PostgreSQL text cannot hold it) are
    // never part of an id or a filter; refused here once rather than failing in a query as a 5xx.
    if (/%(?:[01][0-9a-f]|7f)/i.test(req.url)) {
      res.setHeader("Cache-Control", "no-store");
      sendError(res, 400, "invalid_request", "the URL contains a control character");
      return;
    }
    next();
  });
  for (const router of routers.open) app.use(router);
  const api = express.Router();
  api.use((_req, res, next) => {
    res.setHeader("Cache-Control", "no-store");
    next();
  });
  // Before authentication, so that failed attempts are limited too (per client address).
  if (config.rateLimit) api.use(createRateLimiter(config.rateLimit, config.tokens));
  api.use(createAuthenticator(config.tokens));
  for (const router of routers.api) api.use(router);
  app.use("/api/v1", api);
  app.use(notFound);
  app.use(errorHandler((error, req) => log.error({ err: error, path: req.path }, "request failed")));
  return app;
}

/**
 * A request Node's parser refuses (headers over 16 kB, a malformed request line,
 * headers slower than headersTimeout) is answered here in the API's JSON error
 * shape, then the connection is closed.
 */
function onClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  const response = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (error.code === "ECONNRESET" || !socket.writable || response?.headersSent) {
    socket.destroy();
    return;
  }
  const [status, code, message] =
    error.code === "HPE_HEADER_OVERFLOW"
      ? [431, "headers_too_large", "the request headers are too large"]
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, "request_timeout", "the request did not arrive in time"]
        : [400, "bad_request", "the request could not be parsed"];
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
}

/** A port another process holds, or one we may not bind, is the operator's to fix: one line naming it. */
function listenError(error: Error, port: number): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "EADDRINUSE") return new StartRefused(`HTTP_PORT ${port} is already in use by another process`);
  if (code === "EACCES")
    return new StartRefused(`HTTP_PORT ${port}: permission denied (ports below 1024 need privileges)`);
  return error;
}

export async function listen(app: Express, port: number, host = "0.0.0.0"): Promise<Server> {
  return new Promise((resolve, reject) => {
    // Express 5 passes a listen error (EADDRINUSE) to this callback instead of only emitting it.
    const server = app.listen(port, host, (error?: Error) =>
      error ? reject(listenError(error, port)) : resolve(server),
    );
    // Slow clients must not hold sockets forever. The timeouts are checked every second, not
    // every 30 s (Node's default would let a 15 s headers timeout stretch to 45 s); Node reads
    // the interval when the server starts listening, which is after this synchronous code.
    (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = 1_000;
    server.headersTimeout = 15_000;
    server.requestTimeout = 60_000;
    server.keepAliveTimeout = 5_000;
    server.on("clientError", onClientError);
  });
}
