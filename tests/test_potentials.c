/* test_potentials.c - the double well, Müller-Brown, the dimer in its LJ bath,
 * the fused pair op and linlogcut: reference values at stationary points,
 * forces against finite differences, gradchecks, invariances, errors. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/ad.h"
#include "ck_util.h"
#include "potentials/pot_dimer.h"
#include "potentials/pot_double_well.h"
#include "potentials/pot_linlogcut.h"
#include "potentials/pot_lj_pairs.h"
#include "potentials/pot_muller_brown.h"

/* ---------------------------------------------------------------- helpers */

static double energy1(const pot_potential *p, const ad_real *x)
{
    ad_tape *t = ad_tape_new(0);
    ad_real u = NAN;
    char msg[256];
    int st = pot_energy_eval(p, t, x, 1, &u, msg, sizeof msg);
    ck_assert_msg(st == AD_OK, "%s", msg);
    ad_tape_free(t);
    return u;
}

/* Forces of one configuration against central differences of the energy.
 * Tolerance per element, derived as in ad_gradcheck: with D(h) and D(2h) the
 * truncation error of D(h) is about |D(2h) - D(h)| / 3, the rounding error
 * about eps |u| / h; allow 10x their sum plus 1e-8 |D| (the energy's own
 * rounding in a sum of many terms). */
static void check_forces_fd(const pot_potential *p, const ad_real *x0)
{
    int dim = p->dim;
    ad_real *x = malloc(sizeof(ad_real) * dim), *f = malloc(sizeof(ad_real) * dim);
    memcpy(x, x0, sizeof(ad_real) * dim);
    ad_tape *t = ad_tape_new(0);
    char msg[256];
    ad_real u0;
    ck_assert_msg(pot_forces(p, t, x, 1, &u0, f, msg, sizeof msg) == AD_OK, "%s", msg);
    ad_tape_free(t);
    for (int k = 0; k < dim; k++) {
        double h = 6e-6 * fmax(1.0, fabs(x0[k])), e[4], step[4] = {h, -h, 2 * h, -2 * h};
        for (int s = 0; s < 4; s++) {
            x[k] = x0[k] + step[s];
            e[s] = energy1(p, x);
        }
        x[k] = x0[k];
        double d1 = (e[0] - e[1]) / (2 * h), d2 = (e[2] - e[3]) / (4 * h);
        double tol = 10 * (fabs(d2 - d1) / 3 + AD_REAL_EPS * fabs(u0) / h) + 1e-8 * fabs(d1);
        ck_assert_close(-f[k], d1, tol, 0, p->name, k);
    }
    free(x);
    free(f);
}

static void gradcheck_ok(ad_gradcheck_fn fn, void *ctx, int n, ad_tensor *const *in)
{
    ad_gradcheck_report rep;
    ck_assert_int_eq(ad_gradcheck(fn, ctx, n, in, NULL, &rep), AD_OK);
    ck_assert_msg(rep.ok, "%s", rep.message);
}

static ad_tensor *energy_of_potential(ad_tape *t, ad_tensor *const *in, int n, void *ctx)
{
    (void)n;
    return pot_energy(t, ctx, in[0]);
}

/* The original paper's initial lattice: dimer at (+-d/2, 0), solvent on a
 * 6 x 6 grid linspace(-4, 4, 8)[1:-1] * 1.05, plus noise.  The outer solvent
 * sits at |c| = 3.15 > l_box, so the wall term is exercised too. */
static void dimer_config(ad_real *x, int n_solvent, double d, double noise, ad_rng *r)
{
    x[0] = -d / 2;
    x[1] = 0;
    x[2] = d / 2;
    x[3] = 0;
    for (int k = 0; k < n_solvent; k++) {
        int i = k / 6, j = k % 6;
        x[4 + 2 * k] = 1.05 * (-4 + (8.0 / 7) * (i + 1)) + noise * ad_rng_normal(r);
        x[5 + 2 * k] = 1.05 * (-4 + (8.0 / 7) * (j + 1)) + noise * ad_rng_normal(r);
    }
}

