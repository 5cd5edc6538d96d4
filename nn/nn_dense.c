/* nn_dense.c - the dense layer and the activations. */
#include "nn_dense.h"

int nn_dense_init(nn_dense *d, nn_params *p, int n_in, int n_out, nn_init init)
{
    if (!d || !p || n_in < 1 || n_out < 1) return AD_ERR_ARG;
    d->n_in = n_in;
    d->n_out = n_out;
    d->weight = nn_params_add(p, "dense.weight", 2, (int[]){n_in, n_out}, init);
    d->bias = nn_params_add(p, "dense.bias", 1, (int[]){n_out}, NN_INIT_ZERO);
    return d->weight && d->bias ? AD_OK : AD_ERR_NOMEM;
}

int nn_activation_to_ad(nn_activation a, ad_activation *out)
{
    switch (a) {
    case NN_ACT_IDENTITY:
        *out = AD_ACT_IDENTITY;
        return 1;
    case NN_ACT_RELU:
        *out = AD_ACT_RELU;
        return 1;
    case NN_ACT_TANH:
        *out = AD_ACT_TANH;
        return 1;
    }
    return 0;
}

/* y = act(x W + b) as one ad_dense node (product, bias and activation fused). */
ad_tensor *nn_dense_forward_act(ad_tape *t, const nn_dense *d, ad_tensor *x, nn_activation act)
{
    if (!d || !d->weight || !d->bias || !d->weight->data)
        return ad_tape_fail(t, AD_ERR_ARG, "nn_dense_forward: bad argument #2 (layer not "
                            "initialised, or its nn_params not finalized)");
    ad_activation a;
    if (!nn_activation_to_ad(act, &a))
        return ad_tape_fail(t, AD_ERR_ARG, "nn_dense_forward: bad argument #4 (unknown "
                            "activation %d)", (int)act);
    return ad_dense(t, x, d->weight, d->bias, a);
}

ad_tensor *nn_dense_forward(ad_tape *t, const nn_dense *d, ad_tensor *x)
{
    return nn_dense_forward_act(t, d, x, NN_ACT_IDENTITY);
}

ad_tensor *nn_activate(ad_tape *t, nn_activation a, ad_tensor *x)
{
    switch (a) {
    case NN_ACT_IDENTITY:
        return x;
    case NN_ACT_RELU:
        return ad_relu(t, x);
    case NN_ACT_TANH:
        return ad_tanh(t, x);
    }
    return ad_tape_fail(t, AD_ERR_ARG, "nn_activate: bad argument #2 (unknown activation %d)",
                        (int)a);
}

const char *nn_activation_name(nn_activation a)
{
    switch (a) {
    case NN_ACT_IDENTITY:
        return "identity";
    case NN_ACT_RELU:
        return "relu";
    case NN_ACT_TANH:
        return "tanh";
    }
    return "unknown";
}
