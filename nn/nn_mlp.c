/* nn_mlp.c - multilayer perceptrons. */
#include "nn_mlp.h"

#include <stdio.h>
#include <string.h>

nn_mlp_config nn_mlp_config_default(int n_widths, const int *widths)
{
    nn_mlp_config c = {.n_widths = n_widths, .widths = widths,
                       .hidden_activation = NN_ACT_RELU, .output_activation = NN_ACT_IDENTITY,
                       .hidden_init = NN_INIT_AUTO, .output_init = NN_INIT_AUTO};
    return c;
}

int nn_mlp_init(nn_mlp *m, nn_params *p, const nn_mlp_config *cfg, char *msg, size_t msg_len)
{
    if (!m || !p || !cfg) {
        if (msg && msg_len) snprintf(msg, msg_len, "nn_mlp_init: NULL argument");
        return AD_ERR_ARG;
    }
    if (!cfg->widths) {
        if (msg && msg_len) snprintf(msg, msg_len, "nn_mlp_init: widths is NULL");
        return AD_ERR_ARG;
    }
    if (cfg->n_widths < 2 || cfg->n_widths > NN_MLP_MAX_LAYERS + 1) {
        if (msg && msg_len)
            snprintf(msg, msg_len, "nn_mlp_init: n_widths = %d (need 2 to %d)", cfg->n_widths,
                     NN_MLP_MAX_LAYERS + 1);
        return AD_ERR_ARG;
    }
    const struct {
        const char *name;
        int value, max;
    } enums[4] = {{"hidden_activation", (int)cfg->hidden_activation, (int)NN_ACT_TANH},
                  {"output_activation", (int)cfg->output_activation, (int)NN_ACT_TANH},
                  {"hidden_init", (int)cfg->hidden_init, (int)NN_INIT_HE},
                  {"output_init", (int)cfg->output_init, (int)NN_INIT_HE}};
    for (int i = 0; i < 4; i++)
        if (enums[i].value < 0 || enums[i].value > enums[i].max) {
            if (msg && msg_len)
                snprintf(msg, msg_len, "nn_mlp_init: %s = %d (not a known value)", enums[i].name,
                         enums[i].value);
            return AD_ERR_ARG;
        }
    for (int i = 0; i < cfg->n_widths; i++)
        if (cfg->widths[i] < 1) {
            if (msg && msg_len)
                snprintf(msg, msg_len, "nn_mlp_init: widths[%d] = %d (must be >= 1)", i,
                         cfg->widths[i]);
            return AD_ERR_ARG;
        }
    memset(m, 0, sizeof *m);
    m->n_layers = cfg->n_widths - 1;
    m->hidden_activation = cfg->hidden_activation;
    m->output_activation = cfg->output_activation;
    nn_init hidden = cfg->hidden_init;
    if (hidden == NN_INIT_AUTO)
        hidden = cfg->hidden_activation == NN_ACT_RELU ? NN_INIT_HE : NN_INIT_GLOROT;
    nn_init output = cfg->output_init == NN_INIT_AUTO ? NN_INIT_GLOROT : cfg->output_init;
    for (int l = 0; l < m->n_layers; l++) {
        int status = nn_dense_init(&m->layers[l], p, cfg->widths[l], cfg->widths[l + 1],
                                   l + 1 == m->n_layers ? output : hidden);
        if (status != AD_OK) {
            if (msg && msg_len) snprintf(msg, msg_len, "nn_mlp_init: out of memory");
            return status;
        }
    }
    return AD_OK;
}

/* The layers as one ad_mlp node (each block of rows through every layer
 * while in cache). */
ad_tensor *nn_mlp_forward(ad_tape *t, const nn_mlp *m, ad_tensor *x)
{
    return nn_mlp_forward_act(t, m, x, m ? m->output_activation : NN_ACT_IDENTITY);
}

ad_tensor *nn_mlp_forward_act(ad_tape *t, const nn_mlp *m, ad_tensor *x, nn_activation out_act)
{
    if (!m || m->n_layers < 1 || m->n_layers > AD_MLP_MAX_LAYERS)
        return ad_tape_fail(t, AD_ERR_ARG, "nn_mlp_forward: bad argument #2 (empty MLP)");
    ad_tensor *w[AD_MLP_MAX_LAYERS], *b[AD_MLP_MAX_LAYERS];
    ad_activation act[AD_MLP_MAX_LAYERS];
    for (int l = 0; l < m->n_layers; l++) {
        const nn_dense *d = &m->layers[l];
        if (!d->weight || !d->bias || !d->weight->data)
            return ad_tape_fail(t, AD_ERR_ARG, "nn_mlp_forward: bad argument #2 (layer %d not "
                                "initialised, or its nn_params not finalized)", l);
        nn_activation a = l + 1 == m->n_layers ? out_act : m->hidden_activation;
        if (!nn_activation_to_ad(a, &act[l]))
            return ad_tape_fail(t, AD_ERR_ARG, "nn_mlp_forward: unknown activation %d", (int)a);
        w[l] = d->weight;
        b[l] = d->bias;
    }
    return ad_mlp(t, x, m->n_layers, w, b, act);
}

int nn_mlp_n_in(const nn_mlp *m) { return m && m->n_layers ? m->layers[0].n_in : 0; }
int nn_mlp_n_out(const nn_mlp *m)
{
    return m && m->n_layers ? m->layers[m->n_layers - 1].n_out : 0;
}

int nn_mlp_parameters(const nn_mlp *m, ad_tensor **out, int max_out)
{
    int n = 0;
    for (int l = 0; m && l < m->n_layers; l++) {
        if (out && n < max_out) out[n] = m->layers[l].weight;
        n++;
        if (out && n < max_out) out[n] = m->layers[l].bias;
        n++;
    }
    return n;
}
