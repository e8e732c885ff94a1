#!/usr/bin/env bash
# Browser tests of the web console: headless Debian Chromium driven by playwright-core against a
# real `fieldstar serve --demo` on a free port with its own data folder, stopped by pid at the end
# (tests/browser/lib/run-common.sh). Screenshots go to docs/img/ (FIELDSTAR_SHOTS overrides).
# Each spec creates what it needs, so any one runs alone: FIELDSTAR_SPECS="reviewer desk" runs
# only those, in that order; FIELDSTAR_TEST_PATTERN="refuses" only the tests whose names match.
#   tests/browser/console/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../lib/run-common.sh"

browser_setup
browser_start_server FIELDSTAR_WEBHOOK_ALLOW_PRIVATE=1 FIELDSTAR_WEBHOOK_POLL_MS=200

# By default the reviewer's approval comes before the dashboard, so that its screenshot shows a
# decided quarter besides the dashboard's own; the specs do not depend on the order.
read -r -a specs <<<"$(browser_spec_names "$here" "static i18n reviewer admin secretary session dashboard")"
if browser_run_specs "$here" 120 "${specs[@]}"; then
  echo "console browser tests: all passed"
else
  echo "console browser tests: FAILED" >&2
  exit 1
fi
