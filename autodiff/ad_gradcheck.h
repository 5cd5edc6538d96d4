/* ad_gradcheck.h - check reverse-mode gradients against central differences.
 *
 * The function under test builds its output from `inputs` (heap tensors, read
 * directly, e.g. parameters or coordinates) on the tape it is given.  The
 * checked scalar is L = sum_i w_i y_i with fixed random weights w in [0.5,1.5]
 * (a random projection catches errors that a plain sum can hide).
 *
 * Tolerance, derived rather than tuned: for each element the central
 * difference D(h) is compared with D(2h).  Its truncation error is about
 * |D(2h) - D(h)| / 3 (it scales as h^2) and its rounding error about
 * eps |L| / h, so an element passes when
 *   |analytic - D(h)| <= safety * (truncation + rounding) + rtol |D(h)| + atol.
 * With the default h = eps^(1/3) max(1, |x|) both terms are about 1e-10 |L|
 * (eps = AD_REAL_EPS).  In the float build h = eps^(1/3) ~ 4.9e-3 |x|, both
 * terms are about 2.4e-5 of the scale, and the rounding term's scale is
 * sum |w_i y_i| rather than |L| (every output carries its own rounding,
 * which a cancelling projection hides).  The differences divide by the
 * distance between the points actually evaluated (x +- h rounded to
 * ad_real), not by 2h.
 */
#ifndef LIBBG_AUTODIFF_AD_GRADCHECK_H
#define LIBBG_AUTODIFF_AD_GRADCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "ad_tape.h"

/* Build the output on tape t from the inputs; return it (or the poison). */
typedef ad_tensor *(*ad_gradcheck_fn)(ad_tape *t, ad_tensor *const *inputs, int n_inputs,
                                      void *ctx);

/* Every field's zero selects its default, so a NULL options pointer, {0}
 * and designated initializers of the fields to change all work; a negative
 * or non-finite value is rejected by name. */
typedef struct ad_gradcheck_options {
    double step;     /* relative step h (dimensionless: h = step          */
                     /* max(1, |x|)); 0: eps^(1/3)                        */
    double rtol;     /* extra relative tolerance; 0: 1e-7                 */
    double atol;     /* extra absolute tolerance (units of dL/dx); 0: 1e-10 */
    double safety;   /* factor on the error estimate; 0: 10               */
    uint64_t seed;   /* seed of the projection weights; 0: a fixed one    */
} ad_gradcheck_options;

/* Numbering: inputs and elements are numbered from 0, as C indexes them:
 * input i is inputs[i], element j is inputs[i]->data[j] (the flat row-major
 * index).  The message uses the same numbers.
 *
 * The pass/fail test is made on the projected L, whose derivatives mix every
 * output.  For the worst element the report also gives the plain partial
 * derivative d(sum_k y_k)/dx_j, once from the tape and once by a central
 * difference: for a scalar output (a loss, an energy) it is dy/dx_j itself,
 * a number that can be checked by hand.  The message reads, e.g.,
 *   FAILED: 3 of 12 elements failed; worst: input 0 element 7, d(sum y)/dx =
 *   1.2345 (tape), 1.2333 (central difference); error/tolerance 41.2
 * (one line).  A message starting "passed" reports "0 of n". */
typedef struct ad_gradcheck_report {
    int ok;                /* 1 if every element passed                   */
    size_t n_checked;      /* elements compared                           */
    size_t n_failed;       /* elements whose error exceeded the tolerance */
    int worst_input;       /* input holding the worst element (from 0)    */
    size_t worst_index;    /* its flat index in that input (from 0)       */
    double analytic;       /* d(sum y)/dx there, from the tape            */
    double numeric;        /* d(sum y)/dx there, by central difference    */
    double proj_analytic;  /* dL/dx there (projected L), from the tape    */
    double proj_numeric;   /* dL/dx there by central difference           */
    double tolerance;      /* the allowed error of dL/dx there            */
    double worst_ratio;    /* largest |error| / tolerance over elements   */
    char message[256];     /* a readable summary (or the failure cause)   */
} ad_gradcheck_report;

/* Returns AD_OK when the check ran (report->ok says whether it passed), or an
 * error code when the function failed on the tape (report->message says why).
 * The inputs' gradient buffers are overwritten (they end holding d(sum y)/dx);
 * their values are restored. */
int ad_gradcheck(ad_gradcheck_fn f, void *ctx, int n_inputs, ad_tensor *const *inputs,
                 const ad_gradcheck_options *options, ad_gradcheck_report *report);

#endif
