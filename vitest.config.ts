import { defineConfig } from "vitest/config";

// Two projects: the pure core runs without servers; integration tests share one
// embedded PostgreSQL and one Kafka mock cluster started by the global setup,
// each test taking its own database and topics so files can run in parallel.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          environment: "node",
          // Property tests run 1,000 cases each; on two busy cores that can take longer than the 5 s default.
          testTimeout: 60_000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          environment: "node",
          globalSetup: ["test/support/globalSetup.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // Two cores run broker, database and daemon: keep file parallelism modest.
          maxWorkers: 2,
          // After the unit tests: the servers start only once the fast feedback is in.
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
