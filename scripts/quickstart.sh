#!/usr/bin/env bash
# Set up amlite in ./.venv and run the sample job on the embedded default (SQLite, local processes).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e . 
export AMLITE_HOME="${AMLITE_HOME:-$PWD/.amlite-quickstart}"
.venv/bin/amlite run examples/hello/job.yml
