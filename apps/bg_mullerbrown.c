/* bg_mullerbrown.c - the seed report's second experiment: Boltzmann
 * generators for the Müller-Brown potential (alpha = 0.1), with dF(B - A),
 * dF(C - A) and the free-energy profile along y against the exact quadrature
 * values.  The pipeline is apps/exp2d/exp2d_run.c; this file only describes the system
 * and its schedules (docs/experiments.md explains the choices). */
#include "apps/exp2d/exp2d.h"
#include "potentials/pot_muller_brown.h"

int main(int argc, char **argv)
{
    exp2d_system s = {0};
    s.name = "mullerbrown";
    s.program = "bg-mullerbrown";
    s.title = "Müller-Brown";
    s.description =
        "The Müller-Brown experiment: Monte Carlo data from the three minima, four Boltzmann "
        "generators (ML, KL, ML+KL, ML+KL+RC with RC = y), 100 000 reweighted samples each, "
        "dF(B - A), dF(C - A) and the free-energy profile along y against the exact "
        "quadrature values, latent interpolation; CSV files, SVG figures, summary.json and "
        "report.md in the output directory.";
    s.potential = pot_muller_brown(NULL);
    s.n_minima = 3;
    const ad_real minima[6] = {-0.558, 1.442, -0.050, 0.467, 0.624, 0.028};
    for (int k = 0; k < 6; k++) s.minima[k] = minima[k];
    s.state_names[0] = "A"; /* deepest, upper left */
    s.state_names[1] = "B"; /* middle              */
    s.state_names[2] = "C"; /* lower right         */
    s.coord_names[0] = "x";
    s.coord_names[1] = "y";
    s.rc = bg_rc_coordinate(1);
    s.rc_name = "y";
    s.rc_loss = bg_rc_loss_config_default(-0.1, 1.7); /* the paper's kernel range */
    s.profile_lo = -0.4;
    s.profile_hi = 2.0;
    s.profile_bins = 96;
    s.kde_bandwidth = 0.025;
    s.plot_x[0] = -1.5;
    s.plot_x[1] = 1.2;
    s.plot_y[0] = -0.4;
    s.plot_y[1] = 2.0;
    s.contour_span = 20;
    s.quad_grid = (smp_grid2d){-1.5, 1.2, -0.5, 2.0, 1081, 1001}; /* spacing 0.0025 */
    s.mc_sigma = 0.02; /* the seed's MC: 10000 steps, every 10th frame */
    s.mc_steps = 10000;
    s.mc_stride = 10;
    s.preset = FLOW_REALNVP_MUELLER_BROWN;
    /*                   ML: it  batch lr    stage 2: it batch lr   w_RC E_high  n       B   B_kde
     * path */
    s.full = (exp2d_schedule){300, 256, 1e-3, 300, 256, 1e-4, 1, 100, 100000, 100, 20, 200};
    s.quick = (exp2d_schedule){30, 128, 1e-3, 20, 128, 1e-4, 1, 100, 2000, 20, 10, 50};
    return exp2d_main(&s, argc, argv);
}