/* The dimer energy written as a plain double loop, term by term. */
static double dimer_reference(const pot_dimer_params *p, const ad_real *x)
{
    int np = 2 + p->n_solvent;
    double d = hypot(x[0] - x[2], x[1] - x[3]), u = 0;
    if (p->bond == POT_DIMER_BOND_SEED) {
        double y = d - p->d0;
        u += p->a / 4 * pow(y, 4) - p->b / 2 * y * y + p->c * y;
    } else {
        double y = 2 * (d - p->d0);
        u += p->slope * y - p->a * y * y + p->b * pow(y, 4);
    }
    u += p->k_d * (pow(x[0] + x[2], 2) + x[1] * x[1] + x[3] * x[3]);
    for (int k = 0; k < 2 * np; k++)
        if (fabs(x[k]) > p->l_box) u += p->k_box * pow(fabs(x[k]) - p->l_box, 2);
    for (int i = 0; i < np; i++)
        for (int j = i + 1; j < np; j++) {
            if (i == 0 && j == 1) continue;
            double r = hypot(x[2 * i] - x[2 * j], x[2 * i + 1] - x[2 * j + 1]);
            u += p->eps * pow(p->sigma / r, 12);
        }
    return u;
}

/* ------------------------------------------------------------- forward */

START_TEST(test_double_well_points)
{
    pot_potential p = pot_double_well(NULL);
    ck_assert_str_eq(p.name, "double-well");
    ck_assert_int_eq(p.dim, 2);
    /* reference x1 and u are rounded to 6 decimals: |u - u_ref| <= 5e-7 plus
     * u'' dx^2 / 2 (~1e-11); |u'(x1)| <= |u''| * 5e-7 <= 26 * 5e-7 = 1.3e-5 */
    const double x1[3] = {-1.772303, 0.083528, 1.688776};
    const double u[3] = {-10.752406, 0.041715, -7.289309};
    for (int k = 0; k < 3; k++) {
        ad_real x[2] = {x1[k], 0}, f[2], e;
        ad_tape *t = ad_tape_new(0);
        char msg[256];
        ck_assert_int_eq(pot_forces(&p, t, x, 1, &e, f, msg, sizeof msg), AD_OK);
        ck_assert_close(e, u[k], 1e-6, 0, "double-well u", k);
        ck_assert_close(f[0], 0, 1.5e-5, 0, "double-well force x1", k);
        ck_assert_close(f[1], 0, 0, 0, "double-well force x2", k);
        ad_tape_free(t);
    }
    /* the formula itself at an arbitrary point: a x1^4 - b x1^2 + c x1 + d x2^2 */
    pot_double_well_params q = {0.5, 2, -0.25, 3};
    pot_potential p2 = pot_double_well(&q);
    ad_real x[2] = {1.5, -0.7};
    double expect = 0.5 * pow(1.5, 4) - 2 * 2.25 - 0.25 * 1.5 + 3 * 0.49;
    /* float: a handful of roundings of terms up to 4.5: 8 eps * 5 */
    ck_assert_close(energy1(&p2, x), expect, CK_REAL_TOL(1e-14, 8 * AD_REAL_EPS * 5),
                    CK_REAL_TOL(1e-14, 8 * AD_REAL_EPS), "double-well formula", 0);
}
END_TEST

START_TEST(test_muller_brown_minima)
{
    pot_potential p = pot_muller_brown(NULL);
    const double m[3][3] = {{-0.55822, 1.44173, -14.66995},
                            {-0.05001, 0.46669, -8.07678},
                            {0.62350, 0.02804, -10.81667}};
    for (int k = 0; k < 3; k++) {
        ad_real x[2] = {m[k][0], m[k][1]}, f[2], e;
        ad_tape *t = ad_tape_new(0);
        char msg[256];
        ck_assert_int_eq(pot_forces(&p, t, x, 1, &e, f, msg, sizeof msg), AD_OK);
        /* the gradient at a point rounded to 5 decimals (|dx| <= 5e-6 sqrt 2)
         * is at most ||H|| |dx|; ||H|| (Frobenius) from central differences
         * of the forces with step 1e-4 */
        double h2 = 0;
        for (int c = 0; c < 2; c++) {
            ad_real xp[2] = {x[0], x[1]}, xm[2] = {x[0], x[1]}, fp[2], fm[2], ep, em;
            xp[c] += 1e-4;
            xm[c] -= 1e-4;
            pot_forces(&p, t, xp, 1, &ep, fp, msg, sizeof msg);
            pot_forces(&p, t, xm, 1, &em, fm, msg, sizeof msg);
            for (int r = 0; r < 2; r++) h2 += pow((fp[r] - fm[r]) / 2e-4, 2);
        }
        double gtol = sqrt(h2) * 5e-6 * sqrt(2.0);
        ck_assert_close(hypot(f[0], f[1]), 0, gtol, 0, "muller-brown |force| at minimum", k);
        /* V rounded to 5 decimals; the position error adds ||H|| dx^2 ~ 1e-9 */
        ck_assert_close(e, m[k][2], 6e-6, 0, "muller-brown V at minimum", k);
        ad_tape_free(t);
    }
}
END_TEST

