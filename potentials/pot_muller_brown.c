/* pot_muller_brown.c - the four Gaussian-like terms, batched as [batch, 4]
 * tensors: the term constants broadcast along the batch. */
#include "pot_muller_brown.h"

static const pot_muller_brown_params DEFAULTS = {
    0.1,
    {-200, -100, -170, 15},
    {-1, -1, -6.5, 0.7},
    {0, 0, 11, 0.6},
    {-10, -10, -6.5, 0.7},
    {1, 0, -0.5, -1},
    {0, 0.5, 1.5, 1},
};

pot_muller_brown_params pot_muller_brown_defaults(void) { return DEFAULTS; }

pot_potential pot_muller_brown(const pot_muller_brown_params *params)
{
    pot_potential p = {"muller-brown", POT_MULLER_BROWN_DIM, pot_muller_brown_energy,
                       params ? (const void *)params : (const void *)&DEFAULTS};
    return p;
}

/* A [4] constant on the tape from one coefficient array. */
static ad_tensor *terms(ad_tape *t, const double *v)
{
    ad_real data[POT_MULLER_BROWN_TERMS];
    for (int j = 0; j < POT_MULLER_BROWN_TERMS; j++) data[j] = (ad_real)v[j];
    int shape[1] = {POT_MULLER_BROWN_TERMS};
    return ad_constant(t, 1, shape, data);
}

ad_tensor *pot_muller_brown_energy(ad_tape *t, ad_tensor *x, const void *params)
{
    const pot_muller_brown_params *p = params ? params : &DEFAULTS;
    if (!ad_op_begin(t, "pot_muller_brown_energy", 1, &x)) return ad_tape_poison(t);
    if (x->n_dims != 2 || x->shape[1] != POT_MULLER_BROWN_DIM)
        return ad_tape_fail(t, AD_ERR_SHAPE, "pot_muller_brown_energy: bad argument #2 "
                            "(expected [batch,2])");
    /* dx, dy: [batch,1] - [4] -> [batch,4] */
    ad_tensor *dx = ad_sub(t, ad_slice_cols(t, x, 0, 1), terms(t, p->x0));
    ad_tensor *dy = ad_sub(t, ad_slice_cols(t, x, 1, 1), terms(t, p->y0));
    ad_tensor *q = ad_mul(t, terms(t, p->a), ad_square(t, dx));
    q = ad_add(t, q, ad_mul(t, terms(t, p->b), ad_mul(t, dx, dy)));
    q = ad_add(t, q, ad_mul(t, terms(t, p->c), ad_square(t, dy)));
    ad_tensor *v = ad_sum_axis(t, ad_mul(t, terms(t, p->A), ad_exp(t, q)), 1);
    return ad_scale(t, v, p->alpha);
}
