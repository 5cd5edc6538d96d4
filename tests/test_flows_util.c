/* test_flows_util.c - checks shared by the flow test suites. */
#include "test_flows_util.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/ad_alloc.h"
#include "flows/flow_model.h"
#include "flows/flow_prior.h"
#include "nn/nn_optim.h"

void fc_roundtrip_run(const flow_layer *l, const ad_real *in, int batch, int inverse_first,
                      fc_roundtrip *r)
{
    char msg[512];
    int status = flow_check_roundtrip(l, in, batch, inverse_first, r, msg, sizeof msg);
    ck_assert_msg(status == AD_OK, "%s", msg);
}

void fc_jacobian_logdet(const flow_layer *l, const ad_real *z, int batch, double *ld_layer,
                        double *ld_jac, double *cond)
{
    char msg[512];
    ck_assert_int_eq(l->dim_x, l->dim_z);
    int status = flow_check_jacobian_tape(l, z, batch, ld_layer, ld_jac, cond, msg, sizeof msg);
    ck_assert_msg(status == AD_OK, "%s", msg);
}

void fc_randomize(nn_params *p, uint64_t seed, double std)
{
    ad_rng rng;
    ad_rng_seed(&rng, seed, 7);
    for (int i = 0; i < nn_params_count(p); i++) {
        if (nn_params_is_fixed(p, i)) continue;
        ad_tensor *x = nn_params_get(p, i);
        ad_rng_fill_normal(&rng, x->data, x->size, 0, (ad_real)std);
    }
}

void fc_randomize_fanin(nn_params *p, uint64_t seed, double gain)
{
    ad_rng rng;
    ad_rng_seed(&rng, seed, 8);
    for (int i = 0; i < nn_params_count(p); i++) {
        if (nn_params_is_fixed(p, i)) continue;
        ad_tensor *x = nn_params_get(p, i);
        double std = x->n_dims == 2 ? gain / sqrt((double)x->shape[0]) : 0.1 * gain;
        ad_rng_fill_normal(&rng, x->data, x->size, 0, (ad_real)std);
    }
}

ad_real *fc_normal(int n, int dim, uint64_t seed)
{
    ad_rng rng;
    ad_rng_seed(&rng, seed, 3);
    ad_real *z = malloc((size_t)n * dim * sizeof *z);
    ad_rng_fill_normal(&rng, z, (size_t)n * dim, 0, 1);
    return z;
}

ad_tensor *fc_gauss_energy(ad_tape *t, ad_tensor *x, const void *params)
{
    const fc_gauss *g = params;
    double det = g->c[0] * g->c[3] - g->c[1] * g->c[2];
    ad_real p[4] = {g->c[3] / det, -g->c[1] / det, -g->c[2] / det, g->c[0] / det};
    ad_real mu[2] = {g->mu[0], g->mu[1]};
    ad_tensor *d = ad_sub(t, x, ad_constant(t, 1, (int[]){2}, mu));
    ad_tensor *pd = ad_matmul(t, d, ad_constant(t, 2, (int[]){2, 2}, p), 0, 0);
    return ad_scale(t, ad_sum_axis(t, ad_mul(t, d, pd), 1), 0.5);
}

ad_tensor *fc_flow_objective_fn(ad_tape *t, ad_tensor *const *in, int n, void *ctx)
{
    (void)n;
    const fc_flow_objective *c = ctx;
    ad_tensor *ld;
    if (c->inverse) {
        flow_prior prior = {.dim = c->m->dim_z, .kT = 1.0};
        return flow_model_log_prob(c->m, t, &prior, in[1]);
    }
    ad_tensor *x = flow_model_forward(c->m, t, in[1], &ld);
    return ad_add(t, ad_sum_axis(t, ad_square(t, x), 1), ld);
}

void fc_assert_flow_gradcheck(const flow_model *m, ad_tensor *z)
{
    for (int inverse = 0; inverse < 2; inverse++) {
        fc_flow_objective c = {m, inverse};
        ad_tensor *in[2] = {nn_params_flat(m->params), z};
        ad_gradcheck_report rep;
        ck_assert_int_eq(ad_gradcheck(fc_flow_objective_fn, &c, 2, in, NULL, &rep), AD_OK);
        ck_assert_msg(rep.ok, "%s: %s", inverse ? "inverse" : "forward", rep.message);
        ck_assert_uint_eq(rep.n_checked, nn_params_size(m->params) + z->size);
    }
}

/* Four training steps of a 2-D flow (forward, ML-like loss, backward, Adam)
 * on a batch of 64: after the first, no allocation. */
void fc_assert_step_no_malloc(flow_model *m)
{
    char msg[200];
    nn_optim_config oc = {.kind = NN_OPTIM_ADAM, .lr = 1e-3, .clip_norm = 10};
    nn_optim *o = nn_optim_new(m->params, &oc, msg, sizeof msg);
    ck_assert_msg(o != NULL, "%s", msg);
    ad_tape *t = ad_tape_new(0);
    ad_real *x = fc_normal(64, 2, 5);
    flow_prior prior = {.dim = 2, .kT = 1.0};
    long before = 0;
    for (int it = 0; it < 4; it++) {
        if (it == 1) before = ad_alloc_count();
        ad_tape_reset(t);
        ad_tensor *loss = ad_neg(t, ad_mean(t, flow_model_log_prob(m, t, &prior,
                                 ad_constant(t, 2, (int[]){64, 2}, x))));
        nn_params_zero_grad(m->params);
        ck_assert_int_eq(ad_backward(t, loss), AD_OK);
        ck_assert_int_eq(nn_optim_step(o, NULL), AD_OK);
    }
    ck_assert_int_eq(ad_alloc_count(), before);
    free(x);
    ad_tape_free(t);
    nn_optim_free(o);
}
