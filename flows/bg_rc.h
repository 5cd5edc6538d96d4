/* bg_rc.h - reaction coordinates: small functions r(x) on the tape, used by
 * the RC loss during training and by the analysis of samples.
 *
 * A bg_rc is a plain value owned by the caller.  Built-in kinds: one
 * coordinate (double well: x1), a projection onto a vector (Müller-Brown's
 * (x - y)/2), and the distance between two 2-D particles (the dimer's bond).
 * A user-written kind supplies both a tape function and an array function.
 */
#ifndef LIBBG_FLOWS_BG_RC_H
#define LIBBG_FLOWS_BG_RC_H

#include "autodiff/ad.h"

typedef enum bg_rc_kind {
    BG_RC_COORDINATE = 0, /* r = x[index]                                   */
    BG_RC_PROJECTION,     /* r = sum_k vector[k] x[k]                       */
    BG_RC_DISTANCE,       /* r = |p_i - p_j|, particle k at x[2k], x[2k+1]  */
    BG_RC_CUSTOM          /* r from the two user functions below            */
} bg_rc_kind;

typedef struct bg_rc {
    bg_rc_kind kind;
    int index;                 /* COORDINATE: which coordinate                  */
    const ad_real *vector;     /* PROJECTION: [dim] weights (caller-owned)      */
    int particle_i;            /* DISTANCE: the two particles                   */
    int particle_j;
    /* CUSTOM: r on the tape (x [batch, dim] -> [batch]) and for one row. */
    ad_tensor *(*tape_fn)(ad_tape *t, ad_tensor *x, const void *ctx);
    double (*value_fn)(const ad_real *x, const void *ctx);
    const void *ctx;
} bg_rc;

bg_rc bg_rc_coordinate(int index);
bg_rc bg_rc_projection(const ad_real *vector);
bg_rc bg_rc_distance(int particle_i, int particle_j);

/* r for every row of x [batch, dim] -> [batch], differentiable. */
ad_tensor *bg_rc_eval(ad_tape *t, const bg_rc *rc, ad_tensor *x);
/* r of one configuration x[dim] (no tape). */
double bg_rc_value(const bg_rc *rc, const ad_real *x, int dim);
/* r of n rows of x[n * dim] into r[n]. */
void bg_rc_values(const bg_rc *rc, const ad_real *x, int n, int dim, ad_real *r);

#endif
