#!/usr/bin/env bash
# `npm test`: the test files (default: every test/*/*.test.ts) under Node's runner, one at a time.
# - HOME points at a fresh empty folder, with the XDG folders derived from it, and must still be
#   empty afterwards: tests keep caches, run stores and servers in temporary folders and never
#   touch a user's home (test/helpers/home.ts gives a file run on its own the same isolation).
# - --test-timeout is the watchdog: a file (or a test in it) that overruns fails with its name and
#   is ended, and its servers with it (test/helpers/child-reaper.ts), so the suite always ends.
set -uo pipefail
cd "$(dirname "$0")/.."
home=$(mktemp -d "${TMPDIR:-/tmp}/tunespec-test-home-XXXXXX")
trap 'rm -rf "$home"' EXIT
export HOME="$home" TUNESPEC_TEST_HOME="$home"
unset XDG_CACHE_HOME XDG_CONFIG_HOME XDG_DATA_HOME XDG_STATE_HOME TUNESPEC_CACHE_DIR
[ $# -gt 0 ] || set -- test/*/*.test.ts
node --import tsx --test --test-concurrency=1 --test-timeout="${TUNESPEC_TEST_TIMEOUT_MS:-1200000}" "$@"
rc=$?
# onnxruntime's native library keeps a device id in ~/.cache/Microsoft/DeveloperTools, whatever
# its caller asks; it is the one file tolerated here (it lands in this folder, not the user's).
written=$(cd "$home" && find . -mindepth 1 ! -type d ! -path './.cache/Microsoft/DeveloperTools/*' | sort | head -20)
if [ -n "$written" ]; then
  echo "npm test: FAILED: the tests wrote into HOME, which they must never touch:" >&2
  echo "$written" | sed 's|^\./|  ~/|' >&2
  rc=1
fi
exit $rc
