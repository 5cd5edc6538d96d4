/* test_apps_dimer.c - the dimer experiment program bg-dimer, run as a
 * process from BG_BIN_DIR: a --quick run writes every output file and a
 * summary.json of finite numbers; --resume after a completed run reproduces
 * its numbers exactly; the seed's bond form runs too; usage errors exit 2
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

#include "apps/dimer/dimer_schedule.h"
#include "apps/toolkit/app_fs.h"
#include "apps/toolkit/app_json.h"
#include "autodiff/ad.h"
#include "ck_util.h"
#include "test_apps_util.h"

/* Run BG_BIN_DIR/bg-dimer (tests/ck_util.h: ck_run_program). */
static int run_dimer(const char *out_file, const char *err_file, const char *const *args)
{
    return ck_run_program("bg-dimer", out_file, err_file, args, 0);
}

/* The numbers of summary.json that a resumed run must reproduce. */
static const char *const RESULT_KEYS[] = {
    "reference.delta_f.\"closed-open\"",   "reference.delta_f_stderr.\"closed-open\"",
    "models[0].delta_f.\"closed-open\"",   "models[0].delta_f_stderr.\"closed-open\"",
    "models[0].ess_fraction",              "models[0].median_energy",
    "models[0].mc_median_energy",          "models[0].transitions_per_1000",
    "models[0].final_loss",                "models[0].n_samples",
    "models[0].n_nonfinite",
    "models[1].delta_f.\"closed-open\"",   "models[1].delta_f_stderr.\"closed-open\"",
    "models[1].ess_fraction",              "models[1].median_energy",
    "models[1].ais.acceptance",
};
#define N_RESULT_KEYS ((int)(sizeof RESULT_KEYS / sizeof *RESULT_KEYS))

/* The outputs of a --quick run; with_ais: latent annealing ran (the
 * default), from the start scale given, else --ais-chains 0 (no second
 * model, no ais_ files). */
