/* ad_act.h - the activations of a dense layer (identity, relu, tanh): their
 * values and derivatives, written once.
 *
 * The primitive ops ad_relu and ad_tanh (ops_unary.c) and the row loops of
 * the fused dense layers (fast/ad_rows_impl.h) both call these, so that a
 * fused layer and the composed ops apply the same formula.  Each backward
 * takes the derivative from what it has at hand:
 *
 *   relu(v) = max(v, 0)   relu'(v) = 1 where v > 0, else 0 (0 at the kink);
 *                         relu(v) > 0 exactly where v > 0, so the test may
 *                         be made on the input or on the output
 *   tanh(v)               tanh'(v) = 1 - tanh(v)^2 = 1 - y^2, from y = tanh v
 */
#ifndef LIBBG_AUTODIFF_AD_ACT_H
#define LIBBG_AUTODIFF_AD_ACT_H

#include <math.h>

#include "ad_config.h"
#ifdef AD_REAL_FLOAT
#include "ad_tanhf.h"
#endif

/* The activation of a fused dense layer (fast/ad_fused.h). */
typedef enum ad_activation {
    AD_ACT_IDENTITY = 0, /* y = x W + b          */
    AD_ACT_RELU,         /* y = max(x W + b, 0)  */
    AD_ACT_TANH          /* y = tanh(x W + b)    */
} ad_activation;

/* relu(v) = max(v, 0) */
static inline ad_real ad_act_relu(ad_real v) { return v > 0 ? v : 0; }

/* 1 where relu'(v) = 1 (v > 0), 0 where it is 0; v is relu's input or its
 * output. */
static inline int ad_act_relu_passes(ad_real v) { return v > 0; }

/* tanh(v): libm's in double; in float, ad_tanhf (ad_tanhf.h: within 0.5 ulp
 * plus 1e-8, and vectorisable, where tanhf is neither) */
#ifdef AD_REAL_FLOAT
static inline ad_real ad_act_tanh(ad_real v) { return ad_tanhf(v); }
#else
static inline ad_real ad_act_tanh(ad_real v) { return tanh(v); }
#endif

/* tanh'(v) = 1 - y^2, from the output y = tanh(v) */
static inline ad_real ad_act_tanh_slope(ad_real y) { return 1 - y * y; }

#endif
