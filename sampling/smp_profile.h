/* smp_profile.h - free energies along a 1-D coordinate from (coordinate,
 * log-weight) arrays: weighted histogram and weighted Gaussian KDE profiles
 * F(r) = -log p(r) with bootstrap standard errors, a cross-validated KDE
 * bandwidth, and free-energy differences between states (dividing value,
 * predicate, or arbitrary labels).
 *
 * Weights: log_w == NULL means equal weights (plain MC data); otherwise the
 * log importance weights, used shifted by their maximum (never exponentiated
 * raw).  A sample whose log-weight or coordinate is not finite is excluded
 * (weight 0) and counted.  Bootstrap: B resamples of the n samples with
 * replacement drawn from ad_rng seeded with boot.seed, so results are
 * deterministic; the SE is the standard deviation over the resamples.
 * Ownership: smp_profile results are allocated here and released with
 * smp_profile_free; every other output is a caller-owned array.
 */
#ifndef LIBBG_SAMPLING_SMP_PROFILE_H
#define LIBBG_SAMPLING_SMP_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "autodiff/ad_config.h"

typedef struct smp_bootstrap_config {
    int n_bootstrap; /* resamples B (>= 0); 0 skips standard errors (they   */
                     /* are NAN)                                default 200 */
    uint64_t seed;   /* ad_rng seed (stream 0)                  default 1   */
} smp_bootstrap_config;

/* B = 200 resamples, seed 1. */
smp_bootstrap_config smp_bootstrap_default(void);

typedef struct smp_profile_config {
    int n_bins;        /* bins (histogram) or grid points (KDE), > 0; default 50 */
    double lo, hi;     /* range (coordinate units), finite, lo < hi; bin j      */
                       /* covers [lo + j h, lo + (j+1) h), h = (hi - lo) /      */
                       /* n_bins; r == hi goes to the last bin                  */
    double bandwidth;  /* KDE kernel standard deviation (coordinate units,      */
                       /* finite, > 0); histogram: unused; default 2 h          */
    smp_bootstrap_config boot; /* default smp_bootstrap_default()               */
} smp_profile_config;

/* n_bins = 50 on [lo, hi], bandwidth = 2 bin widths, smp_bootstrap_default();
 * lo and hi are in the coordinate's own units. */
smp_profile_config smp_profile_config_default(double lo, double hi);

/* A free-energy profile (kT units).  F = -log p shifted so that min F = 0.
 * Empty bins (no weight; for the KDE, no sample within 9 bandwidths) have
 * density 0, F = +INFINITY and se = NAN. */
typedef struct smp_profile {
    int n_bins;
    double lo, hi, width;  /* range and bin width h                               */
    ad_real *center;       /* [n_bins] bin centres lo + (j + 1/2) h (KDE grid)    */
    ad_real *density;      /* [n_bins] p(r), normalised by the total weight of    */
                           /* all included samples (those outside [lo, hi] too)   */
    ad_real *F;            /* [n_bins] -log p - min(-log p)                       */
    ad_real *se;           /* [n_bins] bootstrap SE of -log p: the std over the   */
                           /* resamples in which the bin has weight; NAN if < 2   */
    int n_samples;         /* n given                                             */
    int n_excluded;        /* non-finite coordinate or log-weight                 */
    int n_outside;         /* finite samples outside [lo, hi] (histogram only)    */
    double ess;            /* Kish effective sample size of the included weights  */
} smp_profile;

/* Weighted histogram: p_j = sum_{i in bin j} w_i / (h sum_i w_i).
 * Errors: AD_ERR_ARG (NULL, n <= 0, n_bins <= 0, lo >= hi, B < 0),
 * AD_ERR_NUMERIC (no usable sample), AD_ERR_NOMEM. */
int smp_profile_histogram(const smp_profile_config *cfg, const ad_real *r, const ad_real *log_w,
                          int n, smp_profile **out, char *msg, size_t msg_len);

/* Weighted Gaussian KDE on the bin centres:
 * p(x) = sum_i w_i N(x; r_i, bw^2) / sum_i w_i.  Kernels are cut at 9
 * bandwidths (relative tail < 3e-18).  Cost O((1 + B) n (18 bw / h)).
 * Same errors as the histogram, and AD_ERR_ARG for bandwidth <= 0. */
int smp_profile_kde(const smp_profile_config *cfg, const ad_real *r, const ad_real *log_w, int n,
                    smp_profile **out, char *msg, size_t msg_len);

void smp_profile_free(smp_profile *p);

/* The same two profiles for a coordinate stored every `stride` values, e.g.
 * column k of interleaved samples x[n * dim]: pass r = x + k, stride = dim
 * (sample i's coordinate is r[i * stride]).  stride >= 1; AD_ERR_ARG names
 * it otherwise. */
