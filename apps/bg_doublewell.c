/* bg_doublewell.c - the seed report's first experiment: Boltzmann generators
 * for the 2-D double well u = x1^4 - 6 x1^2 + x1 + x2^2, with dF(right - left)
 * and the free-energy profile along x1 against the exact quadrature values.
 * The pipeline is the 2-D kit (apps/exp2d/exp2d.h); this file only describes
 * the system and its schedules (docs/experiments.md explains the choices). */
#include "apps/exp2d/exp2d.h"
#include "potentials/pot_double_well.h"

static const exp2d_schedule DOUBLEWELL_FULL = {
    .ml_iterations = 200, .ml_batch = 256, .ml_lr = 3e-3,
    .iterations = 300, .batch = 256, .lr = 1e-3, .w_rc = 1, .e_high = 100,
    .n_samples = 100000, .n_bootstrap = 100, .n_bootstrap_kde = 20, .interp_points = 200,
};

static const exp2d_schedule DOUBLEWELL_QUICK = {
    .ml_iterations = 30, .ml_batch = 128, .ml_lr = 3e-3,
    .iterations = 20, .batch = 128, .lr = 1e-3, .w_rc = 1, .e_high = 100,
    .n_samples = 2000, .n_bootstrap = 20, .n_bootstrap_kde = 10, .interp_points = 50,
};

int main(int argc, char **argv)
{
    const exp2d_system s = {
        .name = "doublewell",
        .program = "bg-doublewell",
        .title = "Double well",
        .description =
            "The double-well experiment: Monte Carlo data from both minima, four Boltzmann "
            "generators (ML, KL, ML+KL, ML+KL+RC with RC = x1), 100 000 reweighted samples "
            "each, dF(right - left) and the free-energy profile along x1 against the exact "
            "quadrature values, latent interpolation; CSV files, SVG figures, summary.json and "
            "report.md in the output directory.",
        .potential = pot_double_well(NULL),
        .n_minima = 2,
        .minima = {-1.772303, 0, 1.688776, 0}, /* left (global), right */
        .state_names = {"left", "right"},
        .coord_names = {"x1", "x2"},
        .rc = bg_rc_coordinate(0),
        .rc_name = "x1",
        .rc_loss = bg_rc_loss_config_default(-2.5, 2.5), /* the paper's kernel range */
        .profile_lo = -2.5,
        .profile_hi = 2.5,
        .profile_bins = 100,
        .kde_bandwidth = 0.05,
        .plot_x = {-2.5, 2.5},
        .plot_y = {-3, 3},
        .contour_span = 25,
        /* x1 spacing 0.005 (bin edges of the profile on grid lines), x2 spacing
         * 0.01; the edge weight is below e^-30 of the peak at kT = 1 */
        .quad_grid = {.x_min = -3.5, .x_max = 3.5, .y_min = -5.5, .y_max = 5.5, .nx = 1401, .ny = 1101},
        .mc_sigma = 0.1, /* the seed's MC: 5000 steps from each minimum, every frame */
        .mc_steps = 5000,
        .mc_stride = 1,
        .preset = FLOW_REALNVP_DOUBLE_WELL,
        .full = DOUBLEWELL_FULL,
        .quick = DOUBLEWELL_QUICK,
    };
    return exp2d_main(&s, argc, argv);
}
