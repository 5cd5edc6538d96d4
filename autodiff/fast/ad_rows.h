/* ad_rows.h - the row loops of the dense layer ops (ops_dense.c, ops_mlp.c):
 * element-wise work on one row of a [batch, n] matrix, built for AVX-512,
 * AVX2 and the baseline and picked at the first call (ad_rows.c).  Used by
 * autodiff/fast/ only (and its tests).
 *
 * Fast path.  Speeds up: the bias, activation and activation-gradient passes
 * of the fused dense layers, and their thin products.  Must agree with: the
 * core's ad_add, ad_relu, ad_tanh and their backward (ad_act.h), bit for
 * bit; the thin products with ad_matmul to rounding.
 */
#ifndef LIBBG_AUTODIFF_FAST_AD_ROWS_H
#define LIBBG_AUTODIFF_FAST_AD_ROWS_H

#include <stddef.h>

#include "autodiff/ad_act.h"
#include "autodiff/ad_config.h"

/* The instruction-set copies of the row kernels.  Every copy gives
 * bit-identical results; the choice is a matter of speed only. */
typedef enum { AD_ROWS_BASELINE, AD_ROWS_AVX2, AD_ROWS_AVX512, AD_ROWS_N_ISA } ad_rows_isa;
/* 1 when this build has the copy and this processor can run it. */
int ad_rows_isa_supported(ad_rows_isa isa);
/* The copy in use, and the one picked by default (the widest supported). */
ad_rows_isa ad_rows_isa_current(void);
ad_rows_isa ad_rows_isa_best(void);
const char *ad_rows_isa_name(ad_rows_isa isa);
/* Use another copy from now on (tests, benchmarks; not while other threads
 * run row kernels): 0, or -1 when it is not supported (nothing changes). */
int ad_rows_isa_select(ad_rows_isa isa);

/* a . b with eight partial sums, added in a fixed order. */
ad_real ad_row_dot(const ad_real *a, const ad_real *b, int n);
/* y = x0 w */
void ad_row_scale(ad_real *restrict y, ad_real x0, const ad_real *restrict w, int n);
/* y = act(x0 w + b): a layer with one input column (b may be NULL) */
void ad_row_outer_act(ad_real *restrict y, ad_real x0, const ad_real *restrict w,
                      const ad_real *restrict b, int n, ad_activation act);
/* y += x0 w */
void ad_row_axpy(ad_real *restrict y, ad_real x0, const ad_real *restrict w, int n);
/* y = act(y + b) (b may be NULL) */
void ad_row_bias_act(ad_real *restrict y, const ad_real *restrict b, int n, ad_activation act);
/* g = dy act'(y) where y = act(.) is the layer's output (relu: dy where
 * y > 0; tanh: dy (1 - y^2); identity: g is not written and may be NULL),
 * and colsum += g when colsum is not NULL. */
void ad_row_act_grad(ad_real *restrict g, const ad_real *restrict y, const ad_real *restrict dy,
                     ad_real *restrict colsum, int n, ad_activation act);
/* The same in place: g = g act'(y). */
void ad_row_act_grad_inplace(ad_real *restrict g, const ad_real *restrict y,
                             ad_real *restrict colsum, int n, ad_activation act);

/* The bias and activation of a dense layer on a block of a [batch, n]
 * matrix: y = act(y + b) on rows [r0, r0 + rows), columns [c0, c0 + cols)
 * (y's rows ldy apart).  It is an ad_gemm_epilogue_fn (ad_gemm.h), so that
 * the fused layers apply it to each block of x W as the product finishes
 * it; ctx is an ad_bias_act. */
typedef struct {
    const ad_real *b; /* [n], or NULL: no bias */
    ad_activation act;
} ad_bias_act;
void ad_rows_bias_act_block(void *ctx, ad_real *y, int ldy, int r0, int rows, int c0, int cols);

/* One row of a thin dense layer (k = 1: an outer product; n = 1: a dot
 * product), x the row's k inputs, y its n outputs, g its n output gradients:
 *   forward  y = act(x W + b)        (b may be NULL)
 *   dW       gw += x^T g             ([k, n], k * n = max(k, n))
 *   dx       gx = g W^T (fresh) or gx += g W^T */
void ad_row_thin_forward(ad_real *y, const ad_real *x, const ad_real *w, const ad_real *b, int k,
                         int n, ad_activation act);
void ad_row_thin_dw(ad_real *gw, const ad_real *x, const ad_real *g, int k, int n);
void ad_row_thin_dx(ad_real *gx, const ad_real *g, const ad_real *w, int k, int n, int fresh);

/* Rows per block of the blocked dense passes: a multiple of 8 between 64 and
 * 256, at least 4 blocks when m allows (an [256 x 200] block of doubles is
 * 400 KiB, half a core's L2).  Depends on m only, so that sums over blocks
 * are the same for any thread count. */
int ad_block_rows(int m);

#endif
