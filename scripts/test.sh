#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every test (unit, property, end-to-end with the
# real kubectl and the real Helm engine). Installs what the tests need, idempotently.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-test-deps.sh

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# Tests that start the orrery binary as a process use the one this build makes.
export ORRERY_BIN="$PWD/target/debug/orrery"
cargo nextest run --workspace --locked --no-fail-fast "$@"
