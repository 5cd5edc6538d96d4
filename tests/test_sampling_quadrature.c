/* test_sampling_quadrature.c - exact references by grid quadrature: the
 * double well and Müller-Brown basin free energies against the reference
 * values, temperature dependence and the profile against independent 1-D
 * integrals, the nearest-minimum rule, errors. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "autodiff/ad.h"
#include "ck_util.h"
#include "potentials/pot_double_well.h"
#include "potentials/pot_muller_brown.h"
#include "sampling/smp_quadrature.h"

/* u(x1) of the double well without x2 (the x2 factor is the same Gaussian
 * integral for every x1, so it cancels in every ratio). */
static double dw_u1(double x) { return x * x * x * x - 6 * x * x + x; }

/* Simpson's rule for e^{-u(x1)/kT} over [a, b] with n (even) intervals;
 * with n = 20000 on [-4, 4] its error is far below 1e-10 relative. */
static double simpson(double a, double b, int n, double kT, double shift)
{
    double h = (b - a) / n, s = 0;
    for (int i = 0; i <= n; i++) {
        double w = (i == 0 || i == n) ? 1 : (i % 2 ? 4 : 2);
        s += w * exp(-(dw_u1(a + i * h) - shift) / kT);
    }
    return s * h / 3;
}

START_TEST(test_double_well_reference)
{
    pot_potential dw = pot_double_well(NULL);
    ad_tape *t = ad_tape_new(0);
    smp_potential_ctx ctx = {.potential = &dw, .scratch = t};
    /* spacing 0.005; x1 to +-3 (u = 30 there, 41 kT above the minimum), x2 to +-5 */
    smp_grid2d g = {.x_min = -3, .x_max = 3, .y_min = -5, .y_max = 5, .nx = 1201, .ny = 2001};
    ad_real minima[4] = {-1, 0, 1, 0}; /* the split at x1 = 0 of the reference */
    smp_quad_basins r;
    char msg[256];
    ck_assert_int_eq(smp_quad_basins_compute(smp_potential_energy, &ctx, &g, 1.0, minima, 2, &r,
                                             msg, sizeof msg), AD_OK);
    ck_assert_msg(r.boundary_weight < 1e-10, "edge weight %g", r.boundary_weight);
    ck_assert_msg(r.error[1] < 1e-5, "quadrature error estimate %g", r.error[1]);
    /* references quoted to 4 and 5 decimals: tolerance half a unit in the
     * last digit plus the quadrature error estimate */
    ck_assert_close(r.delta_f[1], 3.3799, 5e-5 + r.error[1], 0, "double-well dF", 0);
    ck_assert_close(r.population[0], 0.96707, 5e-6 + r.error[1], 0, "left population", 0);
    /* ln Z = ln(sqrt(pi) int e^{-u(x1)} dx1) (report form d x2^2, d = 1) */
    double lz = log(sqrt(acos(-1.0)) * simpson(-4, 4, 20000, 1.0, 0));
    ck_assert_close(r.log_z, lz, 1e-6 + r.log_z_error, 0, "ln Z", 0);
    ck_assert_close(r.log_z, 10.6739, 5e-5, 0, "ln Z reference", 0);

    /* any kT: at kT = 2.5 against the 1-D Simpson integrals on each side */
    smp_grid2d g2 = {.x_min = -3.5, .x_max = 3.5, .y_min = -8, .y_max = 8, .nx = 1401, .ny = 3201};
    ck_assert_int_eq(smp_quad_basins_compute(smp_potential_energy, &ctx, &g2, 2.5, minima, 2, &r,
                                             msg, sizeof msg), AD_OK);
    ck_assert_msg(r.boundary_weight < 1e-10, "edge weight %g", r.boundary_weight);
    double zl = simpson(-4, 0, 20000, 2.5, -10), zr = simpson(0, 4, 20000, 2.5, -10);
    ck_assert_close(r.delta_f[1], -log(zr / zl), 1e-6 + 2 * r.error[1], 0, "dF at kT 2.5", 0);
    ad_tape_free(t);
}
END_TEST

