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

int exp2d_references(exp2d_run *run, ad_tape *scratch, char *msg, size_t len)
{
    const exp2d_system *sys = run->sys;
    smp_potential_ctx pctx = {&sys->potential, scratch};
    smp_grid2d grid = scaled_grid(sys, run->kT);
    int status = smp_quad_basins_compute(smp_potential_energy, &pctx, &grid, run->kT, sys->minima,
                                         sys->n_minima, &run->ref, msg, len);
    if (status != AD_OK) return status;
    int bins = sys->profile_bins;
    run->profile_center = ad_malloc(sizeof(double) * bins);
    run->profile_exact = ad_malloc(sizeof(double) * bins);
    if (!run->profile_center || !run->profile_exact)
        return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    status = smp_quad_profile(smp_potential_energy, &pctx, &grid, run->kT, rc_coord,
                              (void *)&sys->rc, sys->profile_lo, sys->profile_hi, bins,
                              run->profile_exact, msg, len);
    if (status != AD_OK) return status;
    double fmin = INFINITY, w = (sys->profile_hi - sys->profile_lo) / bins;
    for (int j = 0; j < bins; j++) {
        run->profile_center[j] = sys->profile_lo + (j + 0.5) * w;
        if (run->profile_exact[j] < fmin) fmin = run->profile_exact[j];
    }
    for (int j = 0; j < bins; j++) run->profile_exact[j] -= fmin;

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

int exp2d_mc(exp2d_run *run, ad_tape *scratch, char *msg, size_t len)
{
    const exp2d_system *sys = run->sys;
    smp_potential_ctx pctx = {&sys->potential, scratch};
    smp_mc_config mc = smp_mc_config_default(2, run->kT);
    mc.n_chains = sys->n_minima;
    mc.sigma = sys->mc_sigma * sqrt(run->kT);
    mc.n_steps = sys->mc_steps;
    mc.stride = sys->mc_stride;
    mc.keep_initial = 1;
    mc.seed = exp2d_seed(run->opt.seed, 1);
    long frames = smp_mc_n_frames(&mc);
    int n = (int)(frames * sys->n_minima);
    ad_real *out = ad_malloc(sizeof(ad_real) * 2 * (size_t)n);
    ad_real *u = ad_malloc(sizeof(ad_real) * (size_t)n);
    run->data = ad_malloc(sizeof(ad_real) * 2 * (size_t)n);
    run->data_u = ad_malloc(sizeof(ad_real) * (size_t)n);
    run->data_chain = ad_malloc(sizeof(int) * (size_t)n);
    if (!out || !u || !run->data || !run->data_u || !run->data_chain) {
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
                run->data[2 * i] = out[2 * src];
                run->data[2 * i + 1] = out[2 * src + 1];
                run->data_u[i] = u[src];
                run->data_chain[i] = c;
            }
        run->n_data = n;
        run->mc_acceptance = stats.acceptance;
    }
    ad_free(out);
    ad_free(u);
    return status;
}
