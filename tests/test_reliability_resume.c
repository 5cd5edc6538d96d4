/* test_reliability_resume.c - what a program may reuse from its --out
 * directory (apps/toolkit/app_run.h): the manifest refuses a directory of other
 * settings (other analysis settings alone do not make one), --resume reuses
 * only files whose checksum and checkpoint label verify, a second run on the
 * same directory is refused, temporary files of a killed run are removed,
 * seeds round-trip exactly and too long an --out is refused before any work.  Interruptions use the testing aid
 * BG_STOP_AFTER=<artefact> (the program kills itself right after recording
 * that file), never timing. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apps/toolkit/app_fs.h"
#include "apps/toolkit/app_json.h"
#include "autodiff/ad.h"
#include "ck_util.h"
#include "test_apps_util.h"

/* Run prog with args; BG_STOP_AFTER=stop when stop is not NULL. */
static int run_prog(const char *prog, const char *tmp, const char *stop, const char *const *args)
{
    char out[700], err[700];
    snprintf(out, sizeof out, "%s/out.txt", tmp);
    snprintf(err, sizeof err, "%s/err.txt", tmp);
    if (stop) setenv("BG_STOP_AFTER", stop, 1);
    int code = ck_run_program(prog, out, err, args, 0);
    unsetenv("BG_STOP_AFTER");
    return code;
}

/* The stderr of the last run_prog (ad_free it). */
static char *last_err(const char *tmp)
{
    char path[700];
    snprintf(path, sizeof path, "%s/err.txt", tmp);
    char *s = ck_slurp(path, NULL);
    ck_assert_ptr_nonnull(s);
    return s;
}

static void assert_err_has(const char *tmp, const char *what)
{
    char *s = last_err(tmp);
    ck_assert_msg(strstr(s, what) != NULL, "stderr lacks '%s': %s", what, s);
    ad_free(s);
}

static int exists(const char *dir, const char *name)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static void copy_file(const char *from, const char *to)
{
    size_t len = 0;
    char *data = ck_slurp(from, &len);
    ck_assert_msg(data != NULL, "cannot read %s", from);
    char msg[256];
    ck_assert_msg(app_fs_write_atomic(to, data, len, msg, sizeof msg) == AD_OK, "%s", msg);
    ad_free(data);
}

/* Replace the first occurrence of `from` in the file by `to`. */
static void edit_file(const char *path, const char *from, const char *to)
{
    size_t len = 0;
    char *s = ck_slurp(path, &len);
    ck_assert_ptr_nonnull(s);
    char *at = strstr(s, from);
    ck_assert_msg(at != NULL, "'%s' not in %s", from, path);
    size_t a = (size_t)(at - s), nf = strlen(from), nt = strlen(to);
    char *t = malloc(len - nf + nt + 1);
    memcpy(t, s, a);
    memcpy(t + a, to, nt);
    memcpy(t + a + nt, at + nf, len - a - nf + 1);
    char msg[256];
    ck_assert(app_fs_write_atomic(path, t, len - nf + nt, msg, sizeof msg) == AD_OK);
    free(t);
    ad_free(s);
}