static void check_outputs(const char *dir, const char *bond, int with_ais, double start_scale)
{
    static const char *const files[] = {
        "summary.json", "report.md", "data_closed.csv", "data_open.csv",
        "umbrella_profile.csv", "bg_samples.csv", "bg_profile.csv", "train_log.csv",
        "cache.json", "fig_energy.svg", "fig_distance.svg", "fig_configurations.svg",
        "fig_free_energy.svg", "fig_loss.svg"};
    char path[1024];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        struct stat st;
        ck_assert_msg(stat(path, &st) == 0 && st.st_size > 0, "missing or empty %s", path);
        if (strstr(files[i], ".svg")) {
            char *s = ck_slurp(path, NULL);
            ck_assert_ptr_nonnull(s);
            ck_assert_msg(strstr(s, "<svg") && strstr(s, "</svg>"), "%s is not an SVG", path);
            ad_free(s);
        }
        if (strstr(files[i], ".csv"))
            ck_assert_msg(ck_count_lines(path) >= 2, "%s has no data rows", path);
    }
    static const char *const ais_files[] = {"ais_samples.csv", "ais_profile.csv"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, ais_files[i]);
        if (with_ais)
            ck_assert_msg(ck_count_lines(path) >= 2, "%s missing or without data rows", path);
        else
            ck_assert_msg(access(path, F_OK) != 0, "%s written with --ais-chains 0", path);
    }
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d))) ck_assert_msg(!strstr(e->d_name, ".tmp"), "left over %s", e->d_name);
    closedir(d);
    snprintf(path, sizeof path, "%s/ckpt/stage-stage1.ckpt", dir);
    ck_assert_msg(access(path, R_OK) == 0, "no stage checkpoint %s", path);

    app_json_value *root = ck_load_summary(dir);
    ck_assert_msg(root != NULL, "no valid summary.json in %s", dir);
    ck_assert_msg(app_json_all_finite(root), "summary.json holds a non-finite number");
    ck_assert_int_eq((int)app_json_count(root, APP_JSON_NULL), 0);
    const app_json_value *v = app_json_lookup(root, "system");
    ck_assert(v && v->type == APP_JSON_STRING && strcmp(v->string, "dimer") == 0);
    v = app_json_lookup(root, "bond");
    ck_assert(v && v->type == APP_JSON_STRING && strcmp(v->string, bond) == 0);
    v = app_json_lookup(root, "reference.method");
    ck_assert(v && v->type == APP_JSON_STRING && strcmp(v->string, "umbrella+WHAM") == 0);
    v = app_json_lookup(root, "models[0].name");
    ck_assert(v && v->type == APP_JSON_STRING);
    double x;
    for (int k = 0; k < N_RESULT_KEYS; k++)
        if (with_ais || strncmp(RESULT_KEYS[k], "models[1]", 9) != 0)
            ck_assert_msg(app_json_get_number(root, RESULT_KEYS[k], &x) == AD_OK, "no %s",
                          RESULT_KEYS[k]);
    v = app_json_lookup(root, "seed"); /* a decimal string: uint64 seeds round-trip */
    ck_assert(v && v->type == APP_JSON_STRING && v->string[0] >= '0' && v->string[0] <= '9');
    static const char *const more[] = {"kT", "wall_seconds", "models[0].train_seconds",
                                       "models[0].ess_fraction",
                                       "timing.energy_forces_ms_batch1000",
                                       "timing.flow_fwd_bwd_ms_batch1000"};
    for (size_t k = 0; k < sizeof more / sizeof *more; k++)
        ck_assert_msg(app_json_get_number(root, more[k], &x) == AD_OK, "no %s", more[k]);
    ck_assert_int_eq(app_json_get_number(root, "models[0].ess_fraction", &x), AD_OK);
    ck_assert(x > 0 && x <= 1);
    /* The umbrella repeats split by start state: closed starts are the even
     * repeats, open starts the odd ones, and the difference is theirs. */
    double c_mean, o_mean, diff, n_rep;
    ck_assert_int_eq(app_json_get_number(root, "reference.start_state.closed_starts", &c_mean),
                     AD_OK);
    ck_assert_int_eq(app_json_get_number(root, "reference.start_state.open_starts", &o_mean),
                     AD_OK);
    ck_assert_int_eq(app_json_get_number(root, "reference.start_state.difference", &diff), AD_OK);
    ck_assert_double_eq_tol(diff, c_mean - o_mean, 1e-12 * (1 + fabs(diff)));
    ck_assert_int_eq(app_json_get_number(root, "reference.n_repeats", &n_rep), AD_OK);
    const app_json_value *reps = app_json_lookup(root, "reference.delta_f_repeats");
    ck_assert(reps && reps->type == APP_JSON_ARRAY && (double)reps->n_items == n_rep);
    double even = 0;
    int n_even = 0;
    for (size_t q = 0; q < reps->n_items; q += 2, n_even++) even += reps->items[q].number;
    ck_assert_double_eq_tol(c_mean, even / n_even, 1e-12 * (1 + fabs(c_mean)));
    ck_assert_int_eq(app_json_get_number(root, "kT", &x), AD_OK);
    ck_assert(x == 1.0);
    ck_assert_int_eq(app_json_get_number(root, "timing.flow_fwd_bwd_ms_batch1000", &x), AD_OK);
    ck_assert(x > 0);
    const app_json_value *models = app_json_lookup(root, "models");
    ck_assert(models && models->type == APP_JSON_ARRAY);
    ck_assert_int_eq((int)models->n_items, with_ais ? 2 : 1);
    if (with_ais) {
        v = app_json_lookup(root, "models[1].name");
        ck_assert(v && v->type == APP_JSON_STRING && strstr(v->string, "AIS"));
        ck_assert_int_eq(app_json_get_number(root, "models[1].ess_fraction", &x), AD_OK);
        ck_assert(x > 0 && x <= 1);
        ck_assert_int_eq(app_json_get_number(root, "models[1].ais.acceptance", &x), AD_OK);
        ck_assert(x > 0 && x < 1);
        double n, k, l, e;
        ck_assert_int_eq(app_json_get_number(root, "models[1].n_samples", &n), AD_OK);
        ck_assert_int_eq(app_json_get_number(root, "models[1].ais.temperatures", &k), AD_OK);
        ck_assert_int_eq(app_json_get_number(root, "models[1].ais.leapfrog_steps", &l), AD_OK);
        ck_assert_int_eq(app_json_get_number(root, "models[1].ais.evaluations", &e), AD_OK);
        ck_assert(e >= n * (1 + k * l)); /* and the pilot's */
        ck_assert_int_eq(app_json_get_number(root, "models[1].ais.start_scale", &x), AD_OK);
        ck_assert(x == start_scale);
    }
    app_json_value_free(root);
}

