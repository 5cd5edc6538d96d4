/* exp2d_data.c - the data of a 2-D run: the exact references by quadrature
 * (state free energies, the profile along the RC, the contour map) and the
 * Metropolis Monte Carlo data from the minima. */
#include "apps/exp2d/exp2d.h"
#include "apps/exp2d/exp2d_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/ad_alloc.h"
#include "sampling/smp_basins.h"
#include "sampling/smp_data.h"
#include "sampling/smp_mc.h"
#include "sampling/smp_profile.h"

/* ---- exact references ------------------------------------------------ */

/* The quadrature box at kT: the kT = 1 box widened by sqrt(kT) about its
 * centre for kT > 1, with the same spacing, and the axis of a coordinate RC
 * aligned with the profile's bin edges. */
static smp_grid2d scaled_grid(const exp2d_system *sys, double kT)
{
    const smp_grid2d *g = &sys->quad_grid;
    double s = kT > 1 ? sqrt(kT) : 1;
    double lo[2] = {g->x_min, g->y_min}, hi[2] = {g->x_max, g->y_max};
    int n[2] = {g->nx, g->ny};
    smp_grid2d out = *g;
    double *omin[2] = {&out.x_min, &out.y_min}, *omax[2] = {&out.x_max, &out.y_max};
    int *on[2] = {&out.nx, &out.ny};
    for (int a = 0; a < 2; a++) {
        double h = (hi[a] - lo[a]) / (n[a] - 1);
        double mid = 0.5 * (lo[a] + hi[a]), half = 0.5 * (hi[a] - lo[a]) * s;
        double anchor = lo[a];
        if (sys->rc.kind == BG_RC_COORDINATE && sys->rc.index == a) anchor = sys->profile_lo;
        double x0 = anchor - ceil((anchor - (mid - half)) / h - 1e-9) * h;
        int nodes = (int)ceil((mid + half - x0) / h - 1e-9) + 1;
        *omin[a] = x0;
        *on[a] = nodes;
        *omax[a] = x0 + (nodes - 1) * h;
    }
    return out;
}

static double rc_coord(void *ctx, const ad_real *x) { return bg_rc_value(ctx, x, 2); }

/* The quadrature reference at kT: basin free energies into *ref and the
 * profile along the RC (minimum 0) into exact[bins]. */
static int reference_at(const exp2d_system *sys, ad_tape *scratch, double kT,
                        const smp_grid2d *grid, smp_quad_basins *ref, double *exact, char *msg,
                        size_t len)
{
    smp_potential_ctx pctx = {&sys->potential, scratch};
    int status = smp_quad_basins_compute(smp_potential_energy, &pctx, grid, kT, sys->minima,
                                         sys->n_minima, ref, msg, len);
    if (status != AD_OK || !exact) return status;
    int bins = sys->profile_bins;
    status = smp_quad_profile(smp_potential_energy, &pctx, grid, kT, rc_coord, (void *)&sys->rc,
                              sys->profile_lo, sys->profile_hi, bins, exact, msg, len);
    if (status != AD_OK) return status;
    double fmin = INFINITY;
    for (int j = 0; j < bins; j++)
        if (exact[j] < fmin) fmin = exact[j];
    for (int j = 0; j < bins; j++) exact[j] -= fmin;
    return AD_OK;
}

int exp2d_references(exp2d_run *run, ad_tape *scratch, char *msg, size_t len)
{
    const exp2d_system *sys = run->sys;
    smp_grid2d grid = scaled_grid(sys, run->kT);
    int bins = sys->profile_bins;
    run->profile_center = ad_malloc(sizeof(double) * bins);
    run->profile_exact = ad_malloc(sizeof(double) * bins);
    if (!run->profile_center || !run->profile_exact)
        return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    int status =
        reference_at(sys, scratch, run->kT, &grid, &run->ref, run->profile_exact, msg, len);
    if (status != AD_OK) return status;
    double w = (sys->profile_hi - sys->profile_lo) / bins;
    for (int j = 0; j < bins; j++) run->profile_center[j] = sys->profile_lo + (j + 0.5) * w;

    /* the energy map for the contour plots, and the lowest minimum */
    run->map_nx = 101;
    run->map_ny = 101;
    size_t n = (size_t)run->map_nx * run->map_ny;
    ad_real *xy = ad_malloc(sizeof(ad_real) * 2 * n);
    run->map_u = ad_malloc(sizeof *run->map_u * n);
    if (!xy || !run->map_u) {
        ad_free(xy);
        return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    }
    for (int j = 0; j < run->map_ny; j++)
        for (int i = 0; i < run->map_nx; i++) {
            size_t k = (size_t)j * run->map_nx + i;
            xy[2 * k] = sys->plot_x[0] + i * (sys->plot_x[1] - sys->plot_x[0]) / (run->map_nx - 1);
            xy[2 * k + 1] =
                sys->plot_y[0] + j * (sys->plot_y[1] - sys->plot_y[0]) / (run->map_ny - 1);
        }
    status = pot_energy_eval(&sys->potential, scratch, xy, (int)n, run->map_u, msg, len);
    ad_free(xy);
    if (status != AD_OK) return status;
    ad_real umin[EXP2D_MAX_MINIMA];
    status = pot_energy_eval(&sys->potential, scratch, sys->minima, sys->n_minima, umin, msg, len);
    if (status != AD_OK) return status;
    run->u_min = umin[0];
    for (int k = 1; k < sys->n_minima; k++)
        if (umin[k] < run->u_min) run->u_min = umin[k];
    return AD_OK;
}

/* ---- Monte Carlo data -------------------------------------------------- */