/* Root of a cubic polynomial c0 + c1 y + c2 y^2 + c3 y^3 near y by Newton. */
static double newton_cubic(const double c[4], double y)
{
    for (int it = 0; it < 100; it++) {
        double f = c[0] + y * (c[1] + y * (c[2] + y * c[3]));
        double df = c[1] + y * (2 * c[2] + 3 * y * c[3]);
        double step = f / df;
        y -= step;
        if (fabs(step) < 1e-15) break;
    }
    return y;
}

START_TEST(test_dimer_bond_extrema)
{
    /* References (docs/science.md §3.1, §3.2): d and U rounded as printed there. */
    struct {
        pot_dimer_params p;
        double d[3], u[3], dtol, utol;
    } forms[2] = {
        {pot_dimer_params_seed(), {0.894, 1.450, 2.156}, {-0.690, 0.013, -1.322}, 5e-4, 5e-4},
        {pot_dimer_params_paper(), {0.9312, 1.520, 2.0487}, {-17.881, 0.040, -13.409}, 5e-4,
         5e-4},
    };
    for (int f = 0; f < 2; f++) {
        pot_dimer_params p = forms[f].p;
        /* dU/dy = 0: seed a y^3 - b y + c (y = d - d0); paper 4b y^3 - 2a y + s (y = 2(d - d0)) */
        double c[4], scale;
        if (p.bond == POT_DIMER_BOND_SEED) {
            c[0] = p.c, c[1] = -p.b, c[2] = 0, c[3] = p.a, scale = 1;
        } else {
            c[0] = p.slope, c[1] = -2 * p.a, c[2] = 0, c[3] = 4 * p.b, scale = 2;
        }
        p.n_solvent = 0; /* dimer alone: U = U_bond + U_center (+ wall), dim 4 */
        pot_potential pot = pot_dimer(&p);
        ck_assert_int_eq(pot.dim, 4);
        for (int k = 0; k < 3; k++) {
            double y = newton_cubic(c, scale * (forms[f].d[k] - p.d0));
            double d = p.d0 + y / scale;
            ck_assert_close(d, forms[f].d[k], forms[f].dtol, 0, "bond extremum d", 3 * f + k);
            /* dimer centred on the x axis: centring and wall terms vanish */
            ad_real x[4] = {-d / 2, 0, d / 2, 0}, force[4], e;
            ad_tape *t = ad_tape_new(0);
            char msg[256];
            ck_assert_int_eq(pot_forces(&pot, t, x, 1, &e, force, msg, sizeof msg), AD_OK);
            ck_assert_close(e, forms[f].u[k], forms[f].utol, 0, "bond extremum U", 3 * f + k);
            /* the extremum is exact to ~1e-15 in y, so forces are rounding-level;
             * float: x = +-d/2 is rounded (by u d / 2 each), which moves the
             * force by up to |U''(d)| u d, U'' = scale^2 (c1 + 3 c3 y^2), and
             * its terms (<= 100) are rounded: 100 eps more */
            double ftol = CK_REAL_TOL(1e-9, fabs(scale * scale * (c[1] + 3 * c[3] * y * y)) *
                                                    AD_REAL_EPS * d + 100 * AD_REAL_EPS);
            for (int j = 0; j < 4; j++) ck_assert_close(force[j], 0, ftol, 0, "bond force", j);
            /* the bond helper agrees with the full energy */
            ad_tensor *dt = ad_full(t, 1, (int[]){1}, (ad_real)d);
            ad_tensor *ub = pot_dimer_bond_energy(t, dt, &p);
            ck_assert(ad_tape_ok(t));
            ck_assert_close(ub->data[0], e, 1e-12, 1e-12, "bond helper", k);
            ad_tape_free(t);
        }
    }
}
END_TEST

