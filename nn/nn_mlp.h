/* nn_mlp.h - a multilayer perceptron built from a config struct.
 *
 * widths = {n_in, h_1, ..., h_k, n_out} gives k hidden dense layers with the
 * hidden activation and one output dense layer with the output activation.
 * The nn_mlp struct is the caller's (no allocation); its parameters live in
 * the nn_params given to nn_mlp_init, which owns them.
 */
#ifndef LIBBG_NN_NN_MLP_H
#define LIBBG_NN_NN_MLP_H

#include <stddef.h>

#include "nn_dense.h"

/* Most dense layers one MLP may have. */
#define NN_MLP_MAX_LAYERS 16

/* Start from nn_mlp_config_default(n_widths, widths), or fill it with
 * designated initializers: a zero activation is the identity, a zero init
 * NN_INIT_AUTO.  nn_mlp_init rejects an invalid field by name.  Every
 * field is a count, a width or an enum (no units). */
typedef struct nn_mlp_config {
    int n_widths;                    /* entries in widths (2 .. NN_MLP_MAX_LAYERS+1)*/
    const int *widths;               /* {n_in, hidden..., n_out}, each >= 1; copied */
    nn_activation hidden_activation; /* after every hidden layer    default ReLU    */
    nn_activation output_activation; /* after the last layer        default identity*/
    nn_init hidden_init;             /* AUTO: He for ReLU, Glorot otherwise         */
                                     /*                             default AUTO    */
    nn_init output_init;             /* AUTO: Glorot; ZERO for an identity start    */
                                     /*                             default AUTO    */
} nn_mlp_config;

/* The defaults above: ReLU hidden layers, an identity output, AUTO inits. */
nn_mlp_config nn_mlp_config_default(int n_widths, const int *widths);

typedef struct nn_mlp {
    int n_layers;                         /* dense layers (= n_widths - 1)  */
    nn_dense layers[NN_MLP_MAX_LAYERS];   /* in order                       */
    nn_activation hidden_activation;
    nn_activation output_activation;
} nn_mlp;

/* Register the MLP's parameters in p.  Returns AD_OK, or AD_ERR_ARG (naming
 * the invalid field) / AD_ERR_NOMEM with a message. */
int nn_mlp_init(nn_mlp *m, nn_params *p, const nn_mlp_config *cfg, char *msg, size_t msg_len);

/* y = act_out(L_k(... act_h(L_1(x)))) for x [batch, n_in], on the tape. */
ad_tensor *nn_mlp_forward(ad_tape *t, const nn_mlp *m, ad_tensor *x);
/* The same with out_act in place of the output activation (e.g. a tanh
 * fused into the last layer). */
ad_tensor *nn_mlp_forward_act(ad_tape *t, const nn_mlp *m, ad_tensor *x, nn_activation out_act);

int nn_mlp_n_in(const nn_mlp *m);
int nn_mlp_n_out(const nn_mlp *m);

/* Write up to max_out of the MLP's parameter tensors (weight, bias per layer)
 * into out; returns how many it has (2 * n_layers). */
int nn_mlp_parameters(const nn_mlp *m, ad_tensor **out, int max_out);

#endif
