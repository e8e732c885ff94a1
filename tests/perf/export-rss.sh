#!/usr/bin/env bash
# Peak RSS of the streamed inspections export (GET /api/v1/reports/inspections?format=zip):
# a fieldstar with the demo county, N submitted inspections of 4 photos each seeded through the
# API, then the ZIP downloaded once while /proc/PID/status's VmHWM (reset first) records the
# process's peak. Usage: tests/perf/export-rss.sh [N] (N ≤ 228; default 200). Needs Node with
# the browser tests' playwright-core install (tests/browser/console/run.sh makes it).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-200}
target="${CARGO_TARGET_DIR:-target}"
cargo build --quiet
bin="$target/debug/fieldstar"
data=$(mktemp -d "${TMPDIR:-/tmp}/fieldstar-export-XXXXXX")
port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
password="export-$(od -An -tx1 -N6 /dev/urandom | tr -d ' \n')"
env -u FIELDSTAR_DATABASE_URL -u FIELDSTAR_STORAGE_URL -u FIELDSTAR_BIND \
  FIELDSTAR_DATA_DIR="$data" FIELDSTAR_DEMO_PASSWORD="$password" FIELDSTAR_RENEWALS=0 \
  "$bin" serve --demo --bind "127.0.0.1:$port" >"$data/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$data"' EXIT
url="http://127.0.0.1:$port"
for _ in $(seq 1 100); do curl -sf "$url/readyz" >/dev/null && break; sleep 0.2; done
export FIELDSTAR_NODE_HOME="${FIELDSTAR_NODE_HOME:-/var/tmp/fieldstar-ci-node}"
FIELDSTAR_URL=$url FIELDSTAR_DEMO_PASSWORD=$password node tests/perf/seed-inspections.mjs "$N"
token=$(curl -s "$url/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$password\"}" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).access_token))")
q=$(node -e "const d=new Date(Date.now()+8*3600e3);console.log(d.getUTCFullYear()+'-Q'+(Math.floor(d.getUTCMonth()/3)+1))")
echo 5 > "/proc/$pid/clear_refs"   # VmHWM := VmRSS
before=$(awk '/VmHWM/{print $2}' "/proc/$pid/status")
start=$(date +%s.%N)
curl -sf -o "$data/export.zip" -H "Authorization: Bearer $token" "$url/api/v1/reports/inspections?quarter=$q&format=zip"
end=$(date +%s.%N)
peak=$(awk '/VmHWM/{print $2}' "/proc/$pid/status")
echo "rss before: $((before / 1024)) MiB, peak during the export: $((peak / 1024)) MiB (+$(( (peak - before) / 1024 )) MiB)"
echo "zip: $(stat -c %s "$data/export.zip") bytes in $(echo "$end - $start" | bc) s"
python3 -c "import zipfile,sys;z=zipfile.ZipFile(sys.argv[1]);n=z.namelist();assert z.testzip() is None;print('entries',len(n),'photos',sum(1 for x in n if x.startswith('photos/')))" "$data/export.zip"