/* A --quick run, then --resume on its directory: the same numbers. */
START_TEST(test_quick_and_resume)
{
    const char *dir = ck_tmpdir("bg_dimer_quick");
    char out[1024], err[1024];
    snprintf(out, sizeof out, "%s.stdout", dir);
    snprintf(err, sizeof err, "%s.stderr", dir);
    ck_tmp_track(out);
    ck_tmp_track(err);
    const char *args[] = {"--quick", "--out", dir, "--seed", "3", NULL};
    int rc = run_dimer(out, err, args);
    char *log = ck_slurp(err, NULL);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, log ? log : "");
    ad_free(log);
    check_outputs(dir, "paper", 1, 1.0);
    app_json_value *first = ck_load_summary(dir);
    ck_assert_msg(first != NULL, "no valid summary.json in %s", dir);

    /* Resume after the completed run: no stage is retrained, the numbers
     * (which depend on the reloaded data, reference and model) are equal. */
    const char *args2[] = {"--quick", "--out", dir, "--seed", "3", "--resume", NULL};
    rc = run_dimer(out, err, args2);
    log = ck_slurp(err, NULL);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, log ? log : "");
    ck_assert_msg(log && strstr(log, "reusing"), "the resumed run did not reuse the data: %s",
                  log ? log : "");
    ad_free(log);
    check_outputs(dir, "paper", 1, 1.0);
    app_json_value *second = ck_load_summary(dir);
    ck_assert_msg(second != NULL, "no valid summary.json in %s", dir);
    for (int k = 0; k < N_RESULT_KEYS; k++) {
        double a, b;
        ck_assert_int_eq(app_json_get_number(first, RESULT_KEYS[k], &a), AD_OK);
        ck_assert_int_eq(app_json_get_number(second, RESULT_KEYS[k], &b), AD_OK);
        ck_assert_msg(a == b, "%s: %.17g after the run, %.17g after --resume", RESULT_KEYS[k], a,
                      b);
    }
    double s;
    ck_assert_int_eq(app_json_get_number(second, "models[0].resumed_after_stage", &s), AD_OK);
    ck_assert(s >= 1);
    app_json_value_free(first);
    app_json_value_free(second);
}
END_TEST

/* The seed's bond form end to end, here without latent annealing. */
START_TEST(test_quick_seed_bond)
{
    const char *dir = ck_tmpdir("bg_dimer_seed_bond");
    char out[1024], err[1024];
    snprintf(out, sizeof out, "%s.stdout", dir);
    snprintf(err, sizeof err, "%s.stderr", dir);
    ck_tmp_track(out);
    ck_tmp_track(err);
    const char *args[] = {"--quick", "--bond", "seed", "--ais-chains", "0", "--out", dir, NULL};
    int rc = run_dimer(out, err, args);
    char *log = ck_slurp(err, NULL);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, log ? log : "");
    ad_free(log);
    check_outputs(dir, "seed", 0, 1.0);
}
END_TEST

/* --coupling spline: the run completes with every output, its summary names
 * the coupling, and the directory of an affine run is refused for it. */
START_TEST(test_quick_spline)
{
    const char *dir = ck_tmpdir("bg_dimer_spline");
    char out[1024], err[1024], path[1024];
    snprintf(out, sizeof out, "%s.stdout", dir);
    snprintf(err, sizeof err, "%s.stderr", dir);
    ck_tmp_track(out);
    ck_tmp_track(err);
    const char *args[] = {"--quick", "--coupling", "spline", "--spline-bins", "4",
                          "--ais-chains", "0", "--out", dir, NULL};
    int rc = run_dimer(out, err, args);
    char *log = ck_slurp(err, NULL);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, log ? log : "");
    ad_free(log);
    check_outputs(dir, "paper", 0, 1.0);
    snprintf(path, sizeof path, "%s/summary.json", dir);
    char *summary = ck_slurp(path, NULL);
    ck_assert_ptr_nonnull(summary);
    ck_assert_msg(strstr(summary, "\"coupling\": \"spline bins 4 bound 5\""), "%s", summary);
    ad_free(summary);
    const char *affine[] = {"--quick", "--ais-chains", "0", "--resume", "--out", dir, NULL};
    rc = run_dimer(out, err, affine);
    ck_assert_int_eq(rc, 2);
}
END_TEST