START_TEST(test_muller_brown_reference)
{
    pot_potential mb = pot_muller_brown(NULL);
    ad_tape *t = ad_tape_new(0);
    smp_potential_ctx ctx = {.potential = &mb, .scratch = t};
    /* spacing 0.002 on the reference domain [-1.5, 1.2] x [-0.5, 2.0] */
    smp_grid2d g = {.x_min = -1.5, .x_max = 1.2, .y_min = -0.5, .y_max = 2.0, .nx = 1351,
                    .ny = 1251};
    ad_real minima[6] = {-0.558, 1.442, -0.050, 0.467, 0.624, 0.028};
    smp_quad_basins r;
    char msg[256];
    ck_assert_int_eq(smp_quad_basins_compute(smp_potential_energy, &ctx, &g, 1.0, minima, 3, &r,
                                             msg, sizeof msg), AD_OK);
    ck_assert_msg(r.error[1] < 3e-5 && r.error[2] < 3e-5, "error estimates %g %g", r.error[1],
                  r.error[2]);
    /* The edge carries weight 3e-6 of the peak, but enlarging the domain to
     * [-2.5, 2] x [-1.5, 3] moves dF by < 1e-5 (checked when this was
     * written), and refining the spacing to 0.0005 moves these values by
     * < 3e-6 (5.569389 and 3.794419 there).  B's small population makes
     * dF(B-A) sensitive (3e-4) to where the basin boundaries fall: the quoted
     * 5.5697 (minima to 5 decimals) is good to 5e-4 with these minima. */
    ck_assert_close(r.delta_f[1], 5.5697, 5e-4, 0, "Muller-Brown dF(B-A)", 0);
    ck_assert_close(r.delta_f[1], 5.569389, 3e-6 + r.error[1], 0, "Muller-Brown dF(B-A)", 1);
    ck_assert_close(r.delta_f[2], 3.7944, 5e-5 + r.error[2], 0, "Muller-Brown dF(C-A)", 0);
    ck_assert_close(r.log_z, 11.7296, 5e-5 + r.log_z_error, 0, "Muller-Brown ln Z", 0);
    double sum = r.population[0] + r.population[1] + r.population[2];
    ck_assert_close(sum, 1, 1e-12, 0, "populations sum", 0);
    /* with the minima to 5 decimals, converged (spacing 0.0005) values are
     * dF(B-A) = 5.569638 and dF(C-A) = 3.794381: the quoted 5.5697 is 6e-5
     * above the first, 3.7944 within rounding of the second */
    ad_real exact[6] = {-0.55822, 1.44173, -0.05001, 0.46669, 0.62350, 0.02804};
    ck_assert_int_eq(smp_quad_basins_compute(smp_potential_energy, &ctx, &g, 1.0, exact, 3, &r,
                                             msg, sizeof msg), AD_OK);
    ck_assert_close(r.delta_f[1], 5.569638, 3e-6 + r.error[1], 0, "dF(B-A), exact minima", 0);
    ck_assert_close(r.delta_f[1], 5.5697, 1e-4, 0, "dF(B-A), exact minima, quoted", 0);
    ck_assert_close(r.delta_f[2], 3.7944, 5e-5 + r.error[2], 0, "dF(C-A), exact minima", 0);
    ad_tape_free(t);
}
END_TEST

static double mb_projection(void *ctx, const ad_real *x)
{
    (void)ctx;
    return (x[0] - x[1]) / 2;
}