START_TEST(test_dimer_double_loop_and_permutation)
{
    ad_rng r;
    ad_rng_seed(&r, 7, 0);
    for (int form = 0; form < 2; form++) {
        pot_dimer_params p = form ? pot_dimer_params_paper() : pot_dimer_params_seed();
        pot_potential pot = pot_dimer(&p);
        ck_assert_int_eq(pot.dim, 76);
        ad_real x[76], y[76];
        dimer_config(x, 36, 1.0 + 0.5 * form, 0.1, &r);
        x[9] = 3.4; /* one coordinate well outside the wall */
        double u = energy1(&pot, x), ref = dimer_reference(&p, x);
        /* 702 pair terms summed in another order: rounding ~ 1e-13 relative;
         * float: each term is rounded (a few u) and the pairs are summed in
         * double: 8 eps relative */
        const double rt = CK_REAL_TOL(1e-12, 8 * AD_REAL_EPS);
        ck_assert_close(u, ref, 0, rt, "dimer vs double loop", form);
        int perm[36];
        ad_rng_permutation(&r, perm, 36);
        memcpy(y, x, sizeof x);
        for (int k = 0; k < 36; k++) {
            y[4 + 2 * k] = x[4 + 2 * perm[k]];
            y[5 + 2 * k] = x[5 + 2 * perm[k]];
        }
        ck_assert_close(energy1(&pot, y), u, 0, rt, "dimer permutation invariance", form);
        /* the composed pair sum gives the same energy */
        p.composed_pairs = 1;
        ck_assert_close(energy1(&pot, x), u, 0, rt, "dimer composed pairs", form);
    }
}
END_TEST

START_TEST(test_lj_fused_matches_composed)
{
    /* values and gradients of the fused op and of the composed one, on a
     * batch of 5 configurations of 7 particles in 3-D, two pairs excluded */
    int excl[4] = {0, 1, 5, 2};
    int n_pairs = pot_pairs_all(7, excl, 2, NULL);
    ck_assert_int_eq(n_pairs, 21 - 2);
    int pairs[38];
    pot_pairs_all(7, excl, 2, pairs);
    pot_pairs pp = {.space_dim = 3, .n_pairs = n_pairs, .pairs = pairs};
    ad_rng r;
    ad_rng_seed(&r, 3, 0);
    ad_real xv[5 * 21];
    ad_rng_fill_uniform(&r, xv, 5 * 21, -2, 2);
    ad_real grad[2][5 * 21], val[2][5];
    for (int v = 0; v < 2; v++) {
        ad_tape *t = ad_tape_new(0);
        ad_tensor *x = ad_tape_input(t, 2, (int[]){5, 21}, xv);
        ad_tensor *e = v ? pot_lj_pairs_composed(t, x, &pp, 1.3, 1.1)
                         : pot_lj_pairs(t, x, &pp, 1.3, 1.1);
        ck_assert_int_eq(ad_backward(t, e), AD_OK);
        memcpy(val[v], e->data, sizeof val[v]);
        memcpy(grad[v], x->grad, sizeof grad[v]);
        if (v == 0) ck_assert_int_eq(ad_tape_n_nodes(t), 1); /* one node, no per-pair nodes */
        ad_tape_free(t);
    }
    /* float: every pair term is rounded (a few u) and the energies are summed
     * in double: 8 eps relative; a gradient element sums 6 pair forces of
     * either sign, each good to a few u: 16 eps of the largest element */
    double gmax = 0;
    for (int k = 0; k < 5 * 21; k++) gmax = fmax(gmax, fabs(grad[1][k]));
    for (int b = 0; b < 5; b++)
        ck_assert_close(val[0][b], val[1][b], 0, CK_REAL_TOL(1e-12, 8 * AD_REAL_EPS), "lj value", b);
    for (int k = 0; k < 5 * 21; k++)
        ck_assert_close(grad[0][k], grad[1][k], CK_REAL_TOL(1e-12, 16 * AD_REAL_EPS * gmax),
                        CK_REAL_TOL(1e-10, 16 * AD_REAL_EPS), "lj gradient", k);
}
END_TEST

