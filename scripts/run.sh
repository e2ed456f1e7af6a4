#!/usr/bin/env bash
# The main job: install everything (first run only), index the bundled corpus, start the web UI.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh local
.venv/bin/heluo ingest
exec .venv/bin/heluo serve "$@"