START_TEST(test_profiles)
{
    /* double well along x1: bins of width 0.1 hold 20 nodes each (spacing
     * 0.005, nodes offset by half a spacing from the bin edges), so each bin
     * is a midpoint rule whose relative error is about
     * h^2/24 (u'^2 + |u''|)/kT^2 <= 1e-6 * 600 = 6e-4 for |x1| <= 2.3 */
    pot_potential dw = pot_double_well(NULL);
    ad_tape *t = ad_tape_new(0);
    smp_potential_ctx ctx = {.potential = &dw, .scratch = t};
    smp_grid2d g = {.x_min = -2.9975, .x_max = 2.9975, .y_min = -5, .y_max = 5, .nx = 1200,
                    .ny = 2001};
    double f[60];
    char msg[256];
    ck_assert_int_eq(smp_quad_profile(smp_potential_energy, &ctx, &g, 1.0, NULL, NULL, -3, 3, 60,
                                      f, msg, sizeof msg), AD_OK);
    double z = simpson(-4, 4, 20000, 1.0, -10);
    for (int k = 0; k < 60; k++) {
        double a = -3 + 0.1 * k;
        if (a < -2.3 || a + 0.1 > 2.3) continue;
        double fk = -log(simpson(a, a + 0.1, 200, 1.0, -10) / z / 0.1);
        ck_assert_close(f[k], fk, 6e-4, 0, "double-well profile", k);
    }
    ad_tape_free(t);

    /* Müller-Brown along s = (x - y)/2: global minimum near s = -0.99 and a
     * second minimum about 4.6 kT higher near s = 0.31 (reference values
     * read from a 100-bin histogram: compared to 0.03 in s, 0.2 kT) */
    pot_potential mb = pot_muller_brown(NULL);
    t = ad_tape_new(0);
    smp_potential_ctx mctx = {.potential = &mb, .scratch = t};
    smp_grid2d gm = {.x_min = -1.5, .x_max = 1.2, .y_min = -0.5, .y_max = 2.0, .nx = 1351,
                     .ny = 1251};
    enum { NB = 100 };
    double fm[NB];
    const double s0 = -1.35, s1 = 0.85, w = (s1 - s0) / NB;
    ck_assert_int_eq(smp_quad_profile(smp_potential_energy, &mctx, &gm, 1.0, mb_projection, NULL,
                                      s0, s1, NB, fm, msg, sizeof msg), AD_OK);
    int kmin = 0, kc = -1;
    for (int k = 1; k < NB; k++)
        if (fm[k] < fm[kmin]) kmin = k;
    for (int k = 1; k < NB - 1; k++) {
        double s = s0 + (k + 0.5) * w;
        if (s > 0.1 && fm[k] <= fm[k - 1] && fm[k] <= fm[k + 1] && (kc < 0 || fm[k] < fm[kc]))
            kc = k;
    }
    ck_assert_close(s0 + (kmin + 0.5) * w, -0.99, 0.03, 0, "MB profile global minimum", 0);
    ck_assert_int_ge(kc, 0);
    ck_assert_close(s0 + (kc + 0.5) * w, 0.31, 0.03, 0, "MB profile second minimum", 0);
    ck_assert_close(fm[kc] - fm[kmin], 4.6, 0.2, 0, "MB second minimum height", 0);
    ad_tape_free(t);
}
END_TEST

/* The tilted ring u = 5 (x^2 + y^2 - 1)^2 + x / 2 (kT = 1) with basins split
 * at x = 0, a line on which the weight is large and not flat:
 * d/dx e^{-u} = -e^{-u} / 2 there, so a rule whose error depends on where
 * the line falls within a cell shows it. */
static double ring_u(double x, double y)
{
    double r = x * x + y * y - 1;
    return 5 * r * r + 0.5 * x;
}

static int ring_energy(void *ctx, const ad_real *x, int n, int dim, ad_real *u, char *msg,
                       size_t msg_len)
{
    (void)ctx;
    (void)dim;
    (void)msg;
    (void)msg_len;
    for (int i = 0; i < n; i++) u[i] = (ad_real)ring_u((double)x[2 * i], (double)x[2 * i + 1]);
    return AD_OK;
}

