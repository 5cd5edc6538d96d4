/* test_flows.c - flow layers, RealNVP, the prior and whitening.
 *
 * Round-trip tolerance, derived: one affine coupling computes
 * x2 = z2 e^s + t with about 3 roundings relative to M = max|value|, and the
 * inverse recomputes s and t bit-identically (the conditioning channel is
 * copied exactly), subtracts t and multiplies by e^-s <= e^b: the error is
 * below ~6 eps M e^b.  Through L layers each layer's error can be amplified
 * by the inverses of the layers before it; with the small random weights
 * used here (std 0.3, so the nets' Lipschitz constants are O(1) or less) the
 * amplification is bounded by A = prod_k e^{b_k}.  So
 *     |inverse(forward(z)) - z| <= 8 L eps M A.
 * A permutation is exact; whitening amplifies by sqrt(cond(C)).  The
 * log-dets of a layer and its inverse are sums of the same s values in the
 * same order, so they cancel to the rounding of their sum plus the effect of
 * the propagated error on s: tolerance 8 L eps (|logdet| + M A). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/ad.h"
#include "ck_util.h"
#include "flows/flow_coupling.h"
#include "flows/flow_model.h"
#include "flows/flow_permute.h"
#include "flows/flow_prior.h"
#include "flows/flow_realnvp.h"
#include "flows/flow_sequential.h"
#include "flows/flow_whiten.h"
#include "nn/nn.h"
#include "test_flows_util.h"

#define EPS AD_REAL_EPS

/* ------------------------------------------------------------ fixtures */

/* Correlated Gaussian data: x = mu + L e with a fixed lower-triangular L. */
static ad_real *correlated_data(int n, int dim, uint64_t seed)
{
    ad_real *e = fc_normal(n, dim, seed), *x = malloc((size_t)n * dim * sizeof *x);
    for (int i = 0; i < n; i++)
        for (int a = 0; a < dim; a++) {
            double v = 1.0 + 0.5 * a; /* mean */
            for (int b = 0; b <= a; b++) v += (a == b ? 1.0 + a : 0.7 - 0.2 * b) * e[i * dim + b];
            x[i * dim + a] = (ad_real)v;
        }
    free(e);
    return x;
}

typedef struct layer_case {
    const char *name;
    flow_model *m;      /* owns the layer and its params              */
    const flow_layer *layer;
    int n_layers;       /* L in the tolerance                         */
    double amp;         /* A in the tolerance                         */
} layer_case;

/* Build one coupling in a fresh model with random parameters. */
static flow_model *coupling_model(int dim, flow_split_kind split, const int *mask, int flip,
                                  double bound, nn_activation act, int t_random)
{
    char msg[200];
    flow_model *m = flow_model_new(dim);
    int nc, nt;
    ck_assert_int_eq(flow_coupling_channels(dim, split, mask, flip, &nc, &nt), AD_OK);
    nn_mlp s, t;
    int widths[2] = {8, 8};
    flow_coupling_nets_config nets = {.n_hidden = 2, .hidden_widths = widths, .s_activation = act,
                                      .t_activation = act, .t_output_random = t_random};
    ck_assert_int_eq(flow_coupling_nets_init(&s, &t, m->params, nc, nt, &nets, msg, sizeof msg),
                     AD_OK);
    flow_coupling_config cc = {.dim = dim, .split = split, .mask = mask, .flip = flip, .s_net = &s,
                               .t_net = &t, .log_scale_bound = bound};
    flow_layer *l = flow_coupling_new(&cc, msg, sizeof msg);
    ck_assert_msg(l != NULL, "%s", msg);
    ck_assert_int_eq(flow_model_append(m, l, msg, sizeof msg), AD_OK);
    ck_assert_int_eq(flow_model_finalize(m, 1, msg, sizeof msg), AD_OK);
    fc_randomize(m->params, 99, 0.3);
    return m;
}

static flow_model *layer_model(flow_layer *l)
{
    char msg[200];
    ck_assert_ptr_nonnull(l);
    flow_model *m = flow_model_new(l->dim_z);
    ck_assert_int_eq(flow_model_append(m, l, msg, sizeof msg), AD_OK);
    ck_assert_int_eq(flow_model_finalize(m, 1, msg, sizeof msg), AD_OK);
    return m;
}

static const int MASK4[4] = {1, 1, 0, 1};
static const int WIDTHS8[2] = {8, 8};

enum { N_CASES = 10 };

