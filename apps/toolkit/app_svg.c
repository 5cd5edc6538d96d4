/* app_svg.c - building a figure: panels, series (copied and capped) and the
 * palette.  Saving renders through app_svg_draw.c, which lays the axes out
 * with app_svg_ticks.c; neither calls back into this file. */
#include "apps/toolkit/app_svg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "apps/toolkit/app_svg_impl.h"
#include "autodiff/ad.h"

/* matplotlib's "tab10": distinct and readable on white */
static const char *const palette[APP_SVG_PALETTE_SIZE] = {
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

const char *app_svg_color(int i)
{
    int k = i % APP_SVG_PALETTE_SIZE;
    return palette[k < 0 ? k + APP_SVG_PALETTE_SIZE : k];
}

static int fig_error(app_svg_figure *f, int err)
{
    if (f && !f->err) f->err = err;
    return err;
}

static char *dup_string(app_svg_figure *f, const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s);
    char *d = ad_malloc(n + 1);
    if (!d) {
        fig_error(f, AD_ERR_NOMEM);
        return NULL;
    }
    memcpy(d, s, n + 1);
    return d;
}

/* Replace *slot with a copy of s. */
static void set_string(app_svg_figure *f, char **slot, const char *s)
{
    char *d = dup_string(f, s);
    if (s && !d) return;
    ad_free(*slot);
    *slot = d;
}

app_svg_figure *app_svg_figure_new(int rows, int cols, double panel_width, double panel_height)
{
    if (rows < 1 || cols < 1 || rows > 64 || cols > 64) return NULL;
    if (!(panel_width <= 0) && !(panel_width >= 100 && panel_width <= 10000)) return NULL;
    if (!(panel_height <= 0) && !(panel_height >= 80 && panel_height <= 10000)) return NULL;
    app_svg_figure *f = ad_calloc(1, sizeof *f);
    if (!f) return NULL;
    f->panels = ad_calloc((size_t)rows * (size_t)cols, sizeof *f->panels);
    if (!f->panels) {
        ad_free(f);
        return NULL;
    }
    f->rows = rows;
    f->cols = cols;
    f->panel_w = panel_width > 0 ? panel_width : 440;
    f->panel_h = panel_height > 0 ? panel_height : 330;
    for (int i = 0; i < rows * cols; i++) f->panels[i].fig = f;
    return f;
}

static void series_free(svg_series *s)
{
    ad_free(s->x);
    ad_free(s->y);
    ad_free(s->y2);
    ad_free(s->label);
    ad_free(s->color);
}

void app_svg_figure_free(app_svg_figure *f)
{
    if (!f) return;
    for (int i = 0; i < f->rows * f->cols; i++) {
        app_svg_panel *p = &f->panels[i];
        for (int k = 0; k < p->n_series; k++) series_free(&p->series[k]);
        ad_free(p->series);
        ad_free(p->title);
        ad_free(p->xlabel);
        ad_free(p->ylabel);
        if (p->contour) {
            ad_free(p->contour->z);
            ad_free(p->contour->colorbar_label);
            ad_free(p->contour);
        }
    }
    ad_free(f->panels);
    ad_free(f->title);
    ad_free(f);
}

void app_svg_figure_title(app_svg_figure *f, const char *title)
{
    if (f) set_string(f, &f->title, title);
}

app_svg_panel *app_svg_panel_at(app_svg_figure *f, int row, int col)
{
    if (!f) return NULL;
    if (row < 0 || col < 0 || row >= f->rows || col >= f->cols) {
        fig_error(f, AD_ERR_ARG);
        return NULL;
    }
    return &f->panels[row * f->cols + col];
}

void app_svg_panel_title(app_svg_panel *p, const char *title)
{
    if (p) set_string(p->fig, &p->title, title);
}

void app_svg_panel_labels(app_svg_panel *p, const char *xlabel, const char *ylabel)
{
    if (!p) return;
    set_string(p->fig, &p->xlabel, xlabel);
    set_string(p->fig, &p->ylabel, ylabel);
}

static int good_range(double lo, double hi)
{
    return isfinite(lo) && isfinite(hi) && lo < hi && isfinite(hi - lo);
}

void app_svg_panel_xrange(app_svg_panel *p, double lo, double hi)
{
    if (!p) return;
    if (!good_range(lo, hi)) {
        fig_error(p->fig, AD_ERR_ARG);
        return;
    }
    p->has_x = 1;
    p->x_lo = lo;
    p->x_hi = hi;
}

