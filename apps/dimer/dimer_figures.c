/* dimer_figures.c - the SVG figures of bg-dimer (dimer_figures.h): energy and
 * dimer-distance histograms of the MC data and the BG samples, relabelled
 * configurations, the free-energy profiles and the training losses.  Every
 * file is written atomically (app_svg_save).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "apps/toolkit/app_svg.h"
#include "apps/dimer/dimer_figures.h"
#include "autodiff/ad_alloc.h"

/* Normalised histogram density of v[n] (optionally only where keep(i)) on
 * [lo, hi] into dens[nb]; every value counts in the normalisation. */
static void histo(const ad_real *v, int n, const int *sel, int want, double lo, double hi, int nb,
                  double *dens)
{
    double h = (hi - lo) / nb;
    long total = 0;
    for (int j = 0; j < nb; j++) dens[j] = 0;
    for (int i = 0; i < n; i++) {
        if (sel && sel[i] != want) continue;
        total++;
        double x = v[i];
        if (!(x >= lo && x < hi)) continue;
        dens[(int)((x - lo) / h)] += 1;
    }
    for (int j = 0; j < nb; j++) dens[j] = total ? dens[j] / (total * h) : 0;
}

static int figure_energy(dimer_run *r, char *msg, size_t len)
{
    enum { NB = 60 };
    int nd = r->n_closed + r->n_open;
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < nd; i++) {
        if (r->data_u[i] < lo) lo = r->data_u[i];
        if (r->data_u[i] > hi) hi = r->data_u[i];
    }
    lo = floor(lo - 10);
    hi = ceil(hi + 40);
    int *sel = ad_malloc((size_t)nd * sizeof *sel);
    if (!sel) return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    for (int i = 0; i < nd; i++) sel[i] = i < r->n_closed ? 0 : 1;
    double edges[NB + 1], dc[NB], dop[NB], dbg[NB], dais[NB];
    for (int j = 0; j <= NB; j++) edges[j] = lo + (hi - lo) * j / NB;
    histo(r->data_u, nd, sel, 0, lo, hi, NB, dc);
    histo(r->data_u, nd, sel, 1, lo, hi, NB, dop);
    histo(r->samples->energy, r->samples->n, NULL, 0, lo, hi, NB, dbg);
    if (r->ais_samples) histo(r->ais_samples->energy, r->ais_samples->n, NULL, 0, lo, hi, NB, dais);
    ad_free(sel);
    app_svg_figure *f = app_svg_figure_new(1, 1, 560, 380);
    app_svg_panel *p = app_svg_panel_at(f, 0, 0);
    app_svg_panel_title(p, "Energies: MC data vs BG samples (unweighted)");
    app_svg_panel_labels(p, "energy u(x) / kT units", "density");
    app_svg_histogram(p, edges, dc, NB, &(app_svg_style){.label = "MC closed"});
    app_svg_histogram(p, edges, dop, NB, &(app_svg_style){.label = "MC open"});
    app_svg_histogram(p, edges, dbg, NB, &(app_svg_style){.label = "BG samples", .width = 2.4});
    if (r->ais_samples)
        app_svg_histogram(p, edges, dais, NB,
                          &(app_svg_style){.label = "BG + latent AIS samples", .width = 2.4});
    char path[1024];
    dimer_out_path(r, "fig_energy.svg", path, sizeof path);
    int rc = app_svg_save(f, path, msg, len);
    app_svg_figure_free(f);
    return rc;
}

