/* flow_affine.h - the affine coupling's update as one custom op, in both
 * directions (used by flow_coupling.c):
 *
 *   flow_affine_exp(z, s, t)      y = z e^s + t        (a coupling, forward)
 *   flow_affine_exp_inv(x, s, t)  y = (x - t) e^-s     (its inverse)
 *
 * The three inputs have the same shape.  The values are those of the
 * composed ops ad_add(ad_mul(z, ad_exp(s)), t) and
 * ad_mul(ad_sub(x, t), ad_exp(ad_neg(s))), operation for operation; one
 * node and one pass instead of three or four.  Written with the custom-op
 * interface of autodiff/ad_op.h, as potentials/pot_lj_pairs.c is.
 */
#ifndef LIBBG_FLOWS_FLOW_AFFINE_H
#define LIBBG_FLOWS_FLOW_AFFINE_H

#include "autodiff/ad.h"
#include "flow_split.h"

ad_tensor *flow_affine_exp(ad_tape *t, ad_tensor *z, ad_tensor *s, ad_tensor *shift);
ad_tensor *flow_affine_exp_inv(ad_tape *t, ad_tensor *x, ad_tensor *s, ad_tensor *shift);

/* The whole coupling update on the full coordinate matrix, as one node:
 *
 *   x = flow_affine_couple(z, zc, s, t, split, inverse)      x [m, dim]:
 *     x[:, cond[k]]  = zc[:, k]                         (zc = z[:, cond], [m, n_cond])
 *     x[:, trans[k]] = z[:, trans[k]] e^s_k + t_k         (inverse = 0)
 *     x[:, trans[k]] = (z[:, trans[k]] - t_k) e^-s_k      (inverse = 1)
 *
 * with s and t [m, n_trans].  The values and the gradients are those of
 * gather(concat(zc, flow_affine_exp(gather(z, trans), s, t)), unsplit) (or
 * _inv), bit for bit: the same operations, and each gradient element gets
 * the same terms in the same order (zc's gradient is written here first, as
 * the concatenation's was, and the conditioner's terms are added to it
 * after).  One node and one pass over the rows instead of four, split over
 * the thread pool.  `split` must outlive the tape's backward pass. */
ad_tensor *flow_affine_couple(ad_tape *t, ad_tensor *z, ad_tensor *zc, ad_tensor *s,
                              ad_tensor *shift, const flow_split *split, int inverse);

#endif
