#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine, then runs lint, type checks and the whole suite.
# The tests start a real PostgreSQL (embedded-postgres, from npm), the librdkafka mock cluster (compiled
# from test/support/kafka-mock/launcher.c against librdkafka-dev), Prometheus and Alertmanager.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(librdkafka-dev prometheus prometheus-alertmanager gcc libc6-dev chromium faketime)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/test.sh: please install: ${missing[*]} (sudo apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

npm ci --no-audit --no-fund
bash scripts/audit.sh
npm run lint
npm run typecheck

# The suite runs on the Node the image runs (the Dockerfile's NODE_IMAGE), whatever this machine has: the
# registry serves Node builds as the `node` package. Vitest's workers and every process a test spawns use it.
node_major=$(sed -n 's/^ARG NODE_IMAGE=node:\([0-9][0-9]*\).*/\1/p' Dockerfile)
image_node=$(npm exec --yes --package="node@${node_major:?no NODE_IMAGE in the Dockerfile}" -- sh -c 'command -v node')
export PATH="$(dirname "$image_node"):$PATH" # and anything a test starts by name
echo "tests on Node $(node --version) (the image's), at $image_node"
"$image_node" node_modules/vitest/vitest.mjs run
# The same suite with the clock 400 days ahead (libfaketime shifts Node, the embedded PostgreSQL and the
# Kafka mock alike): no test may depend on the day it runs. Prometheus and Alertmanager (Go) keep the real
# time; the tests that meet them say how they allow for it (test/support/clock.ts).
faketime -f +400d "$image_node" node_modules/vitest/vitest.mjs run
# The integration suite again with every test daemon on engine v2 (RECONCILE_ENGINE=memory, docs/architecture.md):
# the same behaviour is asserted of both engines until the memory engine is the only one.
TEST_RECONCILE_ENGINE=memory "$image_node" node_modules/vitest/vitest.mjs run --project integration
