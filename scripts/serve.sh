#!/usr/bin/env bash
# Builds everything and runs `orrery serve` (embedded host cluster) with data in ./orrery-data.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/console.sh build
cargo build --release -p orrery
exec ./target/release/orrery serve --data-dir "${ORRERY_DATA_DIR:-orrery-data}" "$@"
