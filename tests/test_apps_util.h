/* test_apps_util.h - helpers shared by the suites that run the programs and
 * read their output files (tests/test_apps_*.c, tests/test_reliability_*.c). */
#ifndef LIBBG_TESTS_TEST_APPS_UTIL_H
#define LIBBG_TESTS_TEST_APPS_UTIL_H

#include <stddef.h>

#include "apps/toolkit/app_json.h"

/* The whole file (NUL-terminated, ad_free it), or NULL if unreadable. */
char *ck_slurp(const char *path, size_t *len);
/* Lines of a text file (a last line without newline counts), -1 if unreadable. */
int ck_count_lines(const char *path);
/* DIR/summary.json parsed (app_json_value_free it), or NULL when it is
 * missing or not valid JSON. */
app_json_value *ck_load_summary(const char *dir);
/* Check the multi-temperature fields of a summary from a run with one value
 * in --train-temperatures: trained_range [lo, hi], train_temperatures
 * [extra], kT_extrapolation equal to extrapolates, and n_reported entries in
 * "temperatures" (estimates only at those of --temperatures). */
void ck_check_train_temperatures(const app_json_value *root, double lo, double hi, double extra,
                                 int extrapolates, int n_reported);

/* The entry i of a summary's "temperature_weights" (--temperature-weights,
 * sorted by kT) is {"kT": kT, "weight": weight}. */
void ck_check_temperature_weight(const app_json_value *root, int i, double kT, double weight);

#endif
