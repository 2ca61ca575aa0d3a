#!/usr/bin/env bash
# Set up a fresh machine for the test suite and run all of it.
# Installs the package with its test extra, Debian's chromium (the browser tests drive
# it through Playwright) when it is missing, then runs every test, slow ones included
# (arguments go to this first pytest).
# Then, where a Python 3.12+ interpreter exists (on PATH or under pyenv), the core tests
# (model, scenarios, market, controls, regression, determinism, batch_run, sweep/store)
# run again under the newest Mesa 3.x in a venv kept in .venv-py312/ (made or reused);
# SKIP_PY312=1 skips that leg. The script fails if either leg fails.
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --quiet --disable-pip-version-check -e '.[test]'
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
main_status=0
# Two workers (pytest-xdist): the slow statistical, CLI and browser tests share the
# machine's two cores; every test is independent of the others' order and process.
python -m pytest -n 2 "$@" || main_status=$?

# ------------------------------------------- second leg: Python 3.12+, newest Mesa 3.x
CORE_TESTS=(
  tests/test_market.py tests/test_controls.py tests/test_scenarios.py
  tests/test_mechanisms.py tests/test_regression.py tests/test_determinism.py
  tests/test_batch_run.py tests/test_sweep.py tests/test_store.py tests/test_synthetic.py
  tests/test_reporters.py tests/test_agents.py tests/test_kernels.py tests/test_fast_paths.py
  tests/test_load_cache.py tests/test_schemas.py tests/test_ai_chip_market.py
)
VENV=.venv-py312

is_python312() {  # an interpreter that runs and is 3.12 or newer
  "$1" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1
}

find_python312() {
  local candidate
  for candidate in python3.12 python3.13 python3.14 \
      "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python; do
    if is_python312 "$candidate"; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

second_status=0
MAIN_PY=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "${SKIP_PY312:-0}" = "1" ]; then
  echo "SKIP_PY312=1: core tests ran under $MAIN_PY only"
elif ! is_python312 "$VENV/bin/python" && ! PY312=$(find_python312); then
  echo "no Python 3.12+ interpreter found: core tests ran under $MAIN_PY only"
else
  started=$SECONDS
  if ! is_python312 "$VENV/bin/python"; then
    "$PY312" -m venv --clear "$VENV"
  fi
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[test]' \
    || second_status=$?
  if [ "$second_status" -eq 0 ]; then
    versions=$("$VENV/bin/python" -c 'import platform, mesa
print(f"Python {platform.python_version()} / Mesa {mesa.__version__}")') \
      || versions="Python 3.12+ (mesa does not import)"
    echo "core tests under $versions ($VENV)"
    "$VENV/bin/python" -m pytest "${CORE_TESTS[@]}" || second_status=$?
    echo "core tests under $versions: $([ "$second_status" -eq 0 ] && echo passed || echo FAILED)" \
         "in $((SECONDS - started)) s (venv set-up included)"
  else
    echo "core tests under Python 3.12+: FAILED to install the package in $VENV"
  fi
fi

if [ "$main_status" -ne 0 ] || [ "$second_status" -ne 0 ]; then
  echo "run_all: main suite exit $main_status, Python 3.12+ core tests exit $second_status"
  exit 1
fi
