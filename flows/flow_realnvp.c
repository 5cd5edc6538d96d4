/* flow_realnvp.c - the RealNVP builder and the seed's presets. */
#include "flow_realnvp.h"

#include <stdio.h>

#include "flow_whiten.h"

static const int WIDTHS_100[2] = {100, 100};
static const int WIDTHS_200[2] = {200, 200};

flow_realnvp_config flow_realnvp_preset_config(flow_realnvp_preset preset)
{
    flow_realnvp_config c = {0};
    c.dim = 2;
    c.n_blocks = 3;
    c.n_hidden = 2;
    c.hidden_widths = WIDTHS_100;
    c.s_activation = NN_ACT_RELU;
    c.t_activation = NN_ACT_RELU;
    c.log_scale_bound = 1;
    c.split = FLOW_SPLIT_ALTERNATE;
    switch (preset) {
    case FLOW_REALNVP_DOUBLE_WELL:
        break;
    case FLOW_REALNVP_MUELLER_BROWN:
        c.n_blocks = 5;
        break;
    case FLOW_REALNVP_DIMER:
        c.dim = 76;
        c.n_blocks = 8;
        c.hidden_widths = WIDTHS_200;
        c.split = FLOW_SPLIT_HALF;
        break;
    }
    return c;
}

flow_model *flow_realnvp_new(const flow_realnvp_config *cfg, char *msg, size_t msg_len)
{
    if (!cfg || cfg->dim < 2 || cfg->n_blocks < 1 || cfg->n_hidden < 0 ||
        (cfg->n_hidden > 0 && !cfg->hidden_widths) || cfg->whiten_keep < 0 ||
        cfg->whiten_keep > cfg->dim || (cfg->whiten && cfg->whiten_keep == 1)) {
        if (msg && msg_len)
            snprintf(msg, msg_len, "flow_realnvp_new: bad config (need dim >= 2, n_blocks >= 1, "
                     "hidden widths, 2 <= whiten_keep <= dim or 0)");
        return NULL;
    }
    int dim_z = cfg->whiten && cfg->whiten_keep ? cfg->whiten_keep : cfg->dim;
    flow_model *m = flow_model_new(dim_z);
    if (!m) {
        if (msg && msg_len) snprintf(msg, msg_len, "flow_realnvp_new: out of memory");
        return NULL;
    }
    flow_coupling_nets_config nets = {cfg->n_hidden, cfg->hidden_widths, cfg->s_activation,
                                      cfg->t_activation, cfg->t_output_random};
    int status = AD_OK;
    for (int b = 0; b < cfg->n_blocks && status == AD_OK; b++)
        for (int flip = 0; flip < 2 && status == AD_OK; flip++) {
            int n_cond, n_trans;
            nn_mlp s_net, t_net;
            status = flow_coupling_channels(dim_z, cfg->split, cfg->mask, flip, &n_cond, &n_trans);
            if (status != AD_OK) {
                /* Repeat the call with the message buffer for the reason. */
                flow_split s;
                flow_split_init(&s, dim_z, cfg->split, cfg->mask, flip, msg, msg_len);
                flow_split_release(&s);
                break;
            }
            status = flow_coupling_nets_init(&s_net, &t_net, m->params, n_cond, n_trans, &nets, msg,
                                             msg_len);
            if (status != AD_OK) break;
            flow_coupling_config cc = {dim_z, cfg->split, cfg->mask, flip, &s_net, &t_net,
                                       cfg->log_scale_bound};
            flow_layer *l = flow_coupling_new(&cc, msg, msg_len);
            status = l ? flow_model_append(m, l, msg, msg_len) : AD_ERR_ARG;
        }
    if (status == AD_OK && cfg->whiten) {
        flow_whiten_config wc = {cfg->dim, dim_z, cfg->whiten_data, cfg->whiten_n};
        flow_layer *w = flow_whiten_new(m->params, &wc, msg, msg_len);
        status = w ? flow_model_append(m, w, msg, msg_len) : AD_ERR_ARG;
    }
    if (status == AD_OK) status = flow_model_finalize(m, cfg->seed, msg, msg_len);
    if (status != AD_OK) {
        flow_model_free(m);
        return NULL;
    }
    return m;
}
