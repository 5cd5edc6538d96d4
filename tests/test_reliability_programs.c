/* test_reliability_programs.c - crash safety and determinism of the
 * experiment programs: a run killed with SIGKILL at chosen points always
 * leaves checkpoints that load, and --resume then finishes with the same
 * summary numbers as an uninterrupted run; the same seed gives the same
 * numbers for 1 and 2 threads; a failed write exits 1 naming the path and
 * leaves the other files intact. */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "apps/toolkit/app_fs.h"
#include "apps/toolkit/app_json.h"
#include "autodiff/ad.h"
#include "ck_util.h"
#include "test_apps_util.h"
#include "flows/flow_realnvp.h"
#include "nn/nn_checkpoint.h"

/* The numbers that must not depend on interruptions or threads: every
 * model's dF, its standard error, ESS / n and final loss (times excluded). */
static void assert_same_numbers(const char *dir_a, const char *dir_b)
{
    app_json_value *a = ck_load_summary(dir_a), *b = ck_load_summary(dir_b);
    ck_assert_msg(a && b, "summary.json missing in %s or %s", dir_a, dir_b);
    static const char *const fields[] = {"delta_f.\"right-left\"", "delta_f_stderr.\"right-left\"",
                                         "ess_fraction", "final_loss"};
    for (int k = 0; k < 4; k++)
        for (int f = 0; f < 4; f++) {
            char path[128];
            snprintf(path, sizeof path, "models[%d].%s", k, fields[f]);
            double va = NAN, vb = NAN;
            ck_assert_msg(app_json_get_number(a, path, &va) == AD_OK, "%s in %s", path, dir_a);
            ck_assert_msg(app_json_get_number(b, path, &vb) == AD_OK, "%s in %s", path, dir_b);
            ck_assert_msg(va == vb, "%s: %.17g vs %.17g", path, va, vb);
        }
    app_json_value_free(a);
    app_json_value_free(b);
}

/* Every model_*.ckpt present must load into a fresh double-well RealNVP. */
static int check_checkpoints_load(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, "model_", 6) || len < 5 || strcmp(e->d_name + len - 5, ".ckpt"))
            continue;
        char path[700], msg[256];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        flow_realnvp_config c = flow_realnvp_preset_config(FLOW_REALNVP_DOUBLE_WELL);
        flow_model *m = flow_realnvp_new(&c, msg, sizeof msg);
        ck_assert(m != NULL);
        ck_assert_msg(nn_checkpoint_load(m->params, path, msg, sizeof msg) == AD_OK,
                      "%s does not load: %s", path, msg);
        flow_model_free(m);
        n++;
    }
    closedir(d);
    return n;
}

START_TEST(test_kill_and_resume)
{
    const char *tmp = ck_tmpdir("kill");
    ck_assert(tmp != NULL);
    char base[600], log_out[700], log_err[700];
    snprintf(base, sizeof base, "%s/full", tmp);
    snprintf(log_out, sizeof log_out, "%s/out.txt", tmp);
    snprintf(log_err, sizeof log_err, "%s/err.txt", tmp);
    const char *full_args[] = {"--quick", "--seed", "3", "--threads", "1", "--out", base, NULL};
    ck_assert_int_eq(ck_run_program("bg-doublewell", log_out, log_err, full_args, 0), 0);

    /* Killed (SIGKILL, by the testing aid BG_STOP_AFTER of apps/toolkit/app_run.h)
     * right after a checkpoint, between a model's files, and after a
     * model's last file. */
    static const char *const stops[] = {"model_ml.ckpt", "loss_kl.csv", "train_ml_kl_record.json"};
    for (int trial = 0; trial < 3; trial++) {
        char dir[600];
        snprintf(dir, sizeof dir, "%s/killed%d", tmp, trial);
        const char *args[] = {"--quick", "--seed", "3", "--threads", "1", "--out", dir, NULL};
        setenv("BG_STOP_AFTER", stops[trial], 1);
        int code = ck_run_program("bg-doublewell", log_out, log_err, args, 0);
        unsetenv("BG_STOP_AFTER");
        ck_assert_int_eq(code, -1);
        ck_assert_int_eq(check_checkpoints_load(dir), trial < 2 ? trial + 1 : 3);
        const char *resume[] = {"--quick", "--seed", "3", "--threads", "1", "--out", dir,
                                "--resume", NULL};
        ck_assert_int_eq(ck_run_program("bg-doublewell", log_out, log_err, resume, 0), 0);
        ck_assert_int_eq(check_checkpoints_load(dir), 4);
        assert_same_numbers(base, dir);
    }
}
END_TEST

START_TEST(test_threads_bit_identical)
{
    const char *tmp = ck_tmpdir("threads");
    ck_assert(tmp != NULL);
    char one[600], two[600], log_out[700], log_err[700];
    snprintf(one, sizeof one, "%s/t1", tmp);
    snprintf(two, sizeof two, "%s/t2", tmp);
    snprintf(log_out, sizeof log_out, "%s/out.txt", tmp);
    snprintf(log_err, sizeof log_err, "%s/err.txt", tmp);
    const char *a1[] = {"--quick", "--threads", "1", "--out", one, NULL};
    const char *a2[] = {"--quick", "--threads", "2", "--out", two, NULL};
    ck_assert_int_eq(ck_run_program("bg-doublewell", log_out, log_err, a1, 0), 0);
    ck_assert_int_eq(ck_run_program("bg-doublewell", log_out, log_err, a2, 0), 0);
    assert_same_numbers(one, two);
}
END_TEST

/* summary.json cannot be replaced (a directory stands in its way): exit 1,
 * the message names the path, and the other outputs are written. */
START_TEST(test_failed_write_exits_1)
{
    const char *tmp = ck_tmpdir("wfail");
    ck_assert(tmp != NULL);
    char dir[600], blocker[700], log_out[700], log_err[700];
    snprintf(dir, sizeof dir, "%s/run", tmp);
    snprintf(blocker, sizeof blocker, "%s/summary.json", dir);
    snprintf(log_out, sizeof log_out, "%s/out.txt", tmp);
    snprintf(log_err, sizeof log_err, "%s/err.txt", tmp);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    ck_assert_int_eq(mkdir(blocker, 0755), 0);
    const char *args[] = {"--quick", "--out", dir, NULL};
    ck_assert_int_eq(ck_run_program("bg-doublewell", log_out, log_err, args, 0), 1);
    char *err = NULL;
    size_t len = 0;
    char msg[256];
    ck_assert(app_fs_read_file(log_err, &err, &len, msg, sizeof msg) == AD_OK);
    ck_assert_msg(strstr(err, "summary.json") != NULL, "stderr: %s", err);
    ad_free(err);
    struct stat st;
    char path[700];
    snprintf(path, sizeof path, "%s/profiles.svg", dir);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(stat(blocker, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
}
END_TEST

Suite *reliability_programs_suite(void)
{
    Suite *s = suite_create("reliability-programs");
    TCase *tc = tcase_create("statistics");
    tcase_set_timeout(tc, 1200);
    tcase_set_tags(tc, "slow");
    tcase_add_test(tc, test_kill_and_resume);
    tcase_add_test(tc, test_threads_bit_identical);
    tcase_add_test(tc, test_failed_write_exits_1);
    suite_add_tcase(s, tc);
    return s;
}
