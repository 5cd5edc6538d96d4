/* flow_realnvp.c - the RealNVP builder and the seed's presets. */
#include "flow_realnvp.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "flow_spline.h"
#include "flow_whiten.h"

static const int WIDTHS_100[2] = {100, 100};
static const int WIDTHS_200[2] = {200, 200};

flow_realnvp_config flow_realnvp_config_default(int dim)
{
    flow_realnvp_config c;
    memset(&c, 0, sizeof c);
    c.dim = dim;
    c.n_blocks = 3;
    c.n_hidden = 2;
    c.hidden_widths = WIDTHS_100;
    c.s_activation = NN_ACT_RELU;
    c.t_activation = NN_ACT_RELU;
    c.log_scale_bound = 1;
    c.t_output_random = 0;
    c.coupling = FLOW_COUPLING_AFFINE;
    c.spline = flow_spline_spec_default();
    c.split = FLOW_SPLIT_ALTERNATE;
    c.mask = NULL;
    c.whiten = 0;
    c.whiten_data = NULL;
    c.whiten_n = 0;
    c.whiten_keep = 0;
    c.seed = 1;
    return c;
}

flow_realnvp_config flow_realnvp_preset_config(flow_realnvp_preset preset)
{
    flow_realnvp_config c = flow_realnvp_config_default(2);
    c.seed = 0;
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

/* The first invalid field of cfg, named, into why; NULL when it is valid. */
static const char *config_error(const flow_realnvp_config *cfg, char *why, size_t len)
{
    if (!cfg) {
        snprintf(why, len, "cfg is NULL");
        return why;
    }
    if (cfg->dim < 2)
        snprintf(why, len, "dim = %d (need >= 2)", cfg->dim);
    else if (cfg->n_blocks < 1)
        snprintf(why, len, "n_blocks = %d (need >= 1)", cfg->n_blocks);
    else if (cfg->n_hidden < 0 || cfg->n_hidden > NN_MLP_MAX_LAYERS - 1)
        snprintf(why, len, "n_hidden = %d (need 0 .. %d)", cfg->n_hidden, NN_MLP_MAX_LAYERS - 1);
    else if (cfg->n_hidden > 0 && !cfg->hidden_widths)
        snprintf(why, len, "hidden_widths is NULL (need %d widths)", cfg->n_hidden);
    else if (!(cfg->log_scale_bound >= 0) || !isfinite(cfg->log_scale_bound))
        snprintf(why, len, "log_scale_bound = %g (need finite, >= 0)", cfg->log_scale_bound);
    else if (cfg->t_output_random != 0 && cfg->t_output_random != 1)
        snprintf(why, len, "t_output_random = %d (need 0 or 1)", cfg->t_output_random);
    else if (cfg->coupling != FLOW_COUPLING_AFFINE && cfg->coupling != FLOW_COUPLING_SPLINE)
        snprintf(why, len, "coupling = %d (need FLOW_COUPLING_AFFINE or FLOW_COUPLING_SPLINE)",
                 (int)cfg->coupling);
    else if (cfg->coupling == FLOW_COUPLING_SPLINE &&
             flow_spline_spec_check(&cfg->spline, "spline.", why, len) != AD_OK)
        return why;
    else if (cfg->whiten != 0 && cfg->whiten != 1)
        snprintf(why, len, "whiten = %d (need 0 or 1)", cfg->whiten);
    else if (cfg->whiten_keep < 0 || cfg->whiten_keep > cfg->dim ||
             (cfg->whiten && cfg->whiten_keep == 1))
        snprintf(why, len, "whiten_keep = %d (need 0 or 2 .. dim = %d)", cfg->whiten_keep,
                 cfg->dim);
    else if (cfg->whiten && cfg->whiten_data && cfg->whiten_n < 2)
        snprintf(why, len, "whiten_n = %d (need >= 2 rows of whiten_data)", cfg->whiten_n);
    else {
        for (int k = 0; k < cfg->n_hidden; k++)
            if (cfg->hidden_widths[k] < 1) {
                snprintf(why, len, "hidden_widths[%d] = %d (need >= 1)", k,
                         cfg->hidden_widths[k]);
                return why;
            }
        return NULL;
    }
    return why;
}

flow_model *flow_realnvp_new(const flow_realnvp_config *cfg, char *msg, size_t msg_len)
{
    char why[200];
    if (config_error(cfg, why, sizeof why)) {
        ad_status_fail(msg, msg_len, AD_ERR_ARG, "flow_realnvp_new: bad config: %s", why);
        return NULL;
    }
    int dim_z = cfg->whiten && cfg->whiten_keep ? cfg->whiten_keep : cfg->dim;
    flow_model *m = flow_model_new(dim_z);
    if (!m) {
        if (msg && msg_len) snprintf(msg, msg_len, "flow_realnvp_new: out of memory");
        return NULL;
    }
    flow_coupling_nets_config nets = {.n_hidden = cfg->n_hidden,
                                      .hidden_widths = cfg->hidden_widths,
                                      .s_activation = cfg->s_activation,
                                      .t_activation = cfg->t_activation,
                                      .t_output_random = cfg->t_output_random};
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
            flow_layer *l;
            if (cfg->coupling == FLOW_COUPLING_SPLINE) {
                status = flow_spline_net_init(&s_net, m->params, n_cond, n_trans,
                                              cfg->spline.bins, &nets, msg, msg_len);
                if (status != AD_OK) break;
                flow_spline_config sc = {.dim = dim_z, .split = cfg->split, .mask = cfg->mask,
                                         .flip = flip, .net = &s_net, .spec = cfg->spline};
                l = flow_spline_new(&sc, msg, msg_len);
            } else {
                status = flow_coupling_nets_init(&s_net, &t_net, m->params, n_cond, n_trans,
                                                 &nets, msg, msg_len);
                if (status != AD_OK) break;
                flow_coupling_config cc = {.dim = dim_z, .split = cfg->split, .mask = cfg->mask,
                                           .flip = flip, .s_net = &s_net, .t_net = &t_net,
                                           .log_scale_bound = cfg->log_scale_bound};
                l = flow_coupling_new(&cc, msg, msg_len);
            }
            status = l ? flow_model_append(m, l, msg, msg_len) : AD_ERR_ARG;
        }
    if (status == AD_OK && cfg->whiten) {
        flow_whiten_config wc = {.dim = cfg->dim, .keep = dim_z, .data = cfg->whiten_data,
                                 .n_samples = cfg->whiten_n};
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
