/* test_apps_record.c - the resume record of a stage (app_record.h): written
 * and recorded, read back only with the manifest's word and this run's
 * identity, numbers only through the checked getters. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "apps/toolkit/app_fs.h"
#include "apps/toolkit/app_record.h"
#include "autodiff/ad.h"
#include "autodiff/ad_alloc.h"
#include "ck_util.h"
#include "test_apps_util.h"

static const app_run_setting SETTINGS[1] = {{"seed", "7"}};

static app_run *open_run(const char *dir, int resume)
{
    app_run_config c = {.program = "record-test", .format_version = 1, .out = dir,
                        .settings = SETTINGS, .n_settings = 1, .resume = resume};
    app_run *r = NULL;
    char msg[512];
    ck_assert_msg(app_run_open(&r, &c, msg, sizeof msg) == AD_OK, "%s", msg);
    return r;
}

static int write_record(app_run *r, const char *dir, const app_record_id *id)
{
    char msg[512];
    app_json w;
    app_json_init(&w, 1);
    app_record_begin(&w, id);
    app_json_key_number(&w, "loss", -1.25);
    app_json_key_int(&w, "skipped", 3);
    double v[3] = {1, 2, 3};
    app_json_key(&w, "values");
    app_json_number_array(&w, v, 3);
    app_json_key_string(&w, "bond", "paper");
    int rc = app_record_finish(r, dir, &w, "rec.json", 2, msg, sizeof msg);
    app_json_free(&w);
    return rc;
}

START_TEST(test_record_round_trip)
{
    const char *dir = ck_tmpdir("app-record");
    app_record_id id = {.version = 3, .seed = UINT64_MAX, .kT = 0.5, .quick = 1};
    app_run *r = open_run(dir, 0);
    ck_assert_int_eq(write_record(r, dir, &id), AD_OK);
    app_run_close(r);

    r = open_run(dir, 1);
    app_json_value *root = NULL;
    char why[512];
    int stage = 0;
    ck_assert_msg(app_record_read(r, "rec.json", &id, &root, &stage, why, sizeof why) == AD_OK,
                  "%s", why);
    ck_assert_int_eq(stage, 2);
    double x = 0, *vals = NULL;
    long long n = 0;
    size_t count = 0;
    ck_assert(app_record_real(root, "loss", -10, 10, &x) && x == -1.25);
    ck_assert(!app_record_real(root, "loss", 0, 10, &x));    /* out of range */
    ck_assert(app_record_int(root, "skipped", 0, 3, &n) && n == 3);
    ck_assert(!app_record_int(root, "skipped", 0, 2, &n));
    ck_assert(!app_record_int(root, "loss", -10, 10, &n));   /* not an integer */
    ck_assert(!app_record_real(root, "missing", -10, 10, &x));
    ck_assert(app_record_reals(root, "values", 3, &vals, &count) && count == 3 && vals[2] == 3);
    ad_free(vals);
    vals = NULL;
    ck_assert(!app_record_reals(root, "values", 2, &vals, NULL) && vals == NULL);
    ck_assert(!app_record_reals(root, "values", -2, &vals, NULL));
    ck_assert(app_record_reals(root, "values", -3, &vals, NULL));
    ad_free(vals);
    ck_assert(app_record_string_is(root, "bond", "paper"));
    ck_assert(!app_record_string_is(root, "bond", "seed"));
    ck_assert(!app_record_string_is(root, "loss", "paper"));
    app_json_value_free(root);

    /* another identity: refused, naming what differs */
    static const struct {
        app_record_id id;
        const char *why;
    } other[4] = {{{4, UINT64_MAX, 0.5, 1}, "another format version"},
                  {{3, 7, 0.5, 1}, "another seed"},
                  {{3, UINT64_MAX, 0.25, 1}, "another kT"},
                  {{3, UINT64_MAX, 0.5, 0}, "another schedule"}};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_ne(app_record_read(r, "rec.json", &other[i].id, &root, NULL, why,
                                         sizeof why), AD_OK);
        ck_assert_ptr_null(root);
        ck_assert_msg(strstr(why, other[i].why) != NULL, "%d: %s", i, why);
    }
    /* not recorded, and no manifest at all */
    ck_assert_int_ne(app_record_read(r, "other.json", &id, &root, NULL, why, sizeof why), AD_OK);
    ck_assert_int_ne(app_record_read(NULL, "rec.json", &id, &root, NULL, why, sizeof why), AD_OK);
    /* an edited value: the checksum refuses it before any number is read */
    char path[700], msg[256];
    snprintf(path, sizeof path, "%s/rec.json", dir);
    size_t len = 0;
    char *text = ck_slurp(path, &len);
    ck_assert_ptr_nonnull(text);
    char *p = strstr(text, "-1.25");
    ck_assert_ptr_nonnull(p);
    p[1] = '9';
    ck_assert_int_eq(app_fs_write_atomic(path, text, len, msg, sizeof msg), AD_OK);
    ad_free(text);
    ck_assert_int_ne(app_record_read(r, "rec.json", &id, &root, NULL, why, sizeof why), AD_OK);
    ck_assert_msg(strstr(why, "checksum") != NULL, "%s", why);
    ck_assert_ptr_null(root);
    app_run_close(r);
}
END_TEST