int smp_profile_histogram_strided(const smp_profile_config *cfg, const ad_real *r, int stride,
                                  const ad_real *log_w, int n, smp_profile **out, char *msg,
                                  size_t msg_len);
int smp_profile_kde_strided(const smp_profile_config *cfg, const ad_real *r, int stride,
                            const ad_real *log_w, int n, smp_profile **out, char *msg,
                            size_t msg_len);

/* Bandwidth selection by K-fold cross-validated weighted log-likelihood:
 * samples are split into n_folds folds by a seeded permutation; for each
 * candidate h, score(h) = sum_folds sum_{i in fold} w_i log p_{-fold}(r_i; h)
 * / sum_i w_i, with p_{-fold} the weighted KDE of the other folds (log-sum-exp,
 * so no underflow).  The best is the first maximum.  Cost O(n^2 n_candidates). */
typedef struct smp_bandwidth_config {
    const ad_real *candidates; /* [n_candidates] bandwidths (coordinate units), */
                               /* each finite > 0                               */
    int n_candidates;          /* > 0                                           */
    int n_folds;               /* K >= 2, at most the number of usable samples; */
                               /* default 5                                     */
    uint64_t seed;             /* fold assignment                default 1      */
} smp_bandwidth_config;

/* The candidates with 5 folds and seed 1. */
smp_bandwidth_config smp_bandwidth_config_default(const ad_real *candidates, int n_candidates);

/* *best gets the chosen bandwidth; scores[n_candidates] (may be NULL, caller-
 * owned) the mean held-out log-likelihoods. */
int smp_kde_select_bandwidth(const smp_bandwidth_config *cfg, const ad_real *r,
                             const ad_real *log_w, int n, double *best, ad_real *scores,
                             char *msg, size_t msg_len);

/* A value with its bootstrap standard error. */
typedef struct smp_estimate {
    double value;
    double se;       /* std over the resamples with a finite value; NAN if < 2 */
    int n_boot_used; /* resamples with a finite value                           */
} smp_estimate;

/* State free energies: labels[i] in [0, n_states) assigns sample i to a state
 * (other labels: in no state, e.g. a transition region).
 *   dF[s] = F_s - F_ref = -log(W_s / W_ref),  W_s = sum_{labels[i] = s} w_i,
 *   population[s] = W_s / sum_t W_t.
 * dF[ref] = 0 and se[ref] = 0.  A state other than the reference with no
 * weight gets dF = +INFINITY and se = NAN.  dF, se, population: caller-owned
 * arrays of n_states (se, population may be NULL).
 * Errors: AD_ERR_ARG (NULL, n <= 0, n_states < 1, reference out of range),
 * AD_ERR_NUMERIC (the reference state has no weight), AD_ERR_NOMEM. */
typedef struct smp_states_config {
    int n_states;                /* >= 1                                  */
    int reference;               /* state the others are measured against */
                                 /* (0 .. n_states - 1)       default 0   */
    smp_bootstrap_config boot;   /* default smp_bootstrap_default()       */
} smp_states_config;
/* n_states states measured from state 0, smp_bootstrap_default(). */
smp_states_config smp_states_config_default(int n_states);
int smp_state_free_energies(const smp_states_config *cfg, const int *labels, const ad_real *log_w,
                            int n, double *dF, double *se, double *population, char *msg,
                            size_t msg_len);

/* dF(B - A) = -log(W_B / W_A) with A = {r < r_split}, B = {r >= r_split};
 * a sample with a non-finite r is in neither.  Errors as above, and
 * AD_ERR_NUMERIC when either state has no weight. */
int smp_delta_f_split(const ad_real *r, const ad_real *log_w, int n, double r_split,
                      const smp_bootstrap_config *boot, smp_estimate *dF, char *msg,
                      size_t msg_len);
/* The same with sample i's coordinate at r[i * stride] (stride >= 1), so
 * interleaved samples pass directly: r = x + k, stride = dim for column k of
 * x[n * dim].  smp_delta_f_split is this with stride 1. */
int smp_delta_f_split_strided(const ad_real *r, int stride, const ad_real *log_w, int n,
                              double r_split, const smp_bootstrap_config *boot,
                              smp_estimate *dF, char *msg, size_t msg_len);

/* state(ctx, i) returns 0 for A, 1 for B, anything else for neither. */
typedef int (*smp_state_fn)(void *ctx, int i);
int smp_delta_f_predicate(smp_state_fn state, void *ctx, const ad_real *log_w, int n,
                          const smp_bootstrap_config *boot, smp_estimate *dF, char *msg,
                          size_t msg_len);

#endif
