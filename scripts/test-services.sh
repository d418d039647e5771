#!/usr/bin/env bash
# Starts (or stops) the services the end-to-end tests need. Idempotent:
# running `start` twice is fine; `status` says what is running.
#
# Today the gateway tests need nothing external: SQLite is embedded, and the
# test upstream (OpenAI stand-in) and the gateway are started by each test
# on random loopback ports. This is the place to start shared services such
# as a PostgreSQL instance for the store's PostgreSQL backend.
set -euo pipefail
cmd="${1:-start}"
case "$cmd" in
start)
    # (nothing to start yet)
    echo "test-services: nothing to start (SQLite is embedded; tests start their own upstream)"
    ;;
stop)
    echo "test-services: nothing to stop"
    ;;
status)
    echo "test-services: no shared services configured"
    ;;
*)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
