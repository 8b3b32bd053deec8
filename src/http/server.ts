import { randomUUID } from "node:crypto";
import type { Server } from "node:http";
import express, { type Express, type Router } from "express";
import type { Config } from "../config.js";
import type { Logger } from "../logger.js";
import { createAuthenticator } from "./auth.js";
import { errorHandler, notFound } from "./errors.js";

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
        path: req.originalUrl.split("?")[0],
        status: res.statusCode,
        ms: Math.round(performance.now() - began),
        role: req.principal?.role,
      };
      if (req.path === "/metrics" || req.path === "/healthz" || req.path === "/readyz") log.debug(fields, "http");
      else log.info(fields, "http");
    });
    next();
  });
  for (const router of routers.open) app.use(router);
  const api = express.Router();
  api.use((_req, res, next) => {
    res.setHeader("Cache-Control", "no-store");
    next();
  });
  api.use(createAuthenticator(config.tokens));
  for (const router of routers.api) api.use(router);
  app.use("/api/v1", api);
  app.use(notFound);
  app.use(errorHandler((error, req) => log.error({ err: error, path: req.path }, "request failed")));
  return app;
}

export async function listen(app: Express, port: number, host = "0.0.0.0"): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, () => resolve(server));
    server.once("error", reject);
    // Slow clients must not hold sockets forever.
    server.headersTimeout = 15_000;
    server.requestTimeout = 60_000;
    server.keepAliveTimeout = 5_000;
  });
}