static smp_quad_basins ring_basins(int n)
{
    smp_grid2d g = {.x_min = -2.5, .x_max = 2.5, .y_min = -2.5, .y_max = 2.5, .nx = n, .ny = n};
    ad_real minima[4] = {-1, 0, 1, 0};
    smp_quad_basins r;
    char msg[256];
    ck_assert_int_eq(smp_quad_basins_compute(ring_energy, NULL, &g, 1.0, minima, 2, &r, msg,
                                             sizeof msg), AD_OK);
    ck_assert_msg(r.boundary_weight < 1e-40, "edge weight %g", r.boundary_weight);
    return r;
}

START_TEST(test_boundary_through_nodes)
{
    /* With n odd the line x = 0 runs through a column of nodes; with n even
     * it runs half-way between two.  Per unit length of a straight boundary
     * along a grid line at offset d from the centre of the cell it cuts, the
     * cell-fraction rule misses the integral of one side by
     *   w_n h^2 (d^2 / (2 h^2) - 1/12)          (w_n = outward derivative of w)
     * (midpoint error h^2/24 w_n of the whole cells plus the first moment
     * -(h^2/4 - d^2)/2 w_n of the cut one): -h^2/12 w_n for d = 0 (the
     * trapezoidal end correction: half the node's weight on each side) and
     * +h^2/24 w_n for d = h/2 (the midpoint one).  Here w_n = -I / 2 on the
     * left side and +I / 2 on the right (I = int e^{-u(0, y)} dy), so
     *   dF_even - dF_odd = (h_odd^2 / 12 + h_even^2 / 24) (I / 2) (1/Z_L + 1/Z_R)
     * up to terms of relative order h^2 (below 1e-3 here: the next Euler-
     * Maclaurin terms carry h^2 times derivatives of u of order 10-100).
     * Counting a boundary node wholly on one side instead adds h/2 I / Z_L,
     * about 2.4e-3 at n = 601, 400 times the difference asserted here. */
    double I = 0;
    for (int i = 0; i <= 20000; i++) { /* Simpson on [-2.5, 2.5] */
        double y = -2.5 + i * 2.5e-4;
        I += (i == 0 || i == 20000 ? 1 : (i % 2 ? 4 : 2)) * exp(-ring_u(0, y));
    }
    I *= 2.5e-4 / 3;
    int sizes[2][2] = {{601, 600}, {1201, 1200}};
    double diff[2], pred[2];
    for (int s = 0; s < 2; s++) {
        smp_quad_basins odd = ring_basins(sizes[s][0]), even = ring_basins(sizes[s][1]);
        double z = exp(odd.log_z), zl = odd.population[0] * z, zr = odd.population[1] * z;
        double ho = 5.0 / (sizes[s][0] - 1), he = 5.0 / (sizes[s][1] - 1);
        double predicted = (ho * ho / 12 + he * he / 24) * (I / 2) * (1 / zl + 1 / zr);
        diff[s] = even.delta_f[1] - odd.delta_f[1];
        pred[s] = predicted;
        ck_assert_close(diff[s], predicted, 0, 1e-3, "dF(even) - dF(odd)", sizes[s][0]);
        /* the two agree on ln Z to rounding: the boundary does not enter it;
         * float: every node's energy is rounded to ad_real (by u |u/kT|,
         * |u/kT| < 8 where the weight is), and the grids share few nodes:
         * 16 eps */
        ck_assert_close(even.log_z, odd.log_z, CK_REAL_TOL(1e-12, 16 * AD_REAL_EPS), 0,
                        "ln Z even vs odd", sizes[s][0]);
    }
    /* second order: halving h divides the difference by 4 (by slightly more
     * here: the even grids' spacings are 5/599 and 5/1199) */
    ck_assert_close(diff[0] / diff[1], pred[0] / pred[1], 0, 2e-3, "convergence order", 0);

    /* The error estimate is of the order of the true error.  For a boundary
     * along a grid line the sub-grid whose cells are centred where the fine
     * cut cell is gives, after Richardson's division by 3, exactly h^2/12
     * |w_n| per unit length, which bounds the fine error (between -1/12 and
     * +1/24 of h^2 |w_n|) and is at most twice it here (d = 0 or h/2), up to
     * corrections of relative order (2h)^2 times derivatives of u (~1% at
     * n = 600).  The truth: n = 2401 extrapolated with its own estimate. */
    smp_quad_basins ref = ring_basins(2401);
    double truth = ref.delta_f[1] + ref.error[1]; /* d = 0: dF(h) = dF - C h^2, C > 0 */
    for (int s = 0; s < 2; s++)
        for (int p = 0; p < 2; p++) {
            smp_quad_basins r = ring_basins(sizes[s][p]);
            double err = fabs(r.delta_f[1] - truth);
            ck_assert_msg(err <= 1.03 * r.error[1] && r.error[1] <= 2.06 * err,
                          "n = %d: true error %.3g, estimate %.3g", sizes[s][p], err, r.error[1]);
        }
}
END_TEST

