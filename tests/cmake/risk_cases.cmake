# The screening cases once more, without their "lang" hints: the engine must
# detect each message's language itself (a gateway usually has no language
# header), and the cues of the detected language must still apply.
if(MHG_BUILD_TESTS AND TARGET test_risk_cases)
  add_test(NAME test_risk_cases_nohint COMMAND test_risk_cases)
  set_tests_properties(test_risk_cases_nohint PROPERTIES LABELS unit
    ENVIRONMENT "${MHG_TEST_ENV};MHG_CASES_NO_HINT=1" TIMEOUT 300)
endif()
