#!/usr/bin/env bash
# Installs Specdiff Studio into .venv and launches the desktop app.
set -euo pipefail
cd "$(dirname "$0")/.."

# The system libraries Qt and PortAudio need (scripts/debian-packages.txt), on Debian/Ubuntu:
# the missing ones are installed with apt-get (sudo asks for your password). Elsewhere the app
# itself names any library Qt cannot find.
if command -v dpkg-query >/dev/null && command -v apt-get >/dev/null; then
    missing=""
    for package in $(grep -v '^#' scripts/debian-packages.txt); do
        # Ubuntu 24.04 / Debian 13 renamed some libraries with a t64 suffix.
        { dpkg-query -W -f='${Status}' "$package" "${package}t64" 2>/dev/null || true; } | grep -q "ok installed" \
            || missing="$missing $package"
    done
    if [ -n "$missing" ]; then
        echo "Specdiff Studio needs these system packages:$missing"
        SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
        $SUDO apt-get install -y --no-install-recommends $missing \
            || echo "Could not install them; run: sudo apt-get install$missing" >&2
    fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
exec .venv/bin/specdiff "$@"
