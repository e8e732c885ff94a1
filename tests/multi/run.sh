#!/usr/bin/env bash
# Several processes, one county (docs/scaling.md): two `fieldstar serve` on one PostgreSQL (a
# throwaway cluster, never the system's) and one S3-compatible server (s3s-fs), behind HAProxy.
# `fieldstar bench drive` uploads inspections and photos through the balancer, recording every
# acknowledged write; halfway through, the process holding the webhook lease is SIGKILLed and
# restarted. `fieldstar bench verify` then checks every acknowledged write is there exactly
# once, every photo is whole through either process, every submission's event reached the
# webhook receiver once, and no renewal was created twice. Bounded: about two minutes.
#
#   tests/multi/run.sh                      the check (CI)
#   MULTI_SECONDS=60 MULTI_ONLY_ONE=1 tests/multi/run.sh   one process behind the balancer
#   MULTI_SECONDS=60 MULTI_KILL=0 tests/multi/run.sh       two, nobody killed (throughput)
#
# Needs: the PostgreSQL server binaries, haproxy, python3 (the receiver), cargo (s3s-fs).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/fieldstar-ci-target}"
SECONDS_OF_LOAD="${MULTI_SECONDS:-45}"
CONCURRENCY="${MULTI_CONCURRENCY:-8}"
ONLY_ONE="${MULTI_ONLY_ONE:-0}"
KILL="${MULTI_KILL:-1}"

cargo build --quiet
BIN="$CARGO_TARGET_DIR/debug/fieldstar"
WORK="$(mktemp -d -t fieldstar-multi-XXXXXX)"
chmod 755 "$WORK"
PIDS=()
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
source .ci/s3.sh

cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -f "$WORK/pg/data/postmaster.pid" ]; then
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  s3_stop
  if [ "$rc" -ne 0 ]; then
    echo "multi: FAILED; logs:" >&2
    tail -n 30 "$WORK"/*.log >&2 || true
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT

free_port() {
  local port
  while :; do
    port=$(( 20000 + RANDOM % 30000 ))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
}

wait_http() { # URL, seconds
  for _ in $(seq 1 $(( $2 * 10 ))); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "multi: $1 did not answer in $2 s" >&2
  return 1
}

# PostgreSQL: a throwaway cluster on a free port, owned by the postgres user (initdb refuses root).
mkdir -p "$WORK/pg"
chown -R postgres:postgres "$WORK/pg"
PG_PORT=$(free_port)
runuser -u postgres -- "$PG_BIN/initdb" -D "$WORK/pg/data" -U postgres --auth=trust -E UTF8 \
  --no-instructions >/dev/null
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" -w -t 120 \
  -o "-p $PG_PORT -k $WORK/pg -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
runuser -u postgres -- "$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres \
  -c "CREATE DATABASE fieldstar" >/dev/null

s3_start
PIDS+=("$S3_PID")

# The webhook receiver: logs each delivery as a JSON line and answers 200.
HOOK_PORT=$(free_port)
python3 - "$HOOK_PORT" "$WORK/events.jsonl" >"$WORK/receiver.log" 2>&1 <<'PY' &
import json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
port, path = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()
class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        line = {"event": body.get("id"), "type": body.get("type"),
                "inspection_id": (body.get("data") or {}).get("inspection_id"),
                "delivery": self.headers.get("X-Fieldstar-Delivery")}
        with lock, open(path, "a") as f:
            f.write(json.dumps(line) + "\n")
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
ThreadingHTTPServer(("127.0.0.1", port), Hook).serve_forever()
PY
PIDS+=($!)

export FIELDSTAR_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/fieldstar"
export FIELDSTAR_STORAGE_URL="s3://$FIELDSTAR_TEST_S3_BUCKET/multi"
export AWS_ENDPOINT_URL="$FIELDSTAR_TEST_S3" AWS_ACCESS_KEY_ID="$FIELDSTAR_TEST_S3_KEY"
export AWS_SECRET_ACCESS_KEY="$FIELDSTAR_TEST_S3_SECRET" AWS_REGION=us-east-1 AWS_ALLOW_HTTP=true
export FIELDSTAR_JWT_SECRET="multi-process-test-secret-0123456789abcdef"
export FIELDSTAR_DEMO_PASSWORD="demo-password-123"
export FIELDSTAR_WEBHOOK_ALLOW_PRIVATE=1 FIELDSTAR_WEBHOOK_POLL_MS=200
export FIELDSTAR_LEASE_RETRY_SECS=2 FIELDSTAR_TRUSTED_PROXIES=127.0.0.1/32
export FIELDSTAR_PHOTO_UPLOADS_PER_USER=64 FIELDSTAR_PHOTO_BYTES_PER_HOUR=100000000000
export FIELDSTAR_LOG_FORMAT=json RUST_LOG=warn,fieldstar=info

PORT_A=$(free_port); PORT_B=$(free_port); LB_PORT=$(free_port)
declare -A PID_OF
start() { # NAME PORT [--demo]
  FIELDSTAR_DATA_DIR="$WORK/data-$1" FIELDSTAR_BIND="127.0.0.1:$2" \
    "$BIN" serve "${@:3}" >>"$WORK/$1.log" 2>&1 &
  PID_OF[$1]=$!
  PIDS+=($!)
}

"$BIN" migrate >/dev/null
start a "$PORT_A" --demo
wait_http "http://127.0.0.1:$PORT_A/readyz" 120
# Star holders from before fieldstar (the baseline import): whoever takes the renewals lease
# next creates their renewals for this quarter, and a duplicate would show.
TOKEN=$(curl -fsS "http://127.0.0.1:$PORT_A/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$FIELDSTAR_DEMO_PASSWORD\"}" | jq -r .access_token)
y=$(TZ=Asia/Shanghai date +%Y); q=$(( ($(TZ=Asia/Shanghai date +%-m) - 1) / 3 + 1 ))
if [ "$q" = 1 ]; then since="$((y - 1))-Q4"; else since="$y-Q$((q - 1))"; fi
{
  echo "village_code,level,since_quarter"
  curl -fsS "http://127.0.0.1:$PORT_A/api/v1/org-units?level=village&limit=200" \
    -H "authorization: Bearer $TOKEN" | jq -r '.items[-20:][].code' | sed "s/\$/,1,$since/"
} >"$WORK/baseline.csv"
"$BIN" stars import "$WORK/baseline.csv" >/dev/null
if [ "$ONLY_ONE" != 1 ]; then
  start b "$PORT_B"
  wait_http "http://127.0.0.1:$PORT_B/readyz" 120
fi

{
  cat <<CFG
global
  maxconn 4000
defaults
  mode http
  timeout connect 2s
  timeout client 120s
  timeout server 120s
  retries 2
  option redispatch
frontend api
  bind 127.0.0.1:$LB_PORT
  default_backend fieldstar
backend fieldstar
  balance roundrobin
  option httpchk GET /readyz
  server a 127.0.0.1:$PORT_A check inter 1s fall 2 rise 1
CFG
  [ "$ONLY_ONE" = 1 ] || echo "  server b 127.0.0.1:$PORT_B check inter 1s fall 2 rise 1"
} >"$WORK/haproxy.cfg"
haproxy -f "$WORK/haproxy.cfg" -db >"$WORK/haproxy.log" 2>&1 &
PIDS+=($!)
LB="http://127.0.0.1:$LB_PORT"
wait_http "$LB/readyz" 30

curl -fsS -o /dev/null "$LB/api/v1/webhooks" -H "authorization: Bearer $TOKEN" \
  -H 'content-type: application/json' \
  -d "{\"url\":\"http://127.0.0.1:$HOOK_PORT/hook\",\"events\":[\"inspection.submitted\"]}"

holder() { # which process holds the webhook lease
  for name in a b; do
    local port; port=$([ "$name" = a ] && echo "$PORT_A" || echo "$PORT_B")
    if [ "$(curl -fsS "http://127.0.0.1:$port/readyz" 2>/dev/null | jq -r .leases.webhooks)" = true ]; then
      echo "$name"; return
    fi
  done
}

"$BIN" bench drive --url "$LB" --seconds "$SECONDS_OF_LOAD" --concurrency "$CONCURRENCY" \
  --acks "$WORK/acks.jsonl" >"$WORK/drive.json" 2>"$WORK/drive.log" &
DRIVER=$!

URLS=(--url "$LB" --url "http://127.0.0.1:$PORT_A")
[ "$ONLY_ONE" = 1 ] || URLS+=(--url "http://127.0.0.1:$PORT_B")
if [ "$ONLY_ONE" != 1 ] && [ "$KILL" = 1 ]; then
  # A third of the way in, once writes are being acknowledged.
  sleep $(( SECONDS_OF_LOAD / 3 ))
  for _ in $(seq 1 $(( SECONDS_OF_LOAD * 5 ))); do
    [ "$(wc -l <"$WORK/acks.jsonl" 2>/dev/null || echo 0)" -ge 10 ] && break
    sleep 0.2
  done
  victim=$(holder)
  other=$([ "$victim" = a ] && echo b || echo a)
  [ -n "$victim" ] || { echo "multi: no process holds the webhook lease" >&2; exit 1; }
  acked=$(wc -l <"$WORK/acks.jsonl")
  kill -KILL "${PID_OF[$victim]}"
  killed_at=$(date +%s%N)
  echo "multi: SIGKILL $victim (the webhook lease holder) after $acked acknowledged writes" >&2
  # The other takes the lease over at its next try (FIELDSTAR_LEASE_RETRY_SECS).
  while [ "$(holder)" != "$other" ]; do
    sleep 0.2
    if (( $(date +%s%N) - killed_at > 60000000000 )); then
      echo "multi: the lease did not move within a minute" >&2; exit 1
    fi
  done
  takeover_ms=$(( ($(date +%s%N) - killed_at) / 1000000 ))
  echo "multi: $other took the webhook lease ${takeover_ms} ms after the kill" >&2
  sleep 2
  port=$([ "$victim" = a ] && echo "$PORT_A" || echo "$PORT_B")
  start "$victim" "$port"
  wait_http "http://127.0.0.1:$port/readyz" 120
fi
wait "$DRIVER"
cat "$WORK/drive.json"
"$BIN" bench verify "${URLS[@]}" --acks "$WORK/acks.jsonl" --events "$WORK/events.jsonl"
echo "multi: ok" >&2
