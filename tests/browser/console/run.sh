#!/usr/bin/env bash
# Browser tests of the web console: headless Debian Chromium driven by playwright-core against a
# real `fieldstar serve --demo` on a free port with its own data folder, stopped by pid at the end.
# Screenshots go to docs/img/ (FIELDSTAR_SHOTS overrides). Run from anywhere:
#   tests/browser/console/run.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."

# What the browser needs: Chromium, a font with Chinese glyphs, Node with playwright-core.
need_apt=()
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)
if command -v fc-list >/dev/null 2>&1 && ! fc-list :lang=zh | grep -q .; then need_apt+=(fonts-wqy-microhei); fi
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi
export FIELDSTAR_NODE_HOME="${FIELDSTAR_NODE_HOME:-/var/tmp/fieldstar-ci-node}"
if [ ! -f "$FIELDSTAR_NODE_HOME/node_modules/playwright-core/package.json" ]; then
  mkdir -p "$FIELDSTAR_NODE_HOME"
  (cd "$FIELDSTAR_NODE_HOME" && { [ -f package.json ] || npm init -y >/dev/null; } \
    && npm install --no-audit --no-fund --silent playwright-core@1)
fi
# axe-core for the accessibility scan (desk.test.mjs), injected into the page from this file.
if [ ! -f "$FIELDSTAR_NODE_HOME/node_modules/axe-core/axe.min.js" ]; then
  (cd "$FIELDSTAR_NODE_HOME" && npm install --no-audit --no-fund --silent axe-core@4)
fi

# The server, built with the caller's target folder.
target="${CARGO_TARGET_DIR:-target}"
cargo build --quiet
bin="$target/debug/fieldstar"

data="$(mktemp -d "${TMPDIR:-/tmp}/fieldstar-console-XXXXXX")"
port="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
password="console-$(od -An -tx1 -N9 /dev/urandom | tr -d ' \n')"
server_pid=""
stop() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$data"
}
trap stop EXIT

# Only this run's settings: a SQLite database and photos in the temp folder.
env -u FIELDSTAR_DATABASE_URL -u FIELDSTAR_STORAGE_URL -u FIELDSTAR_BIND -u FIELDSTAR_JWT_SECRET \
  FIELDSTAR_DATA_DIR="$data" FIELDSTAR_DEMO_PASSWORD="$password" FIELDSTAR_RENEWALS=0 \
  FIELDSTAR_WEBHOOK_ALLOW_PRIVATE=1 FIELDSTAR_WEBHOOK_POLL_MS=200 FIELDSTAR_LOG_FORMAT=text \
  "$bin" serve --demo --bind "127.0.0.1:$port" >"$data/server.log" 2>&1 &
server_pid=$!

url="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  if curl -sf "$url/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "the server did not start:" >&2
    cat "$data/server.log" >&2
    exit 1
  fi
  sleep 0.2
done

# One at a time, in this order: the reviewer's approval comes before the dashboard's screenshots.
# FIELDSTAR_SPECS="reviewer desk" runs only those specs, in that order (while iterating).
specs=(${FIELDSTAR_SPECS:-static i18n reviewer admin secretary session dashboard})
files=()
for s in "${specs[@]}"; do files+=("tests/browser/console/$s.test.mjs"); done
if [ -z "${FIELDSTAR_SPECS:-}" ]; then
  for f in tests/browser/console/*.test.mjs; do
    case " ${files[*]} " in *" $f "*) ;; *) files+=("$f") ;; esac
  done
fi
# (node --test sorts the files it is given, so each file gets its own run.)
status=0
for f in "${files[@]}"; do
  FIELDSTAR_URL="$url" FIELDSTAR_DEMO_PASSWORD="$password" timeout 120 node --test "$f" || status=1
done
if [ "$status" -ne 0 ]; then
  echo "console browser tests: FAILED" >&2
  echo "--- server log (last 40 lines) ---" >&2
  tail -n 40 "$data/server.log" >&2
fi
[ "$status" -ne 0 ] || echo "console browser tests: all passed"
exit "$status"
