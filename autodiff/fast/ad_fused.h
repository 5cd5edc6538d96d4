/* ad_fused.h - the fused dense layers: one tape node where the core ops
 * would record several.
 *
 * Fast path.  Speeds up: a dense layer (ops_dense.c) and a chain of them
 * (ops_mlp.c).  Must agree with: ad_matmul, ad_add and ad_relu / ad_tanh,
 * composed (to rounding: the products may be summed in another order).
 *
 * ad_dense(x, W, b, act) gives the values of act(ad_add(ad_matmul(x, W), b))
 * (ad_relu or ad_tanh for act, ad_act.h) and ad_mlp those of a chain of
 * ad_dense calls; the tests hold them to that (tests/test_autodiff_fused.c,
 * tests/test_autodiff_mlp.c).  What they save is memory traffic: one output,
 * one gradient buffer and one pass over the batch instead of three per layer.
 */
#ifndef LIBBG_AUTODIFF_FAST_AD_FUSED_H
#define LIBBG_AUTODIFF_FAST_AD_FUSED_H

#include "autodiff/ad_act.h"
#include "autodiff/ad_tape.h"

/* The fused dense layer (ops_dense.c): y = act(x W + b) for x [m,k], W [k,n]
 * and b [n] (NULL: no bias), one node whose backward gives dx, dW and db.
 * relu's derivative at 0 is 0, as ad_relu's. */
ad_tensor *ad_dense(ad_tape *t, ad_tensor *x, ad_tensor *w, ad_tensor *b, ad_activation act);

/* A chain of dense layers as one op (ops_mlp.c): h_0 = x,
 * h_l = act[l-1](h_{l-1} w[l-1] + b[l-1]) for l = 1..n_layers, y = h_n_layers,
 * with w[l] [k_l, n_l] (k_0 = x's columns, k_{l+1} = n_l) and b[l] [n_l]
 * (required).  Its values are those of n_layers ad_dense calls; it takes
 * each block of rows through all the layers while the block is in cache,
 * in both directions, instead of a pass over the batch per layer.  The
 * weight and bias gradients are summed in another order than ad_dense's
 * (equal to rounding); they too are the same for any thread count.  Its
 * 1 + 2 n_layers inputs are more than a node holds (AD_MAX_INPUTS): the
 * list is kept in the op's context in the arena (ad_tape_record_wide). */
#define AD_MLP_MAX_LAYERS 16
ad_tensor *ad_mlp(ad_tape *t, ad_tensor *x, int n_layers, ad_tensor *const *w,
                  ad_tensor *const *b, const ad_activation *act);

#endif
