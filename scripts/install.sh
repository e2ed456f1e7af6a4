#!/usr/bin/env bash
# Create .venv and install heluo with its pinned dependencies (offline-safe: everything comes from
# the package registries). A no-op when pyproject.toml has not changed and the requested extras are
# already installed (test.sh installs "local,test", which covers run.sh's "local").
# Usage: scripts/install.sh [EXTRAS]   e.g. "local" (the offline LLM) or "local,test"
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-local}"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null || python=python3
[ -x .venv/bin/python ] || "$python" -m venv .venv
hash="$(sha256sum pyproject.toml | cut -c1-16)"
covered() {  # is every requested extra in some stamp written for this pyproject?
  local stamp extra
  for stamp in .venv/.installed-"$hash"-*; do
    [ -e "$stamp" ] || continue
    local have=",${stamp##*-},"
    local missing=0
    for extra in ${extras//,/ }; do
      [[ "$have" == *",$extra,"* ]] || missing=1
    done
    [ "$missing" = 0 ] && return 0
  done
  return 1
}
if ! covered; then
  echo "heluo: installing dependencies into .venv (first run takes a few minutes)..." >&2
  # torch first, from the CPU build pip's configuration points at: a bare torch pulls a CUDA build.
  .venv/bin/pip install --disable-pip-version-check -q "torch==2.13.0"
  .venv/bin/pip install --disable-pip-version-check -q -e ".[${extras}]"
  rm -f .venv/.installed-*
  touch ".venv/.installed-${hash}-${extras}"
fi