static void make_case(int i, layer_case *c)
{
    char msg[200];
    memset(c, 0, sizeof *c);
    c->n_layers = 1;
    c->amp = 1;
    ad_rng rng;
    ad_rng_seed(&rng, 5, 0);
    switch (i) {
    case 0:
        c->name = "coupling alternate, tanh bound 1";
        c->m = coupling_model(4, FLOW_SPLIT_ALTERNATE, NULL, 0, 1, NN_ACT_RELU, 1);
        c->amp = exp(1);
        break;
    case 1:
        c->name = "coupling half, odd dim, flipped, bound 2.5";
        c->m = coupling_model(5, FLOW_SPLIT_HALF, NULL, 1, 2.5, NN_ACT_TANH, 1);
        c->amp = exp(2.5);
        break;
    case 2:
        /* One transformed coordinate, so |s| = |logdet| bounds the scale of
         * the unbounded layer; amp is set from the measured log-det below. */
        c->name = "coupling mask, unbounded";
        c->m = coupling_model(4, FLOW_SPLIT_MASK, MASK4, 0, 0, NN_ACT_TANH, 1);
        c->amp = -1;
        break;
    case 3:
        c->name = "permutation, random";
        c->m = layer_model(flow_permute_random_new(5, &rng, msg, sizeof msg));
        break;
    case 4:
        c->name = "permutation, swap half (odd dim)";
        c->m = layer_model(flow_permute_swap_new(5, FLOW_SPLIT_HALF, NULL, msg, sizeof msg));
        break;
    case 5:
        c->name = "permutation, swap alternate";
        c->m = layer_model(flow_permute_swap_new(4, FLOW_SPLIT_ALTERNATE, NULL, msg, sizeof msg));
        break;
    case 6: {
        c->name = "whitening";
        ad_real *x = correlated_data(2000, 4, 3);
        flow_model *m = flow_model_new(4);
        flow_whiten_config wc = {.dim = 4, .keep = 0, .data = x, .n_samples = 2000};
        flow_layer *w = flow_whiten_new(m->params, &wc, msg, sizeof msg);
        ck_assert_msg(w != NULL, "%s", msg);
        ck_assert_int_eq(flow_model_append(m, w, msg, sizeof msg), AD_OK);
        ck_assert_int_eq(flow_model_finalize(m, 1, msg, sizeof msg), AD_OK);
        const ad_tensor *sl = nn_params_get(m->params, 2);
        c->amp = sl->data[0] / sl->data[3]; /* sqrt(cond C) */
        c->m = m;
        free(x);
        break;
    }
    case 7: {
        c->name = "RealNVP 2 blocks, dim 4";
        flow_realnvp_config rc = {.dim = 4, .n_blocks = 2, .n_hidden = 2, .hidden_widths = WIDTHS8,
                                  .s_activation = NN_ACT_TANH, .t_activation = NN_ACT_RELU,
                                  .log_scale_bound = 1, .t_output_random = 1,
                                  .split = FLOW_SPLIT_ALTERNATE, .seed = 7};
        c->m = flow_realnvp_new(&rc, msg, sizeof msg);
        ck_assert_msg(c->m != NULL, "%s", msg);
        fc_randomize(c->m->params, 8, 0.3);
        c->n_layers = 4;
        c->amp = exp(4);
        break;
    }
    case 8: {
        c->name = "RealNVP 2 blocks, dim 5, half split, whitening";
        ad_real *x = correlated_data(2000, 5, 4);
        flow_realnvp_config rc = {.dim = 5, .n_blocks = 2, .n_hidden = 2, .hidden_widths = WIDTHS8,
                                  .s_activation = NN_ACT_TANH, .t_activation = NN_ACT_TANH,
                                  .log_scale_bound = 1, .t_output_random = 1,
                                  .split = FLOW_SPLIT_HALF, .whiten = 1, .whiten_data = x,
                                  .whiten_n = 2000, .seed = 7};
        c->m = flow_realnvp_new(&rc, msg, sizeof msg);
        ck_assert_msg(c->m != NULL, "%s", msg);
        fc_randomize(c->m->params, 9, 0.3);
        c->n_layers = 5;
        const ad_tensor *sl = nn_params_get(c->m->params, nn_params_count(c->m->params) - 1);
        c->amp = exp(4) * sl->data[0] / sl->data[4];
        free(x);
        break;
    }
    case 9: {
        c->name = "sequential: coupling, permutation, coupling";
        flow_model *m = flow_model_new(3);
        for (int k = 0; k < 2; k++) {
            nn_mlp s, t;
            flow_coupling_nets_config nets = {.n_hidden = 2, .hidden_widths = WIDTHS8,
                                              .s_activation = NN_ACT_TANH,
                                              .t_activation = NN_ACT_TANH, .t_output_random = 1};
            ck_assert_int_eq(
                flow_coupling_nets_init(&s, &t, m->params, 2, 1, &nets, msg, sizeof msg), AD_OK);
            flow_coupling_config cc = {.dim = 3, .split = FLOW_SPLIT_ALTERNATE, .s_net = &s,
                                       .t_net = &t, .log_scale_bound = 1.5};
            flow_model_append(m, flow_coupling_new(&cc, msg, sizeof msg), msg, sizeof msg);
            if (k == 0)
                flow_model_append(m, flow_permute_random_new(3, &rng, msg, sizeof msg), msg,
                                  sizeof msg);
        }
        ck_assert_int_eq(flow_sequential_length(m->flow), 3);
        ck_assert_int_eq(flow_model_finalize(m, 1, msg, sizeof msg), AD_OK);
        fc_randomize(m->params, 10, 0.3);
        c->m = m;
        c->n_layers = 3;
        c->amp = exp(3);
        break;
    }
    }
    c->layer = flow_sequential_length(c->m->flow) == 1 ? flow_sequential_get(c->m->flow, 0)
                                                       : c->m->flow;
}

/* ------------------------------------------------------------ forward */

