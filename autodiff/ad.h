/* ad.h - the autodiff engine: the core (tensors, the tape, ops, RNG,
 * gradcheck, tape printing, in autodiff/) and the fast path (GEMM, thread
 * pool, fused dense layers, in autodiff/fast/).  This umbrella header only
 * includes the others; docs/autodiff.md opens with a map of both folders.
 *
 * Tutorial (the same program is docs/examples/tutorial.c, compiled and run by
 * `make test`): f(x) = a x^2 + b, gradient with respect to x, a and b.
 *
 *     ad_tape *t = ad_tape_new(0);
 *     ad_real xv[3] = {1, 2, 3};
 *     int shape[1] = {3};
 *     ad_tensor *x = ad_tape_input(t, 1, shape, xv);   // leaf, needs a gradient
 *     ad_tensor *a = ad_tensor_new_param(0, NULL);     // heap scalar parameter
 *     ad_tensor *b = ad_tensor_new_param(0, NULL);
 *     a->data[0] = 2;
 *     b->data[0] = 1;
 *     ad_tensor *f = ad_add(t, ad_mul(t, a, ad_square(t, x)), b); // broadcasts
 *     ad_tensor *loss = ad_sum(t, f);
 *     if (!ad_tape_ok(t)) { puts(ad_tape_error(t)); ... }
 *     ad_backward(t, loss);
 *     // x->grad = 2 a x = {4, 8, 12};  a->grad = sum x^2 = 14;  b->grad = 3
 *     ad_tape_print(t, stdout);                        // one line per node
 *     ad_tensor_free(a); ad_tensor_free(b); ad_tape_free(t);
 *
 * Ownership: what an op returns belongs to the tape; ad_tensor_new* results
 * belong to the caller.
 */
#ifndef LIBBG_AUTODIFF_AD_H
#define LIBBG_AUTODIFF_AD_H

/* the core */
#include "ad_act.h"
#include "ad_alloc.h"
#include "ad_config.h"
#include "ad_file.h"
#include "ad_gradcheck.h"
#include "ad_op.h"
#include "ad_ops.h"
#include "ad_print.h"
#include "ad_rng.h"
#include "ad_status.h"
#include "ad_tape.h"
#include "ad_tensor.h"
/* the fast path */
#include "fast/ad_fused.h"
#include "fast/ad_gemm.h"
#include "fast/ad_pool.h"
#include "fast/ad_state.h"

#endif
