/* test_autodiff_tanhf.c - the float tanh of ad_tanhf.h (the float build's
 * activation) against the double-precision tanh of libm.
 *
 * Tolerances:
 *   the double result (ad_tanhf_wide), before its rounding to float: the
 *   Taylor series of expm1 cut after r^12 errs by at most 5.7e-16 relative
 *   (5.2 units of 2^-53), the dozen roundings of its evaluation, of the
 *   2^k scaling and of q / (q + 2) add a few units more (10 measured), and
 *   glibc's double tanh, the reference, is documented to 2 units: 16 units
 *   of 2^-53 bound the difference with a margin.  This is the check that
 *   sees a wrong constant or a missing term, which the float result's
 *   rounding would mostly hide.
 *   the float result: rounding a double within about 1e-15 relative gives
 *   at most 0.5 ulp plus about 1e-8 ulp; 0.5 + 2^-20 ulp is asserted on
 *   2^19 floats.
 * Run in both builds: the functions are plain inline C.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "autodiff/ad.h"
#include "autodiff/ad_tanhf.h"
#include "ck_util.h"

/* One unit in the last place of float at |v| (the subnormal spacing below
 * the smallest normal). */
static double float_ulp(double v)
{
    double a = fabs(v);
    return ldexp(1.0, (a < 0x1p-126 ? -126 : ilogb(a)) - 23);
}

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

START_TEST(test_tanhf_rounding)
{
    /* about 2^18 floats of each sign, evenly spread over the bit patterns
     * of [0, 12] (every exponent, subnormals included; beyond 12, tanh is
     * 1 - 8e-11 or closer, which rounds to 1) */
    const uint32_t top = 0x41400000u; /* 12.0f */
    const uint32_t step = top / (1u << 18);
    double worst = 0;
    float worst_at = 0;
    long n = 0;
    for (uint32_t u = 0; u <= top; u += step) {
        for (int sign = 0; sign < 2; sign++) {
            float x = sign ? -from_bits(u) : from_bits(u);
            double exact = tanh((double)x);
            double err = fabs((double)ad_tanhf(x) - exact) / float_ulp(exact);
            if (err > worst) worst = err, worst_at = x;
            n++;
        }
    }
    ck_assert_int_gt(n, 500000);
    ck_assert_msg(worst <= 0.5 + 0x1p-20, "ad_tanhf off by %.9g ulp at x = %.9g", worst,
                  (double)worst_at);
}
END_TEST

START_TEST(test_tanhf_wide)
{
    /* every 256th float of [2^-13, 9.1] (about 530 000), where the
     * range reduction, the series and the division all matter: below 2^-13
     * the result is x to float precision, above 9.1 it rounds to 1 */
    const uint32_t lo = 0x39000000u, hi = 0x4111999au; /* 2^-13, 9.1f */
    double worst = 0;
    float worst_at = 0;
    long n = 0;
    for (uint32_t u = lo; u <= hi; u += 256) {
        float x = from_bits(u);
        double exact = tanh((double)x);
        double err = fabs(ad_tanhf_wide(x) - exact) / (fabs(exact) * 0x1p-53);
        if (err > worst) worst = err, worst_at = x;
        ck_assert(ad_tanhf_wide(-x) == -ad_tanhf_wide(x));
        n++;
    }
    ck_assert_int_gt(n, 500000);
    ck_assert_msg(worst <= 16, "ad_tanhf_wide off by %.3g units of 2^-53 at x = %.9g", worst,
                  (double)worst_at);
}
END_TEST

START_TEST(test_tanhf_special)
{
    /* odd, with the sign of zero kept */
    ck_assert(ad_tanhf(0.0f) == 0.0f && !signbit(ad_tanhf(0.0f)));
    ck_assert(ad_tanhf(-0.0f) == 0.0f && signbit(ad_tanhf(-0.0f)));
    /* saturated: exactly +-1 from where tanh rounds to 1 on */
    ck_assert(ad_tanhf(INFINITY) == 1.0f);
    ck_assert(ad_tanhf(-INFINITY) == -1.0f);
    ck_assert(ad_tanhf(20.0f) == 1.0f && ad_tanhf(-1e30f) == -1.0f);
    ck_assert(ad_tanhf(3.0e38f) == 1.0f);
    /* NaN stays NaN */
    ck_assert(isnan(ad_tanhf(NAN)));
    /* tanh x = x (1 - x^2/3 + ...): a subnormal or tiny x comes back as x */
    const float tiny[] = {from_bits(1), from_bits(0x007fffffu), 0x1p-126f, 0x1p-40f, 0x1p-13f};
    for (size_t i = 0; i < sizeof tiny / sizeof tiny[0]; i++) {
        ck_assert(ad_tanhf(tiny[i]) == tiny[i]);
        ck_assert(ad_tanhf(-tiny[i]) == -tiny[i]);
    }
    /* odd symmetry on every value of a coarse sweep */
    for (float x = 0.001f; x < 15.0f; x *= 1.37f) ck_assert(ad_tanhf(-x) == -ad_tanhf(x));
}
END_TEST

START_TEST(test_tanh_op_uses_it)
{
    /* the float build's ad_tanh (and the fused layers, through ad_act.h)
     * gives ad_tanhf's values; the double build keeps libm's tanh */
    ad_tape *t = ad_tape_new(0);
    ck_assert_ptr_nonnull(t);
    const ad_real v[] = {-30, -2.5, -0.3, -1e-6, 0, 1e-6, 0.3, 0.7, 2.5, 30};
    enum { N = sizeof v / sizeof v[0] };
    ad_tensor *x = ad_tape_input(t, 1, (int[]){N}, v);
    ad_tensor *y = ad_tanh(t, x);
    ck_assert(ad_tape_ok(t));
    for (int i = 0; i < N; i++) {
#ifdef AD_REAL_FLOAT
        ck_assert(y->data[i] == ad_tanhf(v[i]));
#else
        ck_assert(y->data[i] == tanh(v[i]));
#endif
    }
    ad_tape_free(t);
}
END_TEST

Suite *ad_tanhf_suite(void)
{
    Suite *s = suite_create("autodiff-tanhf");
    TCase *tc = tcase_create("accuracy");
    tcase_add_test(tc, test_tanhf_rounding);
    tcase_add_test(tc, test_tanhf_wide);
    tcase_add_test(tc, test_tanhf_special);
    tcase_add_test(tc, test_tanh_op_uses_it);
    suite_add_tcase(s, tc);
    return s;
}
