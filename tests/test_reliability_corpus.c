/* test_reliability_corpus.c - replays the kept fuzzing corpus
 * (tests/fuzz/corpus/<target>/) through the same entry points and checks as
 * the libFuzzer targets, in the normal build, so `make test` (and `make
 * sanitize`, `make valgrind`) rerun every interesting input without clang.
 * The corpus directory is found from the repository root (the directory
 * `make test` runs in) or from $BG_CORPUS_DIR. */
#include <check.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ck_util.h"
#include "tests/fuzz/fuzz_checkpoint.c"
#include "tests/fuzz/fuzz_csv.c"
#include "tests/fuzz/fuzz_options.c"

typedef int (*fuzz_entry)(const uint8_t *data, size_t size, const char *scratch, char *why,
                          size_t why_len);

typedef struct corpus_target {
    const char *name;
    fuzz_entry run;
    int min_files; /* the kept corpus holds at least this many inputs */
} corpus_target;

static const corpus_target targets[] = {
    {"checkpoint", fuzz_checkpoint_run, 5},
    {"csv", fuzz_csv_run, 5},
    {"options", fuzz_options_run, 5},
};
#define N_TARGETS ((int)(sizeof targets / sizeof targets[0]))

static unsigned char *slurp_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    unsigned char *b = malloc(cap);
    size_t got;
    while (b && (got = fread(b + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            unsigned char *nb = realloc(b, cap *= 2);
            if (!nb) free(b);
            b = nb;
        }
    }
    fclose(f);
    *size = n;
    return b;
}

START_TEST(test_replay_corpus)
{
    const corpus_target *t = &targets[_i];
    const char *root = getenv("BG_CORPUS_DIR");
    char dir_path[600], scratch[600], file[1200];
    snprintf(dir_path, sizeof dir_path, "%s/%s", root && *root ? root : "tests/fuzz/corpus",
             t->name);
    snprintf(scratch, sizeof scratch, "%s/input", ck_tmpdir("rel-corpus"));
    DIR *dir = opendir(dir_path);
    ck_assert_msg(dir != NULL, "cannot open the corpus %s (run from the repository root)",
                  dir_path);
    int files = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.') continue;
        snprintf(file, sizeof file, "%s/%s", dir_path, e->d_name);
        size_t size = 0;
        unsigned char *data = slurp_file(file, &size);
        ck_assert_msg(data != NULL, "cannot read %s", file);
        char why[600] = "";
        int bad = t->run(data, size, scratch, why, sizeof why);
        ck_assert_msg(!bad, "%s: %s", file, why);
        free(data);
        files++;
    }
    closedir(dir);
    ck_assert_msg(files >= t->min_files, "%s: only %d inputs", dir_path, files);
    remove(scratch);
}
END_TEST

Suite *reliability_corpus_suite(void)
{
    Suite *s = suite_create("reliability-corpus");
    TCase *tc = tcase_create("errors");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_replay_corpus, 0, N_TARGETS);
    suite_add_tcase(s, tc);
    return s;
}
