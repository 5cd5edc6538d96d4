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
                          int n_pairs, double kT, int with_temperatures)
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
    /* without --temperatures there is no temperature section */
    if (!with_temperatures) {
        ck_assert_ptr_null(app_json_lookup(root, "temperatures"));
        ck_assert_ptr_null(app_json_lookup(root, "trained_range"));
        snprintf(path, sizeof path, "%s/temperatures.csv", dir);
        ck_assert_msg(access(path, F_OK) != 0, "%s written without --temperatures", path);
    }
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
    check_outputs(dir, system, pairs, n_pairs, atof(kT), 0);
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

/* --temperatures 0.8,1.6 with --quick: the summary's temperature section
 * (every model at both temperatures, with the quadrature reference there),
 * the figure, the table and the CSV files; the ML and ML+KL+RC models within
 * 4 bootstrap SE of quadrature at both temperatures.  Then --resume with
 * another list is refused (exit 2) and with the same list reloads the four
 * models and reproduces the numbers. */
START_TEST(test_doublewell_temperatures)
{
    const char *tmp = ck_tmpdir("doublewell_temperatures");
    ck_assert_ptr_nonnull(tmp);
    char dir[600], out[700], err[700], path[800];
    snprintf(dir, sizeof dir, "%s/out", tmp);
    snprintf(out, sizeof out, "%s/stdout", tmp);
    snprintf(err, sizeof err, "%s/stderr", tmp);
    const char *args[] = {"--quick", "--out", dir, "--threads", "2", "--seed", "3",
                          "--temperatures", "1.6,0.8", NULL};
    int code = ck_run_program("bg-doublewell", out, err, args, 0);
    char *log = ck_slurp(err, NULL);
    ck_assert_msg(code == 0, "exit %d: %s", code, log ? log : "");
    ad_free(log);
    static const char *const pairs[] = {"right-left"};
    check_outputs(dir, "doublewell", pairs, 1, 1.0, 1);
    static const char *const files[] = {"temperatures.svg", "temperature_profiles.svg",
                                        "temperatures.csv", "profiles_kT0.8.csv",
                                        "profiles_kT1.6.csv"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        char *text = ck_slurp(path, NULL);
        ck_assert_msg(text != NULL, "missing %s", path);
        if (strstr(files[i], ".svg"))
            ck_assert_msg(strstr(text, "<svg") && strstr(text, "</svg>"), "%s", path);
        ad_free(text);
    }
    snprintf(path, sizeof path, "%s/temperatures.csv", dir);
    ck_assert_int_eq(ck_count_lines(path), 3); /* header, 0.8, 1.6 */
    snprintf(path, sizeof path, "%s/profiles_kT0.8.csv", dir);
    ck_assert_int_eq(ck_count_lines(path), 101); /* header and 100 bins */
    snprintf(path, sizeof path, "%s/report.md", dir);
    char *report = ck_slurp(path, NULL);
    ck_assert_ptr_nonnull(report);
    ck_assert_ptr_nonnull(strstr(report, "## Several temperatures"));
    ck_assert_ptr_nonnull(strstr(report, "| kT | model | dF(right-left) | quadrature | ESS / n |"));
    ck_assert_ptr_nonnull(strstr(report, "| 0.8 | ML+KL+RC | "));
    ck_assert_ptr_nonnull(strstr(report, "| 1.6 | ML | "));
    ck_assert_ptr_nonnull(strstr(report, "](temperatures.svg)"));
    ad_free(report);

    app_json_value *root = ck_load_summary(dir);
    ck_assert_ptr_nonnull(root);
    const app_json_value *t = app_json_lookup(root, "temperatures");
    ck_assert(t && t->type == APP_JSON_ARRAY && t->n_items == 2);
    double x, lo, hi;
    ck_assert_int_eq(app_json_get_number(root, "trained_range[0]", &lo), AD_OK);
    ck_assert_int_eq(app_json_get_number(root, "trained_range[1]", &hi), AD_OK);
    ck_assert(lo == 0.8 && hi == 1.6);
    const app_json_value *v = app_json_lookup(root, "kT_extrapolation");
    ck_assert(v && v->type == APP_JSON_BOOL && v->boolean == 0);
    static const double kTs[2] = {0.8, 1.6};
    char key[256];
    for (int j = 0; j < 2; j++) {
        snprintf(key, sizeof key, "temperatures[%d].kT", j);
        ck_assert_int_eq(app_json_get_number(root, key, &x), AD_OK);
        ck_assert(x == kTs[j]); /* sorted */
        double ref;
        snprintf(key, sizeof key, "temperatures[%d].reference.delta_f.\"right-left\"", j);
        ck_assert_int_eq(app_json_get_number(root, key, &ref), AD_OK);
        ck_assert(ref > 1 && ref < 6);
        for (int k = 0; k < 4; k++) {
            snprintf(key, sizeof key, "temperatures[%d].models[%d].name", j, k);
            v = app_json_lookup(root, key);
            ck_assert(v && v->type == APP_JSON_STRING && strcmp(v->string, MODEL_NAMES[k]) == 0);
            double dF, se, ess;
            snprintf(key, sizeof key, "temperatures[%d].models[%d].delta_f.\"right-left\"", j, k);
            ck_assert_int_eq(app_json_get_number(root, key, &dF), AD_OK);
            snprintf(key, sizeof key, "temperatures[%d].models[%d].delta_f_stderr.\"right-left\"",
                     j, k);
            ck_assert_int_eq(app_json_get_number(root, key, &se), AD_OK);
            snprintf(key, sizeof key, "temperatures[%d].models[%d].ess_fraction", j, k);
            ck_assert_int_eq(app_json_get_number(root, key, &ess), AD_OK);
            ck_assert_msg(se > 0 && ess > 0 && ess <= 1, "kT %g %s: SE %g, ESS/n %g", kTs[j],
                          MODEL_NAMES[k], se, ess);
            snprintf(key, sizeof key, "temperatures[%d].models[%d].extrapolation", j, k);
            v = app_json_lookup(root, key);
            ck_assert(v && v->type == APP_JSON_BOOL && v->boolean == 0);
            /* ML and ML+KL+RC: a 4-SE bound on the bootstrap error of 2000
             * samples (these quick models carry a bias of about 2 SE) */
            if (k == 0 || k == 3)
                ck_assert_msg(fabs(dF - ref) <= 4 * se, "kT %g %s: dF %.4f +- %.4f vs %.4f",
                              kTs[j], MODEL_NAMES[k], dF, se, ref);
        }
    }
    app_json_value_free(root);

    /* another list on --resume: refused, naming the setting */
    snprintf(path, sizeof path, "%s/temperatures.csv", dir);
    char *before = ck_slurp(path, NULL);
    ck_assert_ptr_nonnull(before);
    const char *other[] = {"--quick", "--out", dir, "--seed", "3", "--temperatures", "0.8,2",
                           "--resume", NULL};
    code = ck_run_program("bg-doublewell", out, err, other, 0);
    log = ck_slurp(err, NULL);
    ck_assert_msg(code == 2 && log && strstr(log, "temperatures"), "exit %d: %s", code,
                  log ? log : "");
    ad_free(log);
    /* the same list (in another order): every model reloaded, the same numbers */
    const char *same[] = {"--quick", "--out", dir, "--seed", "3", "--temperatures", "0.8,1.6",
                          "--resume", NULL};
    code = ck_run_program("bg-doublewell", out, err, same, 0);
    log = ck_slurp(err, NULL);
    ck_assert_msg(code == 0, "exit %d: %s", code, log ? log : "");
    int reloaded = 0;
    for (const char *c = log; (c = strstr(c, "model reloaded")); c++) reloaded++;
    ck_assert_msg(reloaded == 4, "%d models reloaded: %s", reloaded, log);
    ad_free(log);
    char *after = ck_slurp(path, NULL);
    ck_assert_ptr_nonnull(after);
    ck_assert_str_eq(before, after);
    ad_free(before);
    ad_free(after);
}
END_TEST

