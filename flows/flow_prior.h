/* flow_prior.h - the Gaussian prior of a flow: z ~ N(0, kT I) in dim
 * dimensions (temperature kT scales the variance; kT = 1 is the standard
 * normal of training).  A plain value struct, owned by the caller.
 */
#ifndef LIBBG_FLOWS_FLOW_PRIOR_H
#define LIBBG_FLOWS_FLOW_PRIOR_H

#include "autodiff/ad.h"

typedef struct flow_prior {
    int dim;     /* width of z                         */
    double kT;   /* variance of each coordinate (> 0)  */
} flow_prior;

/* log N(z; 0, kT I) = -|z|^2 / (2 kT) - dim/2 log(2 pi kT) per row:
 * z [batch, dim] -> [batch], on the tape. */
ad_tensor *flow_prior_log_prob(ad_tape *t, const flow_prior *p, ad_tensor *z);
/* The reduced energy |z|^2 / (2 kT) per row (the log-density without its
 * constant, negated), on the tape. */
ad_tensor *flow_prior_energy(ad_tape *t, const flow_prior *p, ad_tensor *z);
/* n samples into z[n * dim] (row-major).  AD_OK or AD_ERR_ARG. */
int flow_prior_sample(const flow_prior *p, ad_rng *rng, ad_real *z, int n);

/* ---- one temperature per row (multi-temperature training) ----
 * Row b of z belongs to temperature kT[b] (energy units, finite > 0; the
 * prior's own kT is not used, its dim is): the prior of that row is
 * N(0, kT[b] I), so its latent standard deviation is sqrt(kT[b]).  A bad
 * kT[b] (or kT NULL) is a tape error naming the row. */

/* |z_b|^2 / (2 kT[b]) per row: z [batch, dim] -> [batch], on the tape. */
ad_tensor *flow_prior_energy_rows(ad_tape *t, const flow_prior *p, ad_tensor *z,
                                  const ad_real *kT);
/* log N(z_b; 0, kT[b] I) = -|z_b|^2 / (2 kT[b]) - dim/2 log(2 pi kT[b]) per
 * row, on the tape. */
ad_tensor *flow_prior_log_prob_rows(ad_tape *t, const flow_prior *p, ad_tensor *z,
                                    const ad_real *kT);
/* 1 / kT[b] as a [batch] tape constant (the factor of each row's reduced
 * energy, here and in the losses of bg_loss.h); NULL and a tape error
 * naming fn and the row when kT is NULL or a kT[b] is not finite > 0. */
ad_tensor *flow_prior_inverse_kT(ad_tape *t, const ad_real *kT, int batch, const char *fn);
/* n rows into z[n * dim], row b drawn from N(0, kT[b] I).  AD_OK or
 * AD_ERR_ARG (NULL arrays, n < 0, dim < 1, a kT[b] not finite > 0). */
int flow_prior_sample_rows(const flow_prior *p, ad_rng *rng, const ad_real *kT, ad_real *z,
                           int n);

#endif