/* Every number of summary.json except timings must be equal. */
static void assert_same_summary(const char *dir_a, const char *dir_b)
{
    app_json_value *a = ck_load_summary(dir_a), *b = ck_load_summary(dir_b);
    ck_assert_msg(a && b, "summary.json missing in %s or %s", dir_a, dir_b);
    ck_assert_int_eq((int)app_json_count(b, APP_JSON_NULL), 0);
    /* walk a's tree; compare numbers found at the same place in b */
    struct item {
        const app_json_value *va, *vb;
        const char *key;
    } stack[512];
    int n = 0;
    stack[n++] = (struct item){a, b, ""};
    int compared = 0;
    while (n) {
        struct item it = stack[--n];
        ck_assert_msg(it.vb && it.va->type == it.vb->type, "'%s' differs in type", it.key);
        if (it.va->type == APP_JSON_NUMBER) {
            if (strstr(it.key, "seconds") || strstr(it.key, "_ms_") || strstr(it.key, "resumed"))
                continue;
            ck_assert_msg(it.va->number == it.vb->number, "%s: %.17g vs %.17g", it.key,
                          it.va->number, it.vb->number);
            compared++;
        } else if (it.va->type == APP_JSON_STRING) {
            ck_assert_msg(strcmp(it.va->string, it.vb->string) == 0, "%s: %s vs %s", it.key,
                          it.va->string, it.vb->string);
        } else if (it.va->type == APP_JSON_ARRAY || it.va->type == APP_JSON_OBJECT) {
            ck_assert_int_eq((int)it.va->n_items, (int)it.vb->n_items);
            for (size_t i = 0; i < it.va->n_items && n < 512; i++)
                stack[n++] = (struct item){&it.va->items[i], &it.vb->items[i],
                                           it.va->type == APP_JSON_OBJECT ? it.va->keys[i]
                                                                          : it.key};
        }
    }
    ck_assert(compared > 10);
    app_json_value_free(a);
    app_json_value_free(b);
}

static const char *summary_seed(const char *dir, char *buf, size_t len)
{
    app_json_value *root = ck_load_summary(dir);
    ck_assert_ptr_nonnull(root);
    const app_json_value *v = app_json_lookup(root, "seed");
    ck_assert_msg(v && v->type == APP_JSON_STRING, "seed is not a string in %s", dir);
    snprintf(buf, len, "%s", v->string);
    app_json_value_free(root);
    return buf;
}

/* ---- bg-doublewell ---- */

/* Issue 5: a checkpoint copied over another (cp model_kl.ckpt model_ml.ckpt)
 * is not reused; the resumed run retrains and reports the true numbers.
 * Also: a run stopped after its second model resumes to the same numbers. */
START_TEST(test_dw_copied_checkpoint_not_reused)
{
    const char *tmp = ck_tmpdir("rs-dw-copy");
    char ref[600], dir[600], a[700], b[700];
    snprintf(ref, sizeof ref, "%s/ref", tmp);
    snprintf(dir, sizeof dir, "%s/run", tmp);
    const char *args_ref[] = {"--quick", "--seed", "3", "--threads", "1", "--out", ref, NULL};
    ck_assert_int_eq(run_prog("bg-doublewell", tmp, NULL, args_ref), 0);
    const char *args[] = {"--quick", "--seed", "3", "--threads", "1", "--out", dir, NULL};
    const char *resume[] = {"--quick", "--seed", "3", "--threads", "1", "--out", dir, "--resume",
                            NULL};
    ck_assert_int_eq(run_prog("bg-doublewell", tmp, "train_kl_record.json", args), -1);
    ck_assert(exists(dir, "model_kl.ckpt") && !exists(dir, "model_ml_kl.ckpt"));
    ck_assert_int_eq(run_prog("bg-doublewell", tmp, NULL, resume), 0);
    assert_err_has(tmp, "KL model reloaded");
    assert_same_summary(ref, dir);
    snprintf(a, sizeof a, "%s/model_kl.ckpt", dir);
    snprintf(b, sizeof b, "%s/model_ml.ckpt", dir);
    copy_file(a, b);
    ck_assert_int_eq(run_prog("bg-doublewell", tmp, NULL, resume), 0);
    assert_err_has(tmp, "model_ml.ckpt does not match its checksum");
    assert_same_summary(ref, dir);
    /* a record edited to skipped = 1e300 is not reused either */
    snprintf(a, sizeof a, "%s/train_ml_kl_record.json", dir);
    size_t len = 0;
    char *rec = ck_slurp(a, &len);
    ck_assert_ptr_nonnull(rec);
    char *at = strstr(rec, "\"skipped\": ");
    ck_assert_ptr_nonnull(at);
    at += strlen("\"skipped\": ");
    /* the edited record may be longer than the original: build it anew */
    size_t keep = (size_t)(at - rec);
    const char *rest = at + strspn(at, "0123456789");
    char *edited = ad_malloc(keep + strlen("1e300") + strlen(rest) + 1);
    ck_assert_ptr_nonnull(edited);
    memcpy(edited, rec, keep);
    strcpy(edited + keep, "1e300");
    strcat(edited, rest);
    char msg[256];
    ck_assert(app_fs_write_atomic(a, edited, strlen(edited), msg, sizeof msg) == AD_OK);
    ad_free(edited);
    ad_free(rec);
    ck_assert_int_eq(run_prog("bg-doublewell", tmp, NULL, resume), 0);
    assert_err_has(tmp, "train_ml_kl_record.json");
    assert_same_summary(ref, dir);
}
END_TEST

