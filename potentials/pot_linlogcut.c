/* pot_linlogcut.c - the linlogcut energy regularisation as one elementwise op. */
#include "pot_linlogcut.h"

#include <math.h>

double pot_linlogcut_value(double e, double e_high, double e_max)
{
    if (!isfinite(e)) return e_max;
    if (e > e_max) e = e_max;
    return e < e_high ? e : e_high + log1p(e - e_high);
}

/* dE'/dE at e: 1 below e_high, 1/(e - e_high + 1) in the log branch, 0 where
 * the value is capped (e >= e_max) or non-finite. */
static double linlogcut_slope(double e, double e_high, double e_max)
{
    if (!isfinite(e) || e >= e_max) return 0;
    return e < e_high ? 1 : 1 / (e - e_high + 1);
}

/* y = linlogcut(e);  de += dy * linlogcut'(e)   (e_high, e_max saved) */
static void linlogcut_backward(ad_tape *t, ad_node *n)
{
    ad_tensor *e = n->inputs[0];
    ad_real *ge = ad_node_grad(t, e);
    if (!ge) return;
    const ad_real *gy = n->output->grad;
    for (size_t i = 0; i < e->size; i++)
        ge[i] += gy[i] * (ad_real)linlogcut_slope(e->data[i], n->saved[0], n->saved[1]);
}
static const ad_op OP_LINLOGCUT = {"linlogcut", linlogcut_backward};

ad_tensor *pot_linlogcut(ad_tape *t, ad_tensor *e, double e_high, double e_max)
{
    if (!ad_op_begin(t, "pot_linlogcut", 1, &e)) return ad_tape_poison(t);
    if (!(isfinite(e_high) && isfinite(e_max) && e_high <= e_max))
        return ad_tape_fail(t, AD_ERR_ARG, "pot_linlogcut: bad arguments #3, #4 (e_high %g, "
                            "e_max %g; expected finite e_high <= e_max)", e_high, e_max);
    ad_tensor *y = ad_tape_tensor(t, e->n_dims, e->shape);
    if (!y->valid) return y;
    for (size_t i = 0; i < e->size; i++)
        y->data[i] = (ad_real)pot_linlogcut_value(e->data[i], e_high, e_max);
    ad_node *n = ad_tape_record(t, &OP_LINLOGCUT, y, 1, &e);
    if (n) {
        n->saved[0] = (ad_real)e_high;
        n->saved[1] = (ad_real)e_max;
    }
    return y;
}
