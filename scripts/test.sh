#!/usr/bin/env bash
# Runs the whole test suite: install test dependencies, build, run every
# test (unit + end-to-end), then the unit tests again under ASan + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
# Start PostgreSQL and export its URL so the PostgreSQL backend tests run.
eval "export $(scripts/test-services.sh start | grep '^MHG_TEST_PG_URL=')"
export MHG_REQUIRE_PG=1   # a PostgreSQL test that finds no URL fails instead of skipping
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMHG_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs" -L unit
