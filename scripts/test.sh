#!/usr/bin/env bash
# Installs Specdiff Studio with its test extra into .venv and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
# The tests start the real Qt: the same system libraries as the app, installed where missing.
source scripts/system-packages.sh
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
export QT_QPA_PLATFORM=offscreen
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
# pytest exits 5 when it collected no tests: that is a failure here.
if [ "$rc" = 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi
exit "$rc"
