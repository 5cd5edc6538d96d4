/* smp_basins.h - the project's one rule for basins: a point belongs to the
 * basin of the nearest (Euclidean) of the given minima; ties go to the lower
 * index.  The quadrature references and every analysis of samples use it.
 */
#ifndef LIBBG_SAMPLING_SMP_BASINS_H
#define LIBBG_SAMPLING_SMP_BASINS_H

#include "autodiff/ad.h"

/* Index of the minimum nearest to the 2-D point x[2]; minima[2*n_minima]
 * holds (x, y) pairs.  -1 when n_minima < 1 or an argument is NULL. */
int smp_nearest_minimum(const ad_real *x, const ad_real *minima, int n_minima);
/* The same in dim dimensions (minima[dim*n_minima]). */
int smp_nearest_minimum_nd(const ad_real *x, const ad_real *minima, int n_minima, int dim);
/* labels[i] = smp_nearest_minimum_nd(x + i*dim, ...) for n samples x[n*dim].
 * Returns AD_OK or AD_ERR_ARG. */
int smp_classify_nearest(const ad_real *x, int n, int dim, const ad_real *minima, int n_minima,
                         int *labels);

#endif
