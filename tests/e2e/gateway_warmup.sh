#!/usr/bin/env bash
# gateway_warmup.sh - ctest fixture run before the gateway e2e tests (see
# tests/cmake/upstream.cmake): starts `mhguard serve` once so the compiled
# lexicon databases land in the shared cache, instead of every test
# compiling them at the same time on a cold build.
set -u
source "$(dirname "$0")/gateway_common.sh"
start_upstream
policy_from_example 1 "$GW_WORK/policy.yaml"
start_gateway "$GW_WORK/policy.yaml" warmup
req GET "$GW_URL/readyz" ""
expect_eq "warm-up gateway is ready" "$STATUS" 200
stop_gateway
gw_finish
