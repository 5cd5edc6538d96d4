/* app_record.c - the resume record of a stage (app_record.h). */
#include "app_record.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "apps/toolkit/app_fs.h"
#include "autodiff/ad_alloc.h"
#include "autodiff/ad_status.h"

void app_record_begin(app_json *w, const app_record_id *id)
{
    char seed[32];
    app_run_u64_str(id->seed, seed, sizeof seed);
    app_json_object_begin(w);
    app_json_key_int(w, "version", id->version);
    app_json_key_string(w, "seed", seed);
    app_json_key_number(w, "kT", id->kT);
    app_json_key_int(w, "quick", id->quick);
}

int app_record_finish(app_run *run, const char *dir, app_json *w, const char *name, int stage,
                      char *msg, size_t len)
{
    char path[APP_RUN_PATH_MAX];
    app_json_object_end(w);
    int rc = app_json_finish(w, msg, len);
    if (rc == AD_OK && app_fs_join(path, sizeof path, dir, name) != AD_OK)
        rc = ad_status_fail(msg, len, AD_ERR_ARG, "%s/%s: path too long", dir, name);
    if (rc == AD_OK) rc = app_fs_write_atomic(path, w->out.data, w->out.len, msg, len);
    if (rc == AD_OK && run) rc = app_run_record(run, name, name, 0, stage, msg, len);
    return rc;
}

int app_record_string_is(const app_json_value *root, const char *key, const char *want)
{
    const app_json_value *v = app_json_member(root, key);
    return v && v->type == APP_JSON_STRING && strcmp(v->string, want) == 0;
}

int app_record_real(const app_json_value *root, const char *key, double lo, double hi,
                    double *out)
{
    double v;
    if (app_json_get_number(root, key, &v) != AD_OK || !isfinite(v) || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

int app_record_int(const app_json_value *root, const char *key, long long lo, long long hi,
                   long long *out)
{
    double v;
    return app_json_get_number(root, key, &v) == AD_OK &&
           app_run_double_to_long(v, lo, hi, out) == AD_OK;
}

int app_record_reals(const app_json_value *root, const char *key, long n, double **dst,
                     size_t *count)
{
    const app_json_value *a = app_json_member(root, key);
    if (!a || a->type != APP_JSON_ARRAY) return 0;
    if (n >= 0 ? a->n_items != (size_t)n : a->n_items < 1 || a->n_items > (size_t)-n) return 0;
    for (size_t i = 0; i < a->n_items; i++)
        if (a->items[i].type != APP_JSON_NUMBER || !isfinite(a->items[i].number)) return 0;
    if (!*dst) {
        *dst = ad_malloc(a->n_items * sizeof **dst);
        if (!*dst) return 0;
    }
    for (size_t i = 0; i < a->n_items; i++) (*dst)[i] = a->items[i].number;
    if (count) *count = a->n_items;
    return 1;
}

int app_record_read(const app_run *run, const char *name, const app_record_id *id,
                    app_json_value **root, int *stage, char *why, size_t why_len)
{
    *root = NULL;
    if (!run) return ad_status_fail(why, why_len, AD_ERR_ARG, "%s: no manifest", name);
    if (!app_run_reusable(run, name, stage, why, why_len)) return AD_ERR_FORMAT;
    char path[APP_RUN_PATH_MAX];
    app_run_path(run, name, path, sizeof path);
    int rc = app_json_read_file(path, root, why, why_len);
    if (rc != AD_OK) return rc;
    char seed[32];
    app_run_u64_str(id->seed, seed, sizeof seed);
    long long v = 0;
    double kT = 0;
    const char *bad = NULL;
    if (!app_record_int(*root, "version", id->version, id->version, &v))
        bad = "another format version";
    else if (!app_record_string_is(*root, "seed", seed))
        bad = "another seed";
    else if (!app_record_real(*root, "kT", -INFINITY, INFINITY, &kT) || kT != id->kT)
        bad = "another kT";
    else if (!app_record_int(*root, "quick", id->quick, id->quick, &v))
        bad = "another schedule (--quick)";
    if (!bad) return AD_OK;
    app_json_value_free(*root);
    *root = NULL;
    return ad_status_fail(why, why_len, AD_ERR_FORMAT, "%s was written with %s", name, bad);
}
