/* flow.h - the flow-layer interface: an invertible map with a tractable
 * log-determinant, on the tape.
 *
 * DIRECTION (fixed for the whole project, as in the Boltzmann-generator paper,
 * bgflow and normflows; nflows uses the opposite one):
 *   forward:  latent z [batch, dim_z]  ->  configuration x [batch, dim_x],
 *             and *logdet = log|det dx/dz|   [batch]
 *   inverse:  x  ->  z,  and *logdet = log|det dz/dx| = -(forward's)
 * Every layer MUST satisfy, to rounding:
 *   inverse(forward(z)) == z,  forward(inverse(x)) == x (for x in its range),
 *   logdet_forward(z) + logdet_inverse(forward(z)) == 0,
 *   logdet_forward == log|det J| of the Jacobian of forward.
 * dim_z < dim_x only for a truncated whitening layer (then forward maps onto
 * a dim_z-dimensional affine subspace and logdet is that of the square part).
 *
 * Tensors are [batch, dim] row-major.  Everything a layer returns belongs to
 * the tape.  With ad_tape_set_grad_enabled(t, 0) layers record nothing.
 * Errors go to the tape's sticky error (the wrappers below check shapes).
 *
 * A layer is a struct whose first member is a flow_layer (C-style
 * inheritance); the constructor fills `ops` and the dimensions.  Trainable
 * parameters are registered by the constructor in an nn_params that the
 * model owns; the layer keeps views.  flow_layer_free releases the layer
 * (the nn_params is freed by its owner).  docs/flows.md shows a whole layer.
 */
#ifndef LIBBG_FLOWS_FLOW_H
#define LIBBG_FLOWS_FLOW_H

#include "autodiff/ad.h"

typedef struct flow_layer flow_layer;

typedef struct flow_layer_ops {
    const char *name; /* e.g. "affine-coupling" */
    /* z [batch, dim_z] -> x [batch, dim_x]; *logdet = log|det dx/dz| [batch]. */
    ad_tensor *(*forward)(const flow_layer *l, ad_tape *t, ad_tensor *z, ad_tensor **logdet);
    /* x [batch, dim_x] -> z [batch, dim_z]; *logdet = log|det dz/dx| [batch]. */
    ad_tensor *(*inverse)(const flow_layer *l, ad_tape *t, ad_tensor *x, ad_tensor **logdet);
    /* Write up to max_out trainable parameter tensors into out; return how
     * many the layer has.  NULL means none. */
    int (*parameters)(const flow_layer *l, ad_tensor **out, int max_out);
    /* Release the layer and everything it owns (not its nn_params). */
    void (*free)(flow_layer *l);
} flow_layer_ops;

struct flow_layer {
    const flow_layer_ops *ops; /* the layer's functions            */
    int dim_z;                 /* latent-side width                */
    int dim_x;                 /* configuration-side width         */
};

/* Checked calls: t must be ok and z (x) a valid [batch, dim_z] ([batch,
 * dim_x]) tensor; otherwise the tape error is set and the poison returned
 * (*logdet too).  logdet may be NULL when the caller does not need it. */
ad_tensor *flow_layer_forward(const flow_layer *l, ad_tape *t, ad_tensor *z, ad_tensor **logdet);
ad_tensor *flow_layer_inverse(const flow_layer *l, ad_tape *t, ad_tensor *x, ad_tensor **logdet);
int flow_layer_parameters(const flow_layer *l, ad_tensor **out, int max_out);
const char *flow_layer_name(const flow_layer *l);
void flow_layer_free(flow_layer *l); /* accepts NULL */

/* A constant log-determinant c for every row: a [batch] tensor (helper for
 * layers such as permutations and whitening). */
ad_tensor *flow_logdet_constant(ad_tape *t, int batch, ad_real c);

#endif
