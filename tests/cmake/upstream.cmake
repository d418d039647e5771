# The OpenAI stand-in used by tests/e2e/test_gateway*.sh and bench/gateway_wrk.sh.
# Built with the rest ($MHG_BUILD_DIR/mhg_test_upstream); never installed.
add_executable(mhg_test_upstream ${CMAKE_SOURCE_DIR}/tests/upstream/upstream.c)
target_link_libraries(mhg_test_upstream PRIVATE PkgConfig::MHD PkgConfig::JANSSON Threads::Threads)

# One warm-up run fills the shared lexicon cache before the gateway tests,
# so that (with ctest -j) they do not all compile the lexicons at once.
if(MHG_BUILD_TESTS)
  add_test(NAME e2e_gateway_warmup COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/gateway_warmup.sh)
  set_tests_properties(e2e_gateway_warmup PROPERTIES LABELS e2e ENVIRONMENT "${MHG_TEST_ENV}"
    TIMEOUT 600 FIXTURES_SETUP mhg_gateway_cache)
  file(GLOB MHG_GATEWAY_E2E CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/e2e/test_gateway*.sh)
  foreach(src IN LISTS MHG_GATEWAY_E2E)
    get_filename_component(name ${src} NAME_WE)
    if(TEST e2e_${name})
      set_tests_properties(e2e_${name} PROPERTIES FIXTURES_REQUIRED mhg_gateway_cache)
    endif()
  endforeach()
endif()
