/* flow_whiten.h - a fixed PCA whitening layer (Noe's 'W'; docs/science.md §4).
 *
 * From data X0 [n, dim]: mean mu, covariance C = (X0-mu)^T (X0-mu) / (n-1),
 * eigendecomposition C = V diag(lambda) V^T (Jacobi), sorted descending, the
 * top `keep` kept (keep = 0: all).  In the project's direction:
 *   inverse (x -> z):  z = (x - mu) V diag(lambda^-1/2),  log|det| = -1/2 sum log lambda
 *   forward (z -> x):  x = z diag(lambda^1/2) V^T + mu,   log|det| = +1/2 sum log lambda
 * With keep < dim the layer has dim_z = keep < dim_x; forward maps onto the
 * principal subspace, so inverse(forward(z)) == z but forward(inverse(x))
 * only returns x's projection.  mu, V and lambda^1/2 are fixed (untrained)
 * tensors of the model's nn_params, so checkpoints save and load them.
 */
#ifndef LIBBG_FLOWS_FLOW_WHITEN_H
#define LIBBG_FLOWS_FLOW_WHITEN_H

#include <stddef.h>

#include "flow.h"
#include "nn/nn_params.h"

/* Fit the whitening of data [n * dim] (n >= 2).  Writes mean [dim],
 * vectors [dim * keep] (column j is the j-th principal direction, row-major
 * [dim, keep]) and sqrt_lambda [keep], descending.  Returns AD_OK,
 * AD_ERR_ARG, AD_ERR_NOMEM, or AD_ERR_NUMERIC when a kept eigenvalue is not
 * positive: lambda <= dim * eps * lambda_max counts as zero, since rounding
 * makes the zero eigenvalues of singular data come out as tiny numbers of
 * either sign (then keep fewer components). */
int flow_whiten_fit(const ad_real *data, int n, int dim, int keep, ad_real *mean,
                    ad_real *vectors, ad_real *sqrt_lambda, char *msg, size_t msg_len);

/* Symmetric eigendecomposition a = V diag(w) V^T by cyclic Jacobi rotations
 * (a [n*n] is overwritten; vectors [n*n] row-major, column j belongs to
 * w[j]; sorted descending).  AD_OK or AD_ERR_NOMEM / AD_ERR_NUMERIC. */
int flow_eigh(ad_real *a, int n, ad_real *w, ad_real *vectors);

/* Designated initializers; a zero keep keeps every component. */
typedef struct flow_whiten_config {
    int dim;              /* width of x (>= 1)                                    */
    int keep;             /* components kept (dim_z), 0 .. dim; 0: dim            */
    const ad_real *data;  /* [n_samples * dim] (coordinate units); NULL: a        */
                          /* placeholder identity whose                           */
                          /* values are meant to come from a checkpoint           */
    int n_samples;        /* rows of data (>= 2)                                  */
} flow_whiten_config;

/* Fits (unless data is NULL) and registers the fixed tensors in p (before
 * nn_params_finalize).  NULL with a message on error. */
flow_layer *flow_whiten_new(nn_params *p, const flow_whiten_config *cfg, char *msg,
                            size_t msg_len);

#endif