START_TEST(test_round_trip)
{
    layer_case c;
    make_case(_i, &c);
    int batch = 16;
    ad_real *z = fc_normal(batch, c.layer->dim_z, 100 + (uint64_t)_i);
    ad_real *x = fc_normal(batch, c.layer->dim_x, 200 + (uint64_t)_i);
    for (int k = 0; k < batch * c.layer->dim_x; k++) x[k] *= 2;
    fc_roundtrip rz, rx;
    fc_roundtrip_run(c.layer, z, batch, 0, &rz);
    fc_roundtrip_run(c.layer, x, batch, 1, &rx);
    for (int dir = 0; dir < 2; dir++) {
        fc_roundtrip *r = dir ? &rx : &rz;
        double amp = c.amp > 0 ? c.amp : exp(r->max_abs_logdet);
        double tol = 8 * c.n_layers * EPS * fmax(1, r->max_abs) * amp;
        double tol_ld = 8 * c.n_layers * EPS * (r->max_abs_logdet + fmax(1, r->max_abs) * amp);
        ck_assert_msg(r->max_error <= tol, "%s, %s: round-trip error %.3g > tol %.3g", c.name,
                      dir ? "forward(inverse(x))" : "inverse(forward(z))", r->max_error, tol);
        ck_assert_msg(r->max_logdet_sum <= tol_ld, "%s: log-dets sum to %.3g > tol %.3g", c.name,
                      r->max_logdet_sum, tol_ld);
    }
    if (getenv("BG_TEST_REPORT"))
        fprintf(stderr, "round trip %-48s z: %.2e  x: %.2e  logdet sum: %.2e\n", c.name,
                rz.max_error, rx.max_error, fmax(rz.max_logdet_sum, rx.max_logdet_sum));
    free(z);
    free(x);
    flow_model_free(c.m);
}
END_TEST

/* log-det = log|det J| with J built row by row on the tape.  LU with
 * partial pivoting is backward stable: the computed det is that of J + E,
 * |E| <~ d eps |J|, which moves log|det| by <~ d eps cond(J); the tape's J
 * and the layer's sum carry errors of L eps per factor.  Tolerance:
 * 16 d L eps (cond_1(J) + |logdet|). */
START_TEST(test_logdet_jacobian)
{
    layer_case c;
    make_case(_i, &c);
    int batch = 6, d = c.layer->dim_z;
    ad_real *z = fc_normal(batch, d, 300 + (uint64_t)_i);
    double ld[6], lj[6], cond[6];
    fc_jacobian_logdet(c.layer, z, batch, ld, lj, cond);
    double worst = 0, worst_ratio = 0;
    for (int b = 0; b < batch; b++) {
        double tol = 16.0 * d * c.n_layers * EPS * (cond[b] + fabs(ld[b]));
        worst = fmax(worst, fabs(ld[b] - lj[b]));
        worst_ratio = fmax(worst_ratio, fabs(ld[b] - lj[b]) / tol);
        ck_assert_msg(fabs(ld[b] - lj[b]) <= tol, "%s, row %d: logdet %.17g, log|det J| %.17g "
                      "(diff %.3g > tol %.3g)", c.name, b, ld[b], lj[b], fabs(ld[b] - lj[b]), tol);
    }
    if (getenv("BG_TEST_REPORT"))
        fprintf(stderr, "jacobian   %-48s |logdet - log|det J|| max %.2e (%.2f of tol)\n", c.name,
                worst, worst_ratio);
    free(z);
    flow_model_free(c.m);
}
END_TEST

/* A fresh RealNVP (zero output layers of S and T) is exactly the identity. */
START_TEST(test_fresh_flow_is_identity)
{
    char msg[200];
    for (int preset = 0; preset < 3; preset++) {
        flow_realnvp_config rc = flow_realnvp_preset_config((flow_realnvp_preset)preset);
        flow_model *m = flow_realnvp_new(&rc, msg, sizeof msg);
        ck_assert_msg(m != NULL, "%s", msg);
        int couplings = flow_sequential_length(m->flow);
        ck_assert_int_eq(couplings, 2 * rc.n_blocks);
        ad_tape *t = ad_tape_new(0);
        ad_real *z = fc_normal(8, rc.dim, 1);
        ad_tensor *ld, *x = flow_model_forward(m, t, ad_constant(t, 2, (int[]){8, rc.dim}, z), &ld);
        ck_assert(ad_tape_ok(t));
        for (size_t k = 0; k < x->size; k++) ck_assert(x->data[k] == z[k]);
        for (int b = 0; b < 8; b++) ck_assert(ld->data[b] == 0);
        free(z);
        ad_tape_free(t);
        flow_model_free(m);
    }
}
END_TEST

