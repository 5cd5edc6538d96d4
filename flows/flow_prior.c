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