/* Issue 1 for the 2-D programs: another seed into a directory of a run is
 * refused (exit 2, naming the setting) unless --restart. */
START_TEST(test_dw_other_settings_refused)
{
    const char *tmp = ck_tmpdir("rs-dw-settings");
    char dir[600], seed[64];
    snprintf(dir, sizeof dir, "%s/run", tmp);
    const char *a3[] = {"--quick", "--seed", "3", "--out", dir, NULL};
    const char *a4[] = {"--quick", "--seed", "4", "--out", dir, "--resume", NULL};
    const char *a4r[] = {"--quick", "--seed", "4", "--out", dir, "--restart", NULL};
    ck_assert_int_eq(run_prog("bg-doublewell", tmp, "train_ml_record.json", a3), -1);
    ck_assert_int_eq(run_prog("bg-doublewell", tmp, NULL, a4), 2);
    assert_err_has(tmp, "seed (3 -> 4)");
    ck_assert(exists(dir, "model_ml.ckpt"));
    ck_assert_int_eq(run_prog("bg-doublewell", tmp, NULL, a4r), 0);
    ck_assert_str_eq(summary_seed(dir, seed, sizeof seed), "4");
    /* bg-mullerbrown into bg-doublewell's directory: refused too */
    const char *mb[] = {"--quick", "--seed", "4", "--out", dir, NULL};
    ck_assert_int_eq(run_prog("bg-mullerbrown", tmp, NULL, mb), 2);
    assert_err_has(tmp, "program (bg-doublewell -> bg-mullerbrown)");
}
END_TEST

/* Issue 6: uint64 seeds round-trip exactly through summary.json and the
 * manifest. */
START_TEST(test_dw_seed_round_trip)
{
    const char *tmp = ck_tmpdir("rs-dw-seed");
    static const char *const seeds[] = {"18446744073709551615", "9007199254740993"};
    for (int i = 0; i < 2; i++) {
        char dir[600], seed[64], path[700];
        snprintf(dir, sizeof dir, "%s/s%d", tmp, i);
        const char *args[] = {"--quick", "--seed", seeds[i], "--out", dir, NULL};
        ck_assert_int_eq(run_prog("bg-doublewell", tmp, NULL, args), 0);
        ck_assert_str_eq(summary_seed(dir, seed, sizeof seed), seeds[i]);
        snprintf(path, sizeof path, "%s/manifest.json", dir);
        char *m = ck_slurp(path, NULL);
        char want[80];
        snprintf(want, sizeof want, "\"seed\": \"%s\"", seeds[i]);
        ck_assert_msg(m && strstr(m, want), "manifest lacks %s", want);
        ad_free(m);
    }
}
END_TEST

/* Issue 8: a second run on a directory whose lock is held is refused with
 * exit 2 naming the holder's pid; the holder here is the test itself. */
