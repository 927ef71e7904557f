#!/usr/bin/env bash
# The console's commands. `scripts/console.sh build` installs the npm dependencies (only when
# package-lock.json changed since the last install) and builds console/dist, which the binary
# embeds. `test`: type check, lint, unit tests (Vitest), build, initial-JS size budget, and the
# example extensions' committed bundles rebuilt from their sources (scripts/check-extensions.mjs).
# `extension DIR`: builds a UI extension's frontend (DIR/src/index.tsx… → DIR/dist/index.js) with
# the console's toolchain, the shared libraries external (docs/extensions.md).
# `e2e`: the browser end-to-end test (needs a built `orrery` binary, ORRERY_BIN or
# target/debug/orrery, and /usr/bin/chromium).
set -euo pipefail
caller=$PWD
cd "$(dirname "$0")/../console"

install() {
  # npm ci wipes node_modules; skip it when the installed tree matches the lock file.
  local stamp=node_modules/.package-lock.sha256
  local want
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return
  fi
  nice -n 10 npm ci --no-audit --no-fund
  echo "$want" >"$stamp"
}

build() {
  install
  nice -n 10 npm run build
}

case "${1:-build}" in
  install) install ;;
  build) build ;;
  test)
    install
    nice -n 10 npm run typecheck
    nice -n 10 npm run lint
    nice -n 10 npm test
    nice -n 10 npm run build
    npm run size
    nice -n 10 node scripts/check-extensions.mjs
    ;;
  extension)
    [ -n "${2:-}" ] || { echo "usage: scripts/console.sh extension DIR" >&2; exit 2; }
    install
    here=$PWD
    (cd "$caller" && nice -n 10 node "$here/scripts/build-extension.mjs" "$2")
    ;;
  e2e)
    install
    [ -f dist/index.html ] || build
    nice -n 10 npm run e2e
    ;;
  *)
    echo "usage: scripts/console.sh [install|build|test|e2e|extension DIR]" >&2
    exit 2
    ;;
esac
