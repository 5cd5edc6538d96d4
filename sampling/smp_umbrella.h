/* smp_umbrella.h - umbrella sampling along a user-defined coordinate r(x):
 * for each window, Metropolis MC (smp_mc_run) on u(x) + k/2 (r(x) - r0)^2,
 * the coordinate of every stored frame collected, then WHAM (smp_wham.h) on
 * all windows.  Repeats are independent runs (different derived seeds) whose
 * spread gives the standard error; with one repeat the WHAM block SE is used.
 * Deterministic for a seed: run (repeat q, window k) uses a seed derived
 * from (seed, q * n_windows + k) by splitmix64.
 * Ownership: a smp_umbrella_result is allocated here and released with
 * smp_umbrella_result_free; callbacks and contexts stay the caller's.
 * Under MPI (autodiff/ad_dist.h) a collective call: the runs (window,
 * repeat) are shared out, each run done by one rank alone (the callbacks are
 * called in a local region), and every rank receives every coordinate, so
 * the result is the serial one for any number of ranks.
 */
#ifndef LIBBG_SAMPLING_SMP_UMBRELLA_H
#define LIBBG_SAMPLING_SMP_UMBRELLA_H

#include <stddef.h>
#include <stdint.h>

#include "autodiff/ad_config.h"
#include "sampling/smp_mc.h"
#include "sampling/smp_wham.h"

/* The coordinate r(x) of one configuration x[dim].  A non-finite value makes
 * the biased energy +inf (the move is rejected). */
typedef double (*smp_coord_fn)(void *ctx, const ad_real *x, int dim);

/* Starting configurations x[n_chains * dim] of window `window` (centre r0) in
 * repeat `repeat`.  Returns AD_OK or an error code with a message. */
typedef int (*smp_umbrella_start_fn)(void *ctx, int window, double center, int repeat,
                                     int n_chains, int dim, ad_real *x, char *msg,
                                     size_t msg_len);

/* Start from smp_umbrella_config_default(dim, kT), then set the windows,
 * the coordinate, the starts and the WHAM range; smp_umbrella_run rejects an
 * invalid field by name. */
typedef struct smp_umbrella_config {
    int dim;                /* coordinates per configuration (>= 1)              */
    int n_windows;          /* windows (>= 1), centres evenly spaced over        */
    double center_lo;       /*   [center_lo, center_hi] (both included; one      */
    double center_hi;       /*   window: center_lo); coordinate units, finite    */
    double k;               /* force constant of the bias k/2 (r - r0)^2         */
                            /* (energy / coordinate^2, finite >= 0)              */
    double kT;              /* temperature of MC and WHAM (energy units, > 0)    */
    double sigma;           /* MC proposal standard deviation (coordinate units, */
                            /* > 0)                                default 0.1   */
    long n_steps;           /* MC steps per chain, window and repeat (>= 0)      */
                            /*                                   default 10000   */
    int stride;             /* keep every stride-th frame (>= 1)   default 10    */
    long n_discard;         /* stored frames dropped at the start (equilibration;*/
                            /* >= 0)                                default 0    */
    int n_chains;           /* independent chains per window (>= 1)  default 1   */
    int n_repeats;          /* independent repeats (>= 1)            default 1   */
    uint64_t seed;          /*                                       default 1   */
    smp_coord_fn coord;     /* r(x), required                                    */
    void *coord_ctx;
    const ad_real *x0;      /* [n_windows * dim]: window k starts every chain at */
                            /* x0 + k*dim; NULL: use start                       */
    smp_umbrella_start_fn start;
    void *start_ctx;
    smp_wham_config wham;   /* bins, range, tol, r_split, n_blocks; its kT is    */
                            /* ignored (kT above is used)   default: 50 bins,    */
                            /* tol and max_iter 0 (their defaults), range unset  */
    /* Optional: called after each window of each repeat with the runs done
     * and their total (n_windows x n_repeats; under MPI, this rank's runs
     * and their count); it does not change results.                       */
    void (*progress)(long done, long total, void *ctx); /* default NULL    */
    void *progress_ctx;
} smp_umbrella_config;

/* The defaults above for dim coordinates at kT: one window at 0 with k = 0,
 * no coordinate, no starts, WHAM range [0, 0] (set them). */
smp_umbrella_config smp_umbrella_config_default(int dim, double kT);

typedef struct smp_umbrella_result {
    smp_wham_result *wham;  /* WHAM on all repeats pooled (owned)                */
    double dF;              /* wham->dF: F(r >= r_split) - F(r < r_split)        */
    double dF_se;           /* std(dF_repeat)/sqrt(n_repeats) when n_repeats >= 2, */
                            /* else wham->dF_se (blocks; NAN without blocks)     */
    int n_repeats, n_windows;
    double *dF_repeat;      /* [n_repeats] WHAM dF of each repeat alone (when    */
                            /* n_repeats >= 2; else the pooled dF)               */
    double *center;         /* [n_windows] window centres                        */
    double *acceptance;     /* [n_windows] MC acceptance, mean over repeats      */
    long n_per_window;      /* samples per window and repeat                     */
    ad_real *r;             /* [n_windows][n_repeats][n_per_window] coordinates, */
                            /* frame-major within a run (all chains of a frame)  */
} smp_umbrella_result;

/* Errors: AD_ERR_ARG (bad config, NULL callbacks, no stored frame left after
 * n_discard), errors of the energy, start callback, smp_mc_run and
 * smp_wham_run (message passed through, prefixed with the window), and
 * AD_ERR_NOMEM. */
int smp_umbrella_run(const smp_umbrella_config *cfg, smp_energy_fn energy, void *energy_ctx,
                     smp_umbrella_result **out, char *msg, size_t msg_len);

void smp_umbrella_result_free(smp_umbrella_result *res);

#endif
