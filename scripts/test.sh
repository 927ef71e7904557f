#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every test (unit, property, end-to-end with the
# real kubectl and the real Helm engine). Installs what the tests need, idempotently.
set -euo pipefail
cd "$(dirname "$0")/.."

# One clean build, not an incremental one: incremental caches roughly double the target
# directory's size on a fresh clone (CI's run of stop 28 ran out of disk) and gain nothing there.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

./scripts/install-test-deps.sh
# The console first: the binary embeds console/dist, and its own checks are part of the suite.
./scripts/console.sh test

cargo fmt --all -- --check
# No crate depends on one above it (ARCHITECTURE.md's layers).
python3 ./scripts/check-layers.py
cargo clippy --workspace --all-targets --locked -- -D warnings
# Tests that start the orrery binary as a process use the one this build makes.
export ORRERY_BIN="$PWD/target/debug/orrery"
cargo nextest run --workspace --locked --no-fail-fast "$@"
# The browser test drives the binary the suite built (target/debug/orrery).
./scripts/console.sh e2e
