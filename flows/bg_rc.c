/* bg_rc.c - reaction coordinates on the tape and on arrays. */
#include "bg_rc.h"

#include <math.h>

bg_rc bg_rc_coordinate(int index)
{
    bg_rc rc = {0};
    rc.kind = BG_RC_COORDINATE;
    rc.index = index;
    return rc;
}

bg_rc bg_rc_projection(const ad_real *vector)
{
    bg_rc rc = {0};
    rc.kind = BG_RC_PROJECTION;
    rc.vector = vector;
    return rc;
}

bg_rc bg_rc_distance(int particle_i, int particle_j)
{
    bg_rc rc = {0};
    rc.kind = BG_RC_DISTANCE;
    rc.particle_i = particle_i;
    rc.particle_j = particle_j;
    return rc;
}

ad_tensor *bg_rc_eval(ad_tape *t, const bg_rc *rc, ad_tensor *x)
{
    if (!ad_op_begin(t, "bg_rc_eval", 1, &x)) return ad_tape_poison(t);
    if (x->n_dims != 2)
        return ad_tape_fail(t, AD_ERR_SHAPE, "bg_rc_eval: x must be [batch, dim]");
    int batch = x->shape[0], dim = x->shape[1];
    int flat[1] = {batch};
    switch (rc->kind) {
    case BG_RC_COORDINATE:
        if (rc->index < 0 || rc->index >= dim)
            return ad_tape_fail(t, AD_ERR_ARG, "bg_rc_eval: coordinate %d of a %d-D system",
                                rc->index, dim);
        return ad_reshape(t, ad_slice_cols(t, x, rc->index, 1), 1, flat);
    case BG_RC_PROJECTION: {
        if (!rc->vector) return ad_tape_fail(t, AD_ERR_ARG, "bg_rc_eval: no projection vector");
        int vshape[2] = {dim, 1};
        ad_tensor *v = ad_constant(t, 2, vshape, rc->vector);
        return ad_reshape(t, ad_matmul(t, x, v, 0, 0), 1, flat);
    }
    case BG_RC_DISTANCE: {
        int i = rc->particle_i, j = rc->particle_j;
        if (i < 0 || j < 0 || 2 * i + 1 >= dim || 2 * j + 1 >= dim || i == j)
            return ad_tape_fail(t, AD_ERR_ARG, "bg_rc_eval: particles %d, %d of a %d-D system",
                                i, j, dim);
        int ci[2] = {2 * i, 2 * i + 1}, cj[2] = {2 * j, 2 * j + 1};
        ad_tensor *diff = ad_sub(t, ad_gather_cols(t, x, ci, 2), ad_gather_cols(t, x, cj, 2));
        return ad_sqrt(t, ad_sum_axis(t, ad_square(t, diff), 1));
    }
    case BG_RC_CUSTOM:
        if (!rc->tape_fn) return ad_tape_fail(t, AD_ERR_ARG, "bg_rc_eval: no tape function");
        return rc->tape_fn(t, x, rc->ctx);
    }
    return ad_tape_fail(t, AD_ERR_ARG, "bg_rc_eval: unknown kind %d", (int)rc->kind);
}

double bg_rc_value(const bg_rc *rc, const ad_real *x, int dim)
{
    switch (rc->kind) {
    case BG_RC_COORDINATE:
        return rc->index >= 0 && rc->index < dim ? x[rc->index] : NAN;
    case BG_RC_PROJECTION: {
        double s = 0;
        for (int k = 0; k < dim; k++) s += rc->vector[k] * x[k];
        return s;
    }
    case BG_RC_DISTANCE: {
        int i = rc->particle_i, j = rc->particle_j;
        if (2 * i + 1 >= dim || 2 * j + 1 >= dim) return NAN;
        double dx = x[2 * i] - x[2 * j], dy = x[2 * i + 1] - x[2 * j + 1];
        return sqrt(dx * dx + dy * dy);
    }
    case BG_RC_CUSTOM:
        return rc->value_fn ? rc->value_fn(x, rc->ctx) : NAN;
    }
    return NAN;
}

void bg_rc_values(const bg_rc *rc, const ad_real *x, int n, int dim, ad_real *r)
{
    for (int i = 0; i < n; i++) r[i] = bg_rc_value(rc, x + (size_t)i * dim, dim);
}