/* --train-temperatures: the models with energy terms also train at kT 3.2,
 * so the run's --kT 2.4, outside --temperatures 0.8,1.6, lies inside their
 * trained range [0.8, 3.2]; the ML model (no energy terms) keeps [0.8, 1.6]
 * and extrapolates there, which the run's flag reports; estimates only at
 * the temperatures of --temperatures; the list is a setting of the run. */
START_TEST(test_doublewell_train_temperatures)
{
    const char *tmp = ck_tmpdir("doublewell_train_temperatures");
    ck_assert_ptr_nonnull(tmp);
    char dir[600], out[700], err[700], path[800];
    snprintf(dir, sizeof dir, "%s/out", tmp);
    snprintf(out, sizeof out, "%s/stdout", tmp);
    snprintf(err, sizeof err, "%s/stderr", tmp);
    const char *args[] = {"--quick", "--out", dir, "--kT", "2.4", "--temperatures", "0.8,1.6",
                          "--train-temperatures", "3.2", NULL};
    int code = ck_run_program("bg-doublewell", out, err, args, 0);
    char *log = ck_slurp(err, NULL);
    ck_assert_msg(code == 0, "exit %d: %s", code, log ? log : "");
    ad_free(log);
    app_json_value *root = ck_load_summary(dir);
    ck_assert_ptr_nonnull(root);
    /* the run's flag: the ML model extrapolates at 2.4 */
    ck_check_train_temperatures(root, 0.8, 3.2, 3.2, 1, 2);
    const app_json_value *v;
    double hi;
    for (int k = 0; k < 4; k++) { /* each model's own range and flag */
        char key[96];
        snprintf(key, sizeof key, "models[%d].trained_range[1]", k);
        ck_assert_int_eq(app_json_get_number(root, key, &hi), AD_OK);
        ck_assert_msg(hi == (k == 0 ? 1.6 : 3.2), "%s: %g", key, hi);
        snprintf(key, sizeof key, "models[%d].kT_extrapolation", k);
        v = app_json_lookup(root, key);
        ck_assert(v && v->type == APP_JSON_BOOL && v->boolean == (k == 0));
    }
    app_json_value_free(root);
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    char *manifest = ck_slurp(path, NULL);
    ck_assert_ptr_nonnull(manifest);
    ck_assert_ptr_nonnull(strstr(manifest, "\"train_temperatures\": \"3.2000000000000002\""));
    ad_free(manifest);
}
END_TEST

