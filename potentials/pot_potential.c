/* pot_potential.c - the shape-checked energy, reduced energies, and the
 * off-tape helpers for energies and forces -dU/dx. */
#include "pot_potential.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

ad_tensor *pot_energy(ad_tape *t, const pot_potential *p, ad_tensor *x)
{
    if (!ad_op_begin(t, "pot_energy", 1, &x)) return ad_tape_poison(t);
    if (!p || !p->energy || p->dim < 1)
        return ad_tape_fail(t, AD_ERR_ARG, "pot_energy: bad argument #2 (no potential)");
    if (x->n_dims != 2 || x->shape[1] != p->dim) {
        char buf[64];
        ad_shape_str(x->n_dims, x->shape, buf, sizeof buf);
        return ad_tape_fail(t, AD_ERR_SHAPE,
                            "pot_energy: bad argument #3 (shape %s, expected [batch,%d] for %s)",
                            buf, p->dim, p->name ? p->name : "the potential");
    }
    ad_tensor *u = p->energy(t, x, p->params);
    if (!ad_tape_ok(t)) return ad_tape_poison(t);
    if (!u || !u->valid || u->n_dims != 1 || u->shape[0] != x->shape[0]) {
        char buf[64] = "none";
        if (u && u->valid) ad_shape_str(u->n_dims, u->shape, buf, sizeof buf);
        return ad_tape_fail(t, AD_ERR_SHAPE, "pot_energy: %s returned shape %s, expected [%d]",
                            p->name ? p->name : "the potential", buf, x->shape[0]);
    }
    return u;
}

ad_tensor *pot_reduced_energy(ad_tape *t, const pot_potential *p, ad_tensor *x, double kT)
{
    if (t && ad_tape_ok(t) && !(kT > 0 && isfinite(kT)))
        return ad_tape_fail(t, AD_ERR_ARG, "pot_reduced_energy: bad argument #4 (kT = %g, "
                            "expected a finite value > 0)", kT);
    ad_tensor *u = pot_energy(t, p, x);
    return kT == 1 ? u : ad_scale(t, u, (ad_real)(1 / kT));
}

/* Shared checks of the off-tape helpers; 0 when the arguments are usable. */
static int check_args(const char *fn, const pot_potential *p, ad_tape *scratch, const ad_real *x,
                      int n, const ad_real *u, char *msg, size_t msg_len)
{
    if (!p || !p->energy || p->dim < 1 || !scratch || n < 0 || (n > 0 && (!x || !u))) {
        if (msg && msg_len) snprintf(msg, msg_len, "%s: bad arguments (NULL or n < 0)", fn);
        return AD_ERR_ARG;
    }
    for (size_t k = 0; k < (size_t)n * (size_t)p->dim; k++)
        if (!isfinite(x[k])) {
            if (msg && msg_len)
                snprintf(msg, msg_len, "%s: configuration %zu, coordinate %zu is not finite (%g)",
                         fn, k / (size_t)p->dim, k % (size_t)p->dim, (double)x[k]);
            return AD_ERR_NUMERIC;
        }
    return AD_OK;
}

static int tape_status(ad_tape *t, char *msg, size_t msg_len)
{
    if (ad_tape_ok(t)) return AD_OK;
    if (msg && msg_len) snprintf(msg, msg_len, "%s", ad_tape_error(t));
    return ad_tape_status(t);
}

int pot_energy_eval(const pot_potential *p, ad_tape *scratch, const ad_real *x, int n,
                    ad_real *u, char *msg, size_t msg_len)
{
    int status = check_args("pot_energy_eval", p, scratch, x, n, u, msg, msg_len);
    if (status != AD_OK || n == 0) return status;
    ad_tape_reset(scratch);
    int old = ad_tape_set_grad_enabled(scratch, 0);
    int shape[2] = {n, p->dim};
    ad_tensor *e = pot_energy(scratch, p, ad_constant(scratch, 2, shape, x));
    status = tape_status(scratch, msg, msg_len);
    if (status == AD_OK) memcpy(u, e->data, (size_t)n * sizeof(ad_real));
    ad_tape_set_grad_enabled(scratch, old);
    return status;
}

int pot_forces(const pot_potential *p, ad_tape *scratch, const ad_real *x, int n, ad_real *u,
               ad_real *forces, char *msg, size_t msg_len)
{
    int status = check_args("pot_forces", p, scratch, x, n, u, msg, msg_len);
    if (status == AD_OK && n > 0 && !forces) {
        if (msg && msg_len) snprintf(msg, msg_len, "pot_forces: bad argument #6 (NULL forces)");
        status = AD_ERR_ARG;
    }
    if (status != AD_OK || n == 0) return status;
    ad_tape_reset(scratch);
    int old = ad_tape_set_grad_enabled(scratch, 1);
    int shape[2] = {n, p->dim};
    ad_tensor *xt = ad_tape_input(scratch, 2, shape, x);
    ad_tensor *e = pot_energy(scratch, p, xt);
    size_t size = (size_t)n * (size_t)p->dim;
    /* ad_backward seeds every element of u with 1: since u_b depends only on
     * row b of x, the gradient of sum(u) is the per-configuration gradient. */
    if (ad_tape_ok(scratch) && e->requires_grad) ad_backward(scratch, e);
    status = tape_status(scratch, msg, msg_len);
    if (status == AD_OK) {
        memcpy(u, e->data, (size_t)n * sizeof(ad_real));
        for (size_t k = 0; k < size; k++) forces[k] = xt->grad ? -xt->grad[k] : 0;
    }
    ad_tape_set_grad_enabled(scratch, old);
    return status;
}
