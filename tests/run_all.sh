#!/usr/bin/env bash
# Set up a fresh machine for the test suite and run all of it.
# Installs the package with its test extra, Debian's chromium (the browser tests drive
# it through Playwright) when it is missing, then runs every test, slow ones included.
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --quiet --disable-pip-version-check -e '.[test]'
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
exec python -m pytest "$@"
