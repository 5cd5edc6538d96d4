/* exp2d_figures.c - the figures, summary.json and report.md of a 2-D
 * experiment (exp2d.h).  Every file is written atomically. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/toolkit/app_buf.h"
#include "apps/toolkit/app_fs.h"
#include "apps/toolkit/app_json.h"
#include "apps/toolkit/app_report.h"
#include "apps/toolkit/app_svg.h"
#include "apps/toolkit/app_run.h"
#include "apps/exp2d/exp2d.h"
#include "autodiff/ad_alloc.h"

static int out_path(const exp2d_run *run, const char *name, char *path, size_t size, char *msg,
                    size_t len)
{
    if (app_fs_join(path, size, run->opt.out, name) != AD_OK)
        return ad_status_fail(msg, len, AD_ERR_ARG, "output path too long: %s/%s", run->opt.out,
                              name);
    return AD_OK;
}

static int save(app_svg_figure *f, const exp2d_run *run, const char *name, char *msg, size_t len)
{
    char path[1024];
    int status = f ? out_path(run, name, path, sizeof path, msg, len)
                   : ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory for %s", name);
    if (status == AD_OK) status = app_svg_save(f, path, msg, len);
    app_svg_figure_free(f);
    return status;
}

/* The potential as filled contours, u - u_min in units of kT. */
static void potential_map(app_svg_panel *p, const exp2d_run *run)
{
    const exp2d_system *sys = run->sys;
    size_t n = (size_t)run->map_nx * run->map_ny;
    double *z = ad_malloc(sizeof(double) * n);
    if (!z) return;
    for (size_t i = 0; i < n; i++) z[i] = (run->map_u[i] - run->u_min) / run->kT;
    app_svg_contour_opts co = {10, 0, sys->contour_span, 0, "(u - u_min) / kT"};
    app_svg_contour(p, z, run->map_nx, run->map_ny, sys->plot_x[0], sys->plot_x[1],
                    sys->plot_y[0], sys->plot_y[1], &co);
    ad_free(z);
    app_svg_panel_labels(p, sys->coord_names[0], sys->coord_names[1]);
}

/* Points of one state as a scatter series (xy interleaved). */
static void scatter_state(app_svg_panel *p, const double *xy, const int *state, int n, int s,
                          const char *label, double radius)
{
    double *x = ad_malloc(sizeof(double) * (n ? n : 1)), *y = ad_malloc(sizeof(double) * (n ? n : 1));
    if (!x || !y) {
        ad_free(x);
        ad_free(y);
        return;
    }
    size_t k = 0;
    for (int i = 0; i < n; i++)
        if (state[i] == s) {
            x[k] = xy[2 * i];
            y[k] = xy[2 * i + 1];
            k++;
        }
    app_svg_style st = {label, app_svg_color(s), 0, APP_SVG_SOLID, 0.45, radius};
    if (k) app_svg_scatter(p, x, y, k, &st);
    ad_free(x);
    ad_free(y);
}

static int figure_mc(const exp2d_run *run, char *msg, size_t len)
{
    const exp2d_system *sys = run->sys;
    app_svg_figure *f = app_svg_figure_new(1, 1, 560, 440);
    if (f) {
        char title[256];
        snprintf(title, sizeof title, "%s: Monte Carlo data (%d frames, kT = %g)", sys->title,
                 run->n_data, run->kT);
        app_svg_figure_title(f, title);
        app_svg_panel *p = app_svg_panel_at(f, 0, 0);
        potential_map(p, run);
        /* the data are ad_real (float in a float build), the plot takes doubles */
        double *xy = malloc(sizeof(double) * 2 * (run->n_data ? run->n_data : 1));
        for (int i = 0; xy && i < 2 * run->n_data; i++) xy[i] = run->data[i];
        for (int c = 0; xy && c < sys->n_minima; c++) {
            char label[64];
            snprintf(label, sizeof label, "from %s", sys->state_names[c]);
            scatter_state(p, xy, run->data_chain, run->n_data, c, label, 1.4);
        }
        free(xy);
        app_svg_panel_legend(p, APP_SVG_LEGEND_UPPER_RIGHT);
    }
    return save(f, run, "mc_data.svg", msg, len);
}

