#!/usr/bin/env bash
# Installs the system packages Specdiff Studio needs that are missing, on Debian/Ubuntu (apt):
# scripts/debian-packages.txt (PortAudio, every library Qt's platform plugins link), and Python's
# venv module where the python3 in use lacks it (Debian and Ubuntu ship it as python3-venv).
# Sourced by scripts/run.sh and scripts/test.sh; sudo asks for your password unless you are root.
# Elsewhere it does nothing: the app itself names any library Qt cannot find.
if command -v dpkg-query >/dev/null && command -v apt-get >/dev/null; then
    missing=""
    for package in $(grep -v '^#' scripts/debian-packages.txt); do
        # Ubuntu 24.04 / Debian 13 renamed some libraries with a t64 suffix.
        { dpkg-query -W -f='${Status}' "$package" "${package}t64" 2>/dev/null || true; } | grep -q "ok installed" \
            || missing="$missing $package"
    done
    if [ ! -x .venv/bin/python ] && ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
        missing="$missing python3-venv"
    fi
    if [ -n "$missing" ]; then
        echo "Specdiff Studio needs these system packages:$missing"
        SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
        # A fresh machine may have no package lists yet: update them once if the install fails.
        $SUDO apt-get install -y --no-install-recommends $missing \
            || { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends $missing; } \
            || echo "Could not install them; run: sudo apt-get install$missing" >&2
    fi
fi