/* A run whose flow gives no usable profile (--kT 2 with the tiny --quick
 * training: no generated sample has a finite weight in the split window)
 * still completes, writes no bg_profile.csv and removes one left by an
 * earlier run in the same directory, so no file of another run stays beside
 * its results. */
START_TEST(test_quick_without_profile)
{
    const char *dir = ck_tmpdir("bg_dimer_no_profile");
    char out[1024], err[1024], stale[1024];
    snprintf(out, sizeof out, "%s.stdout", dir);
    snprintf(err, sizeof err, "%s.stderr", dir);
    snprintf(stale, sizeof stale, "%s/bg_profile.csv", dir);
    ck_tmp_track(out);
    ck_tmp_track(err);
    FILE *f = fopen(stale, "w");
    ck_assert_ptr_nonnull(f);
    fputs("d,F,F_se\n1,0,0\n", f);
    ck_assert_int_eq(fclose(f), 0);
    const char *args[] = {"--quick", "--kT", "2", "--ais-chains", "0", "--out", dir, NULL};
    int rc = run_dimer(out, err, args);
    char *log = ck_slurp(err, NULL);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, log ? log : "");
    ck_assert_msg(log && strstr(log, "no reweighted profile"), "no warning: %s", log ? log : "");
    ad_free(log);
    struct stat st;
    ck_assert_msg(stat(stale, &st) != 0, "the earlier run's bg_profile.csv is still there");
}
END_TEST

/* --quick --temperatures 1,2: the MC data and umbrella reference at kT 2
 * beside those of the run's kT 1, one generator for both, the temperature
 * section of summary.json (the run's own temperature repeating the run's
 * numbers), the figures, the table and the files of kT 2; then --resume
 * reuses everything of both temperatures and reproduces the numbers. */
