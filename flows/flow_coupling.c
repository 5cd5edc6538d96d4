/* flow_coupling.c - affine (RealNVP) coupling layers. */
#include "flow_coupling.h"

#include <stdio.h>
#include <string.h>

#include "flow_affine.h"

typedef struct flow_coupling {
    flow_layer base;
    flow_split split;        /* owned index arrays                 */
    nn_mlp s_net;            /* views into the model's nn_params   */
    nn_mlp t_net;
    ad_real bound;           /* log-scale bound b, 0: none         */
} flow_coupling;

/* s = S(c), softly clamped to (-b, b) as b tanh(S(c) / b) when b > 0.  With
 * b = 1 (the seed's choice) the tanh is fused into S's output layer. */
static ad_tensor *log_scale(const flow_coupling *c, ad_tape *t, ad_tensor *cond)
{
    const nn_mlp *net = &c->s_net;
    if (c->bound == 1 && net->output_activation == NN_ACT_IDENTITY && net->n_layers >= 1)
        return nn_mlp_forward_act(t, net, cond, NN_ACT_TANH);
    ad_tensor *s = nn_mlp_forward(t, net, cond);
    if (c->bound > 0) {
        if (c->bound == 1)
            return ad_tanh(t, s);
        s = ad_scale(t, ad_tanh(t, ad_scale(t, s, 1 / c->bound)), c->bound);
    }
    return s;
}

/* x_c = z_c, x_2 = z_2 exp(s) + t;  log|det dx/dz| = sum s */
static ad_tensor *coupling_forward(const flow_layer *l, ad_tape *t, ad_tensor *z,
                                   ad_tensor **logdet)
{
    const flow_coupling *c = (const flow_coupling *)l;
    ad_tensor *zc = ad_gather_cols(t, z, c->split.cond, c->split.n_cond);
    ad_tensor *s = log_scale(c, t, zc);
    ad_tensor *shift = nn_mlp_forward(t, &c->t_net, zc);
    ad_tensor *x = flow_affine_couple(t, z, zc, s, shift, &c->split, 0);
    *logdet = ad_sum_axis(t, s, 1);
    return x;
}

/* z_c = x_c, z_2 = (x_2 - t) exp(-s);  log|det dz/dx| = -sum s */
static ad_tensor *coupling_inverse(const flow_layer *l, ad_tape *t, ad_tensor *x,
                                   ad_tensor **logdet)
{
    const flow_coupling *c = (const flow_coupling *)l;
    ad_tensor *xc = ad_gather_cols(t, x, c->split.cond, c->split.n_cond);
    ad_tensor *s = log_scale(c, t, xc);
    ad_tensor *shift = nn_mlp_forward(t, &c->t_net, xc);
    ad_tensor *z = flow_affine_couple(t, x, xc, s, shift, &c->split, 1);
    *logdet = ad_neg(t, ad_sum_axis(t, s, 1));
    return z;
}

static int coupling_parameters(const flow_layer *l, ad_tensor **out, int max_out)
{
    const flow_coupling *c = (const flow_coupling *)l;
    int n = nn_mlp_parameters(&c->s_net, out, max_out);
    int room = max_out > n ? max_out - n : 0;
    return n + nn_mlp_parameters(&c->t_net, out && room ? out + n : NULL, room);
}

static void coupling_free(flow_layer *l)
{
    flow_coupling *c = (flow_coupling *)l;
    flow_split_release(&c->split);
    ad_free(c);
}

static const flow_layer_ops COUPLING_OPS = {"affine-coupling", coupling_forward,
                                            coupling_inverse, coupling_parameters,
                                            coupling_free};

int flow_coupling_channels(int dim, flow_split_kind split, const int *mask, int flip,
                           int *n_cond, int *n_trans)
{
    flow_split s;
    int status = flow_split_init(&s, dim, split, mask, flip, NULL, 0);
    if (status == AD_OK) {
        *n_cond = s.n_cond;
        *n_trans = s.n_trans;
    }
    flow_split_release(&s);
    return status;
}