/* The seed's architectures, with random weights: exact round trips. */
START_TEST(test_presets_round_trip)
{
    char msg[200];
    for (int preset = 0; preset < 3; preset++) {
        flow_realnvp_config rc = flow_realnvp_preset_config((flow_realnvp_preset)preset);
        flow_model *m = flow_realnvp_new(&rc, msg, sizeof msg);
        ck_assert_msg(m != NULL, "%s", msg);
        /* Random weights scaled by fan-in: O(1) nets, a flow well away
         * from the identity. */
        fc_randomize_fanin(m->params, 4, 0.5);
        int batch = 32, L = 2 * rc.n_blocks;
        ad_real *z = fc_normal(batch, rc.dim, 2);
        fc_roundtrip r;
        fc_roundtrip_run(m->flow, z, batch, 0, &r);
        double amp = exp(L * rc.log_scale_bound);
        double tol = 8 * L * EPS * fmax(1, r.max_abs) * amp;
        double tol_ld = 8 * L * EPS * (r.max_abs_logdet + fmax(1, r.max_abs) * amp);
        ck_assert_msg(r.max_error <= tol, "preset %d: error %.3g > %.3g", preset, r.max_error, tol);
        ck_assert_msg(r.max_logdet_sum <= tol_ld, "preset %d: log-dets sum to %.3g > %.3g", preset,
                      r.max_logdet_sum, tol_ld);
        ck_assert(r.max_abs_logdet > 0.1); /* not the identity */
        if (getenv("BG_TEST_REPORT"))
            fprintf(stderr, "preset %d (dim %d, %d couplings): round trip %.2e, logdet sum %.2e, "
                    "max |logdet| %.2f, %zu parameters\n", preset, rc.dim, L, r.max_error,
                    r.max_logdet_sum, r.max_abs_logdet, nn_params_size(m->params));
        free(z);
        flow_model_free(m);
    }
}
END_TEST

/* Sampling with grad disabled records nothing, whatever requires grad. */
START_TEST(test_no_grad_records_nothing)
{
    layer_case c;
    make_case(8, &c);
    ad_tape *t = ad_tape_new(0);
    ad_real *z = fc_normal(4, 5, 1);
    ad_tape_set_grad_enabled(t, 0);
    ad_tensor *ld;
    flow_model_forward(c.m, t, ad_tape_input(t, 2, (int[]){4, 5}, z), &ld);
    ck_assert(ad_tape_ok(t));
    ck_assert_int_eq(ad_tape_n_nodes(t), 0);
    ad_tape_reset(t);
    ad_tape_set_grad_enabled(t, 1);
    flow_model_forward(c.m, t, ad_constant(t, 2, (int[]){4, 5}, z), &ld);
    ck_assert_int_gt(ad_tape_n_nodes(t), 0);
    free(z);
    ad_tape_free(t);
    flow_model_free(c.m);
}
END_TEST

START_TEST(test_prior_log_prob)
{
    flow_prior p = {.dim = 3, .kT = 2.0};
    ad_tape *t = ad_tape_new(0);
    ad_real zv[6] = {0, 0, 0, 1, -2, 0.5};
    ad_tensor *lp = flow_prior_log_prob(t, &p, ad_constant(t, 2, (int[]){2, 3}, zv));
    ad_tensor *e = flow_prior_energy(t, &p, ad_constant(t, 2, (int[]){2, 3}, zv));
    ck_assert(ad_tape_ok(t));
    double c = -1.5 * log(2 * 3.14159265358979323846 * 2.0);
    ck_assert_close(lp->data[0], c, 0, 4 * EPS, "log_prob", 0);
    ck_assert_close(lp->data[1], c - 5.25 / 4.0, 0, 4 * EPS, "log_prob", 1);
    ck_assert_close(e->data[1], 5.25 / 4.0, 0, 4 * EPS, "energy", 1);
    ad_tape_free(t);
}
END_TEST

/* Checkpoint a whitened RealNVP and load it into a model built without the
 * data (placeholder whitening) and another seed: identical outputs. */
START_TEST(test_model_checkpoint)
{
    char msg[256], path[600];
    snprintf(path, sizeof path, "%s/realnvp.ckpt", ck_tmpdir("flows-ckpt"));
    ad_real *x = correlated_data(500, 4, 6);
    flow_realnvp_config rc = {.dim = 4, .n_blocks = 2, .n_hidden = 1, .hidden_widths = WIDTHS8,
                              .s_activation = NN_ACT_RELU, .t_activation = NN_ACT_RELU,
                              .log_scale_bound = 1, .split = FLOW_SPLIT_ALTERNATE, .whiten = 1,
                              .whiten_data = x, .whiten_n = 500, .seed = 1};
    flow_model *a = flow_realnvp_new(&rc, msg, sizeof msg);
    ck_assert_msg(a != NULL, "%s", msg);
    fc_randomize(a->params, 3, 0.3);
    ck_assert_int_eq(nn_checkpoint_save(a->params, path, msg, sizeof msg), AD_OK);
    rc.whiten_data = NULL;
    rc.seed = 2;
    flow_model *b = flow_realnvp_new(&rc, msg, sizeof msg);
    ck_assert_msg(b != NULL, "%s", msg);
    ck_assert_int_eq(nn_checkpoint_load(b->params, path, msg, sizeof msg), AD_OK);
    ad_tape *t = ad_tape_new(0);
    ad_real *z = fc_normal(8, 4, 3);
    ad_tensor *lda, *ldb;
    ad_tensor *xa = flow_model_forward(a, t, ad_constant(t, 2, (int[]){8, 4}, z), &lda);
    ad_tensor *xb = flow_model_forward(b, t, ad_constant(t, 2, (int[]){8, 4}, z), &ldb);
    ck_assert(ad_tape_ok(t));
    ck_assert(memcmp(xa->data, xb->data, xa->size * sizeof(ad_real)) == 0);
    ck_assert(memcmp(lda->data, ldb->data, 8 * sizeof(ad_real)) == 0);
    free(z);
    free(x);
    ad_tape_free(t);
    flow_model_free(a);
    flow_model_free(b);
}
END_TEST

