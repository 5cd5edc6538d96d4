/* smp_quadrature.c - 2-D grid quadrature of Boltzmann weights in log space. */
#include "smp_quadrature.h"

#include <math.h>
#include <stdio.h>

/* Running log-sum-exp: the sum of e^v over added v is e^m * s. */
typedef struct lse {
    double m, s;
} lse;

static const lse LSE_EMPTY = {-INFINITY, 0};

static void lse_add(lse *a, double v)
{
    if (v == -INFINITY) return;
    if (v > a->m) {
        a->s = a->s * exp(a->m - v) + 1;
        a->m = v;
    } else {
        a->s += exp(v - a->m);
    }
}

static double lse_value(const lse *a) { return a->s > 0 ? a->m + log(a->s) : -INFINITY; }

/* Called for every node (i, j) at point pt with log-weight -u/kT. */
typedef void (*node_fn)(void *state, int i, int j, const ad_real *pt, double log_w);

typedef struct walk_info {
    double hx, hy;        /* grid spacings                       */
    double peak, edge;    /* largest log-weight overall / on the edge */
} walk_info;

static int walk(smp_energy_fn energy, void *ctx, const smp_grid2d *g, double kT, node_fn visit,
                void *state, walk_info *info, const char *fn, char *msg, size_t msg_len)
{
    if (!energy || !g) {
        if (msg && msg_len) snprintf(msg, msg_len, "%s: NULL energy or grid", fn);
        return AD_ERR_ARG;
    }
    if (!(isfinite(g->x_min) && isfinite(g->x_max) && isfinite(g->y_min) && isfinite(g->y_max) &&
          g->x_max > g->x_min && g->y_max > g->y_min && g->nx >= 3 && g->ny >= 3)) {
        if (msg && msg_len)
            snprintf(msg, msg_len, "%s: bad grid ([%g,%g] x [%g,%g], %d x %d nodes; need max > "
                     "min and >= 3 nodes per axis)", fn, g->x_min, g->x_max, g->y_min, g->y_max,
                     g->nx, g->ny);
        return AD_ERR_ARG;
    }
    if (!(kT > 0 && isfinite(kT))) {
        if (msg && msg_len) snprintf(msg, msg_len, "%s: bad kT %g (expected > 0)", fn, kT);
        return AD_ERR_ARG;
    }
    info->hx = (g->x_max - g->x_min) / (g->nx - 1);
    info->hy = (g->y_max - g->y_min) / (g->ny - 1);
    info->peak = info->edge = -INFINITY;
    ad_real *pts = ad_malloc((size_t)g->nx * 3 * sizeof(ad_real));
    if (!pts) {
        if (msg && msg_len) snprintf(msg, msg_len, "%s: out of memory", fn);
        return AD_ERR_NOMEM;
    }
    ad_real *u = pts + 2 * (size_t)g->nx;
    int status = AD_OK;
    for (int j = 0; j < g->ny && status == AD_OK; j++) {
        double y = g->y_min + j * info->hy;
        for (int i = 0; i < g->nx; i++) {
            pts[2 * i] = (ad_real)(g->x_min + i * info->hx);
            pts[2 * i + 1] = (ad_real)y;
        }
        status = energy(ctx, pts, g->nx, 2, u, msg, msg_len);
        for (int i = 0; i < g->nx && status == AD_OK; i++) {
            if (isnan(u[i]) || u[i] == -INFINITY) {
                if (msg && msg_len)
                    snprintf(msg, msg_len, "%s: energy %g at (%g, %g)", fn, (double)u[i],
                             (double)pts[2 * i], y);
                status = AD_ERR_NUMERIC;
                break;
            }
            double lw = -(double)u[i] / kT;
            if (lw > info->peak) info->peak = lw;
            if ((i == 0 || j == 0 || i == g->nx - 1 || j == g->ny - 1) && lw > info->edge)
                info->edge = lw;
            visit(state, i, j, pts + 2 * i, lw);
        }
    }
    ad_free(pts);
    return status;
}

typedef struct basin_state {
    const ad_real *minima;
    int n_minima;
    lse fine[SMP_QUAD_MAX_BASINS], coarse[SMP_QUAD_MAX_BASINS];
} basin_state;

static void basin_visit(void *state, int i, int j, const ad_real *pt, double log_w)
{
    basin_state *s = state;
    int k = smp_nearest_minimum(pt, s->minima, s->n_minima);
    lse_add(&s->fine[k], log_w);
    if (i % 2 == 0 && j % 2 == 0) lse_add(&s->coarse[k], log_w);
}