static int figure_samples(const exp2d_run *run, char *msg, size_t len)
{
    const exp2d_system *sys = run->sys;
    app_svg_figure *f = app_svg_figure_new(2, EXP2D_N_MODELS, 360, 320);
    if (f) {
        char title[256];
        snprintf(title, sizeof title,
                 "%s: generated samples in latent space (top) and configuration space (bottom), "
                 "coloured by state", sys->title);
        app_svg_figure_title(f, title);
        double zr = 3.5 * sqrt(run->kT);
        for (int k = 0; k < EXP2D_N_MODELS; k++) {
            const exp2d_model *m = &run->models[k];
            app_svg_panel *pz = app_svg_panel_at(f, 0, k), *px = app_svg_panel_at(f, 1, k);
            app_svg_panel_title(pz, m->name);
            app_svg_panel_labels(pz, "z1", "z2");
            app_svg_panel_xrange(pz, -zr, zr);
            app_svg_panel_yrange(pz, -zr, zr);
            potential_map(px, run);
            for (int s = 0; s < sys->n_minima; s++) {
                scatter_state(pz, m->plot_z, m->plot_state, m->n_plot, s, sys->state_names[s],
                              1.2);
                scatter_state(px, m->plot_x, m->plot_state, m->n_plot, s, NULL, 1.2);
            }
            app_svg_panel_legend(pz, APP_SVG_LEGEND_UPPER_RIGHT);
        }
    }
    return save(f, run, "samples.svg", msg, len);
}

static int figure_profiles(const exp2d_run *run, char *msg, size_t len)
{
    const exp2d_system *sys = run->sys;
    int bins = sys->profile_bins;
    app_svg_figure *f = app_svg_figure_new(1, EXP2D_N_MODELS, 360, 320);
    double *x = ad_malloc(sizeof(double) * bins), *y = ad_malloc(sizeof(double) * bins);
    double *lo = ad_malloc(sizeof(double) * bins), *hi = ad_malloc(sizeof(double) * bins);
    if (f && x && y && lo && hi) {
        char title[256];
        snprintf(title, sizeof title,
                 "%s: free energy along %s, reweighted samples against the exact profile",
                 sys->title, sys->rc_name);
        app_svg_figure_title(f, title);
        double ymax = 0;
        for (int j = 0; j < bins; j++)
            if (isfinite(run->profile_exact[j]) && run->profile_exact[j] > ymax)
                ymax = run->profile_exact[j];
        ymax = ymax > 16 ? 16 : ymax * 1.1 + 0.5;
        for (int k = 0; k < EXP2D_N_MODELS; k++) {
            const exp2d_model *m = &run->models[k];
            app_svg_panel *p = app_svg_panel_at(f, 0, k);
            app_svg_panel_title(p, m->name);
            app_svg_panel_labels(p, sys->rc_name, "F / kT");
            app_svg_panel_xrange(p, sys->profile_lo, sys->profile_hi);
            app_svg_panel_yrange(p, -0.5, ymax);
            for (int j = 0; j < bins; j++) {
                x[j] = run->profile_center[j];
                double F = m->profile[4 * j], se = m->profile[4 * j + 1];
                double s = isfinite(se) ? se : 0;
                lo[j] = isfinite(F) ? F - s : NAN;
                hi[j] = isfinite(F) ? F + s : NAN;
            }
            app_svg_style band = {NULL, app_svg_color(0), 0, APP_SVG_SOLID, 0.3, 0};
            app_svg_band(p, x, lo, hi, (size_t)bins, &band);
            for (int j = 0; j < bins; j++) y[j] = m->profile[4 * j];
            app_svg_style hist = {"histogram ± SE", app_svg_color(0), 1.6, APP_SVG_SOLID, 0, 0};
            app_svg_line(p, x, y, (size_t)bins, &hist);
            for (int j = 0; j < bins; j++) y[j] = m->profile[4 * j + 2];
            app_svg_style kde = {"KDE", app_svg_color(1), 1.6, APP_SVG_SOLID, 0, 0};
            app_svg_line(p, x, y, (size_t)bins, &kde);
            app_svg_style ex = {"exact", "#000000", 1.4, APP_SVG_DASHED, 0, 0};
            app_svg_line(p, x, run->profile_exact, (size_t)bins, &ex);
            app_svg_panel_legend(p, APP_SVG_LEGEND_AUTO);
        }
    }
    ad_free(x);
    ad_free(y);
    ad_free(lo);
    ad_free(hi);
    return save(f, run, "profiles.svg", msg, len);
}