/* ------------------------------------------------------------ whitening */

/* In-sample: whitening the fitting data gives mean 0 and covariance I up to
 * rounding.  The covariance is accumulated over n terms (error <= n eps
 * |C|) and the map scales errors by up to cond(C); Jacobi stops at
 * off-diagonal mass 1e-17 |C|.  Tolerance 10 n eps cond(C). */
START_TEST(test_whiten_unit_covariance)
{
    char msg[200];
    int n = 4000, d = 4;
    ad_real *x = correlated_data(n, d, 11);
    nn_params *p = nn_params_new();
    flow_whiten_config wc = {.dim = d, .keep = 0, .data = x, .n_samples = n};
    flow_layer *w = flow_whiten_new(p, &wc, msg, sizeof msg);
    ck_assert_msg(w != NULL, "%s", msg);
    ck_assert_int_eq(nn_params_finalize(p, NULL, msg, sizeof msg), AD_OK);
    const ad_tensor *sl = nn_params_get(p, 2);
    double cond = (sl->data[0] / sl->data[d - 1]) * (sl->data[0] / sl->data[d - 1]);
    ad_tape *t = ad_tape_new(0);
    ad_tensor *ld, *z = flow_layer_inverse(w, t, ad_constant(t, 2, (int[]){n, d}, x), &ld);
    ck_assert(ad_tape_ok(t));
    double mean[4] = {0}, cov[16] = {0};
    for (int i = 0; i < n; i++)
        for (int a = 0; a < d; a++) mean[a] += z->data[i * d + a] / n;
    for (int i = 0; i < n; i++)
        for (int a = 0; a < d; a++)
            for (int b = 0; b < d; b++)
                cov[a * d + b] += z->data[i * d + a] * z->data[i * d + b] / (n - 1);
    double tol = 10.0 * n * EPS * cond;
    for (int a = 0; a < d; a++) {
        ck_assert_close(mean[a], 0, tol, 0, "mean", a);
        for (int b = 0; b < d; b++)
            ck_assert_close(cov[a * d + b], a == b, tol, 0, "cov", a * d + b);
    }
    /* Its log-det is -1/2 log det C of the sample covariance. */
    double c[16] = {0}, mu[4] = {0};
    for (int i = 0; i < n; i++)
        for (int a = 0; a < d; a++) mu[a] += x[i * d + a] / n;
    for (int i = 0; i < n; i++)
        for (int a = 0; a < d; a++)
            for (int b = 0; b < d; b++)
                c[a * d + b] += (x[i * d + a] - mu[a]) * (x[i * d + b] - mu[b]) / (n - 1);
    double cc, logdet_c = fc_logabsdet(c, d, &cc);
    ck_assert_close(ld->data[0], -0.5 * logdet_c, tol, 0, "logdet", 0);

    /* Out of sample: fresh data from the same law.  The whitened covariance
     * deviates from I by the fit's sampling error plus the fresh sample's:
     * standard errors sqrt(2/n + 2/m) on the diagonal, sqrt(1/n + 1/m) off
     * it.  Allowed: 5 standard errors. */
    int m = 20000;
    ad_real *y = correlated_data(m, d, 12);
    ad_tape_reset(t);
    z = flow_layer_inverse(w, t, ad_constant(t, 2, (int[]){m, d}, y), &ld);
    memset(cov, 0, sizeof cov);
    for (int i = 0; i < m; i++)
        for (int a = 0; a < d; a++)
            for (int b = 0; b < d; b++)
                cov[a * d + b] += z->data[i * d + a] * z->data[i * d + b] / m;
    for (int a = 0; a < d; a++)
        for (int b = 0; b < d; b++) {
            double se = a == b ? sqrt(2.0 / n + 2.0 / m) : sqrt(1.0 / n + 1.0 / m);
            ck_assert_close(cov[a * d + b], a == b, 5 * se, 0, "fresh cov", a * d + b);
        }
    free(x);
    free(y);
    ad_tape_free(t);
    flow_layer_free(w);
    nn_params_free(p);
}
END_TEST

/* Data on a plane (x3 = x1 + x2): the full whitening is refused; keeping
 * two components works and maps the data exactly back and forth. */
