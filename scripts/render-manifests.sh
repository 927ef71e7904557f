#!/usr/bin/env bash
# Writes deploy/manifests/orrery.yaml: the chart rendered by Orrery's Helm engine with its
# default values, except that the admin password comes from a Secret you make (a password
# rendered into a file in the repository would be everyone's). crates/orrery/tests/chart.rs
# checks the file is in sync. Usage: scripts/render-manifests.sh [path to orrery]
set -euo pipefail
cd "$(dirname "$0")/.."
orrery="${1:-${ORRERY_BIN:-target/debug/orrery}}"
out=deploy/manifests/orrery.yaml
{
  cat <<'HEAD'
# Orrery in a Kubernetes cluster, as plain manifests: deploy/chart rendered with its default
# values and `--set admin.existingSecret=orrery-admin` (scripts/render-manifests.sh; do not
# edit by hand). Install:
#
#   kubectl create namespace kubesphere-system
#   kubectl -n kubesphere-system create secret generic orrery-admin \
#     --from-literal=password="$(head -c 18 /dev/urandom | base64)"
#   kubectl apply -f deploy/manifests/orrery.yaml
#
# docs/deploy.md explains the RBAC, probes and high availability.
HEAD
  "$orrery" helm template deploy/chart --namespace kubesphere-system --release-name orrery \
    --set admin.existingSecret=orrery-admin
} >"$out"
echo "wrote $out"
