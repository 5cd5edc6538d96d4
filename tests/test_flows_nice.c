/* test_flows_nice.c - a new flow layer in one file: the additive (NICE)
 * coupling, written only against the public interface (flows/flow.h), and
 * the two checks every layer must pass.  docs/flows.md walks through it.
 *
 *   forward:  x_c = z_c,  x_2 = z_2 + m(z_c),   log|det dx/dz| = 0
 *   inverse:  z_c = x_c,  z_2 = x_2 - m(x_c),   log|det dz/dx| = 0
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "autodiff/ad.h"
#include "ck_util.h"
#include "flows/flow.h"
#include "flows/flow_model.h"
#include "flows/flow_split.h"
#include "nn/nn_mlp.h"
#include "test_flows_util.h"

/* ---- the layer ---------------------------------------------------------- */

typedef struct nice_coupling {
    flow_layer base;   /* first member: a nice_coupling is a flow_layer */
    flow_split split;  /* channel 1 (kept) and channel 2 (shifted)      */
    nn_mlp shift;      /* m: n_cond -> n_trans, params in the model     */
} nice_coupling;

static ad_tensor *nice_apply(const flow_layer *l, ad_tape *t, ad_tensor *in, ad_tensor **logdet,
                             int sign)
{
    const nice_coupling *c = (const nice_coupling *)l;
    ad_tensor *kept = ad_gather_cols(t, in, c->split.cond, c->split.n_cond);
    ad_tensor *moved = ad_gather_cols(t, in, c->split.trans, c->split.n_trans);
    ad_tensor *m = nn_mlp_forward(t, &c->shift, kept);
    moved = sign > 0 ? ad_add(t, moved, m) : ad_sub(t, moved, m);
    *logdet = flow_logdet_constant(t, in->shape[0], 0); /* volume-preserving */
    ad_tensor *joined = ad_concat_cols(t, kept, moved);
    return ad_gather_cols(t, joined, c->split.unsplit, c->split.dim);
}

/* x_2 = z_2 + m(z_c) */
static ad_tensor *nice_forward(const flow_layer *l, ad_tape *t, ad_tensor *z, ad_tensor **logdet)
{
    return nice_apply(l, t, z, logdet, +1);
}

/* z_2 = x_2 - m(x_c) */
static ad_tensor *nice_inverse(const flow_layer *l, ad_tape *t, ad_tensor *x, ad_tensor **logdet)
{
    return nice_apply(l, t, x, logdet, -1);
}

static int nice_parameters(const flow_layer *l, ad_tensor **out, int max_out)
{
    return nn_mlp_parameters(&((const nice_coupling *)l)->shift, out, max_out);
}

static void nice_free(flow_layer *l)
{
    nice_coupling *c = (nice_coupling *)l;
    flow_split_release(&c->split);
    ad_free(c);
}

static const flow_layer_ops NICE_OPS = {"additive-coupling", nice_forward, nice_inverse,
                                        nice_parameters, nice_free};

/* Registers the shift net in p (hidden tanh layers of the given widths). */
static flow_layer *nice_new(nn_params *p, int dim, flow_split_kind kind, int flip,
                            int n_hidden, const int *hidden)
{
    nice_coupling *c = ad_calloc(1, sizeof *c);
    if (!c) return NULL;
    if (flow_split_init(&c->split, dim, kind, NULL, flip, NULL, 0) != AD_OK) {
        ad_free(c);
        return NULL;
    }
    int widths[NN_MLP_MAX_LAYERS + 1] = {c->split.n_cond};
    for (int i = 0; i < n_hidden; i++) widths[1 + i] = hidden[i];
    widths[1 + n_hidden] = c->split.n_trans;
    nn_mlp_config cfg = {.n_widths = n_hidden + 2, .widths = widths,
                         .hidden_activation = NN_ACT_TANH, .output_init = NN_INIT_ZERO};
    if (nn_mlp_init(&c->shift, p, &cfg, NULL, 0) != AD_OK) {
        nice_free(&c->base);
        return NULL;
    }
    c->base.ops = &NICE_OPS;
    c->base.dim_z = c->base.dim_x = dim;
    return &c->base;
}

/* ---- its checks ---------------------------------------------------------- */

static flow_model *nice_model(void)
{
    int hidden[2] = {16, 16};
    flow_model *m = flow_model_new(4);
    for (int k = 0; k < 4; k++)
        flow_model_append(m, nice_new(m->params, 4, FLOW_SPLIT_ALTERNATE, k % 2, 2, hidden), NULL,
                          0);
    ck_assert_int_eq(flow_model_finalize(m, 1, NULL, 0), AD_OK);
    fc_randomize_fanin(m->params, 2, 1.0);
    return m;
}

/* Additions are exact to one rounding each and the shift is recomputed
 * bit-identically, so each layer's round trip error is <= 2 eps M; with 4
 * layers and O(1) Lipschitz nets the error stays below 8 L eps M. */
START_TEST(test_nice_round_trip)
{
    flow_model *m = nice_model();
    ad_real *z = fc_normal(32, 4, 1);
    fc_roundtrip r;
    for (int dir = 0; dir < 2; dir++) {
        fc_roundtrip_run(m->flow, z, 32, dir, &r);
        ck_assert_msg(r.max_error <= 8 * 4 * AD_REAL_EPS * fmax(1, r.max_abs), "%g", r.max_error);
        ck_assert(r.max_logdet_sum == 0);
    }
    free(z);
    flow_model_free(m);
}
END_TEST

/* Volume-preserving: log|det J| = 0 to the LU's d eps cond(J). */
START_TEST(test_nice_jacobian)
{
    flow_model *m = nice_model();
    ad_real *z = fc_normal(5, 4, 2);
    double ld[5], lj[5], cond[5];
    fc_jacobian_logdet(m->flow, z, 5, ld, lj, cond);
    for (int b = 0; b < 5; b++) {
        ck_assert(ld[b] == 0);
        ck_assert_close(lj[b], 0, 16 * 4 * AD_REAL_EPS * cond[b], 0, "log|det J|", b);
    }
    ck_assert_int_eq(flow_layer_parameters(m->flow, NULL, 0), 4 * 6);
    free(z);
    flow_model_free(m);
}
END_TEST

Suite *flows_nice_suite(void)
{
    Suite *s = suite_create("flows-nice-example");
    TCase *tc = tcase_create("forward");
    tcase_add_test(tc, test_nice_round_trip);
    tcase_add_test(tc, test_nice_jacobian);
    suite_add_tcase(s, tc);
    return s;
}
