/* test_apps_experiments.c - the experiment programs bg-doublewell and
 * bg-mullerbrown, run as processes from BG_BIN_DIR: --quick runs produce
 * every output file and a summary.json of finite numbers; usage errors exit 2
 * with one line and write nothing. */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apps/toolkit/app_fs.h"
#include "apps/toolkit/app_json.h"
#include "autodiff/ad.h"
#include "ck_util.h"
#include "test_apps_util.h"

static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static const char *const MODEL_NAMES[4] = {"ML", "KL", "ML+KL", "ML+KL+RC"};
static const char *const SLUGS[4] = {"ml", "kl", "ml_kl", "ml_kl_rc"};

/* Every output file exists and is non-empty; the SVGs are SVG; no temporary
 * file is left; summary.json has the documented fields, all finite. */
static void check_outputs(const char *dir, const char *system, const char *const *pairs,
                          int n_pairs, double kT)
{
    static const char *const fixed[] = {"summary.json",  "report.md",   "mc_data.csv",
                                        "mc_data.svg",   "samples.svg", "profiles.svg",
                                        "interpolation.svg", "loss.svg"};
    char path[1024];
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, fixed[i]);
        struct stat st;
        ck_assert_msg(stat(path, &st) == 0 && st.st_size > 0, "missing or empty %s", path);
        if (strstr(fixed[i], ".svg")) {
            char *s = ck_slurp(path, NULL);
            ck_assert_ptr_nonnull(s);
            ck_assert_msg(strstr(s, "<svg") && strstr(s, "</svg>"), "%s is not an SVG", path);
            ad_free(s);
        }
    }
    static const char *const kinds[] = {"loss", "profile", "interpolation"};
    for (int k = 0; k < 4; k++)
        for (int j = 0; j < 3; j++) {
            snprintf(path, sizeof path, "%s/%s_%s.csv", dir, kinds[j], SLUGS[k]);
            ck_assert_msg(ck_count_lines(path) >= 2, "missing or empty %s", path);
        }
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d))) ck_assert_msg(!strstr(e->d_name, ".tmp"), "left over %s", e->d_name);
    closedir(d);

    snprintf(path, sizeof path, "%s/summary.json", dir);
    size_t len = 0;
    char *text = ck_slurp(path, &len);
    ck_assert_ptr_nonnull(text);
    app_json_value *root = NULL;
    char msg[256];
    ck_assert_msg(app_json_parse(text, len, &root, msg, sizeof msg) == AD_OK, "%s", msg);
    ad_free(text);
    ck_assert_msg(app_json_all_finite(root), "summary.json holds a non-finite number");
    ck_assert_int_eq((int)app_json_count(root, APP_JSON_NULL), 0);
    const app_json_value *v = app_json_lookup(root, "system");
    ck_assert(v && v->type == APP_JSON_STRING && strcmp(v->string, system) == 0);
    double x;
    ck_assert_int_eq(app_json_get_number(root, "kT", &x), AD_OK);
    ck_assert_close(x, kT, 0, 1e-12, "kT", 0);
    v = app_json_lookup(root, "seed"); /* a decimal string: uint64 seeds round-trip */
    ck_assert(v && v->type == APP_JSON_STRING && v->string[0] >= '0' && v->string[0] <= '9');
    ck_assert_int_eq(app_json_get_number(root, "wall_seconds", &x), AD_OK);
    ck_assert(x > 0);
    char key[256];
    for (int p = 0; p < n_pairs; p++) {
        snprintf(key, sizeof key, "reference.delta_f.\"%s\"", pairs[p]);
        ck_assert_msg(app_json_get_number(root, key, &x) == AD_OK, "no %s", key);
    }
    const app_json_value *models = app_json_lookup(root, "models");
    ck_assert(models && models->type == APP_JSON_ARRAY);
    ck_assert_int_eq((int)models->n_items, 4);
    static const char *const numbers[] = {"ess_fraction", "n_samples", "final_loss",
                                          "train_seconds"};
    for (int k = 0; k < 4; k++) {
        snprintf(key, sizeof key, "models[%d].name", k);
        v = app_json_lookup(root, key);
        ck_assert(v && v->type == APP_JSON_STRING && strcmp(v->string, MODEL_NAMES[k]) == 0);
        for (int j = 0; j < 4; j++) {
            snprintf(key, sizeof key, "models[%d].%s", k, numbers[j]);
            ck_assert_msg(app_json_get_number(root, key, &x) == AD_OK, "no %s", key);
        }
        snprintf(key, sizeof key, "models[%d].ess_fraction", k);
        app_json_get_number(root, key, &x);
        ck_assert_msg(x > 0 && x <= 1, "%s = %g", key, x);
        for (int p = 0; p < n_pairs; p++) {
            snprintf(key, sizeof key, "models[%d].delta_f.\"%s\"", k, pairs[p]);
            ck_assert_msg(app_json_get_number(root, key, &x) == AD_OK, "no %s", key);
            snprintf(key, sizeof key, "models[%d].delta_f_stderr.\"%s\"", k, pairs[p]);
            ck_assert_msg(app_json_get_number(root, key, &x) == AD_OK && x >= 0, "no %s", key);
        }
    }
    app_json_value_free(root);
}

