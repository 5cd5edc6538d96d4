/* test_sampling_data.c - CSV data sets (exact round trip, errors with line
 * numbers), shuffling and mini-batches with replacement; and the Hungarian
 * assignment and solvent relabelling. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/ad.h"
#include "ck_util.h"
#include "sampling/smp_data.h"
#include "sampling/smp_hungarian.h"

static char *path_in(const char *dir, const char *name)
{
    static char buf[4][512];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(test_csv_round_trip)
{
    const char *dir = ck_tmpdir("smp_data");
    ad_rng r;
    ad_rng_seed(&r, 1, 0);
    enum { N = 50, D = 3 };
    ad_real x[N * D];
    ad_rng_fill_normal(&r, x, N * D, 0, 1);
    /* the extremes of the build's range (the float build's are 1e-38, 3e38) */
    x[0] = CK_REAL_FLOAT ? (ad_real)1e-37 : (ad_real)1e-300;
    x[1] = CK_REAL_FLOAT ? (ad_real)-1.2345678e37 : (ad_real)-1.2345678901234567e300;
    x[2] = 0.1;
    const char *names[D] = {"x1", "x2", "energy"};
    char msg[256];
    const char *p = path_in(dir, "a.csv");
    ck_assert_int_eq(smp_csv_write(p, x, N, D, names, msg, sizeof msg), AD_OK);
    smp_dataset *d = NULL;
    ck_assert_int_eq(smp_csv_read(p, 0, &d, msg, sizeof msg), AD_OK);
    ck_assert_int_eq(d->n, N);
    ck_assert_int_eq(d->dim, D);
    ck_assert(memcmp(d->x, x, sizeof x) == 0); /* %.17g round-trips exactly */
    for (int j = 0; j < D; j++) ck_assert_str_eq(d->names[j], names[j]);
    smp_dataset_free(d);
    /* the header line is the first line; default names x0, x1, ... */
    ck_assert_int_eq(smp_csv_write(p, x, 2, D, NULL, msg, sizeof msg), AD_OK);
    FILE *f = fopen(p, "r");
    char line[256];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    fclose(f);
    ck_assert_str_eq(line, "x0,x1,x2\n");
    /* CRLF line ends, spaces and a trailing blank line are accepted */
    write_text(p, "a, b\r\n1, 2.5\r\n-3 ,4e-2\r\n\r\n");
    ck_assert_int_eq(smp_csv_read(p, 0, &d, msg, sizeof msg), AD_OK);
    ck_assert_int_eq(d->n, 2);
    ck_assert_str_eq(d->names[1], "b");
    ck_assert(d->x[1] == 2.5 && d->x[2] == -3 && d->x[3] == (ad_real)4e-2);
    smp_dataset_free(d);
    /* a header with no rows is an empty data set */
    write_text(p, "a,b\n");
    ck_assert_int_eq(smp_csv_read(p, 0, &d, msg, sizeof msg), AD_OK);
    ck_assert_int_eq(d->n, 0);
    smp_dataset_free(d);
}
END_TEST