START_TEST(test_nearest_minimum)
{
    ad_real minima[6] = {0, 0, 2, 0, 0, 3};
    ad_real p1[2] = {0.9, 0.1}, p2[2] = {1.1, 0}, p3[2] = {1, 0}, p4[2] = {0.2, 2};
    ck_assert_int_eq(smp_nearest_minimum(p1, minima, 3), 0);
    ck_assert_int_eq(smp_nearest_minimum(p2, minima, 3), 1);
    ck_assert_int_eq(smp_nearest_minimum(p3, minima, 3), 0); /* tie: lower index */
    ck_assert_int_eq(smp_nearest_minimum(p4, minima, 3), 2);
    ck_assert_int_eq(smp_nearest_minimum(p4, minima, 0), -1);
    ad_real pts[8] = {0.9, 0.1, 1.1, 0, 1, 0, 0.2, 2};
    int labels[4];
    ck_assert_int_eq(smp_classify_nearest(pts, 4, 2, minima, 3, labels), AD_OK);
    ck_assert(labels[0] == 0 && labels[1] == 1 && labels[2] == 0 && labels[3] == 2);
    ad_real m1[2] = {-1, 1}, q[1] = {0.2};
    ck_assert_int_eq(smp_nearest_minimum_nd(q, m1, 2, 1), 1);
}
END_TEST

static int nan_energy(void *ctx, const ad_real *x, int n, int dim, ad_real *u, char *msg,
                      size_t msg_len)
{
    (void)ctx;
    (void)dim;
    (void)msg;
    (void)msg_len;
    for (int i = 0; i < n; i++) u[i] = (x[2 * i] > 0.49 && x[2 * i] < 0.51) ? NAN : 0;
    return AD_OK;
}

