#!/usr/bin/env bash
# Installs what the test suite needs that the machine may lack. Idempotent: each step checks
# first and does nothing when the tool is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v kubectl >/dev/null 2>&1; then
  echo "kubectl is required on PATH (the test machines ship /usr/bin/kubectl)" >&2
  exit 1
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi
if [ -x scripts/helm-reference/setup.sh ]; then
  scripts/helm-reference/setup.sh
fi
# The console's browser tests drive Debian's chromium (never a downloaded browser).
if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi
# A CJK font, so the Chinese screenshots show glyphs rather than boxes.
if ! fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk"; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei
fi
# An OCI registry for the App Store's OCI repositories (Debian's distribution registry).
if [ ! -x /usr/bin/docker-registry ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry
fi
if ! command -v npm >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
fi
# An LDAP directory for the LDAP login tests (Debian's OpenLDAP server and its tools).
if [ ! -x /usr/sbin/slapd ] || ! command -v ldapadd >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slapd ldap-utils
fi
# A real OpenID provider and relying party for the SSO tests (npm: oidc-provider, openid-client).
if [ ! -d scripts/oidc/node_modules/oidc-provider ] || [ ! -d scripts/oidc/node_modules/openid-client ]; then
  (cd scripts/oidc && npm ci --no-audit --no-fund)
fi
# A real Prometheus for the metrics tests (Debian's prometheus; the test starts its own).
if [ ! -x /usr/bin/prometheus ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus
fi
# wrk, the HTTP load tool of the write-path benchmark (scripts/bench-write-path.sh), as the
# reference figures of ../shared/bench were taken with it.
if ! command -v wrk >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
fi
# The console's npm packages (vite, playwright-core, axe-core for the accessibility test…), from
# console/package-lock.json; skipped when the installed tree already matches it.
scripts/console.sh install