static int figure_distance(dimer_run *r, char *msg, size_t len)
{
    enum { NB = 80 };
    int nd = r->n_closed + r->n_open;
    ad_real *dm = ad_malloc((size_t)nd * sizeof *dm);
    int *sel = ad_malloc((size_t)nd * sizeof *sel);
    if (!dm || !sel) {
        ad_free(dm);
        ad_free(sel);
        return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < nd; i++) {
        dm[i] = (ad_real)pot_dimer_distance_of(r->data + (size_t)i * r->dim);
        sel[i] = i < r->n_closed ? 0 : 1;
    }
    double edges[NB + 1], dc[NB], dop[NB], dbg[NB];
    for (int j = 0; j <= NB; j++) edges[j] = 0.5 + 2.0 * j / NB;
    histo(dm, nd, sel, 0, 0.5, 2.5, NB, dc);
    histo(dm, nd, sel, 1, 0.5, 2.5, NB, dop);
    histo(r->d_bg, r->samples->n, NULL, 0, 0.5, 2.5, NB, dbg);
    for (int j = 0; j < NB; j++) {
        dc[j] *= (double)r->n_closed / nd; /* the 50/50 mixture the flow was shown */
        dop[j] *= (double)r->n_open / nd;
    }
    ad_free(dm);
    ad_free(sel);
    app_svg_figure *f = app_svg_figure_new(1, 1, 560, 380);
    app_svg_panel *p = app_svg_panel_at(f, 0, 0);
    app_svg_panel_title(p, "Dimer distance: MC data vs BG samples (unweighted)");
    app_svg_panel_labels(p, "dimer distance d", "density");
    app_svg_histogram(p, edges, dc, NB, &(app_svg_style){.label = "MC closed"});
    app_svg_histogram(p, edges, dop, NB, &(app_svg_style){.label = "MC open"});
    app_svg_histogram(p, edges, dbg, NB, &(app_svg_style){.label = "BG samples", .width = 2.4});
    app_svg_vline(p, POT_DIMER_D_SPLIT, &(app_svg_style){.dash = APP_SVG_DASHED});
    char path[1024];
    dimer_out_path(r, "fig_distance.svg", path, sizeof path);
    int rc = app_svg_save(f, path, msg, len);
    app_svg_figure_free(f);
    return rc;
}

/* Particle clouds and mean positions of up to 150 relabelled frames. */
static int config_panel(app_svg_panel *p, const char *title, const ad_real *src, const int *rows,
                        int n_rows, int dim, char *msg, size_t len)
{
    enum { MAXF = 150 };
    int nf = n_rows < MAXF ? n_rows : MAXF, np = dim / 2;
    app_svg_panel_title(p, title);
    app_svg_panel_labels(p, "x", "y");
    app_svg_panel_xrange(p, -4, 4);
    app_svg_panel_yrange(p, -4, 4);
    app_svg_panel_legend(p, APP_SVG_LEGEND_NONE);
    if (nf == 0) return AD_OK;
    ad_real *x = ad_malloc((size_t)nf * dim * sizeof *x);
    double *sx = ad_malloc((size_t)nf * np * 2 * sizeof *sx),
           *sy = sx ? sx + (size_t)nf * np : NULL;
    double *mx = ad_calloc((size_t)2 * np, sizeof *mx), *my = mx ? mx + np : NULL;
    if (!x || !sx || !mx) {
        ad_free(x);
        ad_free(sx);
        ad_free(mx);
        return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < nf; i++)
        memcpy(x + (size_t)i * dim, src + (size_t)rows[(long)i * n_rows / nf] * dim,
               (size_t)dim * sizeof *x);
    int rc = dimer_relabel(x, nf, np - 2, msg, len);
    int ns = 0, nd = 0;
    double dx[2 * MAXF], dy[2 * MAXF];
    for (int i = 0; rc == AD_OK && i < nf; i++)
        for (int k = 0; k < np; k++) {
            double a = x[(size_t)i * dim + 2 * k], b = x[(size_t)i * dim + 2 * k + 1];
            mx[k] += a / nf;
            my[k] += b / nf;
            if (k < 2) {
                dx[nd] = a;
                dy[nd++] = b;
            } else {
                sx[ns] = a;
                sy[ns++] = b;
            }
        }
    if (rc == AD_OK) {
        app_svg_scatter(p, sx, sy, (size_t)ns,
                        &(app_svg_style){.color = "#9aa5b1", .alpha = 0.25, .radius = 1.2});
        app_svg_scatter(p, dx, dy, (size_t)nd,
                        &(app_svg_style){.color = "#d62728", .alpha = 0.3, .radius = 1.4});
        app_svg_scatter(p, mx + 2, my + 2, (size_t)np - 2,
                        &(app_svg_style){.color = "#1f3b73", .alpha = 1, .radius = 4});
        app_svg_scatter(p, mx, my, 2,
                        &(app_svg_style){.color = "#d62728", .alpha = 1, .radius = 5});
        const double bx[5] = {-3, 3, 3, -3, -3}, by[5] = {-3, -3, 3, 3, -3};
        app_svg_line(p, bx, by, 5, &(app_svg_style){.color = "#444444", .width = 1});
    }
    ad_free(x);
    ad_free(sx);
    ad_free(mx);
    return rc;
}

