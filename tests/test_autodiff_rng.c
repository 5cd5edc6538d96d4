/* test_autodiff_rng.c - the seeded generator: reproducible, independent
 * streams, and the moments of its uniform and normal deviates.
 *
 * Statistical tolerances are 5 standard errors of the estimator (a false
 * failure rate below 1e-6; the seeds are fixed, so a run is reproducible):
 *   mean of n deviates with variance s2:    SE = sqrt(s2 / n)
 *   sample variance, fourth moment m4:      SE = sqrt((m4 - s2^2) / n)
 *   uniform [0,1): s2 = 1/12, m4 = 1/80;  normal: s2 = 1, m4 = 3.
 */
#include <check.h>
#include <math.h>
#include <string.h>

#include "autodiff/ad.h"
#include "ck_util.h"

enum { N_DRAWS = 200000 };

START_TEST(test_reproducible)
{
    /* Fixed values: the same seed gives the same numbers on every run and
     * every machine (xoshiro256** seeded by splitmix64). */
    ad_rng r;
    ad_rng_seed(&r, 42, 0);
    ck_assert_uint_eq(ad_rng_u64(&r), 0xffb9d0175e02d11dull);
    ck_assert_uint_eq(ad_rng_u64(&r), 0x22d0406d01fd42ecull);
    ck_assert_uint_eq(ad_rng_u64(&r), 0x169859dc8e310a4aull);
    ad_rng_seed(&r, 42, 1);
    ck_assert_double_eq(ad_rng_uniform(&r), 0.55696455187584903);
    ad_rng_seed(&r, 42, 0);
    ck_assert_double_eq(ad_rng_normal(&r), 2.4285083330928949);
    /* two generators with one seed agree; reseeding restarts */
    ad_rng a, b;
    ad_rng_seed(&a, 7, 3);
    ad_rng_seed(&b, 7, 3);
    for (int i = 0; i < 1000; i++) ck_assert_uint_eq(ad_rng_u64(&a), ad_rng_u64(&b));
    ad_rng_normal(&a); /* leaves a spare deviate cached */
    ad_rng_seed(&a, 7, 3);
    ad_rng_seed(&b, 7, 3);
    ck_assert_double_eq(ad_rng_normal(&a), ad_rng_normal(&b));
}
END_TEST

START_TEST(test_streams_differ)
{
    ad_rng s0, s1, other_seed;
    ad_rng_seed(&s0, 1, 0);
    ad_rng_seed(&s1, 1, 1);
    ad_rng_seed(&other_seed, 2, 0);
    int same01 = 0, same02 = 0;
    double cross = 0;
    for (int i = 0; i < N_DRAWS; i++) {
        uint64_t a = ad_rng_u64(&s0), b = ad_rng_u64(&s1), c = ad_rng_u64(&other_seed);
        same01 += a == b;
        same02 += a == c;
        /* correlation of the top 53 bits, as uniforms centred on 0 */
        cross += ((double)(a >> 11) * 0x1.0p-53 - 0.5) * ((double)(b >> 11) * 0x1.0p-53 - 0.5);
    }
    ck_assert_int_eq(same01, 0);
    ck_assert_int_eq(same02, 0);
    /* E[(u-1/2)(v-1/2)] = 0 for independent streams; each product has
     * variance (1/12)^2, so SE = (1/12) / sqrt(n). */
    double se = (1.0 / 12) / sqrt((double)N_DRAWS);
    ck_assert_msg(fabs(cross / N_DRAWS) < 5 * se, "cross moment %g, SE %g", cross / N_DRAWS, se);
}
END_TEST

/* Mean and variance of n draws against the expected values. */
static void check_moments(const double *x, int n, double mean, double var, double m4,
                          const char *what)
{
    double s = 0, ss = 0;
    for (int i = 0; i < n; i++) s += x[i];
    double m = s / n;
    for (int i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m);
    double v = ss / (n - 1);
    double se_mean = sqrt(var / n), se_var = sqrt((m4 - var * var) / n);
    ck_assert_msg(fabs(m - mean) < 5 * se_mean, "%s mean %g (expected %g, SE %g)", what, m, mean,
                  se_mean);
    ck_assert_msg(fabs(v - var) < 5 * se_var, "%s variance %g (expected %g, SE %g)", what, v, var,
                  se_var);
}

START_TEST(test_uniform_moments)
{
    static double x[N_DRAWS];
    ad_rng r;
    ad_rng_seed(&r, 12345, 0);
    for (int i = 0; i < N_DRAWS; i++) {
        x[i] = ad_rng_uniform(&r);
        ck_assert(x[i] >= 0 && x[i] < 1);
    }
    check_moments(x, N_DRAWS, 0.5, 1.0 / 12, 1.0 / 80, "uniform");
    ad_real y[1000];
    ad_rng_fill_uniform(&r, y, 1000, -3, 5);
    for (int i = 0; i < 1000; i++) ck_assert(y[i] >= -3 && y[i] < 5);
}
END_TEST

START_TEST(test_normal_moments)
{
    static double x[N_DRAWS];
    ad_rng r;
    ad_rng_seed(&r, 777, 2);
    for (int i = 0; i < N_DRAWS; i++) x[i] = ad_rng_normal(&r);
    check_moments(x, N_DRAWS, 0, 1, 3, "normal");
    /* scaled: mean 3, std 2 -> variance 4, fourth central moment 3 * 16 */
    static ad_real y[N_DRAWS];
    ad_rng_fill_normal(&r, y, N_DRAWS, 3, 2);
    for (int i = 0; i < N_DRAWS; i++) x[i] = y[i];
    check_moments(x, N_DRAWS, 3, 4, 48, "normal(3, 2)");
}
END_TEST

START_TEST(test_below_and_permutation)
{
    ad_rng r;
    ad_rng_seed(&r, 99, 0);
    enum { K = 6 };
    int count[K] = {0};
    for (int i = 0; i < N_DRAWS; i++) {
        uint64_t v = ad_rng_below(&r, K);
        ck_assert_uint_lt(v, K);
        count[v]++;
    }
    /* each count is binomial(n, 1/K): SE = sqrt(n p (1-p)) */
    double p = 1.0 / K, se = sqrt(N_DRAWS * p * (1 - p));
    for (int k = 0; k < K; k++)
        ck_assert_msg(fabs(count[k] - N_DRAWS * p) < 5 * se, "count[%d] = %d", k, count[k]);
    ck_assert_uint_eq(ad_rng_below(&r, 0), 0);
    int perm[50], seen[50] = {0};
    ad_rng_permutation(&r, perm, 50);
    for (int i = 0; i < 50; i++) seen[perm[i]]++;
    for (int i = 0; i < 50; i++) ck_assert_int_eq(seen[i], 1);
}
END_TEST

Suite *ad_rng_suite(void)
{
    Suite *s = suite_create("autodiff-rng");
    TCase *tc = tcase_create("forward");
    tcase_add_test(tc, test_reproducible);
    suite_add_tcase(s, tc);
    tc = tcase_create("statistics");
    tcase_set_tags(tc, "slow");
    tcase_add_test(tc, test_streams_differ);
    tcase_add_test(tc, test_uniform_moments);
    tcase_add_test(tc, test_normal_moments);
    tcase_add_test(tc, test_below_and_permutation);
    suite_add_tcase(s, tc);
    return s;
}
