/* ad_tanhf.h - tanh of a float, evaluated in double precision: the float
 * build's tanh (ad_act.h: ad_tanh and the fused dense layers), in place of
 * libm's tanhf.
 *
 * Why: libm's tanhf is a call per element (through expm1f), about 17 ns on
 * the machine of docs/performance.md; in the float build the tanh of the
 * coupling layers' scale nets took 5 % of an ML training iteration of the
 * dimer.  This one has no branches and no calls, so a loop over it
 * vectorises (GCC at -O3 with AVX-512, Clang at -O2: about 1.2 ns per
 * element), and it is more accurate: on every float in [-12, 12] it gives
 * the double tanh rounded to float (an exhaustive check against glibc's
 * tanh when this was written), where glibc's tanhf is off by up to 2.2
 * units in the last place.
 *
 * How: with y = 2|x|, tanh|x| = q / (q + 2), q = e^y - 1.  y is cut at 40
 * (tanh 20 = 1 - 8e-18 is 1 in double and in float) and split as
 * y = k ln 2 + r, k the nearest integer to y / ln 2 (0 <= k <= 58,
 * |r| <= ln(2)/2; ln 2 in two parts, the first with 11 trailing zero bits so
 * that k ln2_hi is exact), so that
 *
 *   e^y - 1 = 2^k expm1(r) + (2^k - 1),
 *
 * expm1(r) from its Taylor series to r^12 (the first term left out is at
 * most 0.347^12 / 13! of expm1(r) for r > 0, 5.7e-16 for r < 0).  2^k is
 * built from the bits of the rounded k (the 1.5 * 2^52 shift leaves k in
 * the low mantissa bits).  For k = 0, q is expm1(r) itself, so small x keep
 * their relative accuracy (no 1 - 2/(e^y + 1) cancellation) and subnormal x
 * come back as x.
 *
 * The double result (ad_tanhf_wide) is within about 1e-15 of tanh x,
 * relative (10 units of 2^-53 at most in the test's samples, near
 * |r| = ln(2)/2); rounding it to float gives the correctly rounded value
 * unless tanh x lies within that distance of a midpoint between two floats,
 * so the float error is at most 0.5 ulp plus about 1e-8 ulp.
 * tests/test_autodiff_tanhf.c checks the double result to 16 units of
 * 2^-53 on 530 000 floats and the float one to 0.5 ulp plus 2^-20 on 2^19.
 * NaN stays NaN (the cut compares y > 40, false for NaN), tanh(+-inf) =
 * +-1, tanh(-0) = -0.
 *
 * It needs IEEE double arithmetic done as written: contraction into
 * multiply-adds is off inside ad_tanhf_wide (Clang would contract by
 * default; GCC does not under -std=c11, and ops_unary.c and the row kernels
 * turn it off for the whole file, so that every copy of a loop that inlines
 * this rounds the same way).  Under -ffast-math (which folds away the
 * 1.5 * 2^52 shift) or x87 excess precision without -std=c11 (which keeps
 * kd unrounded), a program that includes this header gets libm's tanhf
 * instead; the library itself is never built so.
 */
#ifndef LIBBG_AUTODIFF_AD_TANHF_H
#define LIBBG_AUTODIFF_AD_TANHF_H

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__FAST_MATH__) || (FLT_EVAL_METHOD != 0 && !defined(__STRICT_ANSI__))
#define AD_TANHF_LIBM 1 /* the shift trick would not round: see above */
#endif

/* tanh x in double, before the rounding to float (for the tests) */
static inline double ad_tanhf_wide(float xf)
{
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif
    const double x = xf;
    double y = 2 * fabs(x);
    y = y > 40 ? 40 : y;
    /* y = k ln 2 + r; q = expm1(r), scale = 2^k */
    const double shift = 0x1.8p52;
    double kd = y * 0x1.71547652b82fep0 + shift; /* y / ln 2, rounded to an integer */
    uint64_t k_bits;
    memcpy(&k_bits, &kd, sizeof k_bits);
    kd = kd - shift;
    const double r = (y - kd * 0x1.62e42fefa3800p-1) - kd * 0x1.ef35793c7673p-45;
    const uint64_t scale_bits = (k_bits + 1023) << 52; /* k + bias in the exponent field */
    double scale;
    memcpy(&scale, &scale_bits, sizeof scale);
    const double q =
        r * (1 +
             r * (1.0 / 2 +
                  r * (1.0 / 6 +
                       r * (1.0 / 24 +
                            r * (1.0 / 120 +
                                 r * (1.0 / 720 +
                                      r * (1.0 / 5040 +
                                           r * (1.0 / 40320 +
                                                r * (1.0 / 362880 +
                                                     r * (1.0 / 3628800 +
                                                          r * (1.0 / 39916800 +
                                                               r * (1.0 / 479001600))))))))))));
    const double em1 = scale * q + (scale - 1);
    return copysign(em1 / (em1 + 2), x);
}

static inline float ad_tanhf(float xf)
{
#ifdef AD_TANHF_LIBM
    return tanhf(xf);
#else
    return (float)ad_tanhf_wide(xf);
#endif
}

#endif