START_TEST(test_lock_refuses_second_run)
{
    const char *tmp = ck_tmpdir("rs-lock");
    char dir[600], lock[700], want[64];
    snprintf(dir, sizeof dir, "%s/run", tmp);
    snprintf(lock, sizeof lock, "%s/.lock", dir);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    int fd = open(lock, O_RDWR | O_CREAT, 0644);
    ck_assert(fd >= 0);
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    ck_assert_int_eq(fcntl(fd, F_SETLK, &fl), 0);
    snprintf(want, sizeof want, "pid %ld", (long)getpid());
    const char *args[] = {"--quick", "--out", dir, NULL};
    ck_assert_int_eq(run_prog("bg-doublewell", tmp, NULL, args), 2);
    assert_err_has(tmp, want);
    ck_assert(!exists(dir, "mc_data.csv"));
    ck_assert_int_eq(run_prog("bg-dimer", tmp, NULL, args), 2);
    assert_err_has(tmp, want);
    close(fd); /* released: the run goes ahead */
    ck_assert_int_eq(run_prog("bg-doublewell", tmp, NULL, args), 0);
}
END_TEST

/* Issue 10: temporary files of a killed run are removed at start. */
START_TEST(test_leftover_temporaries_removed)
{
    const char *tmp = ck_tmpdir("rs-tmpfiles");
    char dir[600], path[700];
    snprintf(dir, sizeof dir, "%s/run", tmp);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    static const char *const left[] = {".fig_loss.svg.tmp.4242", ".summary.json.tmp.17",
                                       "model_ml.ckpt.tmp"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, left[i]);
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs("partial", f);
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/notes.txt", dir); /* not ours: kept */
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    const char *args[] = {"--quick", "--out", dir, "--resume", NULL};
    ck_assert_int_eq(run_prog("bg-doublewell", tmp, NULL, args), 0);
    for (int i = 0; i < 3; i++) ck_assert_msg(!exists(dir, left[i]), "%s is still there", left[i]);
    ck_assert(exists(dir, "notes.txt"));
}
END_TEST

/* Issue 3: an --out too long for the paths the program builds is refused
 * with exit 2 before any work; nothing is created. */
START_TEST(test_long_out_refused_first)
{
    const char *tmp = ck_tmpdir("rs-long");
    static char dir[1400];
    int n = snprintf(dir, sizeof dir, "%s/", tmp);
    while (n < 1001) dir[n++] = 'd';
    dir[n] = '\0';
    static const char *const progs[] = {"bg-doublewell", "bg-dimer", "bg-mullerbrown"};
    for (int i = 0; i < 3; i++) {
        const char *args[] = {"--quick", "--out", dir, NULL};
        ck_assert_int_eq(run_prog(progs[i], tmp, NULL, args), 2);
        assert_err_has(tmp, "too long");
        char *s = last_err(tmp);
        ck_assert_msg(!strstr(s, "stage") && !strstr(s, "Monte Carlo"), "work was done: %s", s);
        ad_free(s);
        struct stat st;
        ck_assert(stat(dir, &st) != 0);
    }
}
END_TEST

/* ---- bg-dimer ---- */

/* Issues 1 and 5: a seed-2 run into a seed-1 directory is refused; with
 * --restart it starts over; stopped after stage 2, with seed 1's stage-3
 * checkpoint put back, --resume continues from stage 2 (not 3) and gives the
 * numbers of an uninterrupted seed-2 run.  An edited us_dF in cache.json is
 * then not reused. */
