/* smp_quadrature.c - 2-D grid quadrature of Boltzmann weights in log space. */
#include "smp_quadrature.h"

#include <limits.h>
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
    const char *why = NULL;
    if (!(isfinite(g->x_min) && isfinite(g->x_max) && g->x_max > g->x_min))
        why = "x_min, x_max";
    else if (!(isfinite(g->y_min) && isfinite(g->y_max) && g->y_max > g->y_min))
        why = "y_min, y_max";
    else if (g->nx < 3)
        why = "nx";
    else if (g->ny < 3)
        why = "ny";
    if (why) {
        if (msg && msg_len)
            snprintf(msg, msg_len, "%s: bad grid %s ([%g,%g] x [%g,%g], %d x %d nodes; need "
                     "finite min < max and >= 3 nodes per axis)", fn, why, g->x_min, g->x_max,
                     g->y_min, g->y_max, g->nx, g->ny);
        return AD_ERR_ARG;
    }
    if (!(kT > 0 && isfinite(kT))) {
        if (msg && msg_len) snprintf(msg, msg_len, "%s: kT = %g (need finite > 0)", fn, kT);
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

/* ---- basins: the nearest-minimum rule integrated cell by cell ----------
 *
 * Each node stands for its cell, the hx-by-hy rectangle centred on it (2hx by
 * 2hy on the coarse grid).  A node's weight goes to the basins in proportion
 * to the area of its cell that each basin covers, rather than all of it to the
 * basin of the node itself.  The basins are Voronoi cells of the minima, so
 * every basin is an intersection of half-planes and that area is exact: the
 * cell clipped by the half-planes.  A node on a boundary that runs along a
 * grid line gives half its weight to each side; a node whose whole cell lies
 * in one basin (all but O(1/h) of them) gives it all to that basin.
 *
 * Why: summing whole node weights per basin is a Riemann sum of a
 * discontinuous integrand.  Its error is O(h) and depends on where the grid
 * happens to fall: with the boundary through nodes it is h/2 times the
 * boundary's weight per unit length.  With cell fractions the sum is the
 * midpoint rule applied to e^{-u/kT} times a cell average of the indicator:
 * error O(h^2) for any placement of the grid (the first moment of the cut
 * part of a cell is O(h^3), over O(1/h) cut cells). */

typedef struct vec2 {
    double x, y;
} vec2;

enum { MAX_POLY = 4 + SMP_QUAD_MAX_BASINS }; /* each clip adds at most one vertex */

/* Clip the convex polygon in[0..n) to a.x * x + a.y * y <= c
 * (Sutherland-Hodgman); returns the new vertex count. */
static int clip_half_plane(const vec2 *in, int n, vec2 a, double c, vec2 *out)
{
    int m = 0;
    for (int i = 0; i < n; i++) {
        vec2 p = in[i], q = in[(i + 1) % n];
        double fp = a.x * p.x + a.y * p.y - c, fq = a.x * q.x + a.y * q.y - c;
        if (fp <= 0) out[m++] = p;
        if ((fp < 0 && fq > 0) || (fp > 0 && fq < 0)) {
            double t = fp / (fp - fq);
            out[m++] = (vec2){p.x + t * (q.x - p.x), p.y + t * (q.y - p.y)};
        }
    }
    return m;
}

static double polygon_area(const vec2 *v, int n)
{
    double a = 0;
    for (int i = 0; i < n; i++) {
        vec2 p = v[i], q = v[(i + 1) % n];
        a += p.x * q.y - q.x * p.y;
    }
    return fabs(a) / 2;
}

typedef struct basin_state {
    int n_minima;
    double m[2 * SMP_QUAD_MAX_BASINS];    /* the minima in double              */
    double x0, y0, hx, hy;                /* grid origin and spacing           */
    lse fine[SMP_QUAD_MAX_BASINS];
    lse coarse[4][SMP_QUAD_MAX_BASINS];   /* the four sub-grids of spacing 2h  */
} basin_state;

/* Basin k in coordinates d relative to the point c: for every j != k,
 * |c + d - m_k|^2 <= |c + d - m_j|^2, i.e. a_j . d <= c_j with
 * a_j = 2 (m_j - m_k) and c_j = |m_j - c|^2 - |m_k - c|^2. */
static void basin_plane(const basin_state *s, int k, int j, double cx, double cy, vec2 *a,
                        double *c)
{
    double kx = s->m[2 * k] - cx, ky = s->m[2 * k + 1] - cy;
    double jx = s->m[2 * j] - cx, jy = s->m[2 * j + 1] - cy;
    *a = (vec2){2 * (jx - kx), 2 * (jy - ky)};
    *c = (jx * jx + jy * jy) - (kx * kx + ky * ky);
}

/* Add the weight e^{log_w} of the cell of half-widths (rx, ry) centred on
 * (cx, cy) to the basins acc[] in proportion to the area each covers. */
static void add_cell(const basin_state *s, lse *acc, double cx, double cy, double rx, double ry,
                     double log_w)
{
    int n = s->n_minima, k0 = 0;
    double best = INFINITY;
    for (int k = 0; k < n; k++) {
        double dx = cx - s->m[2 * k], dy = cy - s->m[2 * k + 1];
        if (dx * dx + dy * dy < best) {
            best = dx * dx + dy * dy;
            k0 = k;
        }
    }
    /* the whole cell is in k0 when every corner satisfies every plane */
    int whole = 1;
    for (int j = 0; j < n && whole; j++) {
        if (j == k0) continue;
        vec2 a;
        double c;
        basin_plane(s, k0, j, cx, cy, &a, &c);
        if (fabs(a.x) * rx + fabs(a.y) * ry > c) whole = 0;
    }
    if (whole) {
        lse_add(&acc[k0], log_w);
        return;
    }
    double area[SMP_QUAD_MAX_BASINS], total = 0;
    for (int k = 0; k < n; k++) {
        vec2 buf[2][MAX_POLY] = {{{-rx, -ry}, {rx, -ry}, {rx, ry}, {-rx, ry}}};
        int nv = 4, cur = 0;
        for (int j = 0; j < n && nv > 0; j++) {
            if (j == k) continue;
            vec2 a;
            double c;
            basin_plane(s, k, j, cx, cy, &a, &c);
            nv = clip_half_plane(buf[cur], nv, a, c, buf[1 - cur]);
            cur = 1 - cur;
        }
        area[k] = nv >= 3 ? polygon_area(buf[cur], nv) : 0;
        total += area[k];
    }
    if (!(total > 0)) { /* cannot happen: the basins tile the plane */
        lse_add(&acc[k0], log_w);
        return;
    }
    for (int k = 0; k < n; k++)
        if (area[k] > 0) lse_add(&acc[k], log_w + log(area[k] / total));
}

static void basin_visit(void *state, int i, int j, const ad_real *pt, double log_w)
{
    (void)pt; /* the centre is recomputed in double, also in a float32 build */
    basin_state *s = state;
    double cx = s->x0 + i * s->hx, cy = s->y0 + j * s->hy;
    add_cell(s, s->fine, cx, cy, s->hx / 2, s->hy / 2, log_w);
    add_cell(s, s->coarse[2 * (j % 2) + i % 2], cx, cy, s->hx, s->hy, log_w);
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

smp_grid2d smp_grid2d_spacing(double x_min, double x_max, double y_min, double y_max, double h)
{
    smp_grid2d g = {.x_min = x_min, .x_max = x_max, .y_min = y_min, .y_max = y_max,
                    .nx = 0, .ny = 0};
    if (!(h > 0) || !isfinite(h) || !(x_max > x_min) || !(y_max > y_min) ||
        !isfinite(x_max - x_min) || !isfinite(y_max - y_min))
        return g;
    /* the fewest intervals of at most h (a ratio within 1e-9 of an integer
     * is that integer, so 7 / 0.01 gives 700 intervals, not 701) */
    double ix = ceil((x_max - x_min) / h - 1e-9), iy = ceil((y_max - y_min) / h - 1e-9);
    if (ix < 2) ix = 2;
    if (iy < 2) iy = 2;
    if (ix >= INT_MAX || iy >= INT_MAX) return g;
    g.nx = (int)ix + 1;
    g.ny = (int)iy + 1;
    return g;
}

int smp_quad_basins_potential(const pot_potential *u, const smp_grid2d *grid, double kT,
                              const ad_real *minima, int n_minima, smp_quad_basins *out,
                              char *msg, size_t msg_len)
{
    static const char fn[] = "smp_quad_basins_potential";
    if (!u || !u->energy)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: u is NULL or has no energy", fn);
    if (u->dim != 2)
        return ad_status_fail(msg, msg_len, AD_ERR_SHAPE, "%s: u->dim = %d (need 2)", fn, u->dim);
    ad_tape *scratch = ad_tape_new(0);
    if (!scratch) return ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", fn);
    smp_potential_ctx pc = {.potential = u, .scratch = scratch};
    int status = smp_quad_basins_compute(smp_potential_energy, &pc, grid, kT, minima, n_minima,
                                         out, msg, msg_len);
    ad_tape_free(scratch);
    return status;
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
    s.n_minima = n_minima;
    for (int k = 0; k < 2 * n_minima; k++) s.m[k] = (double)minima[k];
    s.x0 = s.y0 = s.hx = s.hy = 0;
    if (grid && grid->nx >= 3 && grid->ny >= 3) { /* else walk() rejects the grid */
        s.x0 = grid->x_min;
        s.y0 = grid->y_min;
        s.hx = (grid->x_max - grid->x_min) / (grid->nx - 1);
        s.hy = (grid->y_max - grid->y_min) / (grid->ny - 1);
    }
    for (int k = 0; k < n_minima; k++) {
        s.fine[k] = LSE_EMPTY;
        for (int p = 0; p < 4; p++) s.coarse[p][k] = LSE_EMPTY;
    }
    walk_info info;
    int status = walk(energy, ctx, grid, kT, basin_visit, &s, &info, "smp_quad_basins_compute",
                      msg, msg_len);
    if (status != AD_OK) return status;
    out->n_basins = n_minima;
    basin_summary(s.fine, n_minima, info.hx * info.hy, &out->log_z, out->population, out->delta_f);
    /* Richardson: the rule is second order, Q(2h) - Q(h) ~ 3 C h^2 when
     * Q(h) - Q ~ C h^2.  Where a boundary cuts the grid C depends on where
     * the boundary falls within a cell, differently on each sub-grid; the
     * largest of the four differences bounds the leading error (see the
     * header). */
    out->log_z_error = 0;
    for (int k = 0; k < n_minima; k++) out->error[k] = 0;
    for (int p = 0; p < 4; p++) {
        double pop2[SMP_QUAD_MAX_BASINS], df2[SMP_QUAD_MAX_BASINS], log_z2;
        basin_summary(s.coarse[p], n_minima, 4 * info.hx * info.hy, &log_z2, pop2, df2);
        out->log_z_error = fmax(out->log_z_error, fabs(out->log_z - log_z2) / 3);
        for (int k = 1; k < n_minima; k++)
            if (out->delta_f[k] != df2[k])
                out->error[k] = fmax(out->error[k], fabs(out->delta_f[k] - df2[k]) / 3);
    }
    out->boundary_weight = exp(info.edge - info.peak);
    if (!isfinite(out->log_z)) {
        if (msg && msg_len)
            snprintf(msg, msg_len, "smp_quad_basins_compute: no weight on the grid (every "
                     "energy is +inf)");
        return AD_ERR_NUMERIC;
    }
    return AD_OK;
}

/* A node within EDGE_TOL bin widths of a bin edge is on it: grid nodes put
 * there by (x_min + i h) miss it by rounding only. */
#define EDGE_TOL 1e-9
#define M_LN2_VALUE 0.69314718055994530942

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
    if (!(r > -EDGE_TOL && r < s->n_bins + EDGE_TOL)) return;
    double e = nearbyint(r);
    if (fabs(r - e) <= EDGE_TOL) {
        /* on a bin edge: half to each side, so that a bin whose edges fall on
         * grid lines is integrated by the trapezoidal rule (error O(h^2))
         * rather than by a one-sided sum (error O(h)) */
        int b = (int)e;
        if (b > 0) lse_add(&s->bins[b - 1], log_w - M_LN2_VALUE);
        if (b < s->n_bins) lse_add(&s->bins[b], log_w - M_LN2_VALUE);
        return;
    }
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