static int figure_configurations(dimer_run *r, char *msg, size_t len)
{
    int nd = r->n_closed + r->n_open, n = r->samples->n;
    int *rows = ad_malloc((size_t)(nd > n ? nd : n) * sizeof *rows);
    if (!rows) return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    app_svg_figure *f = app_svg_figure_new(2, 2, 380, 380);
    app_svg_figure_title(f, "150 relabelled frames and mean positions (dimer red, walls at 3)");
    int rc = AD_OK;
    for (int i = 0; i < r->n_closed; i++) rows[i] = i;
    rc = config_panel(app_svg_panel_at(f, 0, 0), "MC, closed", r->data, rows, r->n_closed, r->dim,
                      msg, len);
    for (int i = 0; i < r->n_open; i++) rows[i] = r->n_closed + i;
    if (rc == AD_OK)
        rc = config_panel(app_svg_panel_at(f, 0, 1), "MC, open", r->data, rows, r->n_open, r->dim,
                          msg, len);
    for (int state = 0; state < 2 && rc == AD_OK; state++) {
        int m = 0;
        for (int i = 0; i < n; i++)
            if (isfinite(r->samples->log_w[i]) &&
                (r->d_bg[i] < POT_DIMER_D_SPLIT) == (state == 0))
                rows[m++] = i;
        rc = config_panel(app_svg_panel_at(f, 1, state), state ? "BG, open" : "BG, closed",
                          r->samples->x, rows, m, r->dim, msg, len);
    }
    char path[1024];
    dimer_out_path(r, "fig_configurations.svg", path, sizeof path);
    if (rc == AD_OK) rc = app_svg_save(f, path, msg, len);
    app_svg_figure_free(f);
    ad_free(rows);
    return rc;
}

/* A reweighted profile (may be NULL) as a line with a +-2 SE band. */
static void profile_curve(app_svg_panel *p, const smp_profile *pr, const char *label,
                          const char *color)
{
    if (!pr) return;
    int m = pr->n_bins;
    double *bx = ad_malloc((size_t)m * 4 * sizeof *bx);
    if (!bx) return;
    double *by = bx + m, *bl = by + m, *bh = bl + m;
    for (int j = 0; j < m; j++) {
        bx[j] = pr->center[j];
        by[j] = pr->F[j];
        double se = isfinite(pr->se[j]) ? pr->se[j] : 0;
        bl[j] = by[j] - 2 * se;
        bh[j] = by[j] + 2 * se;
    }
    app_svg_band(p, bx, bl, bh, (size_t)m, &(app_svg_style){.color = color});
    app_svg_line(p, bx, by, (size_t)m, &(app_svg_style){.label = label, .color = color});
    ad_free(bx);
}