/* Metropolis data at kT, one chain from each minimum with the step
 * mc_sigma sqrt(kT), stored by chain: *data [n * 2], and when asked the
 * energies *u [n] and chain numbers *chain [n] (the caller's arrays). */
static int mc_at(const exp2d_system *sys, ad_tape *scratch, double kT, uint64_t seed,
                 ad_real **data, ad_real **u_out, int **chain, int *n_out, double *acceptance,
                 char *msg, size_t len)
{
    smp_potential_ctx pctx = {&sys->potential, scratch};
    smp_mc_config mc = smp_mc_config_default(2, kT);
    mc.n_chains = sys->n_minima;
    mc.sigma = sys->mc_sigma * sqrt(kT);
    mc.n_steps = sys->mc_steps;
    mc.stride = sys->mc_stride;
    mc.keep_initial = 1;
    mc.seed = seed;
    long frames = smp_mc_n_frames(&mc);
    int n = (int)(frames * sys->n_minima);
    ad_real *out = ad_malloc(sizeof(ad_real) * 2 * (size_t)n);
    ad_real *u = ad_malloc(sizeof(ad_real) * (size_t)n);
    *data = ad_malloc(sizeof(ad_real) * 2 * (size_t)n);
    if (u_out) *u_out = ad_malloc(sizeof(ad_real) * (size_t)n);
    if (chain) *chain = ad_malloc(sizeof(int) * (size_t)n);
    if (!out || !u || !*data || (u_out && !*u_out) || (chain && !*chain)) {
        ad_free(out);
        ad_free(u);
        return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory for %d MC frames", n);
    }
    smp_mc_stats stats;
    int status =
        smp_mc_run(&mc, smp_potential_energy, &pctx, sys->minima, out, u, &stats, msg, len);
    if (status == AD_OK) {
        /* frames come interleaved (all chains of frame 0, ...): store by chain */
        int i = 0;
        for (int c = 0; c < sys->n_minima; c++)
            for (long f = 0; f < frames; f++, i++) {
                size_t src = (size_t)f * sys->n_minima + c;
                (*data)[2 * i] = out[2 * src];
                (*data)[2 * i + 1] = out[2 * src + 1];
                if (u_out) (*u_out)[i] = u[src];
                if (chain) (*chain)[i] = c;
            }
        *n_out = n;
        *acceptance = stats.acceptance;
    }
    ad_free(out);
    ad_free(u);
    return status;
}

int exp2d_mc(exp2d_run *run, ad_tape *scratch, char *msg, size_t len)
{
    return mc_at(run->sys, scratch, run->kT, exp2d_seed(run->opt.seed, 1), &run->data,
                 &run->data_u, &run->data_chain, &run->n_data, &run->mc_acceptance, msg, len);
}

/* ---- several temperatures --------------------------------------------- */

/* Points of the reference curve dF(kT) between the lowest and the highest
 * temperature, and the grid coarsening used for them (a picture: the
 * numbers compared with the generators use the full grid). */
#define CURVE_POINTS 41
#define CURVE_COARSEN 4

static smp_grid2d coarsened(smp_grid2d g, int f)
{
    double hx = (g.x_max - g.x_min) / (g.nx - 1), hy = (g.y_max - g.y_min) / (g.ny - 1);
    g.nx = (g.nx - 1) / f + 1;
    g.ny = (g.ny - 1) / f + 1;
    g.x_max = g.x_min + (g.nx - 1) * f * hx;
    g.y_max = g.y_min + (g.ny - 1) * f * hy;
    return g;
}

int exp2d_temperature_data(exp2d_run *run, ad_tape *scratch, char *msg, size_t len)
{
    const exp2d_system *sys = run->sys;
    int bins = sys->profile_bins, status = AD_OK;
    for (int j = 0; j < run->n_temps && status == AD_OK; j++) {
        exp2d_temperature *t = &run->temps[j];
        if (t->is_main) { /* the run's own data and reference */
            t->ref = run->ref;
            t->profile_exact = run->profile_exact;
            t->data = run->data;
            t->n_data = run->n_data;
            t->mc_acceptance = run->mc_acceptance;
            continue;
        }
        smp_grid2d grid = scaled_grid(sys, t->kT);
        t->profile_exact = ad_malloc(sizeof(double) * bins);
        if (!t->profile_exact) return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
        status = reference_at(sys, scratch, t->kT, &grid, &t->ref, t->profile_exact, msg, len);
        if (status == AD_OK)
            status = mc_at(sys, scratch, t->kT, exp2d_seed(run->opt.seed, 200 + (uint64_t)j),
                           &t->data, NULL, NULL, &t->n_data, &t->mc_acceptance, msg, len);
    }
    if (status != AD_OK) return status;
    /* the curve */
    double lo = run->temps[0].kT, hi = run->temps[run->n_temps - 1].kT;
    int n = run->n_temps > 1 ? CURVE_POINTS : 1, stride = sys->n_minima;
    run->curve = ad_malloc(sizeof(double) * (size_t)n * stride);
    if (!run->curve) return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n && status == AD_OK; i++) {
        double kT = n > 1 ? lo + (hi - lo) * i / (n - 1) : lo;
        smp_grid2d grid = coarsened(scaled_grid(sys, kT), CURVE_COARSEN);
        smp_quad_basins ref;
        status = reference_at(sys, scratch, kT, &grid, &ref, NULL, msg, len);
        run->curve[(size_t)i * stride] = kT;
        for (int p = 1; p < sys->n_minima; p++) run->curve[(size_t)i * stride + p] = ref.delta_f[p];
    }
    run->n_curve = n;
    return status;
}