START_TEST(test_quick_temperatures)
{
    const char *dir = ck_tmpdir("bg_dimer_temperatures");
    char target[1024], out[1024], err[1024], path[1200];
    snprintf(target, sizeof target, "%s/run", dir);
    snprintf(out, sizeof out, "%s/stdout", dir);
    snprintf(err, sizeof err, "%s/stderr", dir);
    const char *args[] = {"--quick", "--temperatures", "2,1", "--ais-chains", "50",
                          "--ais-start-scale", "1.5", "--out", target, NULL};
    int rc = run_dimer(out, err, args);
    char *log = ck_slurp(err, NULL);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, log ? log : "");
    ad_free(log);
    check_outputs(target, "paper", 1, 1.5);
    static const char *const files[] = {
        "fig_temperatures.svg", "fig_temperature_profiles.svg", "temperatures.csv",
        "data_closed_kT2.csv",  "data_open_kT2.csv",            "umbrella_profile_kT2.csv",
        "bg_profile_kT2.csv",   "ais_profile_kT2.csv",          "cache_kT2.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", target, files[i]);
        ck_assert_msg(ck_count_lines(path) >= 2, "missing or empty %s", path);
    }
    snprintf(path, sizeof path, "%s/temperatures.csv", target);
    ck_assert_int_eq(ck_count_lines(path), 3);
    snprintf(path, sizeof path, "%s/report.md", target);
    char *report = ck_slurp(path, NULL);
    ck_assert_ptr_nonnull(report);
    ck_assert_ptr_nonnull(strstr(report, "## Several temperatures"));
    ck_assert_ptr_nonnull(strstr(report, "| 2 | "));
    ck_assert_ptr_nonnull(strstr(report, "](fig_temperatures.svg)"));
    ad_free(report);
    app_json_value *root = ck_load_summary(target);
    ck_assert_ptr_nonnull(root);
    const app_json_value *t = app_json_lookup(root, "temperatures");
    ck_assert(t && t->type == APP_JSON_ARRAY && t->n_items == 2);
    double a, b;
    ck_assert_int_eq(app_json_get_number(root, "temperatures[0].kT", &a), AD_OK);
    ck_assert_int_eq(app_json_get_number(root, "temperatures[1].kT", &b), AD_OK);
    ck_assert(a == 1 && b == 2);
    /* the run's own temperature is the run's reference and model */
    static const char *const same[][2] = {
        {"reference.delta_f.\"closed-open\"",
         "temperatures[0].reference.delta_f.\"closed-open\""},
        {"models[0].delta_f.\"closed-open\"",
         "temperatures[0].models[0].delta_f.\"closed-open\""},
        {"models[1].ess_fraction", "temperatures[0].models[1].ess_fraction"},
    };
    for (size_t k = 0; k < sizeof same / sizeof *same; k++) {
        ck_assert_int_eq(app_json_get_number(root, same[k][0], &a), AD_OK);
        ck_assert_int_eq(app_json_get_number(root, same[k][1], &b), AD_OK);
        ck_assert_msg(a == b, "%s %g vs %s %g", same[k][0], a, same[k][1], b);
    }
    static const char *const at2[] = {
        "temperatures[1].reference.delta_f.\"closed-open\"",
        "temperatures[1].reference.delta_f_stderr.\"closed-open\"",
        "temperatures[1].models[0].delta_f_stderr.\"closed-open\"",
        "temperatures[1].models[0].ess_fraction", "temperatures[1].models[1].ess_fraction",
        "temperatures[1].paper_umbrella_mean", "temperatures[1].mc.acceptance[1]"};
    for (size_t k = 0; k < sizeof at2 / sizeof *at2; k++)
        ck_assert_msg(app_json_get_number(root, at2[k], &a) == AD_OK && isfinite(a), "no %s",
                      at2[k]);
    const app_json_value *v = app_json_lookup(root, "temperatures[1].models[1].name");
    ck_assert(v && v->type == APP_JSON_STRING && strstr(v->string, "AIS"));
    v = app_json_lookup(root, "temperatures[1].models[0].extrapolation");
    ck_assert(v && v->type == APP_JSON_BOOL && v->boolean == 0);
    /* --resume: the data and reference of kT 2 are reused too, the numbers
     * are the same */
    double before[sizeof at2 / sizeof *at2];
    for (size_t k = 0; k < sizeof at2 / sizeof *at2; k++)
        app_json_get_number(root, at2[k], &before[k]);
    app_json_value_free(root);
    const char *again[] = {"--quick", "--temperatures", "1,2", "--ais-chains", "50",
                           "--ais-start-scale", "1.5", "--out", target, "--resume", NULL};
    rc = run_dimer(out, err, again);
    log = ck_slurp(err, NULL);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, log ? log : "");
    ck_assert_msg(strstr(log, "reusing the MC data and the umbrella reference at kT = 2"), "%s",
                  log);
    ck_assert_msg(strstr(log, "resuming after stage"), "%s", log);
    ad_free(log);
    root = ck_load_summary(target);
    ck_assert_ptr_nonnull(root);
    for (size_t k = 0; k < sizeof at2 / sizeof *at2; k++) {
        ck_assert_int_eq(app_json_get_number(root, at2[k], &a), AD_OK);
        ck_assert_msg(a == before[k], "%s: %.17g after --resume, %.17g before", at2[k], a,
                      before[k]);
    }
    app_json_value_free(root);
}
END_TEST

/* --train-temperatures: the generator trains at kT 4 too (by energy
 * alone), so the run's --kT 3, outside --temperatures 1,2 but inside the
 * trained range [1, 4], is not extrapolation; the list is a setting of the
 * run, and --resume with another list is refused naming it.  The weights of
 * --temperature-weights are a setting too, listed in summary.json and the
 * report. */