/* A setting listed in app_run_config.redo: left out of the fingerprint;
 * another value of it alone is not a run of other settings (--resume keeps
 * the records, a run without --resume drops them); another value of an
 * ordinary setting is refused as before. */
static int open_redo(const char *dir, const char *seed, const char *analysis, int resume,
                     app_run **out, char *msg, size_t len)
{
    static const char *const redo[] = {"analysis", NULL};
    const app_run_setting set[2] = {{"seed", seed}, {"analysis", analysis}};
    app_run_config c = {.program = "record-test", .format_version = 1, .out = dir,
                        .settings = set, .n_settings = 2, .resume = resume, .redo = redo};
    return app_run_open(out, &c, msg, len);
}

START_TEST(test_redo_setting)
{
    char dir[512], msg[512], why[256], fp[17];
    snprintf(dir, sizeof dir, "%s", ck_tmpdir("app-redo")); /* its buffer is reused */
    app_run *r = NULL;
    ck_assert_msg(open_redo(dir, "7", "samples 10", 0, &r, msg, sizeof msg) == AD_OK, "%s", msg);
    snprintf(fp, sizeof fp, "%s", app_run_fingerprint(r));
    app_json w;
    app_json_init(&w, 1);
    app_record_id id = {.version = 1, .seed = 7, .kT = 1, .quick = 0};
    app_record_begin(&w, &id);
    ck_assert_int_eq(app_record_finish(r, dir, &w, "rec.json", 1, msg, sizeof msg), AD_OK);
    app_json_free(&w);
    app_run_close(r);
    /* --resume with other analysis: same fingerprint, the record kept */
    ck_assert_msg(open_redo(dir, "7", "samples 20", 1, &r, msg, sizeof msg) == AD_OK, "%s", msg);
    ck_assert_str_eq(app_run_fingerprint(r), fp);
    ck_assert_msg(app_run_reusable(r, "rec.json", NULL, why, sizeof why), "%s", why);
    app_run_close(r);
    /* the manifest now says 20; without --resume the records are dropped */
    ck_assert_msg(open_redo(dir, "7", "samples 30", 0, &r, msg, sizeof msg) == AD_OK, "%s", msg);
    ck_assert(!app_run_reusable(r, "rec.json", NULL, why, sizeof why));
    app_run_close(r);
    /* another seed: refused, and another fingerprint */
    ck_assert_int_eq(open_redo(dir, "8", "samples 30", 1, &r, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_msg(strstr(msg, "seed (7 -> 8)") && !strstr(msg, "analysis"), "%s", msg);
    const char *d2 = ck_tmpdir("app-redo-2");
    ck_assert_msg(open_redo(d2, "8", "samples 10", 0, &r, msg, sizeof msg) == AD_OK, "%s", msg);
    ck_assert_str_ne(app_run_fingerprint(r), fp);
    app_run_close(r);
}
END_TEST

Suite *apps_record_suite(void)
{
    Suite *s = suite_create("apps-record");
    TCase *tc = tcase_create("record");
    tcase_add_test(tc, test_record_round_trip);
    tcase_add_test(tc, test_redo_setting);
    suite_add_tcase(s, tc);
    return s;
}