static int figure_interpolation(const exp2d_run *run, char *msg, size_t len)
{
    const exp2d_system *sys = run->sys;
    int np = run->sched.interp_points;
    app_svg_figure *f = app_svg_figure_new(1, EXP2D_N_MODELS, 360, 320);
    double *x = ad_malloc(sizeof(double) * np), *y = ad_malloc(sizeof(double) * np);
    if (f && x && y) {
        char title[256];
        snprintf(title, sizeof title,
                 "%s: latent interpolation (white: straight lines in latent space between "
                 "configurations of different states, mapped to configuration space)", sys->title);
        app_svg_figure_title(f, title);
        for (int k = 0; k < EXP2D_N_MODELS; k++) {
            const exp2d_model *m = &run->models[k];
            app_svg_panel *p = app_svg_panel_at(f, 0, k);
            app_svg_panel_title(p, m->name);
            potential_map(p, run);
            double ex[2 * EXP2D_N_INTERP], ey[2 * EXP2D_N_INTERP];
            for (int q = 0; q < EXP2D_N_INTERP; q++) {
                for (int i = 0; i < np; i++) {
                    x[i] = m->interp[3 * ((size_t)q * np + i)];
                    y[i] = m->interp[3 * ((size_t)q * np + i) + 1];
                }
                app_svg_style st = {NULL, "#ffffff", 1.3, APP_SVG_SOLID, 0.9, 0};
                app_svg_line(p, x, y, (size_t)np, &st);
                for (int e = 0; e < 2; e++) {
                    ex[2 * q + e] = run->interp_ends[4 * q + 2 * e];
                    ey[2 * q + e] = run->interp_ends[4 * q + 2 * e + 1];
                }
            }
            app_svg_style es = {"path ends", "#d62728", 0, APP_SVG_SOLID, 1, 3};
            app_svg_scatter(p, ex, ey, 2 * EXP2D_N_INTERP, &es);
            app_svg_panel_legend(p, APP_SVG_LEGEND_UPPER_RIGHT);
        }
    }
    ad_free(x);
    ad_free(y);
    return save(f, run, "interpolation.svg", msg, len);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int figure_loss(const exp2d_run *run, char *msg, size_t len)
{
    app_svg_figure *f = app_svg_figure_new(1, EXP2D_N_MODELS, 360, 300);
    int nmax = 1;
    for (int k = 0; k < EXP2D_N_MODELS; k++)
        if (run->models[k].n_iterations > nmax) nmax = run->models[k].n_iterations;
    double *it = ad_malloc(sizeof(double) * nmax), *v = ad_malloc(sizeof(double) * nmax);
    double *sorted = ad_malloc(sizeof(double) * 4 * nmax);
    if (f && it && v && sorted) {
        char title[256];
        snprintf(title, sizeof title,
                 "%s: training losses (ML from scratch; the others continue from the ML model)",
                 run->sys->title);
        app_svg_figure_title(f, title);
        static const char *const names[4] = {"total", "J_ML", "J_KL", "J_RC"};
        for (int k = 0; k < EXP2D_N_MODELS; k++) {
            const exp2d_model *m = &run->models[k];
            app_svg_panel *p = app_svg_panel_at(f, 0, k);
            app_svg_panel_title(p, m->name);
            app_svg_panel_labels(p, "iteration", "loss");
            int n = m->n_iterations;
            if (n < 2) continue;
            double w[4] = {1, m->w_ml, m->w_kl, m->w_rc};
            int single = (m->w_ml > 0) + (m->w_kl > 0) + (m->w_rc > 0) == 1;
            /* the y range from the 2nd to the 98th percentile of what is drawn, so
             * the first iterations of a stage do not flatten the rest */
            int ns = 0;
            for (int c = 0; c < 4; c++) {
                if (w[c] <= 0 || (single && c > 0)) continue;
                for (int i = 0; i < n; i++)
                    if (isfinite(m->loss[4 * i + c])) sorted[ns++] = m->loss[4 * i + c];
            }
            if (ns >= 2) {
                qsort(sorted, (size_t)ns, sizeof(double), cmp_double);
                double a = sorted[ns / 50], b = sorted[ns - 1 - ns / 50];
                double pad = 0.08 * (b - a) + 1e-6 * (fabs(a) + fabs(b)) + 1e-9;
                app_svg_panel_yrange(p, a - pad, b + pad);
            }
            for (int c = 0; c < 4; c++) {
                if (w[c] <= 0 || (single && c > 0)) continue;
                for (int i = 0; i < n; i++) {
                    it[i] = i + 1;
                    v[i] = m->loss[4 * i + c];
                }
                app_svg_style st = {names[c], app_svg_color(c), 1.2, APP_SVG_SOLID, 0.85, 0};
                app_svg_line(p, it, v, (size_t)n, &st);
            }
            app_svg_panel_legend(p, APP_SVG_LEGEND_UPPER_RIGHT);
        }
    }
    ad_free(it);
    ad_free(v);
    ad_free(sorted);
    return save(f, run, "loss.svg", msg, len);
}

/* ---- several temperatures (--temperatures) ---- */

/* dF of every pair against kT: the quadrature curve, and every model's
 * estimate with its bootstrap SE at each training temperature (the models
 * side by side about the temperature). */
static int figure_temperatures(const exp2d_run *run, char *msg, size_t len)
{
    const exp2d_system *sys = run->sys;
    int n_pairs = sys->n_minima - 1, nt = run->n_temps, stride = sys->n_minima;
    app_svg_figure *f = app_svg_figure_new(1, n_pairs, 480, 380);
    double *x = ad_malloc(sizeof(double) * (run->n_curve > nt ? run->n_curve : nt));
    double *y = ad_malloc(sizeof(double) * (run->n_curve > nt ? run->n_curve : nt));
    double *e = ad_malloc(sizeof(double) * nt);
    if (f && x && y && e) {
        char title[256];
        snprintf(title, sizeof title, "%s: free-energy differences against kT", sys->title);
        app_svg_figure_title(f, title);
        double span = run->temps[nt - 1].kT - run->temps[0].kT;
        double dx = 0.015 * (span > 0 ? span : run->temps[0].kT);
        for (int p = 0; p < n_pairs; p++) {
            char pair[64], label[96];
            exp2d_pair_name(sys, p, pair, sizeof pair);
            app_svg_panel *pn = app_svg_panel_at(f, 0, p);
            snprintf(label, sizeof label, "dF(%s) / kT", pair);
            app_svg_panel_title(pn, pair);
            app_svg_panel_labels(pn, "kT", label);
            for (int i = 0; i < run->n_curve; i++) {
                x[i] = run->curve[(size_t)i * stride];
                y[i] = run->curve[(size_t)i * stride + 1 + p];
            }
            app_svg_style ref = {"quadrature", "#000000", 1.4, APP_SVG_DASHED, 0, 0};
            app_svg_line(pn, x, y, (size_t)run->n_curve, &ref);
            for (int k = 0; k < EXP2D_N_MODELS; k++) {
                for (int j = 0; j < nt; j++) {
                    x[j] = run->temps[j].kT + (k - 0.5 * (EXP2D_N_MODELS - 1)) * dx;
                    y[j] = run->temps[j].models[k].delta_f[p + 1];
                    e[j] = run->temps[j].models[k].delta_f_se[p + 1];
                }
                app_svg_style st = {run->models[k].name, app_svg_color(k), 1.2, APP_SVG_SOLID, 0,
                                    0};
                app_svg_errorbars(pn, x, y, e, (size_t)nt, &st);
            }
            app_svg_panel_legend(pn, APP_SVG_LEGEND_AUTO);
        }
    }
    ad_free(x);
    ad_free(y);
    ad_free(e);
    return save(f, run, "temperatures.svg", msg, len);
}

/* The profile along the RC at each temperature: every model's histogram
 * against the exact profile, four panels to a row. */
static int figure_temperature_profiles(const exp2d_run *run, char *msg, size_t len)
{
    const exp2d_system *sys = run->sys;
    int nt = run->n_temps, bins = sys->profile_bins;
    int cols = nt < 4 ? nt : 4, rows = (nt + cols - 1) / cols;
    app_svg_figure *f = app_svg_figure_new(rows, cols, 360, 320);
    double *y = ad_malloc(sizeof(double) * bins);
    if (f && y) {
        char title[256];
        snprintf(title, sizeof title,
                 "%s: free energy along %s at each temperature, reweighted samples against the "
                 "exact profile", sys->title, sys->rc_name);
        app_svg_figure_title(f, title);
        for (int j = 0; j < nt; j++) {
            const exp2d_temperature *t = &run->temps[j];
            app_svg_panel *p = app_svg_panel_at(f, j / cols, j % cols);
            char name[64];
            snprintf(name, sizeof name, "kT = %g", t->kT);
            app_svg_panel_title(p, name);
            app_svg_panel_labels(p, sys->rc_name, "F / kT");
            app_svg_panel_xrange(p, sys->profile_lo, sys->profile_hi);
            double ymax = 0;
            for (int b = 0; b < bins; b++)
                if (isfinite(t->profile_exact[b]) && t->profile_exact[b] > ymax)
                    ymax = t->profile_exact[b];
            app_svg_panel_yrange(p, -0.5, ymax > 16 ? 16 : ymax * 1.1 + 0.5);
            for (int k = 0; k < EXP2D_N_MODELS; k++) {
                for (int b = 0; b < bins; b++) y[b] = t->models[k].profile[2 * b];
                app_svg_style st = {run->models[k].name, app_svg_color(k), 1.4, APP_SVG_SOLID, 0,
                                    0};
                app_svg_line(p, run->profile_center, y, (size_t)bins, &st);
            }
            app_svg_style ex = {"exact", "#000000", 1.4, APP_SVG_DASHED, 0, 0};
            app_svg_line(p, run->profile_center, t->profile_exact, (size_t)bins, &ex);
            app_svg_panel_legend(p, APP_SVG_LEGEND_AUTO);
        }
    }
    ad_free(y);
    return save(f, run, "temperature_profiles.svg", msg, len);
}

int exp2d_write_figures(const exp2d_run *run, char *msg, size_t msg_len)
{
    int status = figure_mc(run, msg, msg_len);
    if (status == AD_OK) status = figure_samples(run, msg, msg_len);
    if (status == AD_OK) status = figure_profiles(run, msg, msg_len);
    if (status == AD_OK) status = figure_interpolation(run, msg, msg_len);
    if (status == AD_OK) status = figure_loss(run, msg, msg_len);
    if (status == AD_OK && run->n_temps) status = figure_temperatures(run, msg, msg_len);
    if (status == AD_OK && run->n_temps) status = figure_temperature_profiles(run, msg, msg_len);
    return status;
}

/* ---- summary.json ---------------------------------------------------- */

/* The best model: among the models whose histogram profile reaches at least
 * 90 % of the bins where the exact F is at most 10 kT (a model that misses a
 * state reaches far fewer), the smallest RMSE against the exact profile; if
 * none does, the largest coverage. */
static int best_model(const exp2d_run *run)
{
    int best = 0;
    for (int k = 1; k < EXP2D_N_MODELS; k++) {
        const exp2d_model *m = &run->models[k], *b = &run->models[best];
        int m_ok = m->profile_coverage >= 0.9, b_ok = b->profile_coverage >= 0.9;
        if (m_ok && b_ok ? m->profile_rmse < b->profile_rmse
                         : (m_ok || m->profile_coverage > b->profile_coverage))
            best = k;
    }
    return best;
}

static int write_text(const exp2d_run *run, const char *name, const app_buf *b, char *msg,
                      size_t len)
{
    char path[1024];
    int status = out_path(run, name, path, sizeof path, msg, len);
    if (status != AD_OK) return status;
    if (b->err) return ad_status_fail(msg, len, b->err, "out of memory writing %s", name);
    return app_fs_write_atomic(path, b->data ? b->data : "", b->len, msg, len);
}

/* {PAIR: v[1], ...} for the pairs of the system. */
static void json_pairs(app_json *w, const exp2d_system *sys, const char *key, const double *v)
{
    char pair[64];
    app_json_key(w, key);
    app_json_object_begin(w);
    for (int p = 0; p + 1 < sys->n_minima; p++) {
        exp2d_pair_name(sys, p, pair, sizeof pair);
        app_json_key_number(w, pair, v[p + 1]);
    }
    app_json_object_end(w);
}

/* Whether any model's trained range leaves out the run's kT. */
static int any_extrapolates(const exp2d_run *run)
{
    int any = 0;
    for (int k = 0; k < EXP2D_N_MODELS; k++)
        any |= bg_generator_extrapolates(run->models[k].gen, run->kT);
    return any;
}

/* "trained_range" (the widest of the models': with --train-temperatures the
 * ML model's is narrower, and each model's entry in "models" has its own),
 * "train_temperatures" and "temperature_weights" (when given),
 * "kT_extrapolation" (the run's kT, of
 * "models" above, lies outside some model's range) and "temperatures":
 * every model at every temperature. */
static void write_temperatures_json(const exp2d_run *run, app_json *w)
{
    const exp2d_system *sys = run->sys;
    double range[2] = {run->models[0].gen->kT_min, run->models[0].gen->kT_max};
    for (int k = 1; k < EXP2D_N_MODELS; k++) {
        range[0] = fmin(range[0], run->models[k].gen->kT_min);
        range[1] = fmax(range[1], run->models[k].gen->kT_max);
    }
    app_json_key(w, "trained_range");
    app_json_number_array(w, range, 2);
    if (run->opt.train_temperatures.n) { /* by energy alone */
        app_json_key(w, "train_temperatures");
        app_json_number_array(w, run->opt.train_temperatures.kT,
                              (size_t)run->opt.train_temperatures.n);
    }
    app_temperature_weights_json(w, &run->opt.temperature_weights);
    app_json_key_bool(w, "kT_extrapolation", any_extrapolates(run));
    app_json_key(w, "temperatures");
    app_json_array_begin(w);
    for (int j = 0; j < run->n_temps; j++) {
        const exp2d_temperature *t = &run->temps[j];
        app_json_object_begin(w);
        app_json_key_number(w, "kT", t->kT);
        app_json_key(w, "reference");
        app_json_object_begin(w);
        json_pairs(w, sys, "delta_f", t->ref.delta_f);
        json_pairs(w, sys, "delta_f_error", t->ref.error);
        app_json_key_number(w, "log_z", t->ref.log_z);
        app_json_object_end(w);
        app_json_key_int(w, "n_mc_samples", t->n_data);
        app_json_key_number(w, "mc_acceptance", t->mc_acceptance);
        app_json_key(w, "models");
        app_json_array_begin(w);
        for (int k = 0; k < EXP2D_N_MODELS; k++) {
            const exp2d_temp_model *m = &t->models[k];
            app_json_object_begin(w);
            app_json_key_string(w, "name", run->models[k].name);
            json_pairs(w, sys, "delta_f", m->delta_f);
            json_pairs(w, sys, "delta_f_stderr", m->delta_f_se);
            app_json_key_number(w, "ess_fraction", m->ess_fraction);
            app_json_key_int(w, "n_samples", m->n_samples);
            app_json_key_int(w, "n_nonfinite", m->n_nonfinite);
            app_json_key_bool(w, "extrapolation", m->extrapolation);
            app_json_object_end(w);
        }
        app_json_array_end(w);
        app_json_object_end(w);
    }
    app_json_array_end(w);
}

int exp2d_write_summary(const exp2d_run *run, char *msg, size_t msg_len)
{
    const exp2d_system *sys = run->sys;
    app_json w;
    app_json_init(&w, 1);
    char pair[64];
    app_json_object_begin(&w);
    app_json_key_string(&w, "system", sys->name);
    app_json_key_number(&w, "kT", run->kT);
    char seed[32]; /* a string: a uint64 does not fit a JSON number exactly */
    app_run_u64_str(run->opt.seed, seed, sizeof seed);
    app_json_key_string(&w, "seed", seed);
    app_json_key_bool(&w, "quick", run->opt.quick);
    char coupling[96]; /* only for a spline run: an affine run's summary stays as it was */
    if (app_coupling_text(&run->opt.coupling, coupling, sizeof coupling) > 0)
        app_json_key_string(&w, "coupling", coupling);
    app_json_key(&w, "reference");
    app_json_object_begin(&w);
    app_json_key(&w, "delta_f");
    app_json_object_begin(&w);
    for (int p = 0; p + 1 < sys->n_minima; p++) {
        exp2d_pair_name(sys, p, pair, sizeof pair);
        app_json_key_number(&w, pair, run->ref.delta_f[p + 1]);
    }
    app_json_object_end(&w);
    app_json_key(&w, "delta_f_error");
    app_json_object_begin(&w);
    for (int p = 0; p + 1 < sys->n_minima; p++) {
        exp2d_pair_name(sys, p, pair, sizeof pair);
        app_json_key_number(&w, pair, run->ref.error[p + 1]);
    }
    app_json_object_end(&w);
    app_json_key_number(&w, "log_z", run->ref.log_z);
    app_json_object_end(&w);
    app_json_key_int(&w, "n_mc_samples", run->n_data);
    app_json_key_number(&w, "mc_acceptance", run->mc_acceptance);
    app_json_key(&w, "models");
    app_json_array_begin(&w);
    for (int k = 0; k < EXP2D_N_MODELS; k++) {
        const exp2d_model *m = &run->models[k];
        app_json_object_begin(&w);
        app_json_key_string(&w, "name", m->name);
        app_json_key(&w, "delta_f");
        app_json_object_begin(&w);
        for (int p = 0; p + 1 < sys->n_minima; p++) {
            exp2d_pair_name(sys, p, pair, sizeof pair);
            app_json_key_number(&w, pair, m->delta_f[p + 1]);
        }
        app_json_object_end(&w);
        app_json_key(&w, "delta_f_stderr");
        app_json_object_begin(&w);
        for (int p = 0; p + 1 < sys->n_minima; p++) {
            exp2d_pair_name(sys, p, pair, sizeof pair);
            app_json_key_number(&w, pair, m->delta_f_se[p + 1]);
        }
        app_json_object_end(&w);
        app_json_key_number(&w, "ess_fraction", m->ess_fraction);
        app_json_key_int(&w, "n_samples", m->n_samples);
        app_json_key_int(&w, "n_nonfinite", m->n_nonfinite);
        app_json_key_number(&w, "final_loss", m->final_loss);
        app_json_key_number(&w, "train_seconds", m->train_seconds);
        app_json_key_int(&w, "iterations", m->n_iterations);
        app_json_key_int(&w, "skipped_steps", m->skipped);
        app_json_key_number(&w, "profile_rmse", m->profile_rmse);
        app_json_key_number(&w, "profile_coverage", m->profile_coverage);
        if (run->n_temps) { /* this model's own trained range */
            double range[2] = {m->gen->kT_min, m->gen->kT_max};
            app_json_key(&w, "trained_range");
            app_json_number_array(&w, range, 2);
            app_json_key_bool(&w, "kT_extrapolation", bg_generator_extrapolates(m->gen, run->kT));
        }
        app_json_object_end(&w);
    }
    app_json_array_end(&w);
    if (run->n_temps) write_temperatures_json(run, &w);
    app_json_key_string(&w, "best_model", run->models[best_model(run)].name);
    app_json_key_number(&w, "wall_seconds", run->wall_seconds);
    app_json_object_end(&w);
    int status = app_json_finish(&w, msg, msg_len);
    if (status == AD_OK) status = write_text(run, "summary.json", &w.out, msg, msg_len);
    app_json_free(&w);
    return status;
}

/* ---- report.md -------------------------------------------------------- */

/* "Several temperatures": one row per temperature and model. */
static void write_temperatures_report(const exp2d_run *run, app_buf *b)
{
    const exp2d_system *sys = run->sys;
    int n_pairs = sys->n_minima - 1, nt = run->n_temps;
    char text[3072], list[APP_MAX_TEMPERATURES * 16], train[APP_MAX_TEMPERATURES * 16];
    char extra[APP_MAX_TEMPERATURES * 16 + 256] = "";
    app_temperatures_text(&run->opt.temperatures, 0, list, sizeof list);
    if (run->opt.train_temperatures.n) {
        const bg_generator *g = run->models[EXP2D_N_MODELS - 1].gen;
        app_temperatures_text(&run->opt.train_temperatures, 0, train, sizeof train);
        snprintf(extra, sizeof extra,
                 " and, with the energy terms alone (J_KL, and J_RC in ML+KL+RC; no data), at "
                 "kT = %s (--train-temperatures), so that the trained range of the models with "
                 "energy terms is [%g, %g] (ML: that of --temperatures)",
                 train, g->kT_min, g->kT_max);
    }
    char split[APP_MAX_TEMPERATURES * 40 + 128];
    app_temperature_weights_phrase(&run->opt.temperature_weights, split, sizeof split);
    app_report_heading(b, 2, "Several temperatures");
    int extrap = any_extrapolates(run);
    snprintf(text, sizeof text,
             "Each model is one generator trained at kT = %s (--temperatures)%s: every batch is "
             "%s, a row at kT draws its latent point from "
             "N(0, kT I) and its J_ML data from Monte Carlo at that kT (step %g sqrt(kT)). "
             "At each temperature of --temperatures %d samples per model, reweighted to "
             "exp(-u/kT); free energies in units of that kT against quadrature at that kT. The "
             "results above are at kT = %g%s.",
             list, extra, split, sys->mc_sigma, run->sched.n_samples, run->kT,
             extrap ? ", outside the trained range of some models: extrapolation (see ESS / n)"
                    : "");
    app_report_paragraph(b, text);
    int n_cols = 2 + 2 * n_pairs + 1;
    const char *header[2 + 2 * EXP2D_MAX_MINIMA + 1];
    char hbuf[2 * EXP2D_MAX_MINIMA][96];
    header[0] = "kT";
    header[1] = "model";
    for (int p = 0; p < n_pairs; p++) {
        char pair[64];
        exp2d_pair_name(sys, p, pair, sizeof pair);
        snprintf(hbuf[2 * p], sizeof hbuf[0], "dF(%s)", pair);
        snprintf(hbuf[2 * p + 1], sizeof hbuf[0], "quadrature");
        header[2 + 2 * p] = hbuf[2 * p];
        header[3 + 2 * p] = hbuf[2 * p + 1];
    }
    header[n_cols - 1] = "ESS / n";
    int n_rows = nt * EXP2D_N_MODELS;
    char(*cells)[48] = ad_malloc(sizeof *cells * (size_t)n_rows * n_cols);
    const char **cellp = ad_malloc(sizeof *cellp * (size_t)n_rows * n_cols);
    if (cells && cellp) {
        for (int j = 0; j < nt; j++)
            for (int k = 0; k < EXP2D_N_MODELS; k++) {
                const exp2d_temperature *t = &run->temps[j];
                const exp2d_temp_model *m = &t->models[k];
                int r = j * EXP2D_N_MODELS + k;
                char(*row)[48] = cells + (size_t)r * n_cols;
                snprintf(row[0], 48, "%g", t->kT);
                snprintf(row[1], 48, "%s", run->models[k].name);
                for (int p = 0; p < n_pairs; p++) {
                    snprintf(row[2 + 2 * p], 48, "%.3f ± %.3f", m->delta_f[p + 1],
                             m->delta_f_se[p + 1]);
                    snprintf(row[3 + 2 * p], 48, "%.3f", t->ref.delta_f[p + 1]);
                }
                snprintf(row[n_cols - 1], 48, "%.3f", m->ess_fraction);
                for (int c = 0; c < n_cols; c++) cellp[(size_t)r * n_cols + c] = row[c];
            }
        app_report_table(b, n_cols, header, cellp, n_rows);
    }
    ad_free(cells);
    ad_free(cellp);
    app_buf low;
    app_buf_init(&low);
    for (int j = 0; j < nt; j++)
        for (int k = 0; k < EXP2D_N_MODELS; k++)
            if (!(run->temps[j].models[k].ess_fraction >= 0.01))
                app_buf_printf(&low, "%s%s at kT = %g", low.len ? ", " : "", run->models[k].name,
                               run->temps[j].kT);
    snprintf(text, sizeof text,
             "ESS / n below 1 %%: %s. Where it is, a few samples carry the estimate and its "
             "bootstrap SE understates its error.",
             low.err ? "?" : low.len ? low.data : "none");
    app_buf_free(&low);
    app_report_paragraph(b, text);
    app_report_image(b, "Free-energy differences against temperature", "temperatures.svg");
    app_report_image(b, "Profiles at each temperature", "temperature_profiles.svg");
    app_report_paragraph(b, "Data: temperatures.csv (kT, the quadrature dF, every model's dF, SE "
                            "and ESS / n), profiles_kT<kT>.csv (coordinate, F_exact, then F and "
                            "SE of every model).");
}

int exp2d_write_report(const exp2d_run *run, char *msg, size_t msg_len)
{
    const exp2d_system *sys = run->sys;
    const exp2d_schedule *sc = &run->sched;
    app_buf b;
    app_buf_init(&b);
    char text[1024];
    snprintf(text, sizeof text, "%s: Boltzmann generators at kT = %g", sys->title, run->kT);
    app_coupling_append_title(&run->opt.coupling, text, sizeof text);
    app_report_heading(&b, 1, text);
    snprintf(text, sizeof text,
             "Seed %llu%s. %d Monte Carlo frames (acceptance %.2f). Models: ML (%d iterations, "
             "batch %d, lr %g), then KL, ML+KL and ML+KL+RC from the ML model (%d iterations, "
             "batch %d, lr %g, w_RC = %g). %d generated samples per model, reweighted in log "
             "space; standard errors from %d bootstrap resamples. Free energies in kT; "
             "states are nearest-minimum basins. Wall time %.1f s.",
             (unsigned long long)run->opt.seed, run->opt.quick ? " (--quick)" : "", run->n_data,
             run->mc_acceptance, sc->ml_iterations, sc->ml_batch, sc->ml_lr, sc->iterations,
             sc->batch, sc->lr, sc->w_rc, sc->n_samples, sc->n_bootstrap, run->wall_seconds);
    app_report_paragraph(&b, text);

    int n_pairs = sys->n_minima - 1;
    int n_cols = 1 + n_pairs + 4;
    const char *header[16];
    char hbuf[8][96];
    header[0] = "model";
    for (int p = 0; p < n_pairs; p++) {
        char pair[64];
        exp2d_pair_name(sys, p, pair, sizeof pair);
        snprintf(hbuf[p], sizeof hbuf[p], "dF(%s) (exact %.3f)", pair, run->ref.delta_f[p + 1]);
        header[1 + p] = hbuf[p];
    }
    header[1 + n_pairs] = "ESS / n";
    header[2 + n_pairs] = "profile RMSE";
    header[3 + n_pairs] = "final loss";
    header[4 + n_pairs] = "train s";
    char cells[EXP2D_N_MODELS][16][64];
    const char *cellp[EXP2D_N_MODELS * 16];
    for (int k = 0; k < EXP2D_N_MODELS; k++) {
        const exp2d_model *m = &run->models[k];
        snprintf(cells[k][0], 64, "%s", m->name);
        for (int p = 0; p < n_pairs; p++)
            snprintf(cells[k][1 + p], 64, "%.3f ± %.3f", m->delta_f[p + 1], m->delta_f_se[p + 1]);
        snprintf(cells[k][1 + n_pairs], 64, "%.3f", m->ess_fraction);
        snprintf(cells[k][2 + n_pairs], 64, "%.2f", m->profile_rmse);
        snprintf(cells[k][3 + n_pairs], 64, "%.3f", m->final_loss);
        snprintf(cells[k][4 + n_pairs], 64, "%.1f", m->train_seconds);
        for (int c = 0; c < n_cols; c++) cellp[k * n_cols + c] = cells[k][c];
    }
    app_report_heading(&b, 2, "Free energies");
    app_report_table(&b, n_cols, header, cellp, EXP2D_N_MODELS);
    snprintf(text, sizeof text,
             "Best model: %s (the profile closest to the exact one). Profile RMSE: the "
             "histogram profile against the exact one over the bins where the exact F is at "
             "most 10 kT above its minimum; a model whose samples reach fewer than 90 %% of "
             "those bins is ranked after those that do.",
             run->models[best_model(run)].name);
    app_report_paragraph(&b, text);
    if (run->n_temps) write_temperatures_report(run, &b);
    app_report_heading(&b, 2, "Figures");
    app_report_image(&b, "Monte Carlo data on the potential", "mc_data.svg");
    app_report_image(&b, "Generated samples in latent and configuration space", "samples.svg");
    app_report_image(&b, "Free-energy profiles against the exact profile", "profiles.svg");
    app_report_image(&b, "Latent interpolation paths", "interpolation.svg");
    app_report_image(&b, "Training losses", "loss.svg");
    app_report_paragraph(&b, "Data: mc_data.csv, loss_<model>.csv, profile_<model>.csv "
                             "(coordinate, F_hist, se_hist, F_kde, se_kde, F_exact), "
                             "interpolation_<model>.csv; all numbers in summary.json.");
    int status = write_text(run, "report.md", &b, msg, msg_len);
    app_buf_free(&b);
    return status;
}
