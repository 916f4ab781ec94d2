#!/usr/bin/env bash
# Installs Specdiff Studio into .venv and launches the desktop app.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
exec .venv/bin/specdiff "$@"
