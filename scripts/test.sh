#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every test (unit, property, end-to-end with the
# real kubectl and the real Helm engine). Installs what the tests need, idempotently.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-test-deps.sh
# The console first: the binary embeds console/dist, and its own checks are part of the suite.
./scripts/console.sh test

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo nextest run --workspace --locked --no-fail-fast "$@"
cargo build -p orrery --locked
./scripts/console.sh e2e
