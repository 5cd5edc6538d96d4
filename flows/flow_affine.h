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

ad_tensor *flow_affine_exp(ad_tape *t, ad_tensor *z, ad_tensor *s, ad_tensor *shift);
ad_tensor *flow_affine_exp_inv(ad_tape *t, ad_tensor *x, ad_tensor *s, ad_tensor *shift);

#endif
