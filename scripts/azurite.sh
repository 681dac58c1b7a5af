#!/usr/bin/env bash
# Start Azurite (Microsoft's storage emulator, blob service) in the foreground for trying blob
# datastores locally (docs/datastores.md). Installs it into the git-ignored .ci/node if missing.
#   scripts/azurite.sh [PORT] [DATA_DIR]     (defaults: 10000, ./.azurite)
# Then: account devstoreaccount1, endpoint 127.0.0.1:PORT, protocol http, and Azurite's
# well-known development account key (printed below).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${1:-10000}"
DATA="${2:-.azurite}"
[ -x .ci/node/node_modules/.bin/azurite-blob ] || npm install -q --prefix .ci/node azurite@3 >/dev/null
mkdir -p "$DATA"
echo "Azurite blob service on http://127.0.0.1:$PORT/devstoreaccount1 (data in $DATA)"
echo "account key: Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
# --skipApiVersionCheck: azure-storage-blob sends a newer x-ms-version than Azurite knows
exec .ci/node/node_modules/.bin/azurite-blob --blobHost 127.0.0.1 --blobPort "$PORT" \
  --location "$DATA" --skipApiVersionCheck --loose
