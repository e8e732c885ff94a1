#!/usr/bin/env bash
# PostgreSQL ingest beside pgbench (issue 20): on a throwaway PostgreSQL cluster, each round
# runs `fieldstar bench ingest` (64 clients, 20 s; fresh database), keeps its database, then
# has pgbench run, against the declarations the bench left pending, the transaction a
# submitted inspection writes — the session check, then the same 10 statements between BEGIN
# and COMMIT, in the same order, with the same columns, values of the same sizes and the same
# indexes (tests/perf/pg-ingest.sql) — with 16 connections (fieldstar's pool) and with 64, and
# the transaction alone with 16, prepared statements, 20 s each. Prints one line
# per measurement and the ratio of fieldstar to pgbench's best, with the CPU PostgreSQL spent
# per request or transaction (its backends, reaped ones included, and its helpers).
#
# Usage: tests/perf/pg-ingest.sh [ROUNDS]   (default 3)
# SECONDS_PER_RUN (20), CONCURRENCY (fieldstar's clients, 64).
# FIELDSTAR_BIN: the binary (default: the release build under $CARGO_TARGET_DIR or target/).
# PGBIN: PostgreSQL's programs (default: the newest under /usr/lib/postgresql).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
seconds=${SECONDS_PER_RUN:-20}
concurrency=${CONCURRENCY:-64}
bin=${FIELDSTAR_BIN:-${CARGO_TARGET_DIR:-target}/release/fieldstar}
[ -x "$bin" ] || { echo "no release build at $bin (cargo build --release)" >&2; exit 2; }
pgbin=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
script="$PWD/tests/perf/pg-ingest.sql"

dir=$(mktemp -d "${TMPDIR:-/tmp}/fieldstar-pg-ingest-XXXXXX")
# The same without the session check: the transaction alone.
tx_only="$dir/transaction-only.sql"
grep -v '^SELECT active, role, org_unit_id, county_id FROM users' "$script" >"$tx_only"
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
as_pg=()
if [ "$(id -u)" = 0 ]; then
  chown postgres "$dir"
  as_pg=(runuser -u postgres --)
fi
"${as_pg[@]}" "$pgbin/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
# Durable defaults (fsync, synchronous_commit on), as docs/performance.md states.
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o \
  "-p $port -k $dir -c listen_addresses=127.0.0.1 -c shared_buffers=512MB -c max_connections=200" \
  start >/dev/null
trap '"${as_pg[@]}" "$pgbin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
admin="postgres://postgres@127.0.0.1:$port/postgres"

pg_cpu_s() { # CPU seconds of the whole cluster so far: the postmaster, its live children and
  # the children it reaped (cutime, cstime)
  local pm
  pm=$(head -1 "$dir/data/postmaster.pid")
  python3 - "$pm" <<'PY'
import os, sys
pm = sys.argv[1]
def fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()
tck = os.sysconf("SC_CLK_TCK")
f = fields(pm)
total = sum(int(x) for x in f[11:15])
for pid in os.listdir("/proc"):
    if pid.isdigit() and pid != pm:
        try:
            c = fields(pid)
        except OSError:
            continue
        if c[1] == pm:
            total += int(c[11]) + int(c[12])
print(total / tck)
PY
}

pgbench_run() { # database clients script → "tps p99_ms pg_cpu_ms_per_tx"
  local db=$1 clients=$2 file=$3
  local before
  before=$(pg_cpu_s)
  "$pgbin/pgbench" -h 127.0.0.1 -p "$port" -U postgres -n -M prepared -c "$clients" -j 2 \
    -T "$seconds" -f "$file" -l --log-prefix="$dir/pgb" "$db" >"$dir/pgbench.out" 2>&1 ||
    { cat "$dir/pgbench.out" >&2; exit 1; }
  local tps p99 n cpu
  tps=$(awk '/^tps = /{print $3}' "$dir/pgbench.out")
  # Per-transaction log: column 3 is the latency in µs.
  p99=$(cat "$dir"/pgb.* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END{printf "%.1f", a[int(NR*0.99)]/1000}')
  n=$(cat "$dir"/pgb.* | wc -l)
  cpu=$(python3 -c "print('%.2f' % (($(pg_cpu_s) - $before) * 1000 / $n))")
  rm -f "$dir"/pgb.*
  echo "$tps $p99 $cpu"
}

for round in $(seq 1 "$rounds"); do
  load=$(cut -d' ' -f1 /proc/loadavg)
  "$bin" bench ingest --database-url "$admin" --seconds "$seconds" --concurrency "$concurrency" \
    --keep >"$dir/bench.out" 2>"$dir/bench.err" &
  bench=$!
  # PostgreSQL's CPU from the start of the load (not the seeding) to the end of the run.
  until grep -qs '^fieldstar bench: load starts' "$dir/bench.err"; do
    kill -0 "$bench" 2>/dev/null || { cat "$dir/bench.err" >&2; exit 1; }
    sleep 0.05
  done
  before=$(pg_cpu_s)
  wait "$bench" || { cat "$dir/bench.err" >&2; exit 1; }
  line=$(cat "$dir/bench.out")
  kept=$(sed -n 's/^fieldstar bench: kept //p' "$dir/bench.err")
  db=${kept##*/}
  pg=$(pg_cpu_s)
  fs=$(python3 -c 'import json,sys;d=json.loads(sys.argv[1]);print(d["per_second"],d["p99_ms"],d["cpu_ms_per_request"],"%.2f"%((float(sys.argv[3])-float(sys.argv[2]))*1000/d["requests"]))' "$line" "$before" "$pg")
  echo "round $round load $load fieldstar: req/s p99_ms cpu_ms/req pg_cpu_ms/req = $fs"
  "$pgbin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d "$db" -v ON_ERROR_STOP=1 -c "
    CREATE TABLE bench_pick AS
      SELECT row_number() OVER (ORDER BY id) AS n, id FROM declarations WHERE status = 'pending';
    ALTER TABLE bench_pick ADD PRIMARY KEY (n);
    CREATE SEQUENCE bench_pick_seq;" -c "VACUUM ANALYZE" >/dev/null
  best=0
  for clients in 16 64; do
    read -r tps p99 cpu < <(pgbench_run "$db" "$clients" "$script")
    echo "round $round pgbench -c $clients: tps $tps p99_ms $p99 pg_cpu_ms/tx $cpu"
    best=$(python3 -c "print(max($best, $tps))")
  done
  python3 -c "print('round $round ratio fieldstar/pgbench: %.2f' % (${fs%% *} / $best))"
  read -r tps p99 cpu < <(pgbench_run "$db" 16 "$tx_only")
  echo "round $round pgbench -c 16, the transaction alone: tps $tps p99_ms $p99 pg_cpu_ms/tx $cpu"
  python3 -c "print('round $round ratio fieldstar/pgbench (the transaction alone): %.2f' % (${fs%% *} / $tps))"
  "$pgbin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
    -c "DROP DATABASE \"$db\" WITH (FORCE)" >/dev/null
done
