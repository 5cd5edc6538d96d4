/* flow_spline.c - rational-quadratic spline coupling layers. */
#include "flow_spline.h"

#include <stdio.h>

typedef struct flow_spline {
    flow_layer base;
    flow_split split;       /* owned index arrays                  */
    nn_mlp net;             /* a view into the model's nn_params   */
    flow_spline_spec spec;
} flow_spline;

/* One direction: theta = net(in_c), the spline op on in_2 (its output's
 * last column is the log-det), the channels put back in order. */
static ad_tensor *spline_apply(const flow_layer *l, ad_tape *t, ad_tensor *in,
                               ad_tensor **logdet, int inverse)
{
    const flow_spline *c = (const flow_spline *)l;
    int batch = in->shape[0];
    ad_tensor *kept = ad_gather_cols(t, in, c->split.cond, c->split.n_cond);
    ad_tensor *moved = ad_gather_cols(t, in, c->split.trans, c->split.n_trans);
    ad_tensor *theta = nn_mlp_forward(t, &c->net, kept);
    ad_tensor *out = inverse ? flow_spline_rq_inv(t, moved, theta, &c->spec)
                             : flow_spline_rq(t, moved, theta, &c->spec);
    *logdet = ad_reshape(t, ad_slice_cols(t, out, c->split.n_trans, 1), 1, &batch);
    /* unsplit indexes the first dim columns of [kept | out]: the log-det
     * column is left out */
    return ad_gather_cols(t, ad_concat_cols(t, kept, out), c->split.unsplit, c->split.dim);
}

static ad_tensor *spline_forward(const flow_layer *l, ad_tape *t, ad_tensor *z, ad_tensor **logdet)
{
    return spline_apply(l, t, z, logdet, 0);
}

static ad_tensor *spline_inverse(const flow_layer *l, ad_tape *t, ad_tensor *x, ad_tensor **logdet)
{
    return spline_apply(l, t, x, logdet, 1);
}

static int spline_parameters(const flow_layer *l, ad_tensor **out, int max_out)
{
    return nn_mlp_parameters(&((const flow_spline *)l)->net, out, max_out);
}

static void spline_free(flow_layer *l)
{
    flow_spline *c = (flow_spline *)l;
    flow_split_release(&c->split);
    ad_free(c);
}

static const flow_layer_ops SPLINE_OPS = {"spline-coupling", spline_forward, spline_inverse,
                                          spline_parameters, spline_free};

flow_layer *flow_spline_new(const flow_spline_config *cfg, char *msg, size_t msg_len)
{
    if (!cfg || !cfg->net) {
        ad_status_fail(msg, msg_len, AD_ERR_ARG, "flow_spline_new: %s",
                       cfg ? "net is NULL" : "NULL config");
        return NULL;
    }
    char why[200];
    if (flow_spline_spec_check(&cfg->spec, "spec.", why, sizeof why) != AD_OK) {
        ad_status_fail(msg, msg_len, AD_ERR_ARG, "flow_spline_new: bad config: %s", why);
        return NULL;
    }
    flow_spline *c = ad_calloc(1, sizeof *c);
    if (!c) {
        ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "flow_spline_new: out of memory");
        return NULL;
    }
    if (flow_split_init(&c->split, cfg->dim, cfg->split, cfg->mask, cfg->flip, msg, msg_len) !=
        AD_OK) {
        ad_free(c);
        return NULL;
    }
    int n_out = c->split.n_trans * flow_spline_n_params(cfg->spec.bins);
    if (nn_mlp_n_in(cfg->net) != c->split.n_cond || nn_mlp_n_out(cfg->net) != n_out) {
        ad_status_fail(msg, msg_len, AD_ERR_ARG, "flow_spline_new: the net maps %d -> %d; the "
                       "split and %d bins need %d -> %d", nn_mlp_n_in(cfg->net),
                       nn_mlp_n_out(cfg->net), cfg->spec.bins, c->split.n_cond, n_out);
        spline_free(&c->base);
        return NULL;
    }
    c->base.ops = &SPLINE_OPS;
    c->base.dim_z = c->base.dim_x = cfg->dim;
    c->net = *cfg->net;
    c->spec = cfg->spec;
    return &c->base;
}

int flow_spline_net_init(nn_mlp *net, nn_params *p, int n_cond, int n_trans, int bins,
                         const flow_coupling_nets_config *cfg, char *msg, size_t msg_len)
{
    if (!cfg) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "flow_spline_net_init: cfg is NULL");
    if (bins < 2 || bins > FLOW_SPLINE_MAX_BINS)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "flow_spline_net_init: bins = %d (need "
                              "2 .. %d)", bins, FLOW_SPLINE_MAX_BINS);
    if (cfg->n_hidden < 0 || cfg->n_hidden > NN_MLP_MAX_LAYERS - 1)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "flow_spline_net_init: n_hidden = %d "
                              "(need 0 .. %d)", cfg->n_hidden, NN_MLP_MAX_LAYERS - 1);
    if (cfg->n_hidden > 0 && !cfg->hidden_widths)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG,
                              "flow_spline_net_init: hidden_widths is NULL");
    int widths[NN_MLP_MAX_LAYERS + 1];
    widths[0] = n_cond;
    for (int i = 0; i < cfg->n_hidden; i++) widths[1 + i] = cfg->hidden_widths[i];
    widths[1 + cfg->n_hidden] = n_trans * flow_spline_n_params(bins);
    nn_mlp_config mc = {.n_widths = cfg->n_hidden + 2, .widths = widths,
                        .hidden_activation = cfg->s_activation,
                        .output_activation = NN_ACT_IDENTITY, .hidden_init = NN_INIT_AUTO,
                        .output_init = NN_INIT_ZERO};
    return nn_mlp_init(net, p, &mc, msg, msg_len);
}
