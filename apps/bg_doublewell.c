/* bg_doublewell.c - the seed report's first experiment: Boltzmann generators
 * for the 2-D double well u = x1^4 - 6 x1^2 + x1 + x2^2, with dF(right - left)
 * and the free-energy profile along x1 against the exact quadrature values.
 * The pipeline is apps/exp2d/exp2d_run.c; this file only describes the system and its
 * schedules (docs/experiments.md explains the choices). */
#include "apps/exp2d/exp2d.h"
#include "potentials/pot_double_well.h"

int main(int argc, char **argv)
{
    exp2d_system s = {0};
    s.name = "doublewell";
    s.program = "bg-doublewell";
    s.title = "Double well";
    s.description =
        "The double-well experiment: Monte Carlo data from both minima, four Boltzmann "
        "generators (ML, KL, ML+KL, ML+KL+RC with RC = x1), 100 000 reweighted samples each, "
        "dF(right - left) and the free-energy profile along x1 against the exact quadrature "
        "values, latent interpolation; CSV files, SVG figures, summary.json and report.md in "
        "the output directory.";
    s.potential = pot_double_well(NULL);
    s.n_minima = 2;
    s.minima[0] = -1.772303; /* left (global) minimum */
    s.minima[2] = 1.688776;  /* right minimum         */
    s.state_names[0] = "left";
    s.state_names[1] = "right";
    s.coord_names[0] = "x1";
    s.coord_names[1] = "x2";
    s.rc = bg_rc_coordinate(0);
    s.rc_name = "x1";
    s.rc_loss = bg_rc_loss_config_default(-2.5, 2.5); /* the paper's kernel range */
    s.profile_lo = -2.5;
    s.profile_hi = 2.5;
    s.profile_bins = 100;
    s.kde_bandwidth = 0.05;
    s.plot_x[0] = -2.5;
    s.plot_x[1] = 2.5;
    s.plot_y[0] = -3;
    s.plot_y[1] = 3;
    s.contour_span = 25;
    /* x1 spacing 0.005 (bin edges of the profile on grid lines), x2 spacing 0.01;
     * the edge weight is below e^-30 of the peak at kT = 1 */
    s.quad_grid = (smp_grid2d){-3.5, 3.5, -5.5, 5.5, 1401, 1101};
    s.mc_sigma = 0.1; /* the seed's MC: 5000 steps from each minimum, every frame */
    s.mc_steps = 5000;
    s.mc_stride = 1;
    s.preset = FLOW_REALNVP_DOUBLE_WELL;
    /*                   ML: it  batch lr    stage 2: it batch lr   w_RC E_high  n       B   B_kde
     * path */
    s.full = (exp2d_schedule){200, 256, 3e-3, 300, 256, 1e-3, 1, 100, 100000, 100, 20, 200};
    s.quick = (exp2d_schedule){30, 128, 3e-3, 20, 128, 1e-3, 1, 100, 2000, 20, 10, 50};
    return exp2d_main(&s, argc, argv);
}
