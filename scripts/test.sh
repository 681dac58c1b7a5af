#!/usr/bin/env bash
# Set up amlite with its test extras in ./.venv, make sure PostgreSQL is available, and run
# the linters and the whole test suite (SQLite and PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[dev]'
bash .ci/postgres.sh
command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
# distributed jobs (docs/distributed.md): torch CPU, Open MPI and mpi4py; their tests fail
# instead of skipping when AMLITE_REQUIRE_DISTRIBUTED=1
.venv/bin/python -c 'import torch' 2>/dev/null || .venv/bin/python -m pip install -q torch==2.13.0
if ! command -v mpirun >/dev/null; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -q >/dev/null
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q openmpi-bin libopenmpi-dev >/dev/null
fi
.venv/bin/python -c 'import mpi4py' 2>/dev/null || .venv/bin/python -m pip install -q mpi4py
# the job sandbox (docs/security.md): its tests fail instead of skipping when
# AMLITE_REQUIRE_SANDBOX=1
if ! command -v bwrap >/dev/null; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -q >/dev/null
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q bubblewrap >/dev/null
fi
# the Ray backend (docs/ray.md): its tests start a real 2-node Ray cluster on this machine
.venv/bin/python -c 'import ray.dashboard' 2>/dev/null || .venv/bin/python -m pip install -q -e '.[ray]'
# blob datastores (docs/datastores.md): the Azure SDK and Azurite (npm, into git-ignored .ci/node)
.venv/bin/python -c 'import azure.storage.blob' 2>/dev/null || .venv/bin/python -m pip install -q -e '.[azure]'
[ -x .ci/node/node_modules/.bin/azurite-blob ] || npm install -q --prefix .ci/node azurite@3 >/dev/null
export AMLITE_REQUIRE_AZURITE="${AMLITE_REQUIRE_AZURITE:-1}"
export AMLITE_REQUIRE_RAY="${AMLITE_REQUIRE_RAY:-1}"
export AMLITE_REQUIRE_DISTRIBUTED="${AMLITE_REQUIRE_DISTRIBUTED:-1}"
export AMLITE_REQUIRE_POSTGRES="${AMLITE_REQUIRE_POSTGRES:-1}"
export AMLITE_REQUIRE_BROWSER="${AMLITE_REQUIRE_BROWSER:-1}"
export AMLITE_REQUIRE_SANDBOX="${AMLITE_REQUIRE_SANDBOX:-1}"
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/mypy
.venv/bin/lint-imports --no-cache >/dev/null || .venv/bin/lint-imports --no-cache  # the layers (docs/architecture.md)
# coverage (docs/architecture.md, "Habits"): measured and reported, not gated. A run of the
# whole suite (no test paths given) measures the in-process unit tests (UNIT_TESTS, less the
# brute-force ones in UNMEASURED, whose code the others cover) in a pytest of their own with
# --cov, and runs the rest unmeasured. AMLITE_COVERAGE=1 measures the whole run instead (about
# twice as slow in-process); =0 measures nothing.
UNIT_TESTS=(tests/domain tests/sweep tests/schemas tests/data)
UNMEASURED=(tests/schemas/test_hostile_names.py tests/sweep/test_random_sampler.py)
paths=0
for arg in "$@"; do [ -e "${arg%%::*}" ] && paths=1; done
cov=()
[ "${AMLITE_COVERAGE:-}" = 1 ] && cov=(--cov=amlite --cov-report=term:skip-covered)
# the 25 slowest tests are listed at the end: CI has a ~25-minute budget
if [ "$paths" = 0 ] && [ -z "${AMLITE_COVERAGE:-}" ]; then
  rc=0  # every run, whatever the one before answers
  .venv/bin/pytest -q --durations=25 "${UNIT_TESTS[@]/#/--ignore=}" "$@" || rc=$?
  .venv/bin/pytest -q "$@" "${UNMEASURED[@]}" || rc=$?
  .venv/bin/pytest -q --cov=amlite --cov-report=term:skip-covered "${UNMEASURED[@]/#/--ignore=}" \
    "$@" "${UNIT_TESTS[@]}" || rc=$?
  exit "$rc"
else
  .venv/bin/pytest -q --durations=25 ${cov[@]+"${cov[@]}"} "$@"
fi