/* --temperature-weights: the pairs are a setting of the run and listed in
 * summary.json; they reach the training: against the same run with equal
 * weights, a weight on a temperature with data (1.6) changes the ML model
 * (its data rows) and the KL model, one on an added temperature alone
 * (3.2) changes the KL model and leaves the ML model bit for bit as it was
 * (it has no energy terms, so no rows at 3.2); --resume with other weights
 * is refused. */
START_TEST(test_doublewell_temperature_weights)
{
    const char *tmp = ck_tmpdir("doublewell_temperature_weights");
    ck_assert_ptr_nonnull(tmp);
    char dir[600], plain[600], out[700], err[700], path[800];
    snprintf(dir, sizeof dir, "%s/out", tmp);
    snprintf(plain, sizeof plain, "%s/plain", tmp);
    snprintf(out, sizeof out, "%s/stdout", tmp);
    snprintf(err, sizeof err, "%s/stderr", tmp);
    const char *args[] = {"--quick", "--out", dir, "--temperatures", "0.8,1.6",
                          "--train-temperatures", "3.2", "--temperature-weights",
                          "3.2:0.5,1.6:3", NULL};
    int code = ck_run_program("bg-doublewell", out, err, args, 0);
    char *log = ck_slurp(err, NULL);
    ck_assert_msg(code == 0, "exit %d: %s", code, log ? log : "");
    ad_free(log);
    app_json_value *root = ck_load_summary(dir);
    ck_assert_ptr_nonnull(root);
    double with[2], without[2], added[2];
    ck_check_temperature_weight(root, 0, 1.6, 3);
    ck_check_temperature_weight(root, 1, 3.2, 0.5);
    ck_assert_ptr_null(app_json_lookup(root, "temperature_weights[2]"));
    const char *key[2] = {"temperatures[0].models[0].delta_f.right-left",
                          "temperatures[0].models[1].delta_f.right-left"};
    for (int k = 0; k < 2; k++)
        ck_assert_int_eq(app_json_get_number(root, key[k], &with[k]), AD_OK);
    app_json_value_free(root);
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    char *manifest = ck_slurp(path, NULL);
    ck_assert_ptr_nonnull(manifest);
    ck_assert_msg(strstr(manifest, "\"temperature_weights\": "
                                   "\"1.6000000000000001:3,3.2000000000000002:0.5\""),
                  "%s", manifest);
    ad_free(manifest);
    snprintf(path, sizeof path, "%s/report.md", dir);
    char *report = ck_slurp(path, NULL);
    ck_assert_ptr_nonnull(report);
    ck_assert_ptr_nonnull(strstr(report, "in proportion to the weights kT:W = 1.6:3, 3.2:0.5"));
    ad_free(report);
    /* the same run with equal weights, then with a weight on 3.2 alone */
    const char *equal[] = {"--quick", "--out", plain, "--temperatures", "0.8,1.6",
                           "--train-temperatures", "3.2", NULL};
    ck_assert_int_eq(ck_run_program("bg-doublewell", out, err, equal, 0), 0);
    root = ck_load_summary(plain);
    ck_assert_ptr_nonnull(root);
    ck_assert_ptr_null(app_json_lookup(root, "temperature_weights"));
    for (int k = 0; k < 2; k++)
        ck_assert_int_eq(app_json_get_number(root, key[k], &without[k]), AD_OK);
    app_json_value_free(root);
    const char *hot[] = {"--quick", "--out", plain, "--restart", "--temperatures", "0.8,1.6",
                         "--train-temperatures", "3.2", "--temperature-weights", "3.2:0.5", NULL};
    ck_assert_int_eq(ck_run_program("bg-doublewell", out, err, hot, 0), 0);
    root = ck_load_summary(plain);
    ck_assert_ptr_nonnull(root);
    for (int k = 0; k < 2; k++)
        ck_assert_int_eq(app_json_get_number(root, key[k], &added[k]), AD_OK);
    app_json_value_free(root);
    for (int k = 0; k < 2; k++)
        ck_assert_msg(with[k] != without[k], "%s: %.17g with and without the weights", key[k],
                      with[k]);
    ck_assert_msg(added[0] == without[0], "ML: %.17g with 3.2:0.5, %.17g without", added[0],
                  without[0]);
    ck_assert_msg(added[1] != without[1], "KL: %.17g with 3.2:0.5 and without", added[1]);
    const char *other[] = {"--quick", "--out", dir, "--resume", "--temperatures", "0.8,1.6",
                           "--train-temperatures", "3.2", "--temperature-weights", "1.6:2",
                           NULL};
    ck_assert_int_eq(ck_run_program("bg-doublewell", out, err, other, 0), 2);
    log = ck_slurp(err, NULL);
    ck_assert_msg(log && strstr(log, "temperature_weights"), "%s", log ? log : "");
    ad_free(log);
}
END_TEST

