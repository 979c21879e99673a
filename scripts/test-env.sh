#!/usr/bin/env bash
# Installs and starts what the full test suite needs: PostgreSQL on 127.0.0.1:5434
# (a throwaway cluster in /tmp/patchbay-pg) and Debian's chromium. Prints the
# environment variables the tests read. Safe to run again: it reuses what runs.
set -euo pipefail

PGPORT=${PATCHBAY_TEST_PGPORT:-5434}
PGROOT=${PATCHBAY_TEST_PGROOT:-/tmp/patchbay-pg}

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
# The fakes' official-client tests (internal/fakes/sdktest) run Node SDKs.
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "test-env: missing ${need_apt[*]}; install them (Debian: apt-get install -y ${need_apt[*]}) and run again" >&2
    exit 1
  fi
  echo "test-env: installing ${need_apt[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${need_apt[@]}" >&2
fi

PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
# Each patchbay process holds about seven connections (River's pool, the
# store's, the worker tests' recorder) and one test starts fifty workers.
MAXCONN=1000
run_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if "$PGBIN/pg_isready" -h 127.0.0.1 -p "$PGPORT" -q 2>/dev/null && [ -d "$PGROOT/data" ]; then
  have=$("$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -Atc 'SHOW max_connections' 2>/dev/null || echo "$MAXCONN")
  if [ "$have" -lt "$MAXCONN" ]; then
    run_pg "$PGBIN/pg_ctl" -D "$PGROOT/data" -m fast -w stop >/dev/null
    echo "test-env: restarting PostgreSQL with max_connections=$MAXCONN (was $have)" >&2
  fi
fi
if ! "$PGBIN/pg_isready" -h 127.0.0.1 -p "$PGPORT" -q 2>/dev/null; then
  rm -rf "$PGROOT"
  if [ "$(id -u)" -eq 0 ]; then
    install -d -o postgres -g postgres "$PGROOT" "$PGROOT/sock"
  else
    mkdir -p "$PGROOT/sock"
  fi
  run_pg "$PGBIN/initdb" -D "$PGROOT/data" -U postgres -A trust -E UTF8 >/dev/null
  run_pg "$PGBIN/pg_ctl" -D "$PGROOT/data" -l "$PGROOT/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGROOT/sock -c fsync=off -c max_connections=$MAXCONN" start >/dev/null
  echo "test-env: PostgreSQL started on 127.0.0.1:$PGPORT" >&2
fi

SDKDIR="$(cd "$(dirname "$0")/.." && pwd)/internal/fakes/sdktest/testdata"
if ! (cd "$SDKDIR" && npm ci --no-audit --no-fund --loglevel=error >&2); then
  echo "test-env: npm ci in $SDKDIR failed; the official-client tests will skip" >&2
fi

echo "export PATCHBAY_TEST_DATABASE_URL='postgres://postgres@127.0.0.1:$PGPORT/postgres?sslmode=disable'"
echo "export PATCHBAY_TEST_CHROMIUM='$(command -v chromium)'"
