/* pot_dimer.c - the dimer-in-bath energy: bond, centring and wall terms from
 * ad_ ops on [batch, dim] tensors, the pair sum from the fused LJ op. */
#include "pot_dimer.h"

#include <math.h>

#include "pot_lj_pairs.h"

pot_dimer_params pot_dimer_params_seed(void)
{
    pot_dimer_params p = {36, POT_DIMER_BOND_SEED, 25, 10, -0.5, 2.0, 1.5,
                          1.0, 1.1, 3.0, 100, 20, 0};
    return p;
}

pot_dimer_params pot_dimer_params_paper(void)
{
    pot_dimer_params p = pot_dimer_params_seed();
    p.bond = POT_DIMER_BOND_PAPER;
    p.k_box = 200;
    return p;
}

int pot_dimer_dim(const pot_dimer_params *p) { return 2 * (2 + p->n_solvent); }

pot_potential pot_dimer(const pot_dimer_params *params)
{
    pot_potential p = {params->bond == POT_DIMER_BOND_PAPER ? "dimer-paper" : "dimer-seed",
                       pot_dimer_dim(params), pot_dimer_energy, params};
    return p;
}

ad_tensor *pot_dimer_bond_energy(ad_tape *t, ad_tensor *d, const pot_dimer_params *p)
{
    if (!ad_op_begin(t, "pot_dimer_bond_energy", 1, &d)) return ad_tape_poison(t);
    if (!p) return ad_tape_fail(t, AD_ERR_ARG, "pot_dimer_bond_energy: bad argument #3 (NULL)");
    if (p->bond == POT_DIMER_BOND_PAPER) {
        ad_tensor *y = ad_scale(t, ad_add_scalar(t, d, -p->d0), 2);
        ad_tensor *y2 = ad_square(t, y);
        ad_tensor *u = ad_add(t, ad_scale(t, y, p->slope), ad_scale(t, y2, -p->a));
        return ad_add(t, u, ad_scale(t, ad_square(t, y2), p->b));
    }
    ad_tensor *y = ad_add_scalar(t, d, -p->d0);
    ad_tensor *y2 = ad_square(t, y);
    ad_tensor *u = ad_add(t, ad_scale(t, ad_square(t, y2), p->a / 4), ad_scale(t, y2, -p->b / 2));
    return ad_add(t, u, ad_scale(t, y, p->c));
}

ad_tensor *pot_dimer_distance(ad_tape *t, ad_tensor *x)
{
    if (!ad_op_begin(t, "pot_dimer_distance", 1, &x)) return ad_tape_poison(t);
    if (x->n_dims != 2 || x->shape[1] < 4)
        return ad_tape_fail(t, AD_ERR_SHAPE, "pot_dimer_distance: bad argument #2 (expected "
                            "[batch, >=4])");
    ad_tensor *dx = ad_sub(t, ad_slice_cols(t, x, 0, 1), ad_slice_cols(t, x, 2, 1));
    ad_tensor *dy = ad_sub(t, ad_slice_cols(t, x, 1, 1), ad_slice_cols(t, x, 3, 1));
    ad_tensor *d = ad_sqrt(t, ad_add(t, ad_square(t, dx), ad_square(t, dy)));
    int shape[1] = {x->shape[0]};
    return ad_reshape(t, d, 1, shape);
}

double pot_dimer_distance_of(const ad_real *x) { return hypot(x[0] - x[2], x[1] - x[3]); }

int pot_dimer_is_closed(const ad_real *x) { return pot_dimer_distance_of(x) < POT_DIMER_D_SPLIT; }

ad_tensor *pot_dimer_energy(ad_tape *t, ad_tensor *x, const void *params)
{
    const pot_dimer_params *p = params;
    if (!ad_op_begin(t, "pot_dimer_energy", 1, &x)) return ad_tape_poison(t);
    if (!p || p->n_solvent < 0)
        return ad_tape_fail(t, AD_ERR_ARG, "pot_dimer_energy: bad argument #3 (parameters)");
    int dim = pot_dimer_dim(p);
    if (x->n_dims != 2 || x->shape[1] != dim) {
        char buf[64];
        ad_shape_str(x->n_dims, x->shape, buf, sizeof buf);
        return ad_tape_fail(t, AD_ERR_SHAPE, "pot_dimer_energy: bad argument #2 (shape %s, "
                            "expected [batch,%d])", buf, dim);
    }
    int batch = x->shape[0], n_particles = 2 + p->n_solvent;
    ad_tensor *u = pot_dimer_bond_energy(t, pot_dimer_distance(t, x), p);

    /* centring: k_d ((x0 + x1)^2 + y0^2 + y1^2), on [batch,1] columns */
    ad_tensor *cx = ad_add(t, ad_slice_cols(t, x, 0, 1), ad_slice_cols(t, x, 2, 1));
    ad_tensor *c = ad_add(t, ad_square(t, cx), ad_square(t, ad_slice_cols(t, x, 1, 1)));
    c = ad_add(t, c, ad_square(t, ad_slice_cols(t, x, 3, 1)));
    int shape[1] = {batch};
    u = ad_add(t, u, ad_reshape(t, ad_scale(t, c, p->k_d), 1, shape));

    /* wall: k_box relu(|c| - l_box)^2 is (|c| - l)^2 outside the box and 0
     * inside, with a continuous first derivative at the wall */
    ad_tensor *out = ad_relu(t, ad_add_scalar(t, ad_abs(t, x), -p->l_box));
    u = ad_add(t, u, ad_scale(t, ad_sum_axis(t, ad_square(t, out), 1), p->k_box));

    /* every unordered pair once, except the dimer pair (0,1) */
    int exclude[2] = {0, 1};
    int n_pairs = pot_pairs_all(n_particles, exclude, 1, NULL);
    int *pairs = ad_tape_alloc(t, (size_t)n_pairs * 2 * sizeof(int) + 1);
    if (!pairs) return ad_tape_poison(t);
    pot_pairs_all(n_particles, exclude, 1, pairs);
    pot_pairs pp = {.space_dim = 2, .n_pairs = n_pairs, .pairs = pairs};
    ad_tensor *lj = p->composed_pairs ? pot_lj_pairs_composed(t, x, &pp, p->eps, p->sigma)
                                      : pot_lj_pairs(t, x, &pp, p->eps, p->sigma);
    return ad_add(t, u, lj);
}
