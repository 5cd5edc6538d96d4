/* flow_prior.c - the Gaussian prior with temperature. */
#include "flow_prior.h"

#include <math.h>

#define TWO_PI 6.283185307179586476925286766559

static int check(ad_tape *t, const flow_prior *p, const ad_tensor *z, const char *fn)
{
    if (!ad_tape_ok(t)) return 0;
    if (!p || p->dim < 1 || !(p->kT > 0) || !isfinite(p->kT)) {
        ad_tape_fail(t, AD_ERR_ARG, "%s: bad argument #2 (prior needs dim >= 1 and kT > 0)", fn);
        return 0;
    }
    if (!z || !z->valid) {
        ad_tape_fail(t, AD_ERR_ARG, "%s: bad argument #3 (%s tensor)", fn, z ? "poisoned" : "NULL");
        return 0;
    }
    if (z->n_dims != 2 || z->shape[1] != p->dim) {
        char got[64];
        ad_tape_fail(t, AD_ERR_SHAPE, "%s: bad argument #3 (shape %s, expected [*,%d])", fn,
                     ad_shape_str(z->n_dims, z->shape, got, sizeof got), p->dim);
        return 0;
    }
    return 1;
}

ad_tensor *flow_prior_energy(ad_tape *t, const flow_prior *p, ad_tensor *z)
{
    if (!check(t, p, z, "flow_prior_energy")) return ad_tape_poison(t);
    return ad_scale(t, ad_sum_axis(t, ad_square(t, z), 1), (ad_real)(0.5 / p->kT));
}

ad_tensor *flow_prior_log_prob(ad_tape *t, const flow_prior *p, ad_tensor *z)
{
    if (!check(t, p, z, "flow_prior_log_prob")) return ad_tape_poison(t);
    double c = -0.5 * p->dim * log(TWO_PI * p->kT);
    return ad_add_scalar(t, ad_neg(t, flow_prior_energy(t, p, z)), (ad_real)c);
}

int flow_prior_sample(const flow_prior *p, ad_rng *rng, ad_real *z, int n)
{
    if (!p || !rng || (!z && n > 0) || n < 0 || p->dim < 1 || !(p->kT > 0)) return AD_ERR_ARG;
    ad_rng_fill_normal(rng, z, (size_t)n * (size_t)p->dim, 0, (ad_real)sqrt(p->kT));
    return AD_OK;
}

ad_tensor *flow_prior_inverse_kT(ad_tape *t, const ad_real *kT, int batch, const char *fn)
{
    if (!kT) {
        ad_tape_fail(t, AD_ERR_ARG, "%s: kT is NULL", fn);
        return NULL;
    }
    int shape[1] = {batch};
    ad_tensor *inv = ad_zeros(t, 1, shape);
    if (!ad_tape_ok(t)) return NULL;
    for (int b = 0; b < batch; b++) {
        if (!(kT[b] > 0) || !isfinite((double)kT[b])) {
            ad_tape_fail(t, AD_ERR_ARG, "%s: kT[%d] = %g (need finite > 0)", fn, b,
                         (double)kT[b]);
            return NULL;
        }
        inv->data[b] = (ad_real)(1.0 / kT[b]);
    }
    return inv;
}

ad_tensor *flow_prior_energy_rows(ad_tape *t, const flow_prior *p, ad_tensor *z,
                                  const ad_real *kT)
{
    static const char fn[] = "flow_prior_energy_rows";
    if (!ad_tape_ok(t)) return ad_tape_poison(t);
    if (!p || p->dim < 1)
        return ad_tape_fail(t, AD_ERR_ARG, "%s: bad argument #2 (prior needs dim >= 1)", fn);
    flow_prior one = {p->dim, 1.0}; /* the shape checks of the one-temperature prior */
    if (!check(t, &one, z, fn)) return ad_tape_poison(t);
    ad_tensor *inv = flow_prior_inverse_kT(t, kT, z->shape[0], fn);
    if (!inv) return ad_tape_poison(t);
    /* 1/2 |z_b|^2 * (1 / kT_b) */
    return ad_mul(t, ad_scale(t, ad_sum_axis(t, ad_square(t, z), 1), 0.5), inv);
}

ad_tensor *flow_prior_log_prob_rows(ad_tape *t, const flow_prior *p, ad_tensor *z,
                                    const ad_real *kT)
{
    ad_tensor *e = flow_prior_energy_rows(t, p, z, kT);
    if (!ad_tape_ok(t)) return ad_tape_poison(t);
    int batch = z->shape[0];
    int shape[1] = {batch};
    ad_tensor *c = ad_zeros(t, 1, shape);
    if (!ad_tape_ok(t)) return ad_tape_poison(t);
    for (int b = 0; b < batch; b++) c->data[b] = (ad_real)(-0.5 * p->dim * log(TWO_PI * kT[b]));
    return ad_add(t, ad_neg(t, e), c);
}

int flow_prior_sample_rows(const flow_prior *p, ad_rng *rng, const ad_real *kT, ad_real *z, int n)
{
    if (!p || !rng || (!z && n > 0) || (!kT && n > 0) || n < 0 || p->dim < 1) return AD_ERR_ARG;
    for (int b = 0; b < n; b++)
        if (!(kT[b] > 0) || !isfinite((double)kT[b])) return AD_ERR_ARG;
    /* one row at a time, in order: the same stream as flow_prior_sample when
     * every kT[b] equals the prior's */
    for (int b = 0; b < n; b++)
        ad_rng_fill_normal(rng, z + (size_t)b * p->dim, (size_t)p->dim, 0,
                           (ad_real)sqrt((double)kT[b]));
    return AD_OK;
}
