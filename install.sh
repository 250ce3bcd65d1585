#!/usr/bin/env bash
# Install mem0-hooks for Claude Code from this checkout. Needs only python3 (3.10+) with venv.
#
#   ./install.sh [--yes] [--backend local|platform|openmemory|server] [--url URL] [--user-id ID]
#                [--project DIR] [--import-history] [--dry-run]
#   ./install.sh --uninstall [--purge] [--yes] [--project DIR] [--dry-run]
#
# Makes a virtualenv in the data dir ($MEM0_HOOKS_HOME, else ${XDG_DATA_HOME:-~/.local/share}/mem0-hooks),
# pip-installs this checkout into it, then hands over to `python -m mem0_hooks.cli.main install`, which
# copies the hooks, writes config.yaml, merges the hooks into ~/.claude/settings.json (with a backup)
# and links ~/.local/bin/mem0-hooks. The Mem0 API key is read only from MEM0_API_KEY.
# --import-history imports your past Claude Code sessions too; an interactive install asks once.
# PYTHON=/path/to/python3 picks the interpreter.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"

usage() {
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
}

uninstall=0
dry_run=0
args=()
for arg in "$@"; do
    case "$arg" in
        -h|--help) usage; exit 0 ;;
        --uninstall) uninstall=1 ;;
        --dry-run) dry_run=1; args+=("$arg") ;;
        *) args+=("$arg") ;;
    esac
done

die() { echo "error: $*" >&2; exit 1; }

if [ -z "${HOME:-}" ]; then die "HOME is not set"; fi
command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found: install Python 3.10 or newer (or set PYTHON=/path/to/python3)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
    || die "mem0-hooks needs Python 3.10 or newer; $PYTHON is $("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"

export MEM0_HOOKS_HOME="${MEM0_HOOKS_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/mem0-hooks}"
VENV="$MEM0_HOOKS_HOME/venv"
umask 077  # the data dir will hold conversation text

# The stdlib-only parts (argument checks, the settings preflight, dry run, uninstall) run straight
# from this checkout with the bare interpreter: no venv needed, nothing written.
from_checkout() {
    PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -m mem0_hooks.cli.main "$@"
}

if [ "$uninstall" = 1 ]; then
    from_checkout uninstall ${args[@]+"${args[@]}"}
    exit $?
fi

# Check the arguments and the settings file before spending a minute on pip: a broken
# settings.json stops the install here, with nothing changed.
from_checkout install --preflight --source "$ROOT" ${args[@]+"${args[@]}"}

if [ "$dry_run" = 1 ]; then
    from_checkout install --source "$ROOT" ${args[@]+"${args[@]}"}
    exit $?
fi

"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null \
    || die "$PYTHON has no venv/ensurepip module (Debian/Ubuntu: sudo apt install python3-venv)"

want="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
have="$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)"
if [ -n "$have" ] && [ "$have" = "$want" ]; then
    echo "==> reusing the virtualenv $VENV (python $have)"
else
    if [ -e "$VENV" ]; then
        echo "==> replacing the virtualenv $VENV (${have:-broken} -> python $want)"
        rm -rf "$VENV"
    else
        echo "==> creating the virtualenv $VENV (python $want)"
    fi
    mkdir -p "$MEM0_HOOKS_HOME"
    "$PYTHON" -m venv "$VENV"
fi

# Build from a copy so the checkout gets no build/ or *.egg-info, and a stale build/ never leaks in.
echo "==> installing mem0-hooks from $ROOT into the virtualenv (pip)"
build="$(mktemp -d "${TMPDIR:-/tmp}/mem0-hooks-build.XXXXXX")"
trap 'rm -rf "$build"' EXIT
cp -R "$ROOT/pyproject.toml" "$ROOT/mem0_hooks" "$build/"
for extra in README.md LICENSE LICENSE.txt; do
    if [ -f "$ROOT/$extra" ]; then cp "$ROOT/$extra" "$build/"; fi
done
find "$build" -name __pycache__ -prune -exec rm -rf {} +
"$VENV/bin/python" -m pip install --disable-pip-version-check --no-input --quiet "$build" \
    || die "pip could not install mem0-hooks into $VENV (see the messages above)"

"$VENV/bin/python" -m mem0_hooks.cli.main install --source "$ROOT" ${args[@]+"${args[@]}"}