START_TEST(test_quick_train_temperatures)
{
    const char *dir = ck_tmpdir("bg_dimer_train_temperatures");
    char target[1024], out[1024], err[1024], path[1200];
    snprintf(target, sizeof target, "%s/run", dir);
    snprintf(out, sizeof out, "%s/stdout", dir);
    snprintf(err, sizeof err, "%s/stderr", dir);
    const char *args[] = {"--quick", "--kT", "3", "--temperatures", "1,2",
                          "--train-temperatures", "4", "--temperature-weights", "4:2,1:0.5",
                          "--ais-chains", "0", "--out", target, NULL};
    int rc = run_dimer(out, err, args);
    char *log = ck_slurp(err, NULL);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, log ? log : "");
    ad_free(log);
    app_json_value *root = ck_load_summary(target);
    ck_assert_ptr_nonnull(root);
    ck_check_train_temperatures(root, 1, 4, 4, 0, 2);
    ck_check_temperature_weight(root, 0, 1, 0.5);
    ck_check_temperature_weight(root, 1, 4, 2);
    double loss_with = 0, loss_without = 0;
    ck_assert_int_eq(app_json_get_number(root, "models[0].final_loss", &loss_with), AD_OK);
    app_json_value_free(root);
    snprintf(path, sizeof path, "%s/manifest.json", target);
    char *manifest = ck_slurp(path, NULL);
    ck_assert_ptr_nonnull(manifest);
    ck_assert_ptr_nonnull(strstr(manifest, "\"train_temperatures\": \"4\""));
    ck_assert_ptr_nonnull(strstr(manifest, "\"temperature_weights\": \"1:0.5,4:2\""));
    ad_free(manifest);
    snprintf(path, sizeof path, "%s/report.md", target);
    char *report = ck_slurp(path, NULL);
    ck_assert_ptr_nonnull(report);
    ck_assert_ptr_nonnull(strstr(report, "at kT = 4 (--train-temperatures)"));
    ck_assert_ptr_nonnull(strstr(report, "in proportion to the weights kT:W = 1:0.5, 4:2"));
    ad_free(report);
    /* the weights reach the training: the same run with equal weights ends
     * with another loss */
    char equal_dir[1100];
    snprintf(equal_dir, sizeof equal_dir, "%s/equal", dir);
    const char *equal[] = {"--quick", "--kT", "3", "--temperatures", "1,2",
                           "--train-temperatures", "4", "--ais-chains", "0", "--out", equal_dir,
                           NULL};
    ck_assert_int_eq(run_dimer(out, err, equal), 0);
    root = ck_load_summary(equal_dir);
    ck_assert_ptr_nonnull(root);
    ck_assert_ptr_null(app_json_lookup(root, "temperature_weights"));
    ck_assert_int_eq(app_json_get_number(root, "models[0].final_loss", &loss_without), AD_OK);
    app_json_value_free(root);
    ck_assert_msg(loss_with != loss_without, "final loss %.17g with and without the weights",
                  loss_with);
    const char *other[] = {"--quick", "--kT", "3", "--temperatures", "1,2",
                           "--train-temperatures", "5", "--ais-chains", "0", "--out", target,
                           "--resume", NULL};
    rc = run_dimer(out, err, other);
    log = ck_slurp(err, NULL);
    ck_assert_msg(rc == 2, "exit %d: %s", rc, log ? log : "");
    ck_assert_msg(log && strstr(log, "train_temperatures"), "%s", log ? log : "");
    ad_free(log);
}
END_TEST

/* Usage errors: exit 2, exactly one line on stderr, nothing on stdout, the
 * output directory not created. */
static const char *const BAD_ARGS[][4] = {
    {"--bond", "tilted", NULL},
    {"--seed", "abc", NULL},
    {"--kT", "-1", NULL},
    {"--threads", "0", NULL},
    {"--no-such-option", NULL},
    {"--quick", "extra", NULL},
    {"--ais-chains", "-1", NULL},
    {"--ais-temps", "0", NULL},
    {"--ais-start-scale", "0.2", NULL},
    {"--ais-start-scale", "nan", NULL},
    {"--temperatures", "", NULL},          /* an empty list */
    {"--temperatures", "0.5,-2", NULL},    /* not positive */
    {"--temperatures", "inf", NULL},       /* not finite */
    {"--temperatures", "2,0.5,2.0", NULL}, /* a duplicate */
    {"--temperatures", "1,2,3,4,5,6,7,8,9,10,1.5,2.5,3.5,4.5,5.5,6.5,7.5", NULL}, /* 17 */
    {"--train-temperatures", "4", NULL},                     /* without --temperatures */
    {"--temperatures", "1,2", "--train-temperatures", "2"},  /* in both lists */
    {"--temperatures", "1", "--train-temperatures", "-4"},   /* not positive */
    {"--temperatures", "1", "--train-temperatures", "4,nan"}, /* not finite */
    {"--temperatures", "1,2,3,4,5,6,7,8",
     "--train-temperatures", "0.5,1.5,2.5,3.5,4.5,5.5,6.5,7.5,8.5"}, /* 17 together */
    {"--temperature-weights", "2:3", NULL},                    /* without --temperatures */
    {"--temperatures", "1,2", "--temperature-weights", "4:1"}, /* in neither list */
    {"--temperatures", "1,2", "--temperature-weights", "1:-1"},
    {"--temperatures", "1,2", "--temperature-weights", "1:nan"},
    {"--temperatures", "1,2", "--temperature-weights", "1:2,2"}, /* no weight */
    {"--coupling", "nvp", NULL},
    {"--coupling", "spline", "--spline-bins", "1"},
    {"--coupling", "spline", "--spline-bins", "65"},
    {"--spline-bins", "4", NULL}, /* a spline setting without --coupling spline */
};

