import express, { type Router } from "express";
import type { Config } from "../../config.js";
import { OPENAPI_PATH, openApiDocument } from "../openapi.js";

/** GET /api/v1/openapi.json: the OpenAPI 3.1 document, public (it describes the API, it holds no data). */
export function openApiRouter(topics: Config["topics"]): Router {
  const router = express.Router();
  // Built once: the document depends only on the code and the configured topic names.
  const body = JSON.stringify(openApiDocument({ topics }));
  router.get(OPENAPI_PATH, (_req, res) => {
    res.type("application/json").send(body);
  });
  return router;
}