START_TEST(test_whiten_singular_and_truncated)
{
    char msg[256];
    int n = 300;
    ad_real *e = fc_normal(n, 3, 13);
    for (int i = 0; i < n; i++) e[i * 3 + 2] = e[i * 3] + 2 * e[i * 3 + 1];
    nn_params *p = nn_params_new();
    flow_whiten_config wc = {.dim = 3, .keep = 0, .data = e, .n_samples = n};
    ck_assert_ptr_null(flow_whiten_new(p, &wc, msg, sizeof msg));
    ck_assert_msg(strstr(msg, "not positive") && strstr(msg, "keep at most 2"), "%s", msg);
    ad_real mean[3], vec[9], sl[3];
    ck_assert_int_eq(flow_whiten_fit(e, n, 3, 0, mean, vec, sl, msg, sizeof msg), AD_ERR_NUMERIC);
    wc.keep = 2;
    flow_layer *w = flow_whiten_new(p, &wc, msg, sizeof msg);
    ck_assert_msg(w != NULL, "%s", msg);
    ck_assert_int_eq(w->dim_z, 2);
    ck_assert_int_eq(w->dim_x, 3);
    ck_assert_int_eq(nn_params_finalize(p, NULL, msg, sizeof msg), AD_OK);
    fc_roundtrip r;
    ad_real *z = fc_normal(20, 2, 14);
    fc_roundtrip_run(w, z, 20, 0, &r);
    double amp = nn_params_get(p, 2)->data[0] / nn_params_get(p, 2)->data[1];
    ck_assert_msg(r.max_error <= 8 * EPS * fmax(1, r.max_abs) * amp, "%g", r.max_error);
    fc_roundtrip_run(w, e, 20, 1, &r); /* data rows lie in the kept subspace */
    ck_assert_msg(r.max_error <= 8 * EPS * fmax(1, r.max_abs) * amp, "%g", r.max_error);
    free(z);
    free(e);
    flow_layer_free(w);
    nn_params_free(p);
}
END_TEST

/* The Jacobi solver on A = Q diag(5, 2, 0.5) Q^T with Q a rotation:
 * eigenvalues to a few eps |A|, vectors orthonormal and A V = V diag(w). */
START_TEST(test_eigh)
{
    double th = 0.7, ph = -0.4;
    double q[9] = {cos(th), -sin(th), 0, sin(th), cos(th), 0, 0, 0, 1};
    double r[9] = {1, 0, 0, 0, cos(ph), -sin(ph), 0, sin(ph), cos(ph)};
    double qr[9] = {0}, lam[3] = {5, 2, 0.5};
    ad_real a[9] = {0}, a0[9], w[3], v[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 3; k++) qr[i * 3 + j] += q[i * 3 + k] * r[k * 3 + j];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 3; k++) a[i * 3 + j] += qr[i * 3 + k] * lam[k] * qr[j * 3 + k];
    memcpy(a0, a, sizeof a);
    ck_assert_int_eq(flow_eigh(a, 3, w, v), AD_OK);
    for (int k = 0; k < 3; k++) ck_assert_close(w[k], lam[k], 16 * EPS * 5, 0, "eigenvalue", k);
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 3; k++) {
            double av = 0;
            for (int j = 0; j < 3; j++) av += a0[i * 3 + j] * v[j * 3 + k];
            ck_assert_close(av, w[k] * v[i * 3 + k], 16 * EPS * 5, 0, "A v", i * 3 + k);
        }
}
END_TEST

/* ------------------------------------------------------------ statistics */

/* Prior samples at temperature kT: per-coordinate mean 0 (standard error
 * sqrt(kT/N)) and variance kT (standard error kT sqrt(2/N)); 5 SE. */
START_TEST(test_prior_sampling)
{
    flow_prior p = {.dim = 3, .kT = 2.5};
    int n = 40000;
    ad_real *z = malloc((size_t)n * 3 * sizeof *z);
    ad_rng rng;
    ad_rng_seed(&rng, 17, 0);
    ck_assert_int_eq(flow_prior_sample(&p, &rng, z, n), AD_OK);
    for (int a = 0; a < 3; a++) {
        double m = 0, v = 0;
        for (int i = 0; i < n; i++) m += z[i * 3 + a] / n;
        for (int i = 0; i < n; i++) v += z[i * 3 + a] * z[i * 3 + a] / n;
        ck_assert_close(m, 0, 5 * sqrt(p.kT / n), 0, "mean", a);
        ck_assert_close(v, p.kT, 5 * p.kT * sqrt(2.0 / n), 0, "variance", a);
    }
    free(z);
}
END_TEST

/* ------------------------------------------------------------ gradcheck */

/* Gradients with respect to every parameter and the input, through a
 * RealNVP with tanh hidden units (smooth) and the tanh-bounded log-scale. */
START_TEST(test_realnvp_gradcheck)
{
    char msg[200];
    int widths[1] = {6};
    flow_realnvp_config rc = {.dim = 3, .n_blocks = 2, .n_hidden = 1, .hidden_widths = widths,
                              .s_activation = NN_ACT_TANH, .t_activation = NN_ACT_TANH,
                              .log_scale_bound = 1, .t_output_random = 1,
                              .split = FLOW_SPLIT_ALTERNATE, .seed = 3};
    flow_model *m = flow_realnvp_new(&rc, msg, sizeof msg);
    ck_assert_msg(m != NULL, "%s", msg);
    fc_randomize(m->params, 5, 0.4);
    ad_tensor *z = ad_tensor_new(2, (int[]){3, 3});
    ad_rng rng;
    ad_rng_seed(&rng, 4, 0);
    ad_rng_fill_normal(&rng, z->data, z->size, 0, 1);
    fc_assert_flow_gradcheck(m, z);
    ad_tensor_free(z);
    flow_model_free(m);
}
END_TEST

/* ------------------------------------------------------------ errors */