START_TEST(test_lj_floor)
{
    /* two coincident particles: r^2 floored at 1e-6 sigma^2 -> eps * 1e36,
     * finite, zero gradient; the same in the composed version */
    int pairs[2] = {0, 1};
    pot_pairs pp = {.space_dim = 2, .n_pairs = 1, .pairs = pairs};
    ad_real xv[4] = {0.3, 0.3, 0.3, 0.3};
    for (int v = 0; v < 2; v++) {
        ad_tape *t = ad_tape_new(0);
        ad_tensor *x = ad_tape_input(t, 2, (int[]){1, 4}, xv);
        ad_tensor *e =
            v ? pot_lj_pairs_composed(t, x, &pp, 1, 1.1) : pot_lj_pairs(t, x, &pp, 1, 1.1);
        ck_assert_int_eq(ad_backward(t, e), AD_OK);
        ck_assert(isfinite(e->data[0]));
        ck_assert_close(e->data[0], 1e36, 0, CK_REAL_TOL(1e-12, 4 * AD_REAL_EPS), "lj at the floor", v);
        for (int k = 0; k < 4; k++) ck_assert_close(x->grad[k], 0, 0, 0, "lj floor gradient", k);
        ad_tape_free(t);
    }
}
END_TEST

START_TEST(test_lj_far_pairs)
{
    /* two particles from 1 to 1e12 sigma apart, in 2-D (the unrolled path)
     * and 3-D: the energy and the gradient are never subnormal; where the
     * exact term eps q^6 (q = sigma^2 / r^2) or the force coefficient
     * 12 eps q^7 / sigma^2 is well above the smallest normal number they
     * agree with it, where it is below that number they are exactly 0 (the
     * far pairs the op skips).  Tolerance: q carries about 4 roundings
     * (sigma^2, r^2, the division), q^6 six times that plus 3 for the
     * products, 27 u = 14 eps, q^7 33 u = 17 eps: checked at twice that */
    const double eps = 1.3, sigma = 1.1, s2 = sigma * sigma;
    int pairs[2] = {0, 1};
    for (int sd = 2; sd <= 3; sd++) {
        pot_pairs pp = {.space_dim = sd, .n_pairs = 1, .pairs = pairs};
        for (int k = 0; k <= 48; k++) {
            ad_real xv[6] = {0};
            double r = sigma * pow(10, k / 4.0);
            xv[sd] = (ad_real)(0.6 * r);
            xv[sd + 1] = (ad_real)(0.8 * r);
            double d[3] = {-(double)xv[sd], -(double)xv[sd + 1], 0}, r2 = d[0] * d[0] + d[1] * d[1];
            double q = s2 / r2, e_ref = eps * pow(q, 6), coef = 12 * eps * pow(q, 7) / s2;
            ad_tape *t = ad_tape_new(0);
            ad_tensor *x = ad_tape_input(t, 2, (int[]){1, 2 * sd}, xv);
            ad_tensor *e = pot_lj_pairs(t, x, &pp, eps, sigma);
            ck_assert_int_eq(ad_backward(t, e), AD_OK);
            double got = e->data[0];
            ck_assert_msg(fpclassify(got) != FP_SUBNORMAL, "r = %g sigma: energy %g subnormal",
                          r / sigma, got);
            if (e_ref >= 32 * AD_REAL_MIN)
                ck_assert_close(got, e_ref, 0, 28 * AD_REAL_EPS, "far energy", k);
            else if (e_ref < AD_REAL_MIN / 2)
                ck_assert_msg(got == 0, "r = %g sigma: energy %g, not 0", r / sigma, got);
            for (int c = 0; c < 2 * sd; c++) {
                double g = x->grad[c];
                /* dE/dx_0 = -12 eps q^6 / r^2 (x_0 - x_1) = -coef d, dE/dx_1 = coef d */
                double want = (c < sd ? -1 : 1) * coef * d[c % sd];
                ck_assert_msg(fpclassify(g) != FP_SUBNORMAL,
                              "r = %g sigma: gradient %d = %g subnormal", r / sigma, c, g);
                if (coef >= 32 * AD_REAL_MIN)
                    ck_assert_close(g, want, 0, 34 * AD_REAL_EPS, "far gradient", k);
                else if (coef < AD_REAL_MIN / 2)
                    ck_assert_msg(g == 0, "r = %g sigma: gradient %d = %g, not 0", r / sigma, c, g);
            }
            ad_tape_free(t);
        }
    }
}
END_TEST

