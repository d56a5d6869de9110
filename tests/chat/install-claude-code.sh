#!/usr/bin/env bash
# Installs the pinned Claude Code CLI that tests/chat drives into .cache/claude-code (not
# tracked), from the lockfile next to this script. Idempotent: a working install of the
# pinned version is left alone. The registry is retried; if the CLI still cannot be
# installed, the reason is written to $DIR/not-installed.txt so the tests can skip with it
# -- except under CI (CI=true), where a missing client is a failure.
set -uo pipefail

cd "$(dirname "$0")/../.."
HERE=tests/chat/claude-code
DIR=${TETHER_CLAUDE_CODE_DIR:-.cache/claude-code}
VERSION=$(sed -n 's/.*"@anthropic-ai\/claude-code": "\(.*\)".*/\1/p' "$HERE/package.json")
BIN=$DIR/node_modules/.bin/claude
REASON=$DIR/not-installed.txt

installed() {
    [ -x "$BIN" ] && [ "$("$BIN" --version 2>/dev/null)" = "$VERSION (Claude Code)" ]
}

give_up() {
    echo "claude-code: $1" >&2
    mkdir -p "$DIR" && echo "$1" > "$REASON"
    if [ "${CI:-}" = true ]; then exit 1; fi
    exit 0
}

if installed; then
    rm -f "$REASON"
    exit 0
fi
command -v npm > /dev/null || give_up "npm is not installed (Claude Code $VERSION needs Node and npm)"
mkdir -p "$DIR"
cp "$HERE/package.json" "$HERE/package-lock.json" "$DIR/"
for attempt in 1 2 3; do
    # The engine warning is expected: 2.1.x declares Node >= 22 and runs on Node 20.
    if npm ci --prefix "$DIR" --no-audit --no-fund --loglevel=error; then
        break
    fi
    echo "claude-code: npm ci failed (attempt $attempt of 3)" >&2
    sleep $((attempt * 5)) # back off before retrying the registry
done
# The package's postinstall puts the native binary in place of bin/claude.exe; where npm
# skipped install scripts, run it once ourselves.
wrapper=$DIR/node_modules/@anthropic-ai/claude-code
if ! installed && [ -f "$wrapper/install.cjs" ]; then
    (cd "$wrapper" && node install.cjs) || true
fi
installed || give_up "npm ci of @anthropic-ai/claude-code@$VERSION did not give a working claude (see the output above)"
rm -f "$REASON"
echo "claude-code: $("$BIN" --version) in $DIR"