START_TEST(test_errors)
{
    char msg[256];
    layer_case c;
    make_case(7, &c);
    ad_tape *t = ad_tape_new(0);
    ad_tensor *ld;
    ad_tensor *x = flow_model_forward(c.m, t, ad_zeros(t, 2, (int[]){5, 3}), &ld);
    ck_assert(!x->valid && !ld->valid);
    ck_assert_str_eq(ad_tape_error(t), "flow_layer_forward: bad argument #3 (shape [5,3], "
                     "expected [*,4] for layer sequential)");
    ad_tape_reset(t);
    flow_prior prior = {.dim = 4, .kT = 0};
    flow_prior_log_prob(t, &prior, ad_zeros(t, 2, (int[]){5, 4}));
    ck_assert_ptr_nonnull(strstr(ad_tape_error(t), "kT > 0"));
    ad_tape_free(t);
    flow_model_free(c.m);

    flow_realnvp_config rc = flow_realnvp_preset_config(FLOW_REALNVP_DOUBLE_WELL);
    rc.dim = 1;
    ck_assert_ptr_null(flow_realnvp_new(&rc, msg, sizeof msg));
    ck_assert_ptr_nonnull(strstr(msg, "bad config"));
    rc = flow_realnvp_preset_config(FLOW_REALNVP_DOUBLE_WELL);
    int all[2] = {1, 1};
    rc.split = FLOW_SPLIT_MASK;
    rc.mask = all;
    ck_assert_ptr_null(flow_realnvp_new(&rc, msg, sizeof msg));
    ck_assert_str_eq(msg, "flow_split_init: the mask leaves a channel empty");

    int bad_perm[3] = {0, 2, 2};
    ck_assert_ptr_null(flow_permute_new(3, bad_perm, msg, sizeof msg));
    ck_assert_ptr_nonnull(strstr(msg, "perm[2] = 2"));

    /* Nets that do not match the split. */
    nn_params *p = nn_params_new();
    nn_mlp s, tn;
    flow_coupling_nets_config nets = {.n_hidden = 1, .hidden_widths = WIDTHS8,
                                      .s_activation = NN_ACT_RELU, .t_activation = NN_ACT_RELU};
    ck_assert_int_eq(flow_coupling_nets_init(&s, &tn, p, 2, 2, &nets, msg, sizeof msg), AD_OK);
    flow_coupling_config cc = {.dim = 5, .split = FLOW_SPLIT_HALF, .s_net = &s, .t_net = &tn,
                               .log_scale_bound = 1};
    ck_assert_ptr_null(flow_coupling_new(&cc, msg, sizeof msg));
    ck_assert_str_eq(msg, "flow_coupling_new: the S net maps 2 -> 2; the split needs 2 -> 3");
    nn_params_free(p);

    /* A layer of the wrong width cannot be appended (and is freed). */
    flow_layer *seq = flow_sequential_new(4);
    ck_assert_int_eq(flow_sequential_append(seq, flow_permute_swap_new(3, FLOW_SPLIT_HALF, NULL,
                     NULL, 0), msg, sizeof msg), AD_ERR_SHAPE);
    ck_assert_str_eq(msg, "flow_sequential_append: layer permutation takes width 3, the sequence "
                     "ends at width 4");
    flow_layer_free(seq);

    /* A model used before finalize. */
    flow_model *m = flow_model_new(2);
    t = ad_tape_new(0);
    flow_model_inverse(m, t, ad_zeros(t, 2, (int[]){1, 2}), &ld);
    ck_assert_str_eq(ad_tape_error(t), "flow_model_inverse: model not finalized");
    ad_tape_free(t);
    flow_model_free(m);
}
END_TEST

/* ------------------------------------------------------------ memory */

/* Building a whitened RealNVP with every allocation failing in turn: NULL
 * and a message, no crash, no leak (ASan); then success. */
START_TEST(test_builder_alloc_failures)
{
    char msg[256];
    ad_real *x = correlated_data(50, 4, 1);
    flow_realnvp_config rc = {.dim = 4, .n_blocks = 2, .n_hidden = 2, .hidden_widths = WIDTHS8,
                              .s_activation = NN_ACT_TANH, .t_activation = NN_ACT_RELU,
                              .log_scale_bound = 1, .split = FLOW_SPLIT_HALF, .whiten = 1,
                              .whiten_data = x, .whiten_n = 50, .seed = 1};
    flow_model *m = NULL;
    long n;
    for (n = 0; n < 2000 && !m; n++) {
        msg[0] = 0;
        ad_alloc_fail_after(n);
        m = flow_realnvp_new(&rc, msg, sizeof msg);
        ad_alloc_fail_after(-1);
        if (!m) ck_assert_msg(strstr(msg, "out of memory") != NULL, "n = %ld: %s", n, msg);
    }
    ck_assert_ptr_nonnull(m);
    ck_assert_int_gt(n, 10);
    flow_model_free(m);
    free(x);
}
END_TEST

/* A training step (forward, ML-like loss, backward, Adam) mallocs nothing
 * after the first iteration. */
START_TEST(test_training_step_no_malloc)
{
    char msg[200];
    flow_realnvp_config rc = flow_realnvp_preset_config(FLOW_REALNVP_DOUBLE_WELL);
    flow_model *m = flow_realnvp_new(&rc, msg, sizeof msg);
    fc_assert_step_no_malloc(m);
    flow_model_free(m);
}
END_TEST