START_TEST(test_dimer_resume_only_own_files)
{
    const char *tmp = ck_tmpdir("rs-dimer");
    char ref[600], dir[600], keep[700], ck3[700], path[700];
    snprintf(ref, sizeof ref, "%s/ref", tmp);
    snprintf(dir, sizeof dir, "%s/run", tmp);
    snprintf(keep, sizeof keep, "%s/seed1-stage3.ckpt", tmp);
    snprintf(ck3, sizeof ck3, "%s/ckpt/stage-stage3.ckpt", dir);
#define DIMER_ARGS(seed, d, extra) \
    {"--quick", "--ais-chains", "0", "--threads", "1", "--seed", seed, "--out", d, extra, NULL}
    const char *a_ref[] = DIMER_ARGS("2", ref, NULL);
    ck_assert_int_eq(run_prog("bg-dimer", tmp, NULL, a_ref), 0);
    const char *a1[] = DIMER_ARGS("1", dir, NULL);
    ck_assert_int_eq(run_prog("bg-dimer", tmp, "ckpt/stage-stage3.ckpt", a1), -1);
    copy_file(ck3, keep);
    const char *a2[] = DIMER_ARGS("2", dir, NULL);
    ck_assert_int_eq(run_prog("bg-dimer", tmp, NULL, a2), 2);
    assert_err_has(tmp, "seed (1 -> 2)");
    const char *a2r[] = DIMER_ARGS("2", dir, "--restart");
    ck_assert_int_eq(run_prog("bg-dimer", tmp, "ckpt/stage-stage2.ckpt", a2r), -1);
    ck_assert(!exists(dir, "ckpt/stage-stage3.ckpt"));
    copy_file(keep, ck3); /* seed 1's stage 3 beside seed 2's stages 1, 2 */
    const char *a2res[] = DIMER_ARGS("2", dir, "--resume");
    ck_assert_int_eq(run_prog("bg-dimer", tmp, NULL, a2res), 0);
    assert_err_has(tmp, "resuming after stage 2 of 3");
    assert_err_has(tmp, "ignoring ckpt/stage-stage3.ckpt");
    assert_same_summary(ref, dir);
    /* an edited umbrella dF is recomputed, not reported */
    snprintf(path, sizeof path, "%s/cache.json", dir);
    edit_file(path, "\"us_dF\": ", "\"us_dF\": 1e999, \"x\": ");
    ck_assert_int_eq(run_prog("bg-dimer", tmp, NULL, a2res), 0);
    assert_err_has(tmp, "--resume: cache.json has another size than recorded; recomputing");
    assert_same_summary(ref, dir);
#undef DIMER_ARGS
}
END_TEST

/* The analysis settings (samples, bootstrap, annealing) govern only work
 * that every run does again: --resume with another --ais-temps keeps the MC
 * data, the umbrella reference and the trained stages, names the change on
 * stderr and gives the numbers of a fresh run with that setting; without
 * --resume the same change recomputes everything; another seed is still
 * refused. */
START_TEST(test_dimer_resume_other_analysis)
{
    const char *tmp = ck_tmpdir("rs-dimer-analysis");
    char dir[600], ref[600];
    snprintf(dir, sizeof dir, "%s/run", tmp);
    snprintf(ref, sizeof ref, "%s/ref", tmp);
    const char *first[] = {"--quick", "--threads", "1", "--out", dir, NULL};
    ck_assert_int_eq(run_prog("bg-dimer", tmp, NULL, first), 0);
    const char *fresh[] = {"--quick", "--threads", "1", "--ais-temps", "20", "--out", ref, NULL};
    ck_assert_int_eq(run_prog("bg-dimer", tmp, NULL, fresh), 0);
    const char *again[] = {"--quick", "--threads", "1",  "--ais-temps", "20",
                           "--out",   dir,         "--resume", NULL};
    ck_assert_int_eq(run_prog("bg-dimer", tmp, NULL, again), 0);
    assert_err_has(tmp, "--resume with other analysis (");
    assert_err_has(tmp, "temps 10 leapfrog");
    assert_err_has(tmp, "temps 20 leapfrog");
    assert_err_has(tmp, "reusing the MC data and the umbrella reference");
    assert_err_has(tmp, "resuming after stage 3 of 3");
    assert_same_summary(ref, dir);
    /* the annealing did change: 20 temperatures in the summary */
    app_json_value *root = ck_load_summary(dir);
    ck_assert_ptr_nonnull(root);
    const app_json_value *models = app_json_member(root, "models");
    ck_assert(models && models->type == APP_JSON_ARRAY && models->n_items == 2);
    const app_json_value *ais = app_json_member(&models->items[1], "ais");
    double temps = 0;
    ck_assert(ais && app_json_get_number(ais, "temperatures", &temps) == AD_OK);
    ck_assert(temps == 20);
    app_json_value_free(root);
    /* without --resume: everything recomputed, nothing refused */
    const char *plain[] = {"--quick", "--threads", "1", "--ais-temps", "12", "--out", dir, NULL};
    ck_assert_int_eq(run_prog("bg-dimer", tmp, NULL, plain), 0);
    char *err = last_err(tmp);
    ck_assert_msg(!strstr(err, "resuming after") && !strstr(err, "reusing the MC data"), "%s",
                  err);
    ad_free(err);
    /* a setting of the model is still one of another run */
    const char *seed[] = {"--quick", "--threads", "1", "--seed", "7", "--out", dir, "--resume",
                          NULL};
    ck_assert_int_eq(run_prog("bg-dimer", tmp, NULL, seed), 2);
    assert_err_has(tmp, "seed (1 -> 7)");
}
END_TEST

