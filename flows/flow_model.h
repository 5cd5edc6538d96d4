/* flow_model.h - a trainable flow: a sequence of layers (z -> x) and the
 * nn_params block that holds every parameter of those layers.
 *
 * Build one by hand (flow_model_new; each layer's parameters registered in
 * the model's params field, m->params, when the layer is created; then
 * flow_model_append and flow_model_finalize) or with a
 * builder such as flow_realnvp_new.  The model owns its layers and its
 * nn_params; save or load it with nn_checkpoint_save/load(m->params, ...).
 */
#ifndef LIBBG_FLOWS_FLOW_MODEL_H
#define LIBBG_FLOWS_FLOW_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "flow_prior.h"
#include "nn/nn_params.h"

typedef struct flow_model {
    flow_layer *flow;    /* a flow_sequential, forward = z -> x (owned) */
    nn_params *params;   /* every parameter of the layers (owned)       */
    int dim_z;           /* latent width                                */
    int dim_x;           /* configuration width                         */
} flow_model;

/* An empty model (identity) of latent width dim_z; NULL if out of memory. */
flow_model *flow_model_new(int dim_z);
void flow_model_free(flow_model *m); /* accepts NULL */

/* Append a layer at the x end (ownership passes in every case, see
 * flow_sequential_append). */
int flow_model_append(flow_model *m, flow_layer *layer, char *msg, size_t msg_len);
/* Allocate the parameter blocks and draw initial values from (seed, 0). */
int flow_model_finalize(flow_model *m, uint64_t seed, char *msg, size_t msg_len);

/* z [batch, dim_z] -> x [batch, dim_x]; *logdet = log|det dx/dz| [batch]. */
ad_tensor *flow_model_forward(const flow_model *m, ad_tape *t, ad_tensor *z, ad_tensor **logdet);
/* x -> z; *logdet = log|det dz/dx| [batch]. */
ad_tensor *flow_model_inverse(const flow_model *m, ad_tape *t, ad_tensor *x, ad_tensor **logdet);
/* log p_X(x) = log p_Z(F_xz(x)) + log|det dz/dx| per row (the prior's dim
 * must be dim_z). */
ad_tensor *flow_model_log_prob(const flow_model *m, ad_tape *t, const flow_prior *prior,
                               ad_tensor *x);

#endif
