/* bg_mullerbrown.c - the seed report's second experiment: Boltzmann
 * generators for the Müller-Brown potential (alpha = 0.1), with dF(B - A),
 * dF(C - A) and the free-energy profile along y against the exact quadrature
 * values.  The pipeline is the 2-D kit (apps/exp2d/exp2d.h); this file only
 * describes the system and its schedules (docs/experiments.md explains the
 * choices). */
#include "apps/exp2d/exp2d.h"
#include "potentials/pot_muller_brown.h"

static const exp2d_schedule MULLERBROWN_FULL = {
    .ml_iterations = 300, .ml_batch = 256, .ml_lr = 1e-3,
    .iterations = 300, .batch = 256, .lr = 1e-4, .w_rc = 1, .e_high = 100,
    .n_samples = 100000, .n_bootstrap = 100, .n_bootstrap_kde = 20, .interp_points = 200,
};

static const exp2d_schedule MULLERBROWN_QUICK = {
    .ml_iterations = 30, .ml_batch = 128, .ml_lr = 1e-3,
    .iterations = 20, .batch = 128, .lr = 1e-4, .w_rc = 1, .e_high = 100,
    .n_samples = 2000, .n_bootstrap = 20, .n_bootstrap_kde = 10, .interp_points = 50,
};

int main(int argc, char **argv)
{
    const exp2d_system s = {
        .name = "mullerbrown",
        .program = "bg-mullerbrown",
        .title = "Müller-Brown",
        .description =
            "The Müller-Brown experiment: Monte Carlo data from the three minima, four "
            "Boltzmann generators (ML, KL, ML+KL, ML+KL+RC with RC = y), 100 000 reweighted "
            "samples each, dF(B - A), dF(C - A) and the free-energy profile along y against "
            "the exact quadrature values, latent interpolation; CSV files, SVG figures, "
            "summary.json and report.md in the output directory.",
        .potential = pot_muller_brown(NULL),
        .n_minima = 3,
        .minima = {-0.558, 1.442, -0.050, 0.467, 0.624, 0.028},
        .state_names = {"A",  /* deepest, upper left */
                        "B",  /* middle              */
                        "C"}, /* lower right         */
        .coord_names = {"x", "y"},
        .rc = bg_rc_coordinate(1),
        .rc_name = "y",
        .rc_loss = bg_rc_loss_config_default(-0.1, 1.7), /* the paper's kernel range */
        .profile_lo = -0.4,
        .profile_hi = 2.0,
        .profile_bins = 96,
        .kde_bandwidth = 0.025,
        .plot_x = {-1.5, 1.2},
        .plot_y = {-0.4, 2.0},
        .contour_span = 20,
        /* spacing 0.0025 */
        .quad_grid = {.x_min = -1.5, .x_max = 1.2, .y_min = -0.5, .y_max = 2.0, .nx = 1081, .ny = 1001},
        .mc_sigma = 0.02, /* the seed's MC: 10000 steps, every 10th frame */
        .mc_steps = 10000,
        .mc_stride = 10,
        .preset = FLOW_REALNVP_MUELLER_BROWN,
        .full = MULLERBROWN_FULL,
        .quick = MULLERBROWN_QUICK,
    };
    return exp2d_main(&s, argc, argv);
}
