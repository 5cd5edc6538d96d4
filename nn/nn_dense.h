/* nn_dense.h - the dense (fully connected) layer y = x W + b and the
 * activation functions.
 *
 * A dense layer is a small struct of two parameter views registered in an
 * nn_params (which owns them); the struct itself is the caller's.  The
 * forward pass is one function, nn_dense_forward, so a fused kernel can
 * replace it in one place.
 */
#ifndef LIBBG_NN_NN_DENSE_H
#define LIBBG_NN_NN_DENSE_H

#include "autodiff/ad.h"
#include "nn_params.h"

typedef enum nn_activation {
    NN_ACT_IDENTITY = 0, /* y = x                 */
    NN_ACT_RELU,         /* y = max(x, 0)         */
    NN_ACT_TANH          /* y = tanh(x)           */
} nn_activation;

typedef struct nn_dense {
    int n_in;            /* input features                      */
    int n_out;           /* output features                     */
    ad_tensor *weight;   /* [n_in, n_out], owned by the params  */
    ad_tensor *bias;     /* [n_out] (zero-initialised)          */
} nn_dense;

/* Register the layer's weight (initialised as `init` says; NN_INIT_AUTO means
 * Glorot) and bias in p.  Returns AD_OK or the registration error. */
int nn_dense_init(nn_dense *d, nn_params *p, int n_in, int n_out, nn_init init);

/* y = x W + b for x [batch, n_in] -> [batch, n_out], on the tape. */
ad_tensor *nn_dense_forward(ad_tape *t, const nn_dense *d, ad_tensor *x);
/* y = act(x W + b): the layer and its activation as one fused tape node
 * (ad_dense), the same values as nn_activate(nn_dense_forward(...)). */
ad_tensor *nn_dense_forward_act(ad_tape *t, const nn_dense *d, ad_tensor *x, nn_activation act);

/* The activation on the tape (identity returns x itself). */
/* The autodiff op's code of a (0 when a is not one of the three). */
int nn_activation_to_ad(nn_activation a, ad_activation *out);
ad_tensor *nn_activate(ad_tape *t, nn_activation a, ad_tensor *x);
/* "identity", "relu", "tanh". */
const char *nn_activation_name(nn_activation a);

#endif
