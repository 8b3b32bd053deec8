import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// Standalone config for the Kafka mock's own test: no global setup (PostgreSQL etc.), so the
// harness can be verified in isolation. Run: npx vitest run --config test/support/kafka-mock/vitest.mock.config.ts
export default defineConfig({
  // The config lives three levels down; without this, vitest would resolve `include` from here.
  root: fileURLToPath(new URL("../../..", import.meta.url)),
  test: {
    include: ["test/integration/kafkaMock.test.ts"],
    environment: "node",
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
