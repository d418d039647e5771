#!/usr/bin/env bash
# Starts (or stops) the services the tests need. Idempotent: running `start`
# twice is fine; `status` says what is running.
#
# - PostgreSQL: a local cluster for the store's PostgreSQL backend tests. On
#   start it prints `MHG_TEST_PG_URL=...`; scripts/test.sh exports that line
#   so the PostgreSQL tests run (and must pass) instead of skipping.
# - The gateway tests need nothing else: SQLite is embedded, and the test
#   upstream (OpenAI stand-in) and the gateway are started by each test on
#   random loopback ports.
set -euo pipefail
cmd="${1:-start}"
PG_USER=mhguard_test
PG_PASS=mhguard_test
PG_PORT="${MHG_TEST_PG_PORT:-5432}"

pg_version() { ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1; }

as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/sh -c "$1"; else sudo -u postgres sh -c "$1"; fi
}

pg_start() {
    local v
    v=$(pg_version)
    if [ -z "$v" ]; then
        echo "test-services: PostgreSQL is not installed (scripts/install-deps.sh --test installs it)" >&2
        return 1
    fi
    if ! pg_lsclusters -h 2>/dev/null | awk -v v="$v" '$1==v && $2=="main"' | grep -q .; then
        pg_createcluster -p "$PG_PORT" "$v" main >/dev/null
    fi
    if ! pg_lsclusters -h | awk -v v="$v" '$1==v && $2=="main" {print $4}' | grep -q online; then
        pg_ctlcluster "$v" main start
    fi
    local port
    port=$(pg_lsclusters -h | awk -v v="$v" '$1==v && $2=="main" {print $3}')
    for _ in $(seq 1 50); do
        as_postgres "psql -p $port -Atqc 'select 1'" >/dev/null 2>&1 && break
        sleep 0.2
    done
    as_postgres "psql -p $port -Atqc \"DO \\\$\\\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='$PG_USER') THEN CREATE ROLE $PG_USER LOGIN SUPERUSER PASSWORD '$PG_PASS'; END IF; END\\\$\\\$\"" >/dev/null
    as_postgres "psql -p $port -Atqc \"SELECT 1 FROM pg_database WHERE datname='$PG_USER'\"" | grep -q 1 ||
        as_postgres "createdb -p $port -O $PG_USER $PG_USER"
    echo "MHG_TEST_PG_URL=postgresql://$PG_USER:$PG_PASS@127.0.0.1:$port/$PG_USER"
}

case "$cmd" in
start)
    pg_start
    ;;
stop)
    v=$(pg_version)
    [ -n "$v" ] && pg_ctlcluster "$v" main stop 2>/dev/null || true
    ;;
status)
    pg_lsclusters 2>/dev/null || echo "test-services: PostgreSQL not installed"
    ;;
*)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