/* ln Z, populations and F_k - F_0 from per-basin log-sums (cell area da). */
static void basin_summary(const lse *b, int n, double da, double *log_z, double *pop, double *df)
{
    lse total = LSE_EMPTY;
    for (int k = 0; k < n; k++) lse_add(&total, lse_value(&b[k]));
    double lt = lse_value(&total);
    *log_z = lt + log(da);
    for (int k = 0; k < n; k++) {
        pop[k] = exp(lse_value(&b[k]) - lt);
        df[k] = -(lse_value(&b[k]) - lse_value(&b[0]));
    }
}

int smp_quad_basins_compute(smp_energy_fn energy, void *ctx, const smp_grid2d *grid, double kT,
                            const ad_real *minima, int n_minima, smp_quad_basins *out,
                            char *msg, size_t msg_len)
{
    if (!out || !minima || n_minima < 1 || n_minima > SMP_QUAD_MAX_BASINS) {
        if (msg && msg_len)
            snprintf(msg, msg_len, "smp_quad_basins_compute: bad arguments (NULL out or minima, "
                     "or n_minima %d not in 1..%d)", n_minima, SMP_QUAD_MAX_BASINS);
        return AD_ERR_ARG;
    }
    basin_state s;
    s.minima = minima;
    s.n_minima = n_minima;
    for (int k = 0; k < n_minima; k++) s.fine[k] = s.coarse[k] = LSE_EMPTY;
    walk_info info;
    int status = walk(energy, ctx, grid, kT, basin_visit, &s, &info, "smp_quad_basins_compute",
                      msg, msg_len);
    if (status != AD_OK) return status;
    double pop2[SMP_QUAD_MAX_BASINS], df2[SMP_QUAD_MAX_BASINS], log_z2;
    out->n_basins = n_minima;
    basin_summary(s.fine, n_minima, info.hx * info.hy, &out->log_z, out->population, out->delta_f);
    basin_summary(s.coarse, n_minima, 4 * info.hx * info.hy, &log_z2, pop2, df2);
    out->log_z_error = fabs(out->log_z - log_z2);
    for (int k = 0; k < n_minima; k++)
        out->error[k] = out->delta_f[k] == df2[k] ? 0 : fabs(out->delta_f[k] - df2[k]);
    out->boundary_weight = exp(info.edge - info.peak);
    if (!isfinite(out->log_z)) {
        if (msg && msg_len)
            snprintf(msg, msg_len, "smp_quad_basins_compute: no weight on the grid (every "
                     "energy is +inf)");
        return AD_ERR_NUMERIC;
    }
    return AD_OK;
}

typedef struct profile_state {
    smp_coord_fn coord;
    void *coord_ctx;
    double s_min, width;
    int n_bins;
    lse total;
    lse *bins;
} profile_state;

static void profile_visit(void *state, int i, int j, const ad_real *pt, double log_w)
{
    (void)i;
    (void)j;
    profile_state *s = state;
    lse_add(&s->total, log_w);
    double v = s->coord ? s->coord(s->coord_ctx, pt) : (double)pt[0];
    double r = (v - s->s_min) / s->width;
    if (!(r >= 0 && r < s->n_bins)) return;
    lse_add(&s->bins[(int)r], log_w);
}

int smp_quad_profile(smp_energy_fn energy, void *ctx, const smp_grid2d *grid, double kT,
                     smp_coord_fn coord, void *coord_ctx, double s_min, double s_max, int n_bins,
                     double *f, char *msg, size_t msg_len)
{
    if (!f || n_bins < 1 || !(isfinite(s_min) && isfinite(s_max) && s_max > s_min)) {
        if (msg && msg_len)
            snprintf(msg, msg_len, "smp_quad_profile: bad bins (%d on [%g, %g)) or NULL output",
                     n_bins, s_min, s_max);
        return AD_ERR_ARG;
    }
    profile_state s = {coord, coord_ctx, s_min, (s_max - s_min) / n_bins, n_bins, LSE_EMPTY, NULL};
    s.bins = ad_malloc((size_t)n_bins * sizeof(lse));
    if (!s.bins) {
        if (msg && msg_len) snprintf(msg, msg_len, "smp_quad_profile: out of memory");
        return AD_ERR_NOMEM;
    }
    for (int k = 0; k < n_bins; k++) s.bins[k] = LSE_EMPTY;
    walk_info info;
    int status = walk(energy, ctx, grid, kT, profile_visit, &s, &info, "smp_quad_profile", msg,
                      msg_len);
    if (status == AD_OK) {
        double lt = lse_value(&s.total);
        for (int k = 0; k < n_bins; k++) {
            double lb = lse_value(&s.bins[k]);
            f[k] = lb == -INFINITY ? INFINITY : -(lb - lt) + log(s.width);
        }
    }
    ad_free(s.bins);
    return status;
}
