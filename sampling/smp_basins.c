/* smp_basins.c - nearest-minimum basin classification. */
#include "smp_basins.h"

int smp_nearest_minimum_nd(const ad_real *x, const ad_real *minima, int n_minima, int dim)
{
    if (!x || !minima || n_minima < 1 || dim < 1) return -1;
    int best = 0;
    double best_d2 = 0;
    for (int m = 0; m < n_minima; m++) {
        double d2 = 0;
        for (int k = 0; k < dim; k++) {
            double d = (double)x[k] - (double)minima[(size_t)m * dim + k];
            d2 += d * d;
        }
        if (m == 0 || d2 < best_d2) { /* strict: ties keep the lower index */
            best = m;
            best_d2 = d2;
        }
    }
    return best;
}

int smp_nearest_minimum(const ad_real *x, const ad_real *minima, int n_minima)
{
    return smp_nearest_minimum_nd(x, minima, n_minima, 2);
}

int smp_classify_nearest(const ad_real *x, int n, int dim, const ad_real *minima, int n_minima,
                         int *labels)
{
    if (n < 0 || dim < 1 || n_minima < 1 || !minima || (n > 0 && (!x || !labels)))
        return AD_ERR_ARG;
    for (int i = 0; i < n; i++)
        labels[i] = smp_nearest_minimum_nd(x + (size_t)i * dim, minima, n_minima, dim);
    return AD_OK;
}
