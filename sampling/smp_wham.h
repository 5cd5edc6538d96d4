/* smp_wham.h - the weighted histogram analysis method (WHAM) for umbrella
 * sampling along a 1-D coordinate r with harmonic biases
 * b_k(r) = k_k/2 (r - r0_k)^2.
 *
 * With bins j (centres x_j), counts H_j over all windows, N_k samples of
 * window k inside [lo, hi] and c_kj = exp(-b_k(x_j)/kT), the WHAM equations
 *     p_j = H_j / sum_k N_k exp(f_k) c_kj,        exp(-f_k) = sum_j p_j c_kj
 * are iterated to self-consistency in log space (log-sum-exp, so no window
 * bias or free energy underflows), normalising sum_j p_j = 1 and fixing
 * f_0 = 0, with Anderson mixing of the iterates (tens of iterations instead
 * of thousands; the converged answer is the same fixed point).  The bias is taken at the bin
 * centre, so bins must be narrow against the bias's variation (h k |r - r0| << kT; the error is
 * second order in h).  Samples outside [lo, hi] are dropped and counted. Ownership: a
 * smp_wham_result is allocated here; free it with smp_wham_result_free.  Input arrays stay the
 * caller's.
 */
#ifndef LIBBG_SAMPLING_SMP_WHAM_H
#define LIBBG_SAMPLING_SMP_WHAM_H

#include <stddef.h>

#include "autodiff/ad_config.h"

/* One umbrella window: its time series of the coordinate and its bias. */
typedef struct smp_wham_window {
    const ad_real *r; /* [n] coordinate samples, in simulation order            */
    long n;           /* number of samples (>= 0)                               */
    double center;    /* r0 of the bias (coordinate units, finite)              */
    double k;         /* force constant (energy / coordinate^2, finite >= 0):   */
                      /* bias k/2 (r - r0)^2                                    */
} smp_wham_window;

/* Start from smp_wham_config_default(lo, hi, kT) or fill it with designated
 * initializers (a zero tol or max_iter selects its default); smp_wham_run
 * rejects an invalid field by name. */
typedef struct smp_wham_config {
    int n_bins;       /* > 0; bins of width h = (hi - lo) / n_bins  default 50  */
    double lo, hi;    /* range (coordinate units), finite, lo < hi              */
    double kT;        /* temperature (energy units of k), finite > 0            */
    double tol;       /* convergence: max_k |G(f)_k - f_k| < tol (kT), G one    */
                      /* plain WHAM iteration; finite >= 0;                     */
                      /* 0 selects 1e-10                                        */
    int max_iter;     /* iteration cap (>= 0); 0 selects 200000                 */
    double r_split;   /* states A = bins with centre < r_split, B = the others  */
                      /* (coordinate units, finite); put r_split on a bin edge; */
                      /*                                default (lo + hi) / 2   */
    int n_blocks;     /* >= 2: block standard errors (each window's series cut  */
                      /* into n_blocks contiguous blocks, WHAM on each block);  */
                      /* 0 or 1: none (SE fields NAN)               default 0   */
} smp_wham_config;

/* The defaults above on [lo, hi] at kT (tol 1e-10, max_iter 200000). */
smp_wham_config smp_wham_config_default(double lo, double hi, double kT);

typedef struct smp_wham_result {
    int n_bins, n_windows;
    ad_real *center;   /* [n_bins] bin centres                                     */
    ad_real *F;        /* [n_bins] -log(p_j / h), minimum 0; +INFINITY: empty bin  */
    ad_real *F_se;     /* [n_bins] block SE of -log(p_j / h) (NAN: no blocks/empty)*/
    ad_real *f_window; /* [n_windows] window free energies f_k (kT), f_0 = 0       */
    double dF;         /* F_B - F_A = -log(P(r >= r_split) / P(r < r_split))        */
    double dF_se;      /* std over blocks / sqrt(n_blocks) (NAN without blocks)    */
    int n_iter;        /* iterations of the full-data solution                     */
    double max_change; /* its last max |delta f_k|                                 */
    long n_used;       /* samples inside [lo, hi]                                  */
    long n_outside;    /* samples dropped: outside [lo, hi] or not finite          */
} smp_wham_result;

/* Runs WHAM on all the data (and on each block when n_blocks >= 2).
 * Errors: AD_ERR_ARG (NULL, n_windows < 1, n_bins <= 0, lo >= hi, kT <= 0,
 * negative k or n, n_blocks larger than a window's series), AD_ERR_NUMERIC
 * (no sample in range, a state without weight, or no convergence within
 * max_iter: the message gives the last change), AD_ERR_NOMEM. */
int smp_wham_run(const smp_wham_config *cfg, const smp_wham_window *windows, int n_windows,
                 smp_wham_result **out, char *msg, size_t msg_len);

void smp_wham_result_free(smp_wham_result *res);

#endif