START_TEST(test_linlogcut_values)
{
    const double hi = 100, mx = 1e10;
    ck_assert_close(pot_linlogcut_value(-5, hi, mx), -5, 0, 0, "below", 0);
    ck_assert_close(pot_linlogcut_value(hi, hi, mx), hi, 0, 0, "at e_high", 0);
    ck_assert_close(pot_linlogcut_value(150, hi, mx), hi + log(51.0), 1e-12, 0, "log branch", 0);
    double cap = hi + log(mx - hi + 1);
    ck_assert_close(pot_linlogcut_value(1e300, hi, mx), cap, 1e-12, 0, "capped", 0);
    ck_assert_close(pot_linlogcut_value(NAN, hi, mx), mx, 0, 0, "nan", 0);
    ck_assert_close(pot_linlogcut_value(INFINITY, hi, mx), mx, 0, 0, "inf", 0);
    ck_assert_close(pot_linlogcut_value(-INFINITY, hi, mx), mx, 0, 0, "-inf", 0);
    /* on the tape: derivative 1, 1/(E - E_high + 1), 0 (capped), 0 (NaN) */
    ad_tape *t = ad_tape_new(0);
    ad_real ev[4] = {50, 150, 2e10, NAN};
    ad_tensor *e = ad_tape_input(t, 1, (int[]){4}, ev);
    ad_tensor *y = pot_linlogcut(t, e, hi, mx);
    ck_assert_int_eq(ad_backward(t, y), AD_OK);
    ck_assert_close(e->grad[0], 1, 0, 0, "slope below", 0);
    ck_assert_close(e->grad[1], 1 / 51.0, CK_REAL_TOL(1e-15, 2 * AD_REAL_EPS), 0, "slope log", 1);
    ck_assert_close(e->grad[2], 0, 0, 0, "slope capped", 2);
    ck_assert_close(e->grad[3], 0, 0, 0, "slope nan", 3);
    ck_assert_close(y->data[3], mx, 0, 0, "nan on the tape", 3);
    ad_tape_free(t);
}
END_TEST

START_TEST(test_reduced_energy_and_distance)
{
    pot_potential p = pot_double_well(NULL);
    ad_tape *t = ad_tape_new(0);
    ad_real xv[4] = {0.5, 0.2, -1, 1};
    ad_tensor *x = ad_constant(t, 2, (int[]){2, 2}, xv);
    ad_tensor *u = pot_energy(t, &p, x), *r = pot_reduced_energy(t, &p, x, 2.5);
    ck_assert(ad_tape_ok(t));
    for (int b = 0; b < 2; b++)
        ck_assert_close(r->data[b], u->data[b] / 2.5, CK_REAL_TOL(1e-15, 2 * AD_REAL_EPS),
                        CK_REAL_TOL(1e-15, 2 * AD_REAL_EPS), "u/kT", b);
    ad_real dv[8] = {0, 0, 3, 4, 1, 1, 1, 2};
    ad_tensor *d = pot_dimer_distance(t, ad_constant(t, 2, (int[]){2, 4}, dv));
    ck_assert(ad_tape_ok(t));
    ck_assert_close(d->data[0], 5, 1e-15, 0, "distance", 0);
    ck_assert_close(d->data[1], 1, 1e-15, 0, "distance", 1);
    ck_assert_close(pot_dimer_distance_of(dv), 5, 1e-15, 0, "distance_of", 0);
    ck_assert_int_eq(pot_dimer_is_closed(dv), 0);
    ck_assert_int_eq(pot_dimer_is_closed(dv + 4), 1);
    ad_tape_free(t);
}
END_TEST

/* ----------------------------------------------------- forces vs FD */

START_TEST(test_forces_fd)
{
    ad_rng r;
    ad_rng_seed(&r, 11, 0);
    pot_potential dw = pot_double_well(NULL), mb = pot_muller_brown(NULL);
    ad_real x2[2];
    for (int k = 0; k < 4; k++) {
        ad_rng_fill_uniform(&r, x2, 2, -2, 2);
        check_forces_fd(&dw, x2);
        ad_rng_fill_uniform(&r, x2, 2, -1, 1.5);
        check_forces_fd(&mb, x2);
    }
    for (int form = 0; form < 2; form++) {
        pot_dimer_params p = form ? pot_dimer_params_paper() : pot_dimer_params_seed();
        pot_potential pot = pot_dimer(&p);
        ad_real x[76];
        dimer_config(x, 36, 1.2 + 0.4 * form, 0.05, &r);
        check_forces_fd(&pot, x);
    }
}
END_TEST