/* --coupling spline with --quick: every output, the coupling in
 * summary.json; --resume with the affine coupling (or other bins) is
 * refused with exit 2, with the same settings it reloads the four models. */
START_TEST(test_doublewell_spline)
{
    static const char *const pairs[] = {"right-left"};
    const char *tmp = ck_tmpdir("doublewell_spline");
    ck_assert_ptr_nonnull(tmp);
    char dir[600], out[700], err[700], path[800];
    snprintf(dir, sizeof dir, "%s/out", tmp);
    snprintf(out, sizeof out, "%s/stdout", tmp);
    snprintf(err, sizeof err, "%s/stderr", tmp);
    const char *args[] = {"--quick", "--out", dir, "--coupling", "spline", "--spline-bins", "6",
                          NULL};
    int code = ck_run_program("bg-doublewell", out, err, args, 0);
    char *log = ck_slurp(err, NULL);
    ck_assert_msg(code == 0, "exit %d: %s", code, log ? log : "");
    ad_free(log);
    check_outputs(dir, "doublewell", pairs, 1, 1.0, 0);
    snprintf(path, sizeof path, "%s/summary.json", dir);
    char *summary = ck_slurp(path, NULL);
    ck_assert_ptr_nonnull(summary);
    ck_assert_msg(strstr(summary, "\"coupling\": \"spline bins 6 bound 5\""), "%s", summary);
    ad_free(summary);
    const char *affine[] = {"--quick", "--out", dir, "--resume", NULL};
    ck_assert_int_eq(ck_run_program("bg-doublewell", out, err, affine, 0), 2);
    const char *bins[] = {"--quick", "--out", dir, "--resume", "--coupling", "spline", NULL};
    ck_assert_int_eq(ck_run_program("bg-doublewell", out, err, bins, 0), 2);
    const char *same[] = {"--quick", "--out", dir, "--resume", "--coupling", "spline",
                          "--spline-bins", "6", NULL};
    code = ck_run_program("bg-doublewell", out, err, same, 0);
    log = ck_slurp(err, NULL);
    ck_assert_msg(code == 0, "exit %d: %s", code, log ? log : "");
    int reloaded = 0;
    for (const char *c = log; (c = strstr(c, "model reloaded")); c++) reloaded++;
    ck_assert_msg(reloaded == 4, "%d models reloaded: %s", reloaded, log);
    ad_free(log);
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
    {"--temperatures", "", NULL, NULL},       /* an empty list */
    {"--temperatures", "0.5,-1", NULL, NULL}, /* not positive */
    {"--temperatures", "0,1", NULL, NULL},
    {"--temperatures", "1,inf", NULL, NULL},  /* not finite */
    {"--temperatures", "nan", NULL, NULL},
    {"--temperatures", "0.5,1,1.0", NULL, NULL}, /* a duplicate */
    {"--temperatures", "0.5,1,1.5,2,2.5,3,3.5,4,4.5,5,5.5,6,6.5,7,7.5,8,8.5", NULL, NULL},
    {"--train-temperatures", "2", NULL, NULL},          /* without --temperatures */
    {"--temperatures", "1,2", "--train-temperatures", "1"}, /* in both lists */
    {"--temperatures", "1", "--train-temperatures", "0"},
    {"--temperatures", "1", "--train-temperatures", "3,inf"},
    {"--temperatures", "0.5,1,1.5,2,2.5,3,3.5,4",
     "--train-temperatures", "4.5,5,5.5,6,6.5,7,7.5,8,8.5"}, /* 17 together */
    {"--temperature-weights", "2:3", NULL, NULL},          /* without --temperatures */
    {"--temperatures", "1,2", "--temperature-weights", "3:1"}, /* in neither list */
    {"--temperatures", "1,2", "--temperature-weights", "2:0"},
    {"--temperatures", "1,2", "--temperature-weights", "2:inf"},
    {"--temperatures", "1,2", "--temperature-weights", "2"},   /* no weight */
    {"--temperatures", "1,2", "--temperature-weights", "2:1,2.0:1"}, /* a duplicate */
    {"--coupling", "realnvp", NULL, NULL},
    {"--coupling", "spline", "--spline-bins", "1"},
    {"--coupling", "spline", "--spline-bins", "65"},
    {"--spline-bins", "8", NULL, NULL}, /* a spline setting for an affine run */
    {"--coupling", "spline", "--spline-bound", "-1"},
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
    ck_assert_msg(strstr(text, "--quick") && strstr(text, "--kT") && strstr(text, "--out") &&
                      strstr(text, "--temperatures LIST") &&
                      strstr(text, "--coupling affine|spline") && strstr(text, "--spline-bins K"),
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
    tcase_add_test(tc, test_doublewell_temperatures);
    tcase_add_test(tc, test_doublewell_train_temperatures);
    tcase_add_test(tc, test_doublewell_temperature_weights);
    tcase_add_test(tc, test_doublewell_spline);
    tcase_add_test(tc, test_help);
    suite_add_tcase(s, tc);
    TCase *te = tcase_create("errors");
    tcase_set_timeout(te, timeout);
    tcase_add_loop_test(te, test_usage_errors, 0, N_USAGE_CASES);
    suite_add_tcase(s, te);
    return s;
}
