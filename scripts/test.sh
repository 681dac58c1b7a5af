#!/usr/bin/env bash
# Set up amlite with its test extras in ./.venv, make sure PostgreSQL is available, and run
# the linters and the whole test suite (SQLite and PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[dev]'
bash .ci/postgres.sh
export AMLITE_REQUIRE_POSTGRES="${AMLITE_REQUIRE_POSTGRES:-1}"
.venv/bin/ruff check src tests bench
.venv/bin/mypy
.venv/bin/pytest -q "$@"