static void quick_run(const char *prog, const char *system, const char *const *pairs,
                      int n_pairs, const char *kT)
{
    const char *tmp = ck_tmpdir(system);
    ck_assert_ptr_nonnull(tmp);
    char dir[600], out[700], err[700];
    snprintf(dir, sizeof dir, "%s/out", tmp);
    snprintf(out, sizeof out, "%s/stdout", tmp);
    snprintf(err, sizeof err, "%s/stderr", tmp);
    const char *args[] = {"--quick", "--out", dir, "--threads", "2", "--seed", "3", "--kT", kT,
                          NULL};
    int code = ck_run_program(prog, out, err, args, 0);
    char *log = ck_slurp(err, NULL);
    ck_assert_msg(code == 0, "%s exited %d: %s", prog, code, log ? log : "");
    ad_free(log);
    check_outputs(dir, system, pairs, n_pairs, atof(kT));
}

START_TEST(test_doublewell_quick)
{
    static const char *const pairs[] = {"right-left"};
    quick_run("bg-doublewell", "doublewell", pairs, 1, "1");
}
END_TEST

START_TEST(test_doublewell_quick_hot)
{
    static const char *const pairs[] = {"right-left"};
    quick_run("bg-doublewell", "doublewell", pairs, 1, "2.5");
}
END_TEST

START_TEST(test_mullerbrown_quick)
{
    static const char *const pairs[] = {"B-A", "C-A"};
    quick_run("bg-mullerbrown", "mullerbrown", pairs, 2, "1");
}
END_TEST

/* A usage error: exit 2, one line on stderr, nothing written to the output
 * directory (which is not even created). */
static const char *const USAGE_CASES[][4] = {
    {"--bogus", NULL, NULL, NULL},
    {"--seed", "abc", NULL, NULL},
    {"--kT", "-1", NULL, NULL},
    {"--kT", "warm", NULL, NULL},
    {"--threads", "0", NULL, NULL},
    {"--out", NULL, NULL, NULL}, /* missing value */
    {"UNWRITABLE", NULL, NULL, NULL},
};
#define N_USAGE_CASES ((int)(sizeof USAGE_CASES / sizeof *USAGE_CASES))

START_TEST(test_usage_errors)
{
    const char *progs[2] = {"bg-doublewell", "bg-mullerbrown"};
    for (int p = 0; p < 2; p++) {
        const char *tmp = ck_tmpdir("usage");
        ck_assert_ptr_nonnull(tmp);
        char dir[600], out[700], err[700], file[700], below[800];
        snprintf(dir, sizeof dir, "%s/out", tmp);
        snprintf(out, sizeof out, "%s/stdout", tmp);
        snprintf(err, sizeof err, "%s/stderr", tmp);
        snprintf(file, sizeof file, "%s/a-file", tmp);
        snprintf(below, sizeof below, "%s/sub", file);
        FILE *f = fopen(file, "w");
        ck_assert_ptr_nonnull(f);
        fputs("not a directory\n", f);
        fclose(f);
        const char *args[8];
        int n = 0;
        if (strcmp(USAGE_CASES[_i][0], "UNWRITABLE") == 0) {
            args[n++] = "--out";
            args[n++] = below;
            args[n++] = "--quick";
        } else {
            for (int k = 0; k < 4 && USAGE_CASES[_i][k]; k++) args[n++] = USAGE_CASES[_i][k];
            if (strcmp(USAGE_CASES[_i][0], "--out") != 0) {
                args[n++] = "--out";
                args[n++] = dir;
            }
        }
        args[n] = NULL;
        int code = ck_run_program(progs[p], out, err, args, 0);
        char *text = ck_slurp(err, NULL);
        ck_assert_msg(code == 2, "%s %s: exit %d (%s)", progs[p], USAGE_CASES[_i][0], code,
                      text ? text : "");
        ck_assert_msg(ck_count_lines(err) == 1, "%s %s: stderr is not one line: %s", progs[p],
                      USAGE_CASES[_i][0], text ? text : "");
        ck_assert_msg(strncmp(text, progs[p], strlen(progs[p])) == 0, "%s", text);
        ad_free(text);
        ck_assert_int_eq(ck_count_lines(out), 0);
        struct stat st;
        ck_assert_msg(stat(dir, &st) != 0, "%s created %s", progs[p], dir);
        ck_assert_int_eq(dir_entries(tmp), 3); /* stdout, stderr, a-file */
    }
}
END_TEST

START_TEST(test_help)
{
    const char *tmp = ck_tmpdir("help");
    char out[700], err[700];
    snprintf(out, sizeof out, "%s/stdout", tmp);
    snprintf(err, sizeof err, "%s/stderr", tmp);
    const char *args[] = {"--help", NULL};
    ck_assert_int_eq(ck_run_program("bg-doublewell", out, err, args, 0), 0);
    char *text = ck_slurp(out, NULL);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(strstr(text, "--quick") && strstr(text, "--kT") && strstr(text, "--out"),
                  "%s", text);
    ad_free(text);
    ck_assert_int_eq(dir_entries(tmp), 2);
}
END_TEST

Suite *apps_experiments_suite(void)
{
    Suite *s = suite_create("apps-experiments");
    /* a --quick run takes a few seconds; several times that under the sanitizers */
    int timeout = ck_under_sanitizer() ? 900 : 120;
    TCase *tc = tcase_create("programs");
    tcase_set_tags(tc, "slow");
    tcase_set_timeout(tc, timeout);
    tcase_add_test(tc, test_doublewell_quick);
    tcase_add_test(tc, test_doublewell_quick_hot);
    tcase_add_test(tc, test_mullerbrown_quick);
    tcase_add_test(tc, test_help);
    suite_add_tcase(s, tc);
    TCase *te = tcase_create("errors");
    tcase_set_timeout(te, timeout);
    tcase_add_loop_test(te, test_usage_errors, 0, N_USAGE_CASES);
    suite_add_tcase(s, te);
    return s;
}
