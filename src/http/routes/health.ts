import express, { type Router } from "express";
import type pg from "pg";
import { migrationsApplied } from "../../db/migrate.js";
import type { Metrics } from "../../metrics/registry.js";

export interface ReadinessProbe {
  /** Absent when Kafka is not configured. */
  kafkaHealthy?: () => Promise<boolean>;
  /** RECONCILE_ENGINE=memory: whether this instance is the writer or a standby. */
  role?: () => "leader" | "standby";
  /** RECONCILE_ENGINE=memory: whether the working set is loaded (absent with the sql engine; undefined on a standby). */
  workingSetLoaded?: () => boolean | undefined;
}

async function databaseReady(pool: pg.Pool): Promise<{ reachable: boolean; migrated: boolean }> {
  try {
    return { reachable: true, migrated: await migrationsApplied(pool) };
  } catch {
    return { reachable: false, migrated: false };
  }
}

/** /healthz: the process answers. /readyz: it can do its job. /metrics: Prometheus text. */
export function healthRouter(pool: pg.Pool, metrics: Metrics, probe: ReadinessProbe): Router {
  const router = express.Router();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok", ...(probe.role ? { role: probe.role() } : {}) });
  });
  router.get("/readyz", async (_req, res) => {
    const [database, kafka] = await Promise.all([
      databaseReady(pool),
      probe.kafkaHealthy ? probe.kafkaHealthy() : Promise.resolve(undefined),
    ]);
    const workingSet = probe.workingSetLoaded?.();
    const ready = database.reachable && database.migrated && kafka !== false && workingSet !== false;
    metrics.ready.set(ready ? 1 : 0);
    res.status(ready ? 200 : 503).json({
      status: ready ? "ready" : "not_ready",
      checks: {
        postgres: database.reachable ? "ok" : "unreachable",
        migrations: database.migrated ? "ok" : "pending",
        kafka: kafka === undefined ? "not_configured" : kafka ? "ok" : "unreachable",
        working_set: workingSet === undefined ? "not_used" : workingSet ? "ok" : "loading",
      },
      ...(probe.role ? { role: probe.role() } : {}),
    });
  });
  router.get("/metrics", async (_req, res) => {
    res.setHeader("Content-Type", metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });
  return router;
}
