/* test_main.c - the one runner for every suite.  The suite list is generated
 * by the Makefile from the test files that are built (suites.inc).
 * CK_RUN_SUITE, CK_RUN_CASE, CK_VERBOSITY, CK_FORK, CK_INCLUDE_TAGS and
 * CK_EXCLUDE_TAGS work as Check documents. */
#include <check.h>
#include <stdlib.h>

#define SUITE(name) Suite *name(void);
#include "suites.inc"
#undef SUITE

int main(void)
{
    SRunner *runner = srunner_create(NULL);
#define SUITE(name) srunner_add_suite(runner, name());
#include "suites.inc"
#undef SUITE
    srunner_run_all(runner, CK_ENV);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