void app_svg_panel_yrange(app_svg_panel *p, double lo, double hi)
{
    if (!p) return;
    if (!good_range(lo, hi)) {
        fig_error(p->fig, AD_ERR_ARG);
        return;
    }
    p->has_y = 1;
    p->y_lo = lo;
    p->y_hi = hi;
}

void app_svg_panel_legend(app_svg_panel *p, app_svg_legend where)
{
    if (p) p->legend = where;
}

/* A new series slot with style applied; NULL (and a sticky error) on failure. */
static svg_series *add_series(app_svg_panel *p, svg_kind kind, const app_svg_style *style)
{
    if (p->fig->err) return NULL;
    if (p->n_series == p->cap_series) {
        int cap = p->cap_series ? 2 * p->cap_series : 4;
        svg_series *s = ad_realloc(p->series, (size_t)cap * sizeof *s);
        if (!s) return fig_error(p->fig, AD_ERR_NOMEM), NULL;
        p->series = s;
        p->cap_series = cap;
    }
    app_svg_style def = {0};
    if (!style) style = &def;
    svg_series *s = &p->series[p->n_series];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    int reference = kind == SVG_HLINE || kind == SVG_VLINE;
    const char *color = style->color;
    if (!color) color = reference ? "#555555" : app_svg_color(p->n_colors++);
    s->color = dup_string(p->fig, color);
    if (style->label && *style->label) s->label = dup_string(p->fig, style->label);
    if (!s->color || (style->label && *style->label && !s->label)) {
        series_free(s);
        return NULL;
    }
    s->dash = style->dash;
    s->width = style->width > 0 && style->width < 100 ? style->width : reference ? 1.2 : 1.8;
    double alpha = kind == SVG_BAND ? 0.25 : kind == SVG_SCATTER ? 0.5 : 1.0;
    s->alpha = style->alpha > 0 && style->alpha <= 1 ? style->alpha : alpha;
    s->radius = style->radius > 0 && style->radius < 100 ? style->radius : 1.6;
    p->n_series++;
    return s;
}

