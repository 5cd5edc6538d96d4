/* flow_model.c - the container of a trainable flow. */
#include "flow_model.h"

#include <stdio.h>

#include "flow_sequential.h"

flow_model *flow_model_new(int dim_z)
{
    flow_model *m = ad_calloc(1, sizeof *m);
    if (!m) return NULL;
    m->flow = flow_sequential_new(dim_z);
    m->params = nn_params_new();
    if (!m->flow || !m->params) {
        flow_model_free(m);
        return NULL;
    }
    m->dim_z = m->dim_x = dim_z;
    return m;
}

void flow_model_free(flow_model *m)
{
    if (!m) return;
    flow_layer_free(m->flow);
    nn_params_free(m->params);
    ad_free(m);
}

int flow_model_append(flow_model *m, flow_layer *layer, char *msg, size_t msg_len)
{
    if (!m) {
        flow_layer_free(layer);
        return AD_ERR_ARG;
    }
    int status = flow_sequential_append(m->flow, layer, msg, msg_len);
    m->dim_x = m->flow->dim_x;
    return status;
}

int flow_model_finalize(flow_model *m, uint64_t seed, char *msg, size_t msg_len)
{
    if (!m) return AD_ERR_ARG;
    ad_rng rng;
    ad_rng_seed(&rng, seed, 0);
    return nn_params_finalize(m->params, &rng, msg, msg_len);
}

ad_tensor *flow_model_forward(const flow_model *m, ad_tape *t, ad_tensor *z, ad_tensor **logdet)
{
    if (!m || !nn_params_finalized(m->params)) {
        if (logdet) *logdet = ad_tape_poison(t);
        return ad_tape_fail(t, AD_ERR_ARG, "flow_model_forward: model %s",
                            m ? "not finalized" : "is NULL");
    }
    return flow_layer_forward(m->flow, t, z, logdet);
}

ad_tensor *flow_model_inverse(const flow_model *m, ad_tape *t, ad_tensor *x, ad_tensor **logdet)
{
    if (!m || !nn_params_finalized(m->params)) {
        if (logdet) *logdet = ad_tape_poison(t);
        return ad_tape_fail(t, AD_ERR_ARG, "flow_model_inverse: model %s",
                            m ? "not finalized" : "is NULL");
    }
    return flow_layer_inverse(m->flow, t, x, logdet);
}

ad_tensor *flow_model_log_prob(const flow_model *m, ad_tape *t, const flow_prior *prior,
                               ad_tensor *x)
{
    ad_tensor *logdet;
    ad_tensor *z = flow_model_inverse(m, t, x, &logdet);
    return ad_add(t, flow_prior_log_prob(t, prior, z), logdet);
}