/* ----------------------------------------------------------- gradcheck */

static ad_tensor *lj_fused_fn(ad_tape *t, ad_tensor *const *in, int n, void *ctx)
{
    (void)n;
    return pot_lj_pairs(t, in[0], ctx, 0.7, 1.1);
}

static ad_tensor *lj_composed_fn(ad_tape *t, ad_tensor *const *in, int n, void *ctx)
{
    (void)n;
    return pot_lj_pairs_composed(t, in[0], ctx, 0.7, 1.1);
}

START_TEST(test_gradcheck_lj)
{
    /* 6 particles in 2-D and in 3-D, batch 3, distances ~1 (no floor) */
    for (int sd = 2; sd <= 3; sd++) {
        int pairs[30];
        int n_pairs = pot_pairs_all(6, NULL, 0, pairs);
        pot_pairs pp = {.space_dim = sd, .n_pairs = n_pairs, .pairs = pairs};
        ad_tensor *x = ad_tensor_new(2, (int[]){3, 6 * sd});
        ad_rng r;
        ad_rng_seed(&r, 5, (uint64_t)sd);
        for (int b = 0; b < 3; b++)
            for (int i = 0; i < 6; i++)
                for (int k = 0; k < sd; k++)
                    x->data[b * 6 * sd + i * sd + k] =
                        (k == 0 ? 1.2 * i : 0) + 0.1 * ad_rng_normal(&r);
        gradcheck_ok(lj_fused_fn, &pp, 1, &x);
        gradcheck_ok(lj_composed_fn, &pp, 1, &x);
        ad_tensor_free(x);
    }
}
END_TEST

START_TEST(test_gradcheck_potentials)
{
    ad_rng r;
    ad_rng_seed(&r, 9, 0);
    pot_potential dw = pot_double_well(NULL), mb = pot_muller_brown(NULL);
    ad_tensor *x = ad_tensor_new(2, (int[]){4, 2});
    ad_rng_fill_uniform(&r, x->data, 8, -2, 2);
    gradcheck_ok(energy_of_potential, &dw, 1, &x);
    ad_rng_fill_uniform(&r, x->data, 8, -1, 1.5);
    gradcheck_ok(energy_of_potential, &mb, 1, &x);
    ad_tensor_free(x);
    for (int form = 0; form < 2; form++) {
        pot_dimer_params p = form ? pot_dimer_params_paper() : pot_dimer_params_seed();
        pot_potential pot = pot_dimer(&p);
        ad_tensor *xd = ad_tensor_new(2, (int[]){2, 76});
        dimer_config(xd->data, 36, 1.1, 0.05, &r);
        dimer_config(xd->data + 76, 36, 1.9, 0.05, &r);
        gradcheck_ok(energy_of_potential, &pot, 1, &xd);
        p.composed_pairs = 1;
        gradcheck_ok(energy_of_potential, &pot, 1, &xd);
        ad_tensor_free(xd);
    }
}
END_TEST

static ad_tensor *linlogcut_fn(ad_tape *t, ad_tensor *const *in, int n, void *ctx)
{
    (void)n;
    (void)ctx;
    return pot_linlogcut(t, in[0], 10, 1e3);
}

static ad_tensor *distance_fn(ad_tape *t, ad_tensor *const *in, int n, void *ctx)
{
    (void)n;
    (void)ctx;
    return pot_dimer_distance(t, in[0]);
}

START_TEST(test_gradcheck_linlogcut_distance)
{
    /* values away from the kinks at 10 and 1e3: both branches and the cap */
    ad_real ev[6] = {-3, 5, 9.5, 12, 400, 2e3};
    ad_tensor *e = ad_tensor_from(1, (int[]){6}, ev);
    gradcheck_ok(linlogcut_fn, NULL, 1, &e);
    ad_tensor_free(e);
    ad_real dv[8] = {0.1, -0.3, 1.2, 0.4, -1, 2, 0.5, -0.2};
    ad_tensor *x = ad_tensor_from(2, (int[]){2, 4}, dv);
    gradcheck_ok(distance_fn, NULL, 1, &x);
    ad_tensor_free(x);
}
END_TEST

