/* ad_ops.h - the differentiable operations of the core (the fused dense
 * layers of the fast path are in fast/ad_fused.h).
 *
 * Every op takes the tape first and returns a tensor owned by the tape (valid
 * until ad_tape_reset).  If the tape already holds an error, or the arguments
 * are bad, the op records the error (first one only) and returns the tape's
 * poison tensor; the caller checks ad_tape_ok once.  Binary elementwise ops
 * broadcast as NumPy does; their backward sums over the broadcast axes.
 * docs/ops.md lists every op's forward formula and derivative.  Error
 * messages number arguments from the first one after the tape.
 */
#ifndef LIBBG_AUTODIFF_AD_OPS_H
#define LIBBG_AUTODIFF_AD_OPS_H

#include "ad_tape.h"

/* Binary, broadcasting (ops_binary.c). */
ad_tensor *ad_add(ad_tape *t, ad_tensor *a, ad_tensor *b);
ad_tensor *ad_sub(ad_tape *t, ad_tensor *a, ad_tensor *b);
ad_tensor *ad_mul(ad_tape *t, ad_tensor *a, ad_tensor *b);
ad_tensor *ad_div(ad_tape *t, ad_tensor *a, ad_tensor *b);
/* Elementwise min / max; at ties the gradient goes to a. */
ad_tensor *ad_minimum(ad_tape *t, ad_tensor *a, ad_tensor *b);
ad_tensor *ad_maximum(ad_tape *t, ad_tensor *a, ad_tensor *b);
/* out = mask != 0 ? a : b.  mask (not differentiated) has the output shape;
 * a and b broadcast to it. */
ad_tensor *ad_where(ad_tape *t, const ad_tensor *mask, ad_tensor *a, ad_tensor *b);

/* Unary (ops_unary.c). */
ad_tensor *ad_neg(ad_tape *t, ad_tensor *x);
ad_tensor *ad_scale(ad_tape *t, ad_tensor *x, ad_real c);      /* c * x  */
ad_tensor *ad_add_scalar(ad_tape *t, ad_tensor *x, ad_real c); /* x + c  */
ad_tensor *ad_exp(ad_tape *t, ad_tensor *x);
ad_tensor *ad_log(ad_tape *t, ad_tensor *x);
ad_tensor *ad_tanh(ad_tape *t, ad_tensor *x);
ad_tensor *ad_relu(ad_tape *t, ad_tensor *x);
ad_tensor *ad_sigmoid(ad_tape *t, ad_tensor *x);
ad_tensor *ad_softplus(ad_tape *t, ad_tensor *x); /* log(1 + e^x), stable */
ad_tensor *ad_sqrt(ad_tape *t, ad_tensor *x);
ad_tensor *ad_square(ad_tape *t, ad_tensor *x);
ad_tensor *ad_pow(ad_tape *t, ad_tensor *x, ad_real p);       /* x^p      */
ad_tensor *ad_abs(ad_tape *t, ad_tensor *x);
ad_tensor *ad_clamp(ad_tape *t, ad_tensor *x, ad_real lo, ad_real hi);

/* Reductions (ops_reduce.c).  axis may be negative (counted from the end);
 * the reduced axis is removed from the shape.  The mean of zero elements is
 * 0; logsumexp of an empty or all -inf row is -inf (with gradient 0). */
ad_tensor *ad_sum(ad_tape *t, ad_tensor *x);                 /* scalar      */
ad_tensor *ad_mean(ad_tape *t, ad_tensor *x);                /* scalar      */
ad_tensor *ad_sum_axis(ad_tape *t, ad_tensor *x, int axis);
ad_tensor *ad_mean_axis(ad_tape *t, ad_tensor *x, int axis);
ad_tensor *ad_logsumexp(ad_tape *t, ad_tensor *x, int axis); /* stabilised  */

/* Matrix product of 2-D tensors (ops_matmul.c): op(a) @ op(b) where op
 * transposes when the flag is set.  Goes through ad_gemm (fast/ad_gemm.h).
 * The fused dense layers ad_dense and ad_mlp are in fast/ad_fused.h. */
ad_tensor *ad_matmul(ad_tape *t, ad_tensor *a, ad_tensor *b, int trans_a, int trans_b);

/* Shape ops (ops_shape.c). */
ad_tensor *ad_reshape(ad_tape *t, ad_tensor *x, int n_dims, const int *shape);
ad_tensor *ad_transpose(ad_tape *t, ad_tensor *x); /* 2-D */
/* Columns [start, start+count) of a 2-D tensor. */
ad_tensor *ad_slice_cols(ad_tape *t, ad_tensor *x, int start, int count);
/* Columns of a and b side by side ([m,p] and [m,q] -> [m,p+q]). */
ad_tensor *ad_concat_cols(ad_tape *t, ad_tensor *a, ad_tensor *b);
/* out[:, j] = x[:, index[j]] for j < n_index (columns may repeat). */
ad_tensor *ad_gather_cols(ad_tape *t, ad_tensor *x, const int *index, int n_index);

#endif
