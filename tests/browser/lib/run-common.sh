# Sourced by tests/browser/{console,phone}/run.sh: installs what the browser needs, builds and
# starts `fieldstar serve --demo` on a free loopback port with a throwaway data folder (SQLite,
# local photos, nothing of the caller's FIELDSTAR_* settings), runs spec files with
# `node --test`, and stops the server by its pid when the script exits.
#
#   browser_setup                         Chromium, a Chinese font, Node, playwright-core, axe-core
#   browser_start_server [VAR=value …]    builds, starts, waits for /readyz; extra server settings
#   browser_run_specs DIR TIMEOUT NAME…   each DIR/NAME.test.mjs in its own `node --test` run
#
# What the specs read (tests/browser/lib/common.mjs): FIELDSTAR_URL, FIELDSTAR_DEMO_PASSWORD,
# FIELDSTAR_NODE_HOME (FIELDSTAR_NODE_DIR, its older name, is read too), FIELDSTAR_CHROMIUM_PROFILE (a folder for persistent profiles),
# FIELDSTAR_SERVER_LOG; FIELDSTAR_SHOTS moves the screenshots, FIELDSTAR_TEST_PATTERN runs only
# the tests whose names match.

browser_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$browser_root"

browser_setup() {
  local need_apt=()
  [ -x /usr/bin/chromium ] || need_apt+=(chromium)
  command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)
  if command -v fc-list >/dev/null 2>&1 && ! fc-list :lang=zh | grep -q .; then need_apt+=(fonts-wqy-microhei); fi
  if [ ${#need_apt[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
  fi
  # playwright-core drives the system Chromium and axe-core scans pages for accessibility; both
  # live in a cache outside the clone.
  export FIELDSTAR_NODE_HOME="${FIELDSTAR_NODE_HOME:-${FIELDSTAR_NODE_DIR:-/var/tmp/fieldstar-ci-node}}"
  if [ ! -f "$FIELDSTAR_NODE_HOME/node_modules/playwright-core/package.json" ] ||
    [ ! -f "$FIELDSTAR_NODE_HOME/node_modules/axe-core/axe.min.js" ]; then
    mkdir -p "$FIELDSTAR_NODE_HOME"
    (cd "$FIELDSTAR_NODE_HOME" && { [ -f package.json ] || npm init -y >/dev/null; } \
      && npm install --no-audit --no-fund --silent playwright-core@1 axe-core@4)
  fi
}

browser_work=""
browser_server_pid=""
browser_stop() {
  if [ -n "$browser_server_pid" ]; then
    kill "$browser_server_pid" 2>/dev/null || true
    wait "$browser_server_pid" 2>/dev/null || true
    browser_server_pid=""
  fi
  if [ -n "$browser_work" ]; then rm -rf "$browser_work"; fi
}
trap browser_stop EXIT

browser_start_server() {
  # The server, built into the caller's target folder.
  local target="${CARGO_TARGET_DIR:-target}"
  case "$target" in /*) ;; *) target="$browser_root/$target" ;; esac
  cargo build --quiet --bin fieldstar
  local bin="$target/debug/fieldstar"

  browser_work="$(mktemp -d "${TMPDIR:-/tmp}/fieldstar-browser-XXXXXX")"
  mkdir -p "$browser_work/data" "$browser_work/profile"
  export FIELDSTAR_CHROMIUM_PROFILE="$browser_work/profile"
  export FIELDSTAR_SERVER_LOG="$browser_work/server.log"
  export FIELDSTAR_DEMO_PASSWORD="browser-$(od -An -tx1 -N9 /dev/urandom | tr -d ' \n')"
  local port
  port="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
  export FIELDSTAR_URL="http://127.0.0.1:$port"

  # Only this run's settings: a SQLite database and photos in the temp folder.
  env -u FIELDSTAR_DATABASE_URL -u FIELDSTAR_STORAGE_URL -u FIELDSTAR_BIND -u FIELDSTAR_JWT_SECRET \
    FIELDSTAR_DATA_DIR="$browser_work/data" FIELDSTAR_RENEWALS=0 FIELDSTAR_LOG_FORMAT=text "$@" \
    "$bin" serve --demo --bind "127.0.0.1:$port" >"$FIELDSTAR_SERVER_LOG" 2>&1 &
  browser_server_pid=$!

  for _ in $(seq 1 300); do
    if curl -fs "$FIELDSTAR_URL/readyz" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$browser_server_pid" 2>/dev/null; then
      echo "the server did not start:" >&2
      cat "$FIELDSTAR_SERVER_LOG" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "the server did not answer /readyz within a minute" >&2
  exit 1
}

# Runs DIR/NAME.test.mjs for each NAME, each file in its own `node --test` under TIMEOUT seconds
# (node --test sorts the files it is given, so this keeps the order). Returns 1 if any failed,
# after printing the end of the server's log.
browser_run_specs() {
  local dir="$1" timeout_secs="$2"
  shift 2
  local pattern=()
  if [ -n "${FIELDSTAR_TEST_PATTERN:-}" ]; then pattern=(--test-name-pattern="$FIELDSTAR_TEST_PATTERN"); fi
  local status=0 name
  for name in "$@"; do
    timeout "$timeout_secs" node --test "${pattern[@]}" "$dir/$name.test.mjs" || status=1
  done
  if [ "$status" -ne 0 ]; then
    # The app's files (route=unmatched) would fill the tail: the API's last lines are what helps.
    echo "--- server log, without the app's files (last 60 lines, cut) ---" >&2
    grep -v 'route=unmatched' "$FIELDSTAR_SERVER_LOG" | tail -n 60 | cut -c1-400 >&2
  fi
  return "$status"
}

# The spec names of DIR: FIELDSTAR_SPECS when set ("reviewer desk": those, in that order), else
# the names in "$2" first (an order chosen for the screenshots, not needed by the specs), then
# every other spec of the folder.
browser_spec_names() {
  local dir="$1" first="$2" f n
  if [ -n "${FIELDSTAR_SPECS:-}" ]; then
    echo "$FIELDSTAR_SPECS"
    return
  fi
  local names=($first)
  for f in "$dir"/*.test.mjs; do
    n="$(basename "$f" .test.mjs)"
    case " ${names[*]} " in *" $n "*) ;; *) names+=("$n") ;; esac
  done
  echo "${names[*]}"
}
