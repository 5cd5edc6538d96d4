/* pot_double_well.c - u = a x1^4 - b x1^2 + c x1 + d x2^2 from tape ops. */
#include "pot_double_well.h"

static const pot_double_well_params DEFAULTS = {1, 6, 1, 1};

pot_double_well_params pot_double_well_defaults(void) { return DEFAULTS; }

pot_potential pot_double_well(const pot_double_well_params *params)
{
    pot_potential p = {"double-well", POT_DOUBLE_WELL_DIM, pot_double_well_energy,
                       params ? (const void *)params : (const void *)&DEFAULTS};
    return p;
}

ad_tensor *pot_double_well_energy(ad_tape *t, ad_tensor *x, const void *params)
{
    const pot_double_well_params *p = params ? params : &DEFAULTS;
    if (!ad_op_begin(t, "pot_double_well_energy", 1, &x)) return ad_tape_poison(t);
    if (x->n_dims != 2 || x->shape[1] != POT_DOUBLE_WELL_DIM)
        return ad_tape_fail(t, AD_ERR_SHAPE, "pot_double_well_energy: bad argument #2 "
                            "(expected [batch,2])");
    ad_tensor *x1 = ad_slice_cols(t, x, 0, 1), *x2 = ad_slice_cols(t, x, 1, 1);
    ad_tensor *x1sq = ad_square(t, x1);
    ad_tensor *u = ad_add(t, ad_scale(t, ad_square(t, x1sq), p->a), ad_scale(t, x1sq, -p->b));
    u = ad_add(t, u, ad_scale(t, x1, p->c));
    u = ad_add(t, u, ad_scale(t, ad_square(t, x2), p->d));
    int shape[1] = {x->shape[0]};
    return ad_reshape(t, u, 1, shape);
}
