#!/usr/bin/env bash
# Make sure PostgreSQL server binaries (initdb, pg_ctl) are installed, for the store tests'
# throwaway cluster (tests/support/postgres.py). Debian/Ubuntu; needs root for apt-get.
# Prints the directory holding initdb.
set -euo pipefail

find_initdb() {
  command -v initdb 2>/dev/null && return 0
  ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 | grep . && return 0
  return 1
}

if ! find_initdb >/dev/null; then
  echo "PostgreSQL not found; installing it with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi

initdb_path="$(find_initdb)" || { echo "initdb still not found after install" >&2; exit 1; }
id postgres >/dev/null 2>&1 || { echo "no 'postgres' user after install" >&2; exit 1; }
dirname "$(readlink -f "$initdb_path")"
