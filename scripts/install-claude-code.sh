#!/usr/bin/env bash
# Install the pinned Claude Code CLI into <repo>/.cache/claude-code for the end-to-end tests.
# Idempotent: does nothing when the binary there already reports the pinned version.
# tests/support/claude_cli.py finds the binary at this location.
set -euo pipefail

VERSION="${CLAUDE_CODE_VERSION:-2.1.330}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/.cache/claude-code"
BIN="$DEST/node_modules/.bin/claude"
PKG_DIR="$DEST/node_modules/@anthropic-ai/claude-code"

installed_version() {
    # "2.1.330 (Claude Code)" -> "2.1.330"; empty when missing or when the stub has no native binary.
    "$BIN" --version 2>/dev/null | awk '{print $1}' || true
}

if [ -x "$BIN" ] && [ "$(installed_version)" = "$VERSION" ]; then
    echo "claude-code $VERSION already installed: $BIN"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    echo "error: npm not found; install Node.js and npm first" >&2
    exit 1
fi

echo "installing @anthropic-ai/claude-code@$VERSION into $DEST"
mkdir -p "$DEST"
# The package needs its postinstall and its optional platform dependency: the postinstall links the
# native binary from @anthropic-ai/claude-code-<platform> over the bin/claude.exe stub.
npm install --prefix "$DEST" --no-audit --no-fund --save-exact --include=optional \
    "@anthropic-ai/claude-code@$VERSION"

# Newer npm releases may skip install scripts that are not allow-listed; run the postinstall by hand
# if the stub is still in place.
if [ "$(installed_version)" != "$VERSION" ] && [ -f "$PKG_DIR/install.cjs" ]; then
    echo "running the package's postinstall (node install.cjs) by hand"
    (cd "$PKG_DIR" && node install.cjs)
fi

got="$(installed_version)"
if [ "$got" != "$VERSION" ]; then
    echo "error: $BIN reports '${got:-nothing}', expected $VERSION" >&2
    exit 1
fi
echo "installed claude-code $VERSION: $BIN"
