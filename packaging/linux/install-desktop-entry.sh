#!/usr/bin/env bash
# Adds Specdiff Studio to the desktop's application menu for the current user.
# Run after `bash scripts/run.sh` has created .venv in the checkout.
set -euo pipefail
prefix="$(cd "$(dirname "$0")/../.." && pwd)"
if [ ! -x "$prefix/.venv/bin/specdiff" ]; then
    echo "install-desktop-entry: $prefix/.venv/bin/specdiff not found; run 'bash scripts/run.sh' first" >&2
    exit 1
fi
apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
mkdir -p "$apps"
sed "s#@PREFIX@#$prefix#g" "$prefix/packaging/linux/specdiff-studio.desktop" > "$apps/specdiff-studio.desktop"
echo "installed $apps/specdiff-studio.desktop"
