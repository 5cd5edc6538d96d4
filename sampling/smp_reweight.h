/* smp_reweight.h - importance weights in log space: log-sum-exp, normalised
 * weights, the Kish effective sample size, and the Boltzmann-generator
 * log-weight from plain arrays (sampling/ knows nothing about flows).
 *
 * Weights are never exponentiated unshifted: every sum subtracts the largest
 * log-weight first (docs/science.md §0.3, §5.4).  Non-finite log-weights (NaN, +inf,
 * -inf) are excluded, i.e. given weight zero, and counted in n_excluded; they
 * are never propagated into a result.  All outputs are caller-owned arrays or
 * structs; nothing is allocated that the caller must free.
 */
#ifndef LIBBG_SAMPLING_SMP_REWEIGHT_H
#define LIBBG_SAMPLING_SMP_REWEIGHT_H

#include <stddef.h>

#include "autodiff/ad_config.h"

/* Summary of a set of n log-weights. */
typedef struct smp_weight_stats {
    int n;               /* log-weights given                                  */
    int n_used;          /* finite ones, used                                  */
    int n_excluded;      /* non-finite ones (NaN, +inf, -inf), given weight 0  */
    double log_max;      /* largest finite log-weight                          */
    double log_sum;      /* LSE = log sum_i w_i over the finite ones           */
    double ess;          /* Kish ESS = (sum w)^2 / sum w^2, in [1, n_used]     */
    double ess_fraction; /* ESS / n: sampling efficiency, excluded draws count */
} smp_weight_stats;

/* log sum_i exp(a[i]) over the finite a[i], computed as
 * m + log sum_i exp(a[i] - m) with m = max a[i] (no overflow or underflow).
 * Returns -INFINITY when no a[i] is finite (or n <= 0); *n_excluded (may be
 * NULL) gets the number of non-finite entries skipped. */
double smp_logsumexp(const ad_real *a, int n, int *n_excluded);

/* Fills *stats for log_w[n].  ESS = exp(2 LSE(log w) - LSE(2 log w)) (Kish),
 * evaluated with shifted weights.  Errors: AD_ERR_ARG (NULL, n <= 0),
 * AD_ERR_NUMERIC (no finite log-weight). */
int smp_weights_stats(const ad_real *log_w, int n, smp_weight_stats *stats, char *msg,
                      size_t msg_len);

/* Normalised weights w[i] = exp(log_w[i] - LSE(log w)), summing to 1, and 0
 * for excluded entries; w[n] is caller-owned.  stats may be NULL.  Same
 * errors as smp_weights_stats. */
int smp_weights_normalize(const ad_real *log_w, int n, ad_real *w, smp_weight_stats *stats,
                          char *msg, size_t msg_len);

/* Arrays for the Boltzmann-generator log-weight of n samples x_i = F_zx(z_i)
 * with z_i drawn from the prior N(0, kT I). */
typedef struct smp_bg_weight_input {
    int n;                  /* samples                                         */
    int dim;                /* latent dimension                                */
    const ad_real *u;       /* [n] energies u(x_i) (+inf allowed: weight 0)    */
    const ad_real *z;       /* [n * dim] latent samples z_i                     */
    const ad_real *log_det; /* [n] log R_zx(z_i) = log|det dx/dz| at z_i        */
    double kT;              /* temperature of the target and the prior (> 0)   */
} smp_bg_weight_input;

/* log_w[i] = -u_i/kT + |z_i|^2/(2 kT) + log R_zx(z_i), i.e. log of
 * exp(-u/kT) / p_X(x) with p_X(x) = p_Z(z) / R_zx, the constant
 * (dim/2) log(2 pi kT) of log p_Z dropped (it cancels in normalised weights).
 * Non-finite terms give a non-finite log_w[i] (excluded downstream), never an
 * error; *n_nonfinite (may be NULL) counts them.  log_w[n] is caller-owned.
 * Errors: AD_ERR_ARG (NULL arrays, n <= 0, dim <= 0, kT <= 0). */
int smp_bg_log_weights(const smp_bg_weight_input *in, ad_real *log_w, int *n_nonfinite,
                       char *msg, size_t msg_len);

#endif