flow_layer *flow_coupling_new(const flow_coupling_config *cfg, char *msg, size_t msg_len)
{
    if (!cfg || !cfg->s_net || !cfg->t_net || !(cfg->log_scale_bound >= 0)) {
        if (msg && msg_len)
            snprintf(msg, msg_len, "flow_coupling_new: %s", !cfg ? "NULL config"
                     : !(cfg->log_scale_bound >= 0) ? "log_scale_bound must be >= 0"
                     : !cfg->s_net                  ? "s_net is NULL"
                                                    : "t_net is NULL");
        return NULL;
    }
    flow_coupling *c = ad_calloc(1, sizeof *c);
    if (!c) {
        if (msg && msg_len) snprintf(msg, msg_len, "flow_coupling_new: out of memory");
        return NULL;
    }
    if (flow_split_init(&c->split, cfg->dim, cfg->split, cfg->mask, cfg->flip, msg, msg_len) !=
        AD_OK) {
        ad_free(c);
        return NULL;
    }
    const nn_mlp *nets[2] = {cfg->s_net, cfg->t_net};
    for (int k = 0; k < 2; k++)
        if (nn_mlp_n_in(nets[k]) != c->split.n_cond || nn_mlp_n_out(nets[k]) != c->split.n_trans) {
            if (msg && msg_len)
                snprintf(msg, msg_len, "flow_coupling_new: the %s net maps %d -> %d; the split "
                         "needs %d -> %d", k ? "T" : "S", nn_mlp_n_in(nets[k]),
                         nn_mlp_n_out(nets[k]), c->split.n_cond, c->split.n_trans);
            coupling_free(&c->base);
            return NULL;
        }
    c->base.ops = &COUPLING_OPS;
    c->base.dim_z = c->base.dim_x = cfg->dim;
    c->s_net = *cfg->s_net;
    c->t_net = *cfg->t_net;
    c->bound = (ad_real)cfg->log_scale_bound;
    return &c->base;
}

int flow_coupling_nets_init(nn_mlp *s_net, nn_mlp *t_net, nn_params *p, int n_cond, int n_trans,
                            const flow_coupling_nets_config *cfg, char *msg, size_t msg_len)
{
    if (!cfg) {
        if (msg && msg_len) snprintf(msg, msg_len, "flow_coupling_nets_init: cfg is NULL");
        return AD_ERR_ARG;
    }
    if (cfg->n_hidden < 0 || cfg->n_hidden > NN_MLP_MAX_LAYERS - 1) {
        if (msg && msg_len)
            snprintf(msg, msg_len, "flow_coupling_nets_init: n_hidden = %d (need 0 .. %d)",
                     cfg->n_hidden, NN_MLP_MAX_LAYERS - 1);
        return AD_ERR_ARG;
    }
    if (cfg->n_hidden > 0 && !cfg->hidden_widths) {
        if (msg && msg_len)
            snprintf(msg, msg_len, "flow_coupling_nets_init: hidden_widths is NULL");
        return AD_ERR_ARG;
    }
    int widths[NN_MLP_MAX_LAYERS + 1];
    widths[0] = n_cond;
    for (int i = 0; i < cfg->n_hidden; i++) widths[1 + i] = cfg->hidden_widths[i];
    widths[1 + cfg->n_hidden] = n_trans;
    nn_mlp_config sc = {.n_widths = cfg->n_hidden + 2, .widths = widths,
                        .hidden_activation = cfg->s_activation,
                        .output_activation = NN_ACT_IDENTITY, .hidden_init = NN_INIT_AUTO,
                        .output_init = NN_INIT_ZERO};
    nn_mlp_config tc = {.n_widths = cfg->n_hidden + 2, .widths = widths,
                        .hidden_activation = cfg->t_activation,
                        .output_activation = NN_ACT_IDENTITY, .hidden_init = NN_INIT_AUTO,
                        .output_init = cfg->t_output_random ? NN_INIT_GLOROT : NN_INIT_ZERO};
    int status = nn_mlp_init(s_net, p, &sc, msg, msg_len);
    if (status == AD_OK) status = nn_mlp_init(t_net, p, &tc, msg, msg_len);
    return status;
}
