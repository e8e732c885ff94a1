#!/usr/bin/env bash
# Browser tests of the phone app (/m/): headless Debian Chromium driven by playwright-core.
# Installs what is missing, builds and starts `fieldstar serve --demo` on a free port with a
# throwaway data dir, runs the specs with `node --test`, and stops the server by its pid.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cd "$root"

if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi

# playwright-core drives the system Chromium and axe-core scans pages for accessibility; both
# live in a cache outside the clone.
export FIELDSTAR_NODE_DIR="${FIELDSTAR_NODE_DIR:-/var/tmp/fieldstar-ci-node}"
if [ ! -f "$FIELDSTAR_NODE_DIR/node_modules/playwright-core/package.json" ] ||
  [ ! -f "$FIELDSTAR_NODE_DIR/node_modules/axe-core/axe.min.js" ]; then
  mkdir -p "$FIELDSTAR_NODE_DIR"
  npm install --silent --no-audit --no-fund --prefix "$FIELDSTAR_NODE_DIR" playwright-core@1 axe-core@4 >/dev/null
fi

target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
bin="$target/debug/fieldstar"
if [ ! -x "$bin" ] || [ -n "$(find server/src server/web migrations Cargo.toml -newer "$bin" -print -quit)" ]; then
  cargo build --quiet --bin fieldstar
fi

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
data="$(mktemp -d /tmp/fieldstar-phone-test.XXXXXX)"
profile="$(mktemp -d /tmp/fieldstar-phone-chromium.XXXXXX)"
export FIELDSTAR_DEMO_PASSWORD="phone-test-$(date +%s)-pw"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$data" "$profile"
}
trap cleanup EXIT

FIELDSTAR_DATA_DIR="$data" FIELDSTAR_RENEWALS=0 FIELDSTAR_LOG_FORMAT=text \
  "$bin" serve --demo --bind "127.0.0.1:$port" >"$data/server.log" 2>&1 &
pid=$!

export FIELDSTAR_URL="http://127.0.0.1:$port"
for _ in $(seq 1 300); do
  if curl -fs "$FIELDSTAR_URL/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then cat "$data/server.log"; echo "fieldstar did not start" >&2; exit 1; fi
  sleep 0.2
done

export FIELDSTAR_CHROMIUM_PROFILE="$profile"
# The server's log, for specs that check what it answered (the access log: route and status).
export FIELDSTAR_SERVER_LOG="$data/server.log"
# FIELDSTAR_SPECS="upload shell" runs only those specs (file names without .test.mjs).
specs=()
if [ -n "${FIELDSTAR_SPECS:-}" ]; then
  for s in $FIELDSTAR_SPECS; do specs+=("$here/$s.test.mjs"); done
else
  specs=("$here"/*.test.mjs)
fi
# FIELDSTAR_TEST_PATTERN="refuses" runs only the tests whose names match (node's --test-name-pattern).
pattern=()
if [ -n "${FIELDSTAR_TEST_PATTERN:-}" ]; then pattern=(--test-name-pattern="$FIELDSTAR_TEST_PATTERN"); fi
status=0
node --test --test-concurrency=1 "${pattern[@]}" "${specs[@]}" || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- server log (last lines, cut) ---" >&2
  tail -n 15 "$data/server.log" | cut -c1-400 >&2
fi
exit "$status"