START_TEST(test_errors)
{
    ad_real minima[2] = {0, 0};
    smp_quad_basins r;
    char msg[256];
    smp_grid2d g = {.x_min = 0, .x_max = 1, .y_min = 0, .y_max = 1, .nx = 11, .ny = 11};
    ck_assert_int_eq(smp_quad_basins_compute(nan_energy, NULL, &g, 1.0, minima, 1, &r, msg,
                                             sizeof msg), AD_ERR_NUMERIC);
    ck_assert_str_eq(msg, "smp_quad_basins_compute: energy nan at (0.5, 0)");
    smp_grid2d bad = {.x_min = 1, .x_max = 0, .y_min = 0, .y_max = 1, .nx = 11, .ny = 11};
    ck_assert_int_eq(smp_quad_basins_compute(nan_energy, NULL, &bad, 1.0, minima, 1, &r, msg,
                                             sizeof msg), AD_ERR_ARG);
    ck_assert_str_eq(msg, "smp_quad_basins_compute: bad grid x_min, x_max ([1,0] x [0,1], 11 x 11 "
                     "nodes; need finite min < max and >= 3 nodes per axis)");
    bad = g;
    bad.ny = 2;
    ck_assert_int_eq(smp_quad_basins_compute(nan_energy, NULL, &bad, 1.0, minima, 1, &r, msg,
                                             sizeof msg), AD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(msg, "bad grid ny ("));
    /* the grid from a spacing: the fewest nodes with spacing <= h */
    smp_grid2d s = smp_grid2d_spacing(-3.5, 3.5, -4.5, 4.5, 0.01);
    ck_assert_int_eq(s.nx, 701);
    ck_assert_int_eq(s.ny, 901);
    s = smp_grid2d_spacing(0, 1, 0, 0.25, 0.3);
    ck_assert_int_eq(s.nx, 5); /* 4 intervals of 0.25 */
    ck_assert_int_eq(s.ny, 3); /* at least 3 nodes */
    ck_assert(s.x_min == 0 && s.x_max == 1 && s.y_max == 0.25);
    s = smp_grid2d_spacing(0, 1, 0, 1, 0);
    ck_assert_int_eq(s.nx, 0);
    ck_assert_int_eq(smp_quad_basins_compute(nan_energy, NULL, &s, 1.0, minima, 1, &r, msg,
                                             sizeof msg), AD_ERR_ARG);
    s = smp_grid2d_spacing(1, 0, 0, 1, 0.1);
    ck_assert_int_eq(s.nx, 0);
    ck_assert_int_eq(smp_quad_basins_compute(nan_energy, NULL, &g, 0.0, minima, 1, &r, msg,
                                             sizeof msg), AD_ERR_ARG);
    ck_assert_int_eq(smp_quad_basins_compute(nan_energy, NULL, &g, 1.0, minima, 17, &r, msg,
                                             sizeof msg), AD_ERR_ARG);
    double f[4];
    ck_assert_int_eq(smp_quad_profile(nan_energy, NULL, &g, 1.0, NULL, NULL, 1, 0, 4, f, msg,
                                      sizeof msg), AD_ERR_ARG);
    /* a potential of another dimension through the adapter */
    pot_potential dw = pot_double_well(NULL);
    dw.dim = 3;
    ad_tape *t = ad_tape_new(0);
    smp_potential_ctx ctx = {.potential = &dw, .scratch = t};
    ck_assert_int_eq(smp_quad_basins_compute(smp_potential_energy, &ctx, &g, 1.0, minima, 1, &r,
                                             msg, sizeof msg), AD_ERR_SHAPE);
    ad_tape_free(t);
    /* the pot_potential form: the same numbers as through the adapter */
    ck_assert_int_eq(smp_quad_basins_potential(&dw, &g, 1.0, minima, 1, &r, msg, sizeof msg),
                     AD_ERR_SHAPE);
    ck_assert_str_eq(msg, "smp_quad_basins_potential: u->dim = 3 (need 2)");
    ck_assert_int_eq(smp_quad_basins_potential(NULL, &g, 1.0, minima, 1, &r, msg, sizeof msg),
                     AD_ERR_ARG);
    dw.dim = 2;
    ad_real two[4] = {-1.77, 0, 1.69, 0};
    smp_grid2d dg = smp_grid2d_spacing(-3, 3, -4, 4, 0.02);
    smp_quad_basins a, b;
    ck_assert_int_eq(smp_quad_basins_potential(&dw, &dg, 1.0, two, 2, &a, msg, sizeof msg), AD_OK);
    t = ad_tape_new(0);
    ctx.scratch = t;
    ck_assert_int_eq(smp_quad_basins_compute(smp_potential_energy, &ctx, &dg, 1.0, two, 2, &b, msg,
                                             sizeof msg), AD_OK);
    ck_assert(a.delta_f[1] == b.delta_f[1] && a.log_z == b.log_z);
    ad_tape_free(t);
}
END_TEST

Suite *smp_quadrature_suite(void)
{
    Suite *s = suite_create("sampling-quadrature");
    TCase *tc = tcase_create("forward");
    tcase_set_tags(tc, "slow");
    tcase_add_test(tc, test_double_well_reference);
    tcase_add_test(tc, test_muller_brown_reference);
    tcase_add_test(tc, test_profiles);
    tcase_add_test(tc, test_boundary_through_nodes);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_nearest_minimum);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    return s;
}