START_TEST(test_usage_errors)
{
    const char *dir = ck_tmpdir("bg_dimer_usage");
    char target[1024], out[1024], err[1024];
    snprintf(target, sizeof target, "%s/never", dir);
    snprintf(out, sizeof out, "%s/stdout", dir);
    snprintf(err, sizeof err, "%s/stderr", dir);
    const char *args[8];
    int n = 0;
    for (int k = 0; k < 4 && BAD_ARGS[_i][k]; k++) args[n++] = BAD_ARGS[_i][k];
    args[n++] = "--out";
    args[n++] = target;
    args[n] = NULL;
    int rc = run_dimer(out, err, args);
    ck_assert_msg(rc == 2, "%s: exit %d", BAD_ARGS[_i][0], rc);
    ck_assert_int_eq(ck_count_lines(err), 1);
    ck_assert_int_le(ck_count_lines(out), 0);
    struct stat st;
    ck_assert_msg(stat(target, &st) != 0, "%s created after a usage error", target);
}
END_TEST

START_TEST(test_help)
{
    const char *dir = ck_tmpdir("bg_dimer_help");
    char out[1024], err[1024];
    snprintf(out, sizeof out, "%s/stdout", dir);
    snprintf(err, sizeof err, "%s/stderr", dir);
    const char *args[] = {"--help", NULL};
    ck_assert_int_eq(run_dimer(out, err, args), 0);
    char *text = ck_slurp(out, NULL);
    ck_assert_ptr_nonnull(text);
    ck_assert(strstr(text, "--bond") && strstr(text, "--resume") && strstr(text, "--quick"));
    ck_assert(strstr(text, "--ais-chains") && strstr(text, "--ais-temps"));
    ck_assert(strstr(text, "--temperatures LIST"));
    ad_free(text);
}
END_TEST

/* The umbrella windows keep the table's length at kT >= 1 and grow as 1/kT
 * below, in steps and in discarded frames alike. */
START_TEST(test_umbrella_length)
{
    for (int quick = 0; quick <= 1; quick++) {
        dimer_schedule s;
        dimer_schedule_make(&s, quick, 1.0);
        long steps, discard;
        static const double hot[] = {1.0, 1.5, 2.0, 4.0};
        for (size_t i = 0; i < sizeof hot / sizeof *hot; i++) {
            dimer_umbrella_length(&s, hot[i], &steps, &discard);
            ck_assert_int_eq(steps, s.us_steps);
            ck_assert_int_eq(discard, s.us_discard);
        }
        dimer_umbrella_length(&s, 0.5, &steps, &discard);
        ck_assert_int_eq(steps, 2 * s.us_steps);
        ck_assert_int_eq(discard, 2 * s.us_discard);
        /* not a whole multiple: rounded up, never shorter than 1/kT times */
        dimer_umbrella_length(&s, 0.3, &steps, &discard);
        ck_assert(steps >= s.us_steps / 0.3 && steps < s.us_steps / 0.3 + 1);
        ck_assert(discard >= s.us_discard / 0.3 && discard < s.us_discard / 0.3 + 1);
    }
}
END_TEST

Suite *apps_dimer_suite(void)
{
    Suite *s = suite_create("apps-dimer");
    TCase *tc = tcase_create("errors");
    tcase_add_loop_test(tc, test_usage_errors, 0, (int)(sizeof BAD_ARGS / sizeof *BAD_ARGS));
    tcase_add_test(tc, test_help);
    tcase_add_test(tc, test_umbrella_length);
    suite_add_tcase(s, tc);
    tc = tcase_create("forward");
    tcase_set_tags(tc, "slow");
    /* each quick run takes seconds; several times that under the sanitizers */
    tcase_set_timeout(tc, ck_under_sanitizer() ? 1800 : 600);
    tcase_add_test(tc, test_quick_and_resume);
    tcase_add_test(tc, test_quick_seed_bond);
    tcase_add_test(tc, test_quick_without_profile);
    tcase_add_test(tc, test_quick_temperatures);
    tcase_add_test(tc, test_quick_train_temperatures);
    tcase_add_test(tc, test_quick_spline);
    suite_add_tcase(s, tc);
    return s;
}