/* Issue 2: a run of the seed bond form stopped during the umbrella sampling
 * in the directory of a paper-bond run: refused without --restart, and a
 * later --resume without --bond is refused too (the data are seed-bond). */
START_TEST(test_dimer_bond_mix_refused)
{
    const char *tmp = ck_tmpdir("rs-dimer-bond");
    char dir[600];
    snprintf(dir, sizeof dir, "%s/run", tmp);
    const char *paper[] = {"--quick", "--threads", "1", "--out", dir, NULL};
    ck_assert_int_eq(run_prog("bg-dimer", tmp, "cache.json", paper), -1);
    const char *seedb[] = {"--quick", "--threads", "1", "--bond", "seed", "--out", dir, NULL};
    ck_assert_int_eq(run_prog("bg-dimer", tmp, NULL, seedb), 2);
    assert_err_has(tmp, "bond (paper -> seed)");
    const char *seedr[] = {"--quick", "--threads",  "1", "--bond", "seed",
                           "--out",   dir,          "--restart", NULL};
    ck_assert_int_eq(run_prog("bg-dimer", tmp, "cache.json", seedr), -1);
    const char *resume[] = {"--quick", "--threads", "1", "--out", dir, "--resume", NULL};
    ck_assert_int_eq(run_prog("bg-dimer", tmp, NULL, resume), 2);
    assert_err_has(tmp, "bond (seed -> paper)");
    /* the same settings resume: the data of the stopped run are reused;
     * stopped again right after the umbrella reference */
    const char *seeds[] = {"--quick",  "--threads", "1", "--bond", "seed", "--out", dir,
                           "--resume", NULL};
    ck_assert_int_eq(run_prog("bg-dimer", tmp, "umbrella_profile.csv", seeds), -1);
    assert_err_has(tmp, "reusing the MC data in");
}
END_TEST

Suite *reliability_resume_suite(void)
{
    Suite *s = suite_create("reliability-resume");
    TCase *tc = tcase_create("doublewell");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_dw_copied_checkpoint_not_reused);
    tcase_add_test(tc, test_dw_other_settings_refused);
    tcase_add_test(tc, test_dw_seed_round_trip);
    tcase_add_test(tc, test_lock_refuses_second_run);
    tcase_add_test(tc, test_leftover_temporaries_removed);
    tcase_add_test(tc, test_long_out_refused_first);
    suite_add_tcase(s, tc);
    TCase *td = tcase_create("dimer");
    tcase_set_timeout(td, 900);
    tcase_set_tags(td, "slow");
    tcase_add_test(td, test_dimer_resume_only_own_files);
    tcase_add_test(td, test_dimer_bond_mix_refused);
    tcase_add_test(td, test_dimer_resume_other_analysis);
    suite_add_tcase(s, td);
    return s;
}
