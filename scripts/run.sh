#!/usr/bin/env bash
# Installs Specdiff Studio into .venv and launches the desktop app.
set -euo pipefail
cd "$(dirname "$0")/.."

# The system libraries Qt and PortAudio need, installed with apt-get where missing.
source scripts/system-packages.sh

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
exec .venv/bin/specdiff "$@"
