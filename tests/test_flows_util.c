/* test_flows_util.c - checks shared by the flow test suites. */
#include "test_flows_util.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static double max_abs(const ad_tensor *x, double m)
{
    for (size_t i = 0; i < x->size; i++) m = fmax(m, fabs(x->data[i]));
    return m;
}

void fc_roundtrip_run(const flow_layer *l, const ad_real *in, int batch, int inverse_first,
                      fc_roundtrip *r)
{
    ad_tape *t = ad_tape_new(0);
    ad_tape_set_grad_enabled(t, 0);
    int width = inverse_first ? l->dim_x : l->dim_z;
    ad_tensor *a = ad_constant(t, 2, (int[]){batch, width}, in), *lda, *ldb, *mid, *out;
    if (inverse_first) {
        mid = flow_layer_inverse(l, t, a, &lda);
        out = flow_layer_forward(l, t, mid, &ldb);
    } else {
        mid = flow_layer_forward(l, t, a, &lda);
        out = flow_layer_inverse(l, t, mid, &ldb);
    }
    ck_assert_msg(ad_tape_ok(t), "%s", ad_tape_error(t));
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < a->size; i++)
        r->max_error = fmax(r->max_error, fabs(out->data[i] - in[i]));
    for (int b = 0; b < batch; b++) {
        r->max_logdet_sum = fmax(r->max_logdet_sum, fabs(lda->data[b] + ldb->data[b]));
        r->max_abs_logdet = fmax(r->max_abs_logdet, fabs(lda->data[b]));
    }
    r->max_abs = max_abs(out, max_abs(mid, max_abs(a, 0)));
    ad_tape_free(t);
}

double fc_logabsdet(double *a, int n, double *cond)
{
    /* 1-norm of a before factorising, for the condition number. */
    double norm = 0;
    for (int j = 0; j < n; j++) {
        double c = 0;
        for (int i = 0; i < n; i++) c += fabs(a[i * n + j]);
        norm = fmax(norm, c);
    }
    int *piv = malloc((size_t)n * sizeof *piv);
    double logdet = 0;
    for (int k = 0; k < n; k++) {
        int p = k;
        for (int i = k + 1; i < n; i++)
            if (fabs(a[i * n + k]) > fabs(a[p * n + k])) p = i;
        piv[k] = p;
        if (p != k)
            for (int j = 0; j < n; j++) {
                double tmp = a[k * n + j];
                a[k * n + j] = a[p * n + j];
                a[p * n + j] = tmp;
            }
        double d = a[k * n + k];
        logdet += log(fabs(d));
        for (int i = k + 1; i < n; i++) {
            double f = a[i * n + k] /= d;
            for (int j = k + 1; j < n; j++) a[i * n + j] -= f * a[k * n + j];
        }
    }
    /* ||a^-1||_1: column e of a^-1 solves a x = e_e, i.e. L U x = P e_e. */
    double inv_norm = 0;
    double *x = malloc((size_t)n * sizeof *x);
    for (int e = 0; e < n; e++) {
        for (int i = 0; i < n; i++) x[i] = i == e;
        for (int k = 0; k < n; k++) { /* apply the row swaps, then L */
            double tmp = x[k];
            x[k] = x[piv[k]];
            x[piv[k]] = tmp;
        }
        for (int i = 0; i < n; i++)
            for (int j = 0; j < i; j++) x[i] -= a[i * n + j] * x[j];
        for (int i = n - 1; i >= 0; i--) {
            for (int j = i + 1; j < n; j++) x[i] -= a[i * n + j] * x[j];
            x[i] /= a[i * n + i];
        }
        double c = 0;
        for (int i = 0; i < n; i++) c += fabs(x[i]);
        inv_norm = fmax(inv_norm, c);
    }
    if (cond) *cond = norm * inv_norm;
    free(x);
    free(piv);
    return logdet;
}

void fc_jacobian_logdet(const flow_layer *l, const ad_real *z, int batch, double *ld_layer,
                        double *ld_jac, double *cond)
{
    int d = l->dim_z;
    ck_assert_int_eq(l->dim_x, d);
    ad_tape *t = ad_tape_new(0);
    ad_tensor *zt = ad_tape_input(t, 2, (int[]){batch, d}, z), *ld;
    ad_tensor *x = flow_layer_forward(l, t, zt, &ld);
    ck_assert_msg(ad_tape_ok(t), "%s", ad_tape_error(t));
    double *jac = malloc((size_t)batch * d * d * sizeof *jac);
    /* Row i of every sample's Jacobian: backward from x[:, i] (the samples
     * are independent, so row b of z->grad is d x_bi / d z_b). */
    for (int i = 0; i < d; i++) {
        ad_tensor *xi = ad_slice_cols(t, x, i, 1);
        ck_assert_int_eq(ad_backward(t, xi), AD_OK);
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < d; j++)
                jac[((size_t)b * d + i) * d + j] = zt->grad[(size_t)b * d + j];
    }
    for (int b = 0; b < batch; b++) {
        ld_layer[b] = ld->data[b];
        ld_jac[b] = fc_logabsdet(jac + (size_t)b * d * d, d, &cond[b]);
    }
    free(jac);
    ad_tape_free(t);
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