/* splitmix64: a fixed-seed generator for the scatter subset (deterministic) */
static unsigned long long next_random(unsigned long long *state)
{
    unsigned long long z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The indices of `keep` of n points, increasing.  Lines and bands take an
 * even stride that keeps both ends (they are curves).  Scatter points take a
 * uniformly random subset in order (Knuth's selection sampling, fixed seed),
 * because a stride aliases with interleaved data such as alternating chains. */
static size_t *choose(app_svg_figure *f, size_t n, size_t keep, int curve)
{
    size_t *idx = ad_malloc((keep ? keep : 1) * sizeof *idx);
    if (!idx) return fig_error(f, AD_ERR_NOMEM), NULL;
    if (keep == n) {
        for (size_t i = 0; i < n; i++) idx[i] = i;
    } else if (curve) {
        for (size_t i = 0; i < keep; i++)
            idx[i] = keep > 1 ? (size_t)((double)i * (double)(n - 1) / (double)(keep - 1)) : 0;
    } else {
        unsigned long long state = 0x5EEDull;
        size_t m = 0;
        for (size_t t = 0; t < n && m < keep; t++) {
            double u = (double)(next_random(&state) >> 11) * 0x1.0p-53;
            if ((double)(n - t) * u < (double)(keep - m)) idx[m++] = t;
        }
    }
    return idx;
}

static double *gather(app_svg_figure *f, const double *src, const size_t *idx, size_t keep)
{
    double *d = ad_malloc((keep ? keep : 1) * sizeof *d);
    if (!d) return fig_error(f, AD_ERR_NOMEM), NULL;
    for (size_t i = 0; i < keep; i++) d[i] = src[idx[i]];
    return d;
}

static int add_points(app_svg_panel *p, svg_kind kind, const double *x, const double *y,
                      const double *y2, size_t n, const app_svg_style *style)
{
    if (!p) return AD_ERR_ARG;
    if (p->fig->err) return p->fig->err;
    if ((n && (!x || !y || ((kind == SVG_BAND || kind == SVG_ERRORBAR) && !y2))))
        return fig_error(p->fig, AD_ERR_ARG);
    svg_series *s = add_series(p, kind, style);
    if (!s) return p->fig->err;
    size_t keep = n > APP_SVG_MAX_POINTS ? APP_SVG_MAX_POINTS : n;
    size_t *idx = choose(p->fig, n, keep, kind != SVG_SCATTER);
    if (!idx) return p->fig->err;
    s->n = keep;
    s->x = gather(p->fig, x, idx, keep);
    s->y = gather(p->fig, y, idx, keep);
    if (kind == SVG_BAND || kind == SVG_ERRORBAR) s->y2 = gather(p->fig, y2, idx, keep);
    ad_free(idx);
    return p->fig->err;
}

int app_svg_line(app_svg_panel *p, const double *x, const double *y, size_t n,
                 const app_svg_style *style)
{
    return add_points(p, SVG_LINE, x, y, NULL, n, style);
}

int app_svg_scatter(app_svg_panel *p, const double *x, const double *y, size_t n,
                    const app_svg_style *style)
{
    return add_points(p, SVG_SCATTER, x, y, NULL, n, style);
}

int app_svg_band(app_svg_panel *p, const double *x, const double *lower, const double *upper,
                 size_t n, const app_svg_style *style)
{
    return add_points(p, SVG_BAND, x, lower, upper, n, style);
}

int app_svg_errorbars(app_svg_panel *p, const double *x, const double *y, const double *err,
                      size_t n, const app_svg_style *style)
{
    app_svg_style st = style ? *style : (app_svg_style){0};
    if (!(st.radius > 0)) st.radius = 3;
    return add_points(p, SVG_ERRORBAR, x, y, err, n, &st);
}

int app_svg_histogram(app_svg_panel *p, const double *edges, const double *values,
                      size_t n_bins, const app_svg_style *style)
{
    if (!p) return AD_ERR_ARG;
    if (p->fig->err) return p->fig->err;
    if (n_bins == 0 || !edges || !values || n_bins > 1000000) return fig_error(p->fig, AD_ERR_ARG);
    svg_series *s = add_series(p, SVG_HIST, style);
    if (!s) return p->fig->err;
    s->n = n_bins;
    s->x = ad_malloc((n_bins + 1) * sizeof *s->x);
    s->y = ad_malloc(n_bins * sizeof *s->y);
    if (!s->x || !s->y) return fig_error(p->fig, AD_ERR_NOMEM);
    memcpy(s->x, edges, (n_bins + 1) * sizeof *s->x);
    memcpy(s->y, values, n_bins * sizeof *s->y);
    return AD_OK;
}

static int add_reference(app_svg_panel *p, svg_kind kind, double v, const app_svg_style *style)
{
    if (!p) return AD_ERR_ARG;
    if (p->fig->err) return p->fig->err;
    if (!isfinite(v)) return fig_error(p->fig, AD_ERR_ARG);
    svg_series *s = add_series(p, kind, style);
    if (!s) return p->fig->err;
    s->value = v;
    return AD_OK;
}

int app_svg_hline(app_svg_panel *p, double y, const app_svg_style *style)
{
    return add_reference(p, SVG_HLINE, y, style);
}

int app_svg_vline(app_svg_panel *p, double x, const app_svg_style *style)
{
    return add_reference(p, SVG_VLINE, x, style);
}

int app_svg_contour(app_svg_panel *p, const double *z, int nx, int ny, double x0, double x1,
                    double y0, double y1, const app_svg_contour_opts *opts)
{
    if (!p) return AD_ERR_ARG;
    if (p->fig->err) return p->fig->err;
    if (!z || nx < 2 || ny < 2 || nx > 1000 || ny > 1000 || p->contour || !good_range(x0, x1) ||
        !good_range(y0, y1))
        return fig_error(p->fig, AD_ERR_ARG);
    app_svg_contour_opts def = {0};
    if (!opts) opts = &def;
    svg_contour *c = ad_calloc(1, sizeof *c);
    if (!c) return fig_error(p->fig, AD_ERR_NOMEM);
    size_t n = (size_t)nx * (size_t)ny;
    c->z = ad_malloc(n * sizeof *c->z);
    if (opts->colorbar_label) c->colorbar_label = dup_string(p->fig, opts->colorbar_label);
    if (!c->z || (opts->colorbar_label && !c->colorbar_label)) {
        ad_free(c->z);
        ad_free(c->colorbar_label);
        ad_free(c);
        return fig_error(p->fig, AD_ERR_NOMEM);
    }
    memcpy(c->z, z, n * sizeof *c->z);
    c->nx = nx;
    c->ny = ny;
    c->x0 = x0;
    c->x1 = x1;
    c->y0 = y0;
    c->y1 = y1;
    c->n_levels = opts->n_levels > 0 ? (opts->n_levels > 64 ? 64 : opts->n_levels) : 10;
    c->vmin = opts->vmin;
    c->vmax = opts->vmax;
    if (!isfinite(c->vmin) || !isfinite(c->vmax)) c->vmin = c->vmax = 0;
    c->lines = !opts->no_lines;
    p->contour = c;
    return AD_OK;
}
