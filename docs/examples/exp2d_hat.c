/* exp2d_hat.c - a user's own 2-D system through the installed 2-D experiment
 * kit: a tilted Mexican hat u = a (x^2 + y^2 - 1)^2 + c x, written with tape
 * ops, and a description of the system.  exp2d_main gives it the run of
 * bg-doublewell: Monte Carlo data from the two minima, the ML, KL, ML+KL and
 * ML+KL+RC models, reweighted free energies against the exact quadrature
 * values, profiles along x, latent interpolation, CSV files, SVG figures,
 * summary.json and report.md in --out, and the same options (--out, --seed,
 * --kT, --quick, --threads, --resume, --restart).
 *
 *   cc exp2d_hat.c $(pkg-config --cflags --libs libbg-apps) -o bg-hat
 *   ./bg-hat --quick --out out/hat
 */
#include "apps/exp2d/exp2d.h"

typedef struct hat_params {
    double a, c;
} hat_params;

/* x [batch, 2] -> u [batch] */
static ad_tensor *hat_energy(ad_tape *t, ad_tensor *x, const void *params)
{
    const hat_params *p = params;
    ad_tensor *r2 = ad_sum_axis(t, ad_square(t, x), 1);
    ad_tensor *ring = ad_scale(t, ad_square(t, ad_add_scalar(t, r2, -1)), p->a);
    int shape[1] = {x->shape[0]};
    ad_tensor *tilt = ad_reshape(t, ad_scale(t, ad_slice_cols(t, x, 0, 1), p->c), 1, shape);
    return ad_add(t, ring, tilt);
}

static const hat_params HAT = {.a = 5.0, .c = 0.5};

/* ML: iterations, batch, learning rate; then the same for the KL, ML+KL and
 * ML+KL+RC models (started from the ML model); the weight of J_RC; the
 * energy cut in kT above the lowest minimum; samples per model; bootstrap
 * resamples (dF and histograms, KDE); points on each interpolation path. */
static const exp2d_schedule HAT_FULL = {
    .ml_iterations = 200, .ml_batch = 256, .ml_lr = 3e-3,
    .iterations = 300, .batch = 256, .lr = 1e-3, .w_rc = 1, .e_high = 100,
    .n_samples = 100000, .n_bootstrap = 100, .n_bootstrap_kde = 20, .interp_points = 200,
};

static const exp2d_schedule HAT_QUICK = {
    .ml_iterations = 30, .ml_batch = 128, .ml_lr = 3e-3,
    .iterations = 20, .batch = 128, .lr = 1e-3, .w_rc = 1, .e_high = 100,
    .n_samples = 2000, .n_bootstrap = 20, .n_bootstrap_kde = 10, .interp_points = 50,
};

int main(int argc, char **argv)
{
    const exp2d_system s = {
        .name = "hat", /* summary.json, default out/hat */
        .program = "bg-hat",
        .title = "Mexican hat",
        .description = "Boltzmann generators for a tilted Mexican hat.",
        .potential = {.name = "mexican-hat", .dim = 2, .energy = hat_energy, .params = &HAT},
        .n_minima = 2,                  /* states: the nearest of these points     */
        .minima = {-1.05, 0, 0.95, 0},  /* (x, y) pairs; state 0 is the reference  */
        .state_names = {"left", "right"},
        .coord_names = {"x", "y"},
        .rc = bg_rc_coordinate(0),      /* profiles and the RC loss                */
        .rc_name = "x",
        .rc_loss = bg_rc_loss_config_default(-1.5, 1.5),
        .profile_lo = -1.6,             /* bin edges on quadrature grid lines      */
        .profile_hi = 1.6,
        .profile_bins = 64,
        .kde_bandwidth = 0.05,
        .plot_x = {-1.8, 1.8},
        .plot_y = {-1.8, 1.8},
        .contour_span = 15,             /* colour range of the maps, in kT         */
        .quad_grid = {.x_min = -2.4, .x_max = 2.4, .y_min = -2.4, .y_max = 2.4,
                      .nx = 961, .ny = 961}, /* spacing 0.005 */
        .mc_sigma = 0.1,                /* Metropolis from each minimum            */
        .mc_steps = 5000,
        .mc_stride = 1,
        .preset = FLOW_REALNVP_DOUBLE_WELL, /* 3 blocks, 100-100 S/T nets          */
        .full = HAT_FULL,
        .quick = HAT_QUICK,
    };
    return exp2d_main(&s, argc, argv);
}
