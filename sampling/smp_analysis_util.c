/* smp_analysis_util.c - shared helpers of the analysis files (see
 * smp_analysis_impl.h). */
#include "sampling/smp_analysis_impl.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

int smp_weights_shifted(const ad_real *log_w, int n, double *w, int *n_excluded,
                        double *log_shift, char *msg, size_t msg_len)
{
    int bad = 0;
    double mx = -INFINITY;
    if (!log_w) {
        for (int i = 0; i < n; i++) w[i] = 1.0;
        *n_excluded = 0;
        *log_shift = 0.0;
        return AD_OK;
    }
    for (int i = 0; i < n; i++) {
        double lw = (double)log_w[i];
        if (isfinite(lw)) {
            if (lw > mx) mx = lw;
        } else {
            bad++;
        }
    }
    *n_excluded = bad;
    *log_shift = mx;
    if (bad == n)
        return ad_status_fail(msg, msg_len, AD_ERR_NUMERIC,
                        "no finite log-weight among %d samples (all NaN or +-inf)", n);
    /* Subtracting the maximum keeps every weight in (0, 1] and the largest
     * exactly 1, so sums never underflow to zero (docs/science.md §0.3). */
    for (int i = 0; i < n; i++) {
        double lw = (double)log_w[i];
        w[i] = isfinite(lw) ? exp(lw - mx) : 0.0;
    }
    return AD_OK;
}

double smp_std_finite(const double *x, int n, int *n_used)
{
    int m = 0;
    double mean = 0.0, m2 = 0.0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i])) continue;
        /* Welford's update: stable for values with a large common offset. */
        m++;
        double d = x[i] - mean;
        mean += d / m;
        m2 += d * (x[i] - mean);
    }
    if (n_used) *n_used = m;
    return m < 2 ? NAN : sqrt(m2 / (m - 1));
}
