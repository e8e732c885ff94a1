#!/usr/bin/env bash
# Browser tests of the phone app (/m/): headless Debian Chromium driven by playwright-core against
# a real `fieldstar serve --demo` on a free port with a throwaway data folder, stopped by pid at
# the end (tests/browser/lib/run-common.sh). Screenshots go to docs/img/ (FIELDSTAR_SHOTS
# overrides). FIELDSTAR_SPECS="upload shell" runs only those specs (file names without
# .test.mjs); FIELDSTAR_TEST_PATTERN="refuses" only the tests whose names match.
#   tests/browser/phone/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../lib/run-common.sh"

browser_setup
browser_start_server

read -r -a specs <<<"$(browser_spec_names "$here" "")"
if browser_run_specs "$here" 600 "${specs[@]}"; then
  echo "phone browser tests: all passed"
else
  echo "phone browser tests: FAILED" >&2
  exit 1
fi
