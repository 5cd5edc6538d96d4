/* test_main.c - the one runner for every suite.  The suite list is generated
 * by the Makefile from the test files that are built (suites.inc).
 * CK_RUN_SUITE, CK_RUN_CASE, CK_VERBOSITY, CK_FORK, CK_INCLUDE_TAGS and
 * CK_EXCLUDE_TAGS work as Check documents.  Two more variables let
 * tests/run_suites.sh run the suites in parallel processes:
 *   BG_TEST_LIST=1   print "index function" for every suite and exit;
 *   BG_TEST_SUITE=i  run the i-th suite only (0-based, in suites.inc order). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#define SUITE(name) Suite *name(void);
#include "suites.inc"
#undef SUITE

typedef Suite *(*suite_fn)(void);
static const suite_fn SUITES[] = {
#define SUITE(name) name,
#include "suites.inc"
#undef SUITE
};
static const char *const SUITE_NAMES[] = {
#define SUITE(name) #name,
#include "suites.inc"
#undef SUITE
};
enum { N_SUITES = sizeof SUITES / sizeof SUITES[0] };

int main(void)
{
    const char *list = getenv("BG_TEST_LIST"), *only = getenv("BG_TEST_SUITE");
    if (list && *list && *list != '0') {
        for (int i = 0; i < N_SUITES; i++) printf("%d %s\n", i, SUITE_NAMES[i]);
        return EXIT_SUCCESS;
    }
    long pick = -1;
    if (only && *only) {
        char *end;
        pick = strtol(only, &end, 10);
        if (*end || pick < 0 || pick >= N_SUITES) {
            fprintf(stderr, "run-tests: BG_TEST_SUITE=%s is not a suite index in [0, %d)\n",
                    only, (int)N_SUITES);
            return 2;
        }
    }
    SRunner *runner = srunner_create(NULL);
    for (long i = 0; i < N_SUITES; i++)
        if (pick < 0 || i == pick) srunner_add_suite(runner, SUITES[i]());
    srunner_run_all(runner, CK_ENV);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
