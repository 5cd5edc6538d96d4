/* test_apps_util.c - file helpers for the program suites. */
#include "test_apps_util.h"

#include <check.h>
#include <stdio.h>

#include "apps/toolkit/app_fs.h"
#include "autodiff/ad.h"

char *ck_slurp(const char *path, size_t *len)
{
    char *data = NULL;
    char msg[256];
    size_t n = 0;
    if (app_fs_read_file(path, &data, &n, msg, sizeof msg) != AD_OK) return NULL;
    if (len) *len = n;
    return data;
}

int ck_count_lines(const char *path)
{
    size_t n = 0;
    char *s = ck_slurp(path, &n);
    if (!s) return -1;
    int lines = 0;
    for (size_t i = 0; i < n; i++) lines += s[i] == '\n';
    if (n && s[n - 1] != '\n') lines++;
    ad_free(s);
    return lines;
}

app_json_value *ck_load_summary(const char *dir)
{
    char path[1024], msg[256];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    size_t len = 0;
    char *text = ck_slurp(path, &len);
    if (!text) return NULL;
    app_json_value *root = NULL;
    int status = app_json_parse(text, len, &root, msg, sizeof msg);
    ad_free(text);
    return status == AD_OK ? root : NULL;
}

void ck_check_train_temperatures(const app_json_value *root, double lo, double hi, double extra,
                                 int extrapolates, int n_reported)
{
    double a, b, x;
    ck_assert_int_eq(app_json_get_number(root, "trained_range[0]", &a), AD_OK);
    ck_assert_int_eq(app_json_get_number(root, "trained_range[1]", &b), AD_OK);
    ck_assert_msg(a == lo && b == hi, "trained range [%g, %g], want [%g, %g]", a, b, lo, hi);
    const app_json_value *v = app_json_lookup(root, "train_temperatures");
    ck_assert(v && v->type == APP_JSON_ARRAY && v->n_items == 1);
    ck_assert_int_eq(app_json_get_number(root, "train_temperatures[0]", &x), AD_OK);
    ck_assert(x == extra);
    v = app_json_lookup(root, "kT_extrapolation");
    ck_assert(v && v->type == APP_JSON_BOOL && v->boolean == extrapolates);
    v = app_json_lookup(root, "temperatures");
    ck_assert(v && v->type == APP_JSON_ARRAY && (int)v->n_items == n_reported);
}

void ck_check_temperature_weight(const app_json_value *root, int i, double kT, double weight)
{
    char key[64];
    double k = 0, w = 0;
    snprintf(key, sizeof key, "temperature_weights[%d].kT", i);
    ck_assert_int_eq(app_json_get_number(root, key, &k), AD_OK);
    snprintf(key, sizeof key, "temperature_weights[%d].weight", i);
    ck_assert_int_eq(app_json_get_number(root, key, &w), AD_OK);
    ck_assert_msg(k == kT && w == weight, "temperature_weights[%d] = %g:%g, want %g:%g", i, k, w,
                  kT, weight);
}