/* flow_realnvp_config_default is the generator's documented architecture;
 * every invalid field is named. */
START_TEST(test_realnvp_config_default_and_fields)
{
    flow_realnvp_config d = flow_realnvp_config_default(4);
    ck_assert_int_eq(d.dim, 4);
    ck_assert_int_eq(d.n_blocks, 3);
    ck_assert_int_eq(d.n_hidden, 2);
    ck_assert_int_eq(d.hidden_widths[0], 100);
    ck_assert_int_eq(d.hidden_widths[1], 100);
    ck_assert_int_eq(d.s_activation, NN_ACT_RELU);
    ck_assert_int_eq(d.t_activation, NN_ACT_RELU);
    ck_assert(d.log_scale_bound == 1);
    ck_assert_int_eq(d.t_output_random, 0);
    ck_assert_int_eq(d.split, FLOW_SPLIT_ALTERNATE);
    ck_assert_int_eq(d.whiten, 0);
    ck_assert_uint_eq(d.seed, 1);
    /* the double-well preset is the same architecture in 2-D (seed 0) */
    flow_realnvp_config pr = flow_realnvp_preset_config(FLOW_REALNVP_DOUBLE_WELL);
    flow_realnvp_config d2 = flow_realnvp_config_default(2);
    d2.seed = 0;
    ck_assert_int_eq(memcmp(&pr, &d2, sizeof pr), 0);
    char msg[300];
    flow_model *m = flow_realnvp_new(&d, msg, sizeof msg);
    ck_assert_msg(m != NULL, "%s", msg);
    /* 6 couplings, each an S and a T net 2 -> 100 -> 100 -> 2 */
    ck_assert_int_eq(m->dim_x, 4);
    ck_assert_int_eq(nn_params_size(m->params),
                     6 * 2 * (2 * 100 + 100 + 100 * 100 + 100 + 100 * 2 + 2));
    flow_model_free(m);

    int zero_width[2] = {100, 0};
    static const struct {
        int field;
        const char *expect;
    } cases[] = {
        {0, "flow_realnvp_new: bad config: dim = 1 (need >= 2)"},
        {1, "flow_realnvp_new: bad config: n_blocks = 0 (need >= 1)"},
        {2, "flow_realnvp_new: bad config: n_hidden = -1 (need 0 .. 15)"},
        {3, "flow_realnvp_new: bad config: hidden_widths is NULL (need 2 widths)"},
        {4, "flow_realnvp_new: bad config: hidden_widths[1] = 0 (need >= 1)"},
        {5, "flow_realnvp_new: bad config: log_scale_bound = -1 (need finite, >= 0)"},
        {6, "flow_realnvp_new: bad config: t_output_random = 2 (need 0 or 1)"},
        {7, "flow_realnvp_new: bad config: whiten = -1 (need 0 or 1)"},
        {8, "flow_realnvp_new: bad config: whiten_keep = 1 (need 0 or 2 .. dim = 4)"},
        {9, "flow_realnvp_new: bad config: whiten_n = 1 (need >= 2 rows of whiten_data)"},
    };
    ad_real row[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        flow_realnvp_config c = d;
        switch (cases[i].field) {
        case 0: c.dim = 1; break;
        case 1: c.n_blocks = 0; break;
        case 2: c.n_hidden = -1; break;
        case 3: c.hidden_widths = NULL; break;
        case 4: c.hidden_widths = zero_width; break;
        case 5: c.log_scale_bound = -1; break;
        case 6: c.t_output_random = 2; break;
        case 7: c.whiten = -1; break;
        case 8: c.whiten = 1; c.whiten_keep = 1; break;
        default: c.whiten = 1; c.whiten_data = row; c.whiten_n = 1; break;
        }
        ck_assert_ptr_null(flow_realnvp_new(&c, msg, sizeof msg));
        ck_assert_str_eq(msg, cases[i].expect);
    }
}
END_TEST

Suite *flows_suite(void)
{
    Suite *s = suite_create("flows");
    TCase *tc = tcase_create("forward");
    tcase_add_loop_test(tc, test_round_trip, 0, N_CASES);
    tcase_add_loop_test(tc, test_logdet_jacobian, 0, N_CASES);
    tcase_add_test(tc, test_fresh_flow_is_identity);
    tcase_add_test(tc, test_presets_round_trip);
    tcase_add_test(tc, test_no_grad_records_nothing);
    tcase_add_test(tc, test_prior_log_prob);
    tcase_add_test(tc, test_model_checkpoint);
    tcase_add_test(tc, test_whiten_unit_covariance);
    tcase_add_test(tc, test_whiten_singular_and_truncated);
    tcase_add_test(tc, test_eigh);
    suite_add_tcase(s, tc);
    tc = tcase_create("statistics");
    tcase_add_test(tc, test_prior_sampling);
    suite_add_tcase(s, tc);
    tc = tcase_create("gradcheck");
    tcase_add_test(tc, test_realnvp_gradcheck);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_realnvp_config_default_and_fields);
    suite_add_tcase(s, tc);
    tc = tcase_create("memory");
    tcase_add_test(tc, test_builder_alloc_failures);
    tcase_add_test(tc, test_training_step_no_malloc);
    suite_add_tcase(s, tc);
    return s;
}