static int figure_free_energy(dimer_run *r, char *msg, size_t len)
{
    int nb = r->us.n_bins;
    double *x = ad_malloc((size_t)nb * 4 * sizeof *x);
    if (!x) return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    double *y = x + nb, *lo = y + nb, *hi = lo + nb;
    for (int j = 0; j < nb; j++) {
        x[j] = r->us.center[j];
        y[j] = r->us.F[j];
        double se = isfinite(r->us.F_se[j]) ? r->us.F_se[j] : 0;
        lo[j] = y[j] - 2 * se;
        hi[j] = y[j] + 2 * se;
    }
    app_svg_figure *f = app_svg_figure_new(1, 1, 600, 400);
    app_svg_panel *p = app_svg_panel_at(f, 0, 0);
    char lab_us[128], lab_bg[128];
    snprintf(lab_us, sizeof lab_us, "umbrella+WHAM, dF = %.2f +- %.2f", r->us.dF, r->us.dF_se);
    snprintf(lab_bg, sizeof lab_bg, "BG reweighted, dF = %.2f +- %.2f", r->res.dF, r->res.dF_se);
    app_svg_panel_title(p, "F(d), bands +-2 SE; dF = F(closed) - F(open)");
    app_svg_panel_labels(p, "dimer distance d", "F(d) / kT");
    app_svg_panel_xrange(p, 0.5, 2.5);
    app_svg_band(p, x, lo, hi, (size_t)nb, &(app_svg_style){.color = "#1f77b4"});
    app_svg_line(p, x, y, (size_t)nb, &(app_svg_style){.label = lab_us, .color = "#1f77b4"});
    double ymax = 0;
    for (int j = 0; j < nb; j++)
        if (isfinite(y[j]) && y[j] > ymax) ymax = y[j];
    profile_curve(p, r->profile, lab_bg, "#d62728");
    if (r->ais_samples) {
        char lab_ais[128];
        snprintf(lab_ais, sizeof lab_ais, "BG + latent AIS, dF = %.2f +- %.2f", r->ais_res.dF,
                 r->ais_res.dF_se);
        profile_curve(p, r->ais_profile, lab_ais, "#2ca02c");
    }
    app_svg_panel_yrange(p, -1, ymax + 3 > 5 ? ymax + 3 : 5);
    app_svg_vline(p, POT_DIMER_D_SPLIT, &(app_svg_style){.dash = APP_SVG_DASHED});
    char path[1024];
    dimer_out_path(r, "fig_free_energy.svg", path, sizeof path);
    int rc = app_svg_save(f, path, msg, len);
    app_svg_figure_free(f);
    ad_free(x);
    return rc;
}

static void quantiles(const double *v, int n, double *q05, double *q95)
{
    double *c = ad_malloc((size_t)(n > 0 ? n : 1) * sizeof *c);
    int m = 0;
    for (int i = 0; c && i < n; i++)
        if (isfinite(v[i])) c[m++] = v[i];
    *q05 = *q95 = NAN;
    if (c && m > 0) {
        for (int i = 1; i < m; i++) /* insertion sort is fine for a few thousand rows */
            for (int j = i; j > 0 && c[j - 1] > c[j]; j--) {
                double t = c[j];
                c[j] = c[j - 1];
                c[j - 1] = t;
            }
        *q05 = c[0];
        *q95 = c[(int)(0.95 * (m - 1))];
    }
    ad_free(c);
}

