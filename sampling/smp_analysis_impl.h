/* smp_analysis_impl.h - helpers shared by the statistical-analysis files of
 * sampling/ (smp_reweight, smp_profile, smp_wham, smp_umbrella).  Private to
 * the module: nothing outside sampling/ includes it.
 */
#ifndef LIBBG_SAMPLING_SMP_ANALYSIS_IMPL_H
#define LIBBG_SAMPLING_SMP_ANALYSIS_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "autodiff/ad_config.h"
#include "autodiff/ad_status.h"


/* Linear weights shifted by the largest finite log-weight:
 * w[i] = exp(log_w[i] - max log_w), in (0, 1]; 0 for a non-finite log_w[i]
 * (counted in *n_excluded).  log_w == NULL means equal weights (all 1).
 * *log_shift receives max log_w (0 for NULL).  Returns AD_ERR_NUMERIC when no
 * log-weight is finite. */
int smp_weights_shifted(const ad_real *log_w, int n, double *w, int *n_excluded,
                        double *log_shift, char *msg, size_t msg_len);

/* Sample standard deviation (n - 1 denominator) of the finite x[i]; *n_used
 * (may be NULL) gets their number.  NAN when fewer than two are finite. */
double smp_std_finite(const double *x, int n, int *n_used);

#endif