/* -------------------------------------------------------------- errors */

START_TEST(test_errors)
{
    pot_potential dw = pot_double_well(NULL);
    ad_tape *t = ad_tape_new(0);
    ad_tensor *x = ad_zeros(t, 2, (int[]){3, 5});
    ad_tensor *u = pot_energy(t, &dw, x);
    ck_assert(!u->valid);
    ck_assert_str_eq(
        ad_tape_error(t),
        "pot_energy: bad argument #3 (shape [3,5], expected [batch,2] for double-well)");
    ad_tape_reset(t);

    /* NaN coordinates off the tape: a clear message, nothing computed */
    char msg[256];
    ad_real xv[4] = {0, 1, NAN, 0}, uv[2];
    ck_assert_int_eq(pot_energy_eval(&dw, t, xv, 2, uv, msg, sizeof msg), AD_ERR_NUMERIC);
    ck_assert_str_eq(msg, "pot_energy_eval: configuration 1, coordinate 0 is not finite (nan)");
    ad_real fv[4];
    ck_assert_int_eq(pot_forces(&dw, t, xv, 2, uv, fv, msg, sizeof msg), AD_ERR_NUMERIC);

    /* the dimer called directly with the wrong width */
    pot_dimer_params p = pot_dimer_params_seed();
    ad_tape_reset(t);
    u = pot_dimer_energy(t, ad_zeros(t, 2, (int[]){2, 74}), &p);
    ck_assert(!u->valid);
    ck_assert_str_eq(ad_tape_error(t),
                     "pot_dimer_energy: bad argument #2 (shape [2,74], expected [batch,76])");

    /* a pair index out of range, a self pair */
    int bad[2] = {0, 9};
    pot_pairs pp = {.space_dim = 2, .n_pairs = 1, .pairs = bad};
    ad_tape_reset(t);
    u = pot_lj_pairs(t, ad_zeros(t, 2, (int[]){1, 8}), &pp, 1, 1);
    ck_assert(!u->valid);
    ck_assert_str_eq(ad_tape_error(t),
                     "pot_lj_pairs: bad argument #3 (pair 0 = (0,9), 4 particles)");
    int self[2] = {2, 2};
    pp.pairs = self;
    ad_tape_reset(t);
    u = pot_lj_pairs(t, ad_zeros(t, 2, (int[]){1, 8}), &pp, 1, 1);
    ck_assert(!ad_tape_ok(t));

    /* linlogcut with e_high > e_max; kT <= 0 */
    ad_tape_reset(t);
    u = pot_linlogcut(t, ad_zeros(t, 1, (int[]){2}), 10, 5);
    ck_assert(!u->valid);
    ck_assert_str_eq(ad_tape_error(t), "pot_linlogcut: bad arguments #3, #4 (e_high 10, e_max 5; "
                     "expected finite e_high <= e_max)");
    ad_tape_reset(t);
    u = pot_reduced_energy(t, &dw, ad_zeros(t, 2, (int[]){1, 2}), 0);
    ck_assert(!ad_tape_ok(t));
    ad_tape_free(t);
}
END_TEST

Suite *pot_suite(void)
{
    Suite *s = suite_create("potentials");
    TCase *tc = tcase_create("forward");
    tcase_add_test(tc, test_double_well_points);
    tcase_add_test(tc, test_muller_brown_minima);
    tcase_add_test(tc, test_dimer_bond_extrema);
    tcase_add_test(tc, test_dimer_double_loop_and_permutation);
    tcase_add_test(tc, test_lj_fused_matches_composed);
    tcase_add_test(tc, test_lj_floor);
    tcase_add_test(tc, test_lj_far_pairs);
    tcase_add_test(tc, test_linlogcut_values);
    tcase_add_test(tc, test_reduced_energy_and_distance);
    suite_add_tcase(s, tc);
    tc = tcase_create("gradcheck");
    tcase_add_test(tc, test_forces_fd);
    tcase_add_test(tc, test_gradcheck_lj);
    tcase_add_test(tc, test_gradcheck_potentials);
    tcase_add_test(tc, test_gradcheck_linlogcut_distance);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    return s;
}