static int figure_loss(dimer_run *r, const dimer_log_rows *lr, char *msg, size_t len)
{
    app_svg_figure *f = app_svg_figure_new(1, 2, 440, 330);
    app_svg_figure_title(f, "Training losses (unweighted components)");
    int n = lr->n;
    double *it = ad_malloc((size_t)(n > 0 ? n : 1) * 3 * sizeof *it);
    if (!it) {
        app_svg_figure_free(f);
        return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    }
    double *ml = it + n, *kl = ml + n;
    int has_kl = 0;
    for (int i = 0; i < n; i++) {
        it[i] = lr->v[5 * i];
        ml[i] = lr->v[5 * i + 3];
        kl[i] = lr->v[5 * i + 4] != 0 ? lr->v[5 * i + 4] : NAN;
        has_kl |= isfinite(kl[i]);
    }
    app_svg_panel *p = app_svg_panel_at(f, 0, 0);
    app_svg_panel_title(p, "J_ML");
    app_svg_panel_labels(p, "iteration", "J_ML");
    double a, b;
    quantiles(ml, n, &a, &b);
    if (isfinite(a) && b > a) app_svg_panel_yrange(p, a - 0.05 * (b - a), b);
    if (n > 0) app_svg_line(p, it, ml, (size_t)n, NULL);
    p = app_svg_panel_at(f, 0, 1);
    app_svg_panel_title(p, "J_KL (energy regularised)");
    app_svg_panel_labels(p, "iteration", "J_KL");
    quantiles(kl, n, &a, &b);
    if (isfinite(a) && b > a) app_svg_panel_yrange(p, a - 0.05 * (b - a), b);
    if (n > 0 && has_kl) app_svg_line(p, it, kl, (size_t)n, &(app_svg_style){.color = "#d62728"});
    ad_free(it);
    char path[1024];
    dimer_out_path(r, "fig_loss.svg", path, sizeof path);
    int rc = app_svg_save(f, path, msg, len);
    app_svg_figure_free(f);
    return rc;
}

/* ---- several temperatures (--temperatures) ---- */

/* The published umbrella dF(closed - open) of the paper's energy at kT
 * (the mean of its three repeats, in units of that kT; science.md §3.7),
 * NAN where it gave none. */
double dimer_paper_umbrella(double kT)
{
    static const double table[5][2] = {{0.15, -60.8}, {0.25, -33.8}, {0.5, -14.4}, {1.0, -7.10},
                                       {2.0, -3.25}};
    for (int i = 0; i < 5; i++)
        if (kT == table[i][0]) return table[i][1];
    return NAN;
}

static int figure_temperatures(dimer_run *r, char *msg, size_t len)
{
    int nt = r->n_temps;
    double *v = ad_malloc((size_t)nt * 3 * sizeof *v);
    if (!v) return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    double *x = v, *y = v + nt, *e = v + 2 * nt;
    app_svg_figure *f = app_svg_figure_new(1, 1, 600, 420);
    app_svg_panel *p = app_svg_panel_at(f, 0, 0);
    app_svg_figure_title(f, "dF(closed - open) against kT, bars +-1 SE");
    app_svg_panel_labels(p, "kT", "dF(closed - open) / kT");
    double span = r->temps[nt - 1].kT - r->temps[0].kT;
    double dx = 0.015 * (span > 0 ? span : r->temps[0].kT);
    /* the reference: umbrella + WHAM, a line through its points */
    for (int j = 0; j < nt; j++) {
        const dimer_temperature *t = &r->temps[j];
        const dimer_umbrella_out *us = t->is_main ? &r->us : &t->us;
        x[j] = t->kT;
        y[j] = us->dF;
        e[j] = us->dF_se;
    }
    app_svg_line(p, x, y, (size_t)nt, &(app_svg_style){.color = "#000000", .dash = APP_SVG_DASHED});
    app_svg_errorbars(p, x, y, e, (size_t)nt,
                      &(app_svg_style){.label = "umbrella + WHAM (reference)", .color = "#000000"});
    int n_paper = 0;
    if (strcmp(r->opt.bond, "paper") == 0)
        for (int j = 0; j < nt; j++) {
            double pv = dimer_paper_umbrella(r->temps[j].kT);
            if (isfinite(pv)) {
                x[n_paper] = r->temps[j].kT;
                y[n_paper++] = pv;
            }
        }
    if (n_paper)
        app_svg_scatter(p, x, y, (size_t)n_paper,
                        &(app_svg_style){.label = "paper's umbrella (mean of 3 runs)",
                                         .color = "#7f7f7f", .alpha = 1, .radius = 4});
    for (int w = 0; w < 2; w++) {
        int n = 0;
        for (int j = 0; j < nt; j++) {
            const dimer_temperature *t = &r->temps[j];
            const dimer_model_result *m = w == 0 ? (t->is_main ? &r->res : &t->res)
                                                 : (t->is_main ? &r->ais_res : &t->ais_res);
            if (w == 1 && !t->has_ais) continue;
            x[n] = t->kT + (w == 0 ? -dx : dx);
            y[n] = m->dF;
            e[n] = m->dF_se;
            n++;
        }
        if (n)
            app_svg_errorbars(p, x, y, e, (size_t)n,
                              &(app_svg_style){.label = w == 0 ? "BG reweighted" : "BG + latent AIS",
                                               .color = w == 0 ? "#d62728" : "#2ca02c"});
    }
    app_svg_panel_legend(p, APP_SVG_LEGEND_AUTO);
    char path[1024];
    dimer_out_path(r, "fig_temperatures.svg", path, sizeof path);
    int rc = app_svg_save(f, path, msg, len);
    app_svg_figure_free(f);
    ad_free(v);
    return rc;
}