START_TEST(test_csv_errors)
{
    const char *dir = ck_tmpdir("smp_data_err");
    char msg[512], expect[600];
    smp_dataset *d = NULL;
    const char *p = path_in(dir, "bad.csv");
    struct {
        const char *text;
        int code;
        const char *tail; /* message after "path" */
    } cases[] = {
        {"", AD_ERR_FORMAT, ": empty file (no header line)"},
        {"\n\n", AD_ERR_FORMAT, ": empty file (no header line)"},
        {"a,b\n1,2\n3\n", AD_ERR_FORMAT, ":3: 1 fields, expected 2 (the header has 2 columns)"},
        {"a,b\n1,2,3\n", AD_ERR_FORMAT, ":2: 3 fields, expected 2 (the header has 2 columns)"},
        {"a,b\n1,abc\n", AD_ERR_FORMAT, ":2: column 2: 'abc' is not a number"},
        {"a,b\n1,2\n\n4,5x\n", AD_ERR_FORMAT, ":4: column 2: '5x' is not a number"},
        {"a,b\n1,\n", AD_ERR_FORMAT, ":2: column 2: '' is not a number"},
        {"a,b\nnan,1\n", AD_ERR_NUMERIC, ":2: column 1: non-finite value nan"},
        {"a,b\n1,-inf\n", AD_ERR_NUMERIC, ":2: column 2: non-finite value -inf"},
        {"a,,c\n1,2,3\n", AD_ERR_FORMAT, ":1: header column 2 has no name"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        write_text(p, cases[k].text);
        ck_assert_int_eq(smp_csv_read(p, 0, &d, msg, sizeof msg), cases[k].code);
        ck_assert_ptr_null(d);
        snprintf(expect, sizeof expect, "%s%s", p, cases[k].tail);
        ck_assert_str_eq(msg, expect);
    }
    /* non-finite values are read when allowed */
    write_text(p, "a,b\nnan,inf\n");
    ck_assert_int_eq(smp_csv_read(p, 1, &d, msg, sizeof msg), AD_OK);
    ck_assert(isnan(d->x[0]) && isinf(d->x[1]));
    smp_dataset_free(d);
    /* a missing file */
    const char *missing = path_in(dir, "missing.csv");
    ck_assert_int_eq(smp_csv_read(missing, 0, &d, msg, sizeof msg), AD_ERR_IO);
    ck_assert_msg(strstr(msg, missing) == msg, "%s", msg);
    /* a directory that does not exist: nothing written, a clear message */
    ad_real x[2] = {1, 2};
    ck_assert_int_eq(smp_csv_write("/nonexistent-dir/x.csv", x, 1, 2, NULL, msg, sizeof msg),
                     AD_ERR_IO);
    ck_assert_msg(strstr(msg, "/nonexistent-dir/x.csv.tmp: cannot create: ") != NULL, "%s", msg);
    const char *bad_names[2] = {"a,b", "c"};
    ck_assert_int_eq(smp_csv_write(p, x, 1, 2, bad_names, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_str_eq(msg, "smp_csv_write: column name 0 is NULL or holds a comma or a quote");
    /* names with a control byte would be refused by the reader: the writer
     * refuses them first; a tab is text */
    const char *ctl_names[2] = {"a", "b\x01"};
    ck_assert_int_eq(smp_csv_write(p, x, 1, 2, ctl_names, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_str_eq(msg, "smp_csv_write: column name 1 holds the control byte 0x01 (a newline, "
                          "CR or other)");
    const char *tab_names[2] = {"a\tb", "c"};
    ck_assert_int_eq(smp_csv_write(p, x, 1, 2, tab_names, msg, sizeof msg), AD_OK);
    ck_assert_int_eq(smp_csv_read(p, 0, &d, msg, sizeof msg), AD_OK);
    ck_assert_str_eq(d->names[0], "a\tb");
    smp_dataset_free(d);
    d = NULL;
    /* no file name: refused before anything is created */
    ck_assert_int_eq(smp_csv_write("", x, 1, 2, NULL, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_str_eq(msg, "smp_csv_write: the file name is an empty string");
    ck_assert_int_eq(smp_csv_write(NULL, x, 1, 2, NULL, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_str_eq(msg, "smp_csv_write: the file name is NULL");
    ck_assert_int_eq(smp_csv_read("", 0, &d, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_str_eq(msg, "smp_csv_read: the file name is an empty string");
    ck_assert_ptr_null(d);
    /* the size limit: a 10-byte file is read with a limit of 10, not of 9 */
    write_text(p, "a,b\n1,2.5\n");
    ck_assert_int_eq(smp_csv_read_max(p, 0, 10, &d, msg, sizeof msg), AD_OK);
    ck_assert_double_eq(d->x[1], 2.5);
    smp_dataset_free(d);
    d = NULL;
    ck_assert_int_eq(smp_csv_read_max(p, 0, 9, &d, msg, sizeof msg), AD_ERR_FORMAT);
    snprintf(expect, sizeof expect, "%s: 10 bytes, more than the limit of 9 bytes; not read", p);
    ck_assert_str_eq(msg, expect);
    ck_assert_ptr_null(d);
}
END_TEST

START_TEST(test_shuffle_and_batches)
{
    enum { N = 40, D = 2 };
    ad_real x[N * D], y[N * D];
    for (int i = 0; i < N; i++) {
        x[2 * i] = i;
        x[2 * i + 1] = -i; /* rows stay intact: second column = -first */
    }
    memcpy(y, x, sizeof x);
    ad_rng r;
    ad_rng_seed(&r, 3, 0);
    ck_assert_int_eq(smp_shuffle_rows(y, N, D, &r), AD_OK);
    int seen[N] = {0}, moved = 0;
    for (int i = 0; i < N; i++) {
        ck_assert(y[2 * i + 1] == -y[2 * i]);
        seen[(int)y[2 * i]]++;
        moved += y[2 * i] != i;
    }
    for (int i = 0; i < N; i++) ck_assert_int_eq(seen[i], 1);
    ck_assert_int_gt(moved, N / 2);
    /* with replacement: each of 4 rows drawn with probability 1/4; counts
     * over 4000 draws within 4 binomial standard errors sqrt(4000 .25 .75) */
    enum { B = 4000 };
    static ad_real out[B * D];
    static int idx[B];
    ck_assert_int_eq(smp_sample_rows(x, 4, D, &r, B, out, idx), AD_OK);
    int count[4] = {0};
    for (int b = 0; b < B; b++) {
        ck_assert(out[2 * b] == idx[b] && out[2 * b + 1] == -idx[b]);
        count[idx[b]]++;
    }
    for (int k = 0; k < 4; k++)
        ck_assert_close(count[k], B / 4.0, 4 * sqrt(B * 0.25 * 0.75), 0, "row count", k);
    /* reproducible from the seed */
    ad_rng r1, r2;
    ad_rng_seed(&r1, 9, 1);
    ad_rng_seed(&r2, 9, 1);
    int i1[10], i2[10];
    smp_sample_rows(x, N, D, &r1, 10, out, i1);
    smp_sample_rows(x, N, D, &r2, 10, out, i2);
    ck_assert(memcmp(i1, i2, sizeof i1) == 0);
    ck_assert_int_eq(smp_sample_rows(x, 0, D, &r, 1, out, NULL), AD_ERR_ARG);
    /* a data set owns a copy */
    smp_dataset *d = smp_dataset_from(x, N, D, NULL);
    ck_assert_ptr_nonnull(d);
    x[0] = 99;
    ck_assert(d->x[0] == 0);
    smp_dataset_free(d);
    smp_dataset_free(NULL);
}
END_TEST

/* ------------------------------------------------------------ Hungarian */

/* Minimum over all permutations by brute force (Heap's algorithm). */
static double brute_force(const double *c, int n)
{
    int perm[8], cnt[8] = {0};
    for (int i = 0; i < n; i++) perm[i] = i;
    double best = 0;
    for (int i = 0; i < n; i++) best += c[i * n + perm[i]];
    int i = 1;
    while (i < n) {
        if (cnt[i] < i) {
            int j = i % 2 ? cnt[i] : 0, tmp = perm[j];
            perm[j] = perm[i];
            perm[i] = tmp;
            double s = 0;
            for (int k = 0; k < n; k++) s += c[k * n + perm[k]];
            if (s < best) best = s;
            cnt[i]++;
            i = 1;
        } else {
            cnt[i++] = 0;
        }
    }
    return best;
}

START_TEST(test_assignment_brute_force)
{
    ad_rng r;
    ad_rng_seed(&r, 21, 0);
    for (int trial = 0; trial < 60; trial++) {
        int n = 1 + trial % 7;
        double c[49];
        for (int k = 0; k < n * n; k++) /* half the trials with many ties */
            c[k] = trial % 2 ? ad_rng_uniform(&r) * 10 - 3 : (double)ad_rng_below(&r, 4);
        int assign[7], used[7] = {0};
        double total;
        ck_assert_int_eq(smp_assignment_solve(c, n, assign, &total), AD_OK);
        double s = 0;
        for (int i = 0; i < n; i++) {
            ck_assert(assign[i] >= 0 && assign[i] < n && !used[assign[i]]);
            used[assign[i]] = 1;
            s += c[i * n + assign[i]];
        }
        ck_assert_close(total, s, 1e-12, 0, "reported total", trial);
        ck_assert_close(total, brute_force(c, n), 1e-12, 0, "optimal total", trial);
    }
    double nan_cost[4] = {1, NAN, 2, 3};
    int a[2];
    ck_assert_int_eq(smp_assignment_solve(nan_cost, 2, a, NULL), AD_ERR_NUMERIC);
}
END_TEST

START_TEST(test_relabel_undoes_permutations)
{
    enum { NP = 38, F = 5 };
    ad_real ref[2 * NP];
    ad_rng r;
    ad_rng_seed(&r, 4, 0);
    for (int i = 0; i < NP; i++) { /* 6 x 6 solvent lattice, spacing 1.2; dimer at the centre */
        int k = i - 2;
        ref[2 * i] = i < 2 ? (i ? 0.5 : -0.5) : -3 + 1.2 * (k / 6);
        ref[2 * i + 1] = i < 2 ? 0 : -3 + 1.2 * (k % 6);
    }
    static ad_real x[F * 2 * NP], truth[F * 2 * NP];
    for (int f = 0; f < F; f++) {
        ad_real *t = truth + f * 2 * NP, *y = x + f * 2 * NP;
        /* noise well below half the spacing keeps the identity optimal; the
         * dimer is moved onto a solvent site, which must not matter */
        for (int k = 0; k < 2 * NP; k++) t[k] = ref[k] + (f ? 0.1 * ad_rng_normal(&r) : 0);
        t[0] = ref[4];
        t[1] = ref[5];
        int perm[NP - 2];
        ad_rng_permutation(&r, perm, NP - 2);
        memcpy(y, t, sizeof(ad_real) * 4);
        for (int s = 0; s < NP - 2; s++) {
            y[4 + 2 * s] = t[4 + 2 * perm[s]];
            y[5 + 2 * s] = t[5 + 2 * perm[s]];
        }
    }
    char msg[256];
    ck_assert_int_eq(smp_relabel_solvent(x, F, NP, 2, ref, msg, sizeof msg), AD_OK);
    ck_assert(memcmp(x, truth, sizeof x) == 0); /* undone exactly; dimer untouched */

    /* a NaN coordinate in frame 1 */
    x[2 * NP + 10] = NAN;
    ck_assert_int_eq(smp_relabel_solvent(x, F, NP, 2, ref, msg, sizeof msg), AD_ERR_NUMERIC);
    ck_assert_str_eq(msg, "smp_relabel_solvent: frame 1: non-finite coordinates");
    ck_assert_int_eq(smp_relabel_solvent(x, F, NP, NP + 1, ref, msg, sizeof msg), AD_ERR_ARG);
}
END_TEST

Suite *smp_data_suite(void)
{
    Suite *s = suite_create("sampling-data");
    TCase *tc = tcase_create("forward");
    tcase_add_test(tc, test_csv_round_trip);
    tcase_add_test(tc, test_shuffle_and_batches);
    tcase_add_test(tc, test_assignment_brute_force);
    tcase_add_test(tc, test_relabel_undoes_permutations);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_csv_errors);
    suite_add_tcase(s, tc);
    return s;
}
