/* test_apps_bench.c - bg-bench's handling of a user's mistakes and of
 * failures: an unwritable --json path is refused (exit 2) before any
 * workload runs, a junk BG_THREADS is warned about, and running out of
 * memory (an address-space limit) gives a real message (exit 1), never the
 * earlier contents of its message buffer. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "autodiff/ad.h"
#include "ck_util.h"
#include "test_apps_util.h"

/* The quickest timed run: one iteration of the GEMM of a flow layer. */
#define QUICK "--only", "gemm_flow", "--warmup", "0", "--min-iters", "1", "--iters", "1"

static char out_file[1024], err_file[1024];

static int bench(const char *const *args)
{
    const char *dir = ck_tmpdir("bench");
    snprintf(out_file, sizeof out_file, "%s/stdout.txt", dir);
    snprintf(err_file, sizeof err_file, "%s/stderr.txt", dir);
    return ck_run_program("bg-bench", out_file, err_file, args, 0);
}

static char *slurp(const char *path)
{
    char *s = ck_slurp(path, NULL);
    ck_assert_msg(s != NULL, "cannot read %s", path);
    return s;
}

START_TEST(test_json_unwritable_exits_2_first)
{
    char dir[900], file[1024], below_file[1100];
    snprintf(dir, sizeof dir, "%s", ck_tmpdir("bench-json")); /* bench() reuses the buffer */
    snprintf(file, sizeof file, "%s/plain", dir);
    FILE *f = fopen(file, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    snprintf(below_file, sizeof below_file, "%s/out.json", file); /* under a regular file */
    const char *cases[][2] = {{below_file, "Not a directory"}, {dir, "is a directory"}};
    for (int i = 0; i < 2; i++) {
        const char *args[] = {QUICK, "--json", cases[i][0], NULL};
        ck_assert_int_eq(bench(args), 2);
        char *out = slurp(out_file), *err = slurp(err_file);
        ck_assert_msg(out[0] == '\0', "a benchmark ran: %s", out); /* not even the header */
        ck_assert_msg(strncmp(err, "bg-bench: --json: ", 18) == 0 && strstr(err, cases[i][1]),
                      "%s", err);
        ck_assert_int_eq(ck_count_lines(err_file), 1);
        free(out);
        free(err);
    }
    /* a missing directory is created, and the results land there */
    char json[1200];
    snprintf(json, sizeof json, "%s/new/results.json", dir);
    const char *args[] = {QUICK, "--json", json, NULL};
    ck_assert_int_eq(bench(args), 0);
    char *text = slurp(json);
    ck_assert_msg(strstr(text, "\"name\": \"gemm_flow\"") || strstr(text, "\"name\":\"gemm_flow\""),
                  "%s", text);
    free(text);
}
END_TEST

/* The coupling workloads run, and with both timed the ratio of the spline
 * coupling to the affine one is printed and in the JSON. */
START_TEST(test_coupling_ratio)
{
    char json[1100];
    snprintf(json, sizeof json, "%s/coupling.json", ck_tmpdir("bench-coupling"));
    const char *args[] = {"--only", "cpl_affine,cpl_spline", "--warmup", "0", "--min-iters", "1",
                          "--iters", "1", "--json", json, NULL};
    ck_assert_int_eq(bench(args), 0);
    char *out = slurp(out_file);
    ck_assert_msg(strstr(out, "cpl_affine") && strstr(out, "cpl_spline") &&
                      strstr(out, "cpl_spline / cpl_affine: "),
                  "%s", out);
    free(out);
    char *text = slurp(json);
    ck_assert_msg(strstr(text, "spline_affine_ratio"), "%s", text);
    free(text);
}
END_TEST

START_TEST(test_bg_threads_junk_warns)
{
    static const struct {
        const char *env, *threads_opt; /* BG_THREADS, --threads (or NULL) */
        int warns;
        const char *header; /* in the first line of stdout */
    } cases[] = {
        {"abc", NULL, 1, "; 1 thread\n"},
        {"2x", NULL, 1, "; 1 thread\n"},
        {"0", NULL, 1, "; 1 thread\n"},
        {"65", NULL, 1, "; 1 thread\n"},
        {"2", NULL, 0, "; 2 threads\n"},
        {"abc", "2", 0, "; 2 threads\n"}, /* not used: no warning */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv("BG_THREADS", cases[i].env, 1);
        const char *with[] = {QUICK, "--threads", cases[i].threads_opt, NULL};
        const char *without[] = {QUICK, NULL};
        int code = bench(cases[i].threads_opt ? with : without);
        unsetenv("BG_THREADS");
        ck_assert_int_eq(code, 0);
        char *out = slurp(out_file), *err = slurp(err_file);
        char expected[128];
        snprintf(expected, sizeof expected,
                 "bg-bench: warning: BG_THREADS=\"%s\" is not a thread count in 1..64 (ignored); "
                 "using 1 thread\n", cases[i].env);
        if (cases[i].warns) ck_assert_str_eq(err, expected);
        else ck_assert_msg(!strstr(err, "warning"), "BG_THREADS=%s: %s", cases[i].env, err);
        char *nl = strchr(out, '\n');
        ck_assert_ptr_nonnull(nl);
        nl[1] = '\0';
        ck_assert_msg(strstr(out, cases[i].header), "BG_THREADS=%s: %s", cases[i].env, out);
        free(out);
        free(err);
    }
}
END_TEST

/* bg-bench --only mb_ml under an address-space limit of kib KiB; its exit
 * status (-1 when it did not exit) with stderr in err_file. */
static int bench_limited(long kib)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/bg-bench", ck_bin_dir());
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int o = open("/dev/null", O_WRONLY), e = open(err_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0) _exit(126);
        dup2(o, 1);
        dup2(e, 2);
        struct rlimit rl = {(rlim_t)kib * 1024, (rlim_t)kib * 1024};
        if (setrlimit(RLIMIT_AS, &rl) != 0) _exit(126);
        execl(path, path, "--threads", "1", "--only", "mb_ml", "--warmup", "0", "--min-iters",
              "1", "--iters", "1", (char *)NULL);
        _exit(126);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* From a limit too small to load the program (exit 127, the loader's) to
 * one it runs in: every run that starts ends with 0 or with 1 and one
 * "bg-bench: mb_ml: ... out of memory ..." line, the workload named once.
 * The sanitizers reserve terabytes of address space, and an emulator
 * (BG_EXEC_WRAPPER) a whole guest address space, so not under them. */
START_TEST(test_out_of_memory_message)
{
    const char *wrapper = getenv("BG_EXEC_WRAPPER");
    if (ck_under_sanitizer() || (wrapper && *wrapper)) return; /* an emulator too */
    bench((const char *const[]){"--help", NULL}); /* sets err_file */
    int failed = 0;
    for (long mib = 3; mib <= 24; mib += 1) {
        int code = bench_limited(mib * 1024);
        char *err = slurp(err_file);
        if (code == 127) { /* the loader could not map libc */
            free(err);
            continue;
        }
        ck_assert_msg(code == 0 || code == 1, "%ld MiB: exit %d: %s", mib, code, err);
        if (code == 1) {
            failed++;
            ck_assert_msg(strncmp(err, "bg-bench: mb_ml: ", 17) == 0 && !strstr(err + 17, "mb_ml:") &&
                              strstr(err, "out of memory") && ck_count_lines(err_file) == 1,
                          "%ld MiB: %s", mib, err);
        }
        free(err);
    }
    ck_assert_msg(failed > 0, "no run between 3 and 24 MiB ran out of memory");
}
END_TEST

Suite *apps_bench_suite(void)
{
    Suite *s = suite_create("apps-bench");
    TCase *tc = tcase_create("bg-bench");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_json_unwritable_exits_2_first);
    tcase_add_test(tc, test_bg_threads_junk_warns);
    tcase_add_test(tc, test_coupling_ratio);
    tcase_add_test(tc, test_out_of_memory_message);
    suite_add_tcase(s, tc);
    return s;
}