static int figure_temperature_profiles(dimer_run *r, char *msg, size_t len)
{
    int nt = r->n_temps, cols = nt < 3 ? nt : 3, rows = (nt + cols - 1) / cols;
    app_svg_figure *f = app_svg_figure_new(rows, cols, 420, 320);
    app_svg_figure_title(f, "F(d) at each temperature, bands +-2 SE: umbrella + WHAM (blue), BG "
                            "reweighted (red), BG + latent AIS (green)");
    int rc = AD_OK;
    for (int j = 0; j < nt && rc == AD_OK; j++) {
        const dimer_temperature *t = &r->temps[j];
        const dimer_umbrella_out *us = t->is_main ? &r->us : &t->us;
        app_svg_panel *p = app_svg_panel_at(f, j / cols, j % cols);
        char title[64];
        snprintf(title, sizeof title, "kT = %g", t->kT);
        app_svg_panel_title(p, title);
        app_svg_panel_labels(p, "dimer distance d", "F(d) / kT");
        app_svg_panel_xrange(p, 0.5, 2.5);
        int nb = us->n_bins;
        double *x = ad_malloc((size_t)nb * 2 * sizeof *x);
        if (!x) {
            rc = ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
            break;
        }
        double ymax = 0;
        for (int b = 0; b < nb; b++) {
            x[b] = us->center[b];
            x[nb + b] = us->F[b];
            if (isfinite(x[nb + b]) && x[nb + b] > ymax) ymax = x[nb + b];
        }
        app_svg_line(p, x, x + nb, (size_t)nb,
                     &(app_svg_style){.label = "umbrella", .color = "#1f77b4"});
        ad_free(x);
        profile_curve(p, t->is_main ? r->profile : t->profile, "BG", "#d62728");
        profile_curve(p, t->is_main ? r->ais_profile : t->ais_profile, "BG + AIS", "#2ca02c");
        app_svg_panel_yrange(p, -1, ymax + 3 > 5 ? ymax + 3 : 5);
        app_svg_vline(p, POT_DIMER_D_SPLIT, &(app_svg_style){.dash = APP_SVG_DASHED});
        app_svg_panel_legend(p, APP_SVG_LEGEND_AUTO);
    }
    char path[1024];
    dimer_out_path(r, "fig_temperature_profiles.svg", path, sizeof path);
    if (rc == AD_OK) rc = app_svg_save(f, path, msg, len);
    app_svg_figure_free(f);
    return rc;
}

int dimer_figures_write(dimer_run *r, const dimer_log_rows *lr, char *msg, size_t len)
{
    int rc = figure_energy(r, msg, len);
    if (rc == AD_OK) rc = figure_distance(r, msg, len);
    if (rc == AD_OK) rc = figure_configurations(r, msg, len);
    if (rc == AD_OK) rc = figure_free_energy(r, msg, len);
    if (rc == AD_OK) rc = figure_loss(r, lr, msg, len);
    if (rc == AD_OK && r->n_temps) rc = figure_temperatures(r, msg, len);
    if (rc == AD_OK && r->n_temps) rc = figure_temperature_profiles(r, msg, len);
    return rc;
}
