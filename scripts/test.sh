#!/usr/bin/env bash
# Install everything (first run only), including Debian's chromium for the browser test, and run the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh local,test
# Debian's chromium for the browser tests, and a CJK font so its screenshots show Chinese, not boxes.
if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "wenquanyi\|wqy"; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "heluo: installing Debian chromium for the browser tests..." >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-wqy-microhei >/dev/null) \
      || echo "heluo: could not install chromium; browser tests will be skipped" >&2
  else
    echo "heluo: chromium not found and not root; browser tests will be skipped" >&2
  fi
fi
export HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False ANONYMIZED_TELEMETRY=False
exec .venv/bin/python -m pytest --durations=25 "$@"  # the slowest tests, to keep CI well under 15 minutes
