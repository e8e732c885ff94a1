# Sourced by .ci/run and tests/multi/run.sh: starts an S3-compatible server (s3s-fs, a Rust
# crate from crates.io, installed once into a cache outside the clone) on 127.0.0.1 over a
# temporary folder, with the bucket `fieldstar-test`, and exports FIELDSTAR_TEST_S3* for the
# tests. `s3_stop` stops it by its pid and removes the folder (callers put it in their trap).
# s3s-fs 0.17 needs rustc 1.96; 0.14.1 builds with ours.
S3_TOOLS="${S3_TOOLS:-/var/tmp/fieldstar-ci-tools}"
s3_start() {
  if [ ! -x "$S3_TOOLS/bin/s3s-fs" ]; then
    echo "installing s3s-fs 0.14.1 into $S3_TOOLS (once; a few minutes)" >&2
    # Its own build folder, removed after: the project's build cache is not disturbed.
    CARGO_TARGET_DIR=/var/tmp/fieldstar-s3s-build cargo install s3s-fs@0.14.1 --features binary \
      --locked --quiet --root "$S3_TOOLS"
    rm -rf /var/tmp/fieldstar-s3s-build
  fi
  S3_ROOT="$(mktemp -d -t fieldstar-s3-XXXXXX)"
  mkdir -p "$S3_ROOT/data/fieldstar-test"
  local port
  for _ in 1 2 3 4 5; do
    port=$(( 20000 + RANDOM % 20000 ))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
  done
  "$S3_TOOLS/bin/s3s-fs" --host 127.0.0.1 --port "$port" \
    --access-key fieldstar --secret-key fieldstar-secret "$S3_ROOT/data" \
    >"$S3_ROOT/log" 2>&1 &
  S3_PID=$!
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    sleep 0.1
  done
  if ! kill -0 "$S3_PID" 2>/dev/null; then
    echo "s3s-fs did not start:" >&2; cat "$S3_ROOT/log" >&2; return 1
  fi
  export FIELDSTAR_TEST_S3="http://127.0.0.1:$port"
  export FIELDSTAR_TEST_S3_BUCKET=fieldstar-test
  export FIELDSTAR_TEST_S3_KEY=fieldstar
  export FIELDSTAR_TEST_S3_SECRET=fieldstar-secret
}
s3_stop() {
  if [ -n "${S3_PID:-}" ]; then kill "$S3_PID" 2>/dev/null || true; wait "$S3_PID" 2>/dev/null || true; fi
  if [ -n "${S3_ROOT:-}" ]; then rm -rf "$S3_ROOT"; fi
  S3_PID=; S3_ROOT=
}
