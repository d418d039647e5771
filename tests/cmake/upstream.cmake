# The OpenAI stand-in used by tests/e2e/test_gateway*.sh and bench/gateway_wrk.sh.
# Built with the rest ($MHG_BUILD_DIR/mhg_test_upstream); never installed.
add_executable(mhg_test_upstream ${CMAKE_SOURCE_DIR}/tests/upstream/upstream.c)
target_link_libraries(mhg_test_upstream PRIVATE PkgConfig::MHD PkgConfig::JANSSON Threads::Threads)
