#!/usr/bin/env bash
# Runs the whole test suite from a clean clone: makes .venv, installs the package with its test
# extras, installs the pinned Claude Code CLI (for the end-to-end tests), then runs pytest.
# Extra arguments go to pytest, e.g. scripts/test.sh -k queue -x
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv with $($PYTHON --version 2>&1)"
    "$PYTHON" -m venv .venv
fi
echo "==> installing mem0-hooks and test dependencies into .venv"
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
.venv/bin/python -c 'from mem0_hooks.install import install_weights; install_weights()'

echo "==> installing the Claude Code CLI for the end-to-end tests"
bash scripts/install-claude-code.sh

# The viewer's browser tests drive Debian's Chromium (tests/test_viewer_browser.py); they skip, saying
# so, only where it cannot be had.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 \
        && [ -z "${MEM0_HOOKS_CHROMIUM:-}" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "==> installing Debian's chromium for the viewer's browser tests"
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
            || echo "    could not install chromium: the browser tests will skip"
    else
        echo "==> no chromium and no apt-get as root to install it: the viewer's browser tests will skip"
    fi
fi

echo "==> running the tests"
exec .venv/bin/python -m pytest "$@"
