/* app_svg_draw.c - rendering a figure to SVG text: layout, axes, ticks,
 * series, filled contours (discrete levels, marching-squares lines), colour
 * bar and legend; and saving it (written atomically). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "apps/toolkit/app_fs.h"
#include "apps/toolkit/app_svg.h"
#include "apps/toolkit/app_svg_impl.h"
#include "autodiff/ad.h"

#define FONT "DejaVu Sans, Helvetica, Arial, sans-serif"
#define TICK_FONT 11.0
#define LABEL_FONT 12.0
#define CHAR_W 0.6    /* average glyph width / font size, for layout estimates */
#define MAX_TICKS 32
#define MAX_BOUNDS 70 /* colour level boundaries */

/* Pixel geometry of one panel and the data -> pixel map. */
typedef struct {
    double x_lo, x_hi, y_lo, y_hi; /* data ranges                     */
    double px0, px1, py0, py1;     /* plot area: left, right, top, bottom */
} frame;

static double map_x(const frame *fr, double x)
{
    return fr->px0 + (x - fr->x_lo) / (fr->x_hi - fr->x_lo) * (fr->px1 - fr->px0);
}

static double map_y(const frame *fr, double y)
{
    return fr->py1 - (y - fr->y_lo) / (fr->y_hi - fr->y_lo) * (fr->py1 - fr->py0);
}

/* A coordinate with one decimal, without "-0" or a trailing ".0"; far
 * off-canvas values are clamped (they are clipped anyway). */
static void num(app_buf *b, double v)
{
    if (!(v > -1e6)) v = -1e6;
    if (v > 1e6) v = 1e6;
    long t = lround(v * 10);
    long a = t < 0 ? -t : t;
    if (a % 10 == 0) app_buf_printf(b, "%s%ld", t < 0 ? "-" : "", a / 10);
    else app_buf_printf(b, "%s%ld.%ld", t < 0 ? "-" : "", a / 10, a % 10);
}

static void pt(app_buf *b, double x, double y)
{
    num(b, x);
    app_buf_putc(b, ',');
    num(b, y);
}

/* Estimated width of text in px (counts UTF-8 characters). */
static double text_width(const char *s, double size)
{
    size_t n = 0;
    for (; s && *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return (double)n * size * CHAR_W;
}

static void text(app_buf *b, double x, double y, const char *anchor, double size, const char *extra,
                 const char *s)
{
    app_buf_puts(b, "<text x=\"");
    num(b, x);
    app_buf_puts(b, "\" y=\"");
    num(b, y);
    app_buf_printf(b, "\" font-size=\"%g\" text-anchor=\"%s\"%s>", size, anchor,
                   extra ? extra : "");
    app_svg_put_text(b, s);
    app_buf_puts(b, "</text>\n");
}

static const char *dash_array(app_svg_dash d)
{
    switch (d) {
    case APP_SVG_DASHED: return "6 4";
    case APP_SVG_DOTTED: return "1.5 3";
    case APP_SVG_DASHDOT: return "7 3 1.5 3";
    case APP_SVG_SOLID: break;
    }
    return NULL;
}

static void stroke_attrs(app_buf *b, const svg_series *s)
{
    app_buf_puts(b, " fill=\"none\" stroke=\"");
    app_svg_put_text(b, s->color);
    app_buf_printf(b, "\" stroke-width=\"%g\" stroke-linejoin=\"round\"", s->width);
    if (s->alpha < 1) app_buf_printf(b, " stroke-opacity=\"%g\"", s->alpha);
    const char *d = dash_array(s->dash);
    if (d) app_buf_printf(b, " stroke-dasharray=\"%s\"", d);
}

/* ---- ranges ---- */

typedef struct {
    double lo, hi;
    int any;
} extent;

static void grow_extent(extent *e, double v)
{
    if (!isfinite(v)) return;
    if (!e->any || v < e->lo) e->lo = v;
    if (!e->any || v > e->hi) e->hi = v;
    e->any = 1;
}

static void pad_extent(extent *e, double *lo, double *hi)
{
    if (!e->any) {
        *lo = 0;
        *hi = 1;
        return;
    }
    double d = e->hi - e->lo;
    if (!(d > 0) || !isfinite(d)) {
        double m = fabs(e->lo) > 0 ? 0.1 * fabs(e->lo) : 0.5;
        *lo = e->lo - m;
        *hi = e->hi + m;
    } else {
        *lo = e->lo - 0.04 * d;
        *hi = e->hi + 0.04 * d;
    }
    if (!isfinite(*hi - *lo)) { /* values near DBL_MAX: give up padding */
        *lo = -1e307;
        *hi = 1e307;
    }
}

static void panel_ranges(const app_svg_panel *p, frame *fr)
{
    extent ex = {0, 0, 0}, ey = {0, 0, 0};
    for (int k = 0; k < p->n_series; k++) {
        const svg_series *s = &p->series[k];
        switch (s->kind) {
        case SVG_LINE:
        case SVG_SCATTER:
        case SVG_BAND:
            for (size_t i = 0; i < s->n; i++) {
                if (!isfinite(s->x[i]) || !isfinite(s->y[i])) continue;
                if (s->kind == SVG_BAND && !isfinite(s->y2[i])) continue;
                grow_extent(&ex, s->x[i]);
                grow_extent(&ey, s->y[i]);
                if (s->kind == SVG_BAND) grow_extent(&ey, s->y2[i]);
            }
            break;
        case SVG_HIST:
            for (size_t i = 0; i <= s->n; i++) grow_extent(&ex, s->x[i]);
            for (size_t i = 0; i < s->n; i++) grow_extent(&ey, s->y[i]);
            break;
        case SVG_HLINE: grow_extent(&ey, s->value); break;
        case SVG_VLINE: grow_extent(&ex, s->value); break;
        case SVG_ERRORBAR:
            for (size_t i = 0; i < s->n; i++) {
                if (!isfinite(s->x[i]) || !isfinite(s->y[i])) continue;
                grow_extent(&ex, s->x[i]);
                grow_extent(&ey, s->y[i]);
                if (isfinite(s->y2[i]) && s->y2[i] > 0) {
                    grow_extent(&ey, s->y[i] - s->y2[i]);
                    grow_extent(&ey, s->y[i] + s->y2[i]);
                }
            }
            break;
        }
    }
    pad_extent(&ex, &fr->x_lo, &fr->x_hi);
    pad_extent(&ey, &fr->y_lo, &fr->y_hi);
    if (p->contour) { /* a map fills its panel exactly */
        fr->x_lo = p->contour->x0;
        fr->x_hi = p->contour->x1;
        fr->y_lo = p->contour->y0;
        fr->y_hi = p->contour->y1;
    }
    if (p->has_x) {
        fr->x_lo = p->x_lo;
        fr->x_hi = p->x_hi;
    }
    if (p->has_y) {
        fr->y_lo = p->y_lo;
        fr->y_hi = p->y_hi;
    }
}

/* ---- colour levels ---- */

/* viridis, sampled at 10 points and interpolated linearly */
static const unsigned char viridis[10][3] = {
    {68, 1, 84},    {72, 40, 120},  {62, 73, 137},  {49, 104, 142},  {38, 130, 142},
    {31, 158, 137}, {53, 183, 121}, {110, 206, 88}, {181, 222, 43}, {253, 231, 37}};

static void colormap(double t, char out[8])
{
    if (!(t >= 0)) t = 0;
    if (t > 1) t = 1;
    double u = t * 9;
    int i = (int)u;
    if (i > 8) i = 8;
    double f = u - i;
    int rgb[3];
    for (int c = 0; c < 3; c++)
        rgb[c] = (int)lround(viridis[i][c] + f * (viridis[i + 1][c] - viridis[i][c]));
    snprintf(out, 8, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

typedef struct {
    double bound[MAX_BOUNDS]; /* level boundaries, increasing */
    int n_bounds;             /* levels = n_bounds - 1        */
    double step;
    double zmin, zmax;        /* finite data range            */
    int any;
} levels;

static void contour_levels(const svg_contour *c, levels *lv)
{
    extent e = {0, 0, 0};
    for (size_t i = 0; i < (size_t)c->nx * (size_t)c->ny; i++) grow_extent(&e, c->z[i]);
    lv->any = e.any;
    lv->n_bounds = 0;
    if (!e.any) return;
    lv->zmin = e.lo;
    lv->zmax = e.hi;
    double lo = c->vmin < c->vmax ? c->vmin : e.lo, hi = c->vmin < c->vmax ? c->vmax : e.hi;
    if (!(hi > lo) || !isfinite(hi - lo)) {
        double m = fabs(lo) > 0 ? 0.1 * fabs(lo) : 0.5;
        lo -= m;
        hi += m;
    }
    double t[MAX_BOUNDS];
    int n = app_svg_nice_grid(lo, hi, c->n_levels, 1, t + 1, MAX_BOUNDS - 2, &lv->step);
    if (n == 0) {
        lv->any = 0;
        return;
    }
    int first = 1;
    if (t[1] > lo + 1e-9 * lv->step) {
        t[0] = t[1] - lv->step;
        first = 0;
    }
    int last = n; /* index of the last filled entry */
    if (t[last] < hi - 1e-9 * lv->step) {
        t[last + 1] = t[last] + lv->step;
        last++;
    }
    lv->n_bounds = last - first + 1;
    if (lv->n_bounds < 2) { /* a single tick: one level around it */
        t[last + 1] = t[last] + lv->step;
        last++;
        lv->n_bounds = 2;
    }
    memcpy(lv->bound, t + first, (size_t)lv->n_bounds * sizeof(double));
}

static int level_of(const levels *lv, double z)
{
    if (!isfinite(z)) return -1;
    int n = lv->n_bounds - 1;
    int k = (int)floor((z - lv->bound[0]) / lv->step);
    if (!((z - lv->bound[0]) / lv->step < n)) k = n - 1; /* also catches huge values */
    if (k < 0) k = 0;
    if (k > n - 1) k = n - 1;
    return k;
}

typedef struct {
    int level, row, i0, i1;
} cell_run;

/* The cells of a map as one path per level, each path a set of rectangles
 * that merge runs of equal level along a row. */
static int draw_cells(app_buf *b, const svg_contour *c, const levels *lv, const frame *fr)
{
    int nx = c->nx, ny = c->ny, n_levels = lv->n_bounds - 1;
    size_t max_runs = (size_t)nx * (size_t)ny;
    cell_run *runs = ad_malloc(max_runs * sizeof *runs);
    cell_run *sorted = ad_malloc(max_runs * sizeof *sorted);
    size_t count[MAX_BOUNDS + 1] = {0};
    if (!runs || !sorted) {
        ad_free(runs);
        ad_free(sorted);
        return AD_ERR_NOMEM;
    }
    size_t n_runs = 0;
    for (int j = 0; j < ny; j++) {
        int i = 0;
        while (i < nx) {
            int k = level_of(lv, c->z[(size_t)j * nx + i]);
            int i1 = i;
            while (i1 + 1 < nx && level_of(lv, c->z[(size_t)j * nx + i1 + 1]) == k) i1++;
            if (k >= 0) {
                runs[n_runs++] = (cell_run){k, j, i, i1};
                count[k + 1]++;
            }
            i = i1 + 1;
        }
    }
    /* counting sort by level keeps row order: deterministic output */
    for (int k = 1; k <= n_levels; k++) count[k] += count[k - 1];
    for (size_t r = 0; r < n_runs; r++) sorted[count[runs[r].level]++] = runs[r];
    double dx = (c->x1 - c->x0) / (nx - 1), dy = (c->y1 - c->y0) / (ny - 1);
    app_buf_puts(b, "<g shape-rendering=\"crispEdges\" stroke=\"none\">\n");
    size_t r = 0;
    for (int k = 0; k < n_levels; k++) {
        if (r >= n_runs || sorted[r].level != k) continue;
        char col[8];
        colormap(n_levels > 1 ? (k + 0.5) / n_levels : 0.5, col);
        app_buf_printf(b, "<path fill=\"%s\" d=\"", col);
        for (; r < n_runs && sorted[r].level == k; r++) {
            const cell_run *u = &sorted[r];
            /* cell edges halfway between nodes, clamped to the grid */
            double xa = fmax(c->x0, c->x0 + (u->i0 - 0.5) * dx);
            double xb = fmin(c->x1, c->x0 + (u->i1 + 0.5) * dx);
            double ya = fmax(c->y0, c->y0 + (u->row - 0.5) * dy);
            double yb = fmin(c->y1, c->y0 + (u->row + 0.5) * dy);
            app_buf_putc(b, 'M');
            pt(b, map_x(fr, xa), map_y(fr, yb));
            app_buf_putc(b, 'H');
            num(b, map_x(fr, xb));
            app_buf_putc(b, 'V');
            num(b, map_y(fr, ya));
            app_buf_putc(b, 'H');
            num(b, map_x(fr, xa));
            app_buf_putc(b, 'Z');
        }
        app_buf_puts(b, "\"/>\n");
    }
    app_buf_puts(b, "</g>\n");
    ad_free(runs);
    ad_free(sorted);
    return AD_OK;
}

/* Contour lines by marching squares, one path per level value. */
static void draw_contour_lines(app_buf *b, const svg_contour *c, const levels *lv, const frame *fr)
{
    /* segments of each case as pairs of edges: 0 bottom, 1 right, 2 top, 3 left */
    static const signed char seg[16][4] = {
        {-1, -1, -1, -1}, {3, 0, -1, -1}, {0, 1, -1, -1}, {3, 1, -1, -1},
        {1, 2, -1, -1},   {3, 0, 1, 2},   {0, 2, -1, -1}, {2, 3, -1, -1},
        {2, 3, -1, -1},   {0, 2, -1, -1}, {0, 1, 2, 3},   {1, 2, -1, -1},
        {1, 3, -1, -1},   {0, 1, -1, -1}, {3, 0, -1, -1}, {-1, -1, -1, -1}};
    int nx = c->nx, ny = c->ny;
    double dx = (c->x1 - c->x0) / (nx - 1), dy = (c->y1 - c->y0) / (ny - 1);
    app_buf_puts(
        b, "<g fill=\"none\" stroke=\"#000000\" stroke-opacity=\"0.35\" stroke-width=\"0.6\">\n");
    for (int L = 1; L < lv->n_bounds - 1; L++) {
        double t = lv->bound[L];
        if (!(t > lv->zmin && t < lv->zmax)) continue;
        app_buf_puts(b, "<path d=\"");
        for (int j = 0; j + 1 < ny; j++) {
            for (int i = 0; i + 1 < nx; i++) {
                /* corners: a (i,j), bb (i+1,j), cc (i+1,j+1), d (i,j+1) */
                double v[4] = {c->z[(size_t)j * nx + i], c->z[(size_t)j * nx + i + 1],
                               c->z[(size_t)(j + 1) * nx + i + 1], c->z[(size_t)(j + 1) * nx + i]};
                if (!isfinite(v[0]) || !isfinite(v[1]) || !isfinite(v[2]) || !isfinite(v[3]))
                    continue;
                int code = (v[0] > t) | (v[1] > t) << 1 | (v[2] > t) << 2 | (v[3] > t) << 3;
                if (code == 0 || code == 15) continue;
                signed char e[4];
                memcpy(e, seg[code], 4);
                if (code == 5 || code == 10) { /* saddle: decide by the centre value */
                    int centre_above = (v[0] + v[1] + v[2] + v[3]) / 4 > t;
                    int cut_ac = (code == 5) != centre_above; /* isolate corners a and c */
                    signed char ac[4] = {3, 0, 1, 2}, bd[4] = {0, 1, 2, 3};
                    memcpy(e, cut_ac ? ac : bd, 4);
                }
                for (int s = 0; s < 4 && e[s] >= 0; s += 2) {
                    for (int q = 0; q < 2; q++) {
                        int edge = e[s + q];
                        /* edge endpoints as corner indices */
                        static const int ea[4] = {0, 1, 3, 0}, eb[4] = {1, 2, 2, 3};
                        static const double cx[4] = {0, 1, 1, 0}, cy[4] = {0, 0, 1, 1};
                        int p0 = ea[edge], p1 = eb[edge];
                        double f = (t - v[p0]) / (v[p1] - v[p0]);
                        double gx = i + cx[p0] + f * (cx[p1] - cx[p0]);
                        double gy = j + cy[p0] + f * (cy[p1] - cy[p0]);
                        app_buf_putc(b, q ? 'L' : 'M');
                        pt(b, map_x(fr, c->x0 + gx * dx), map_y(fr, c->y0 + gy * dy));
                    }
                }
            }
        }
        app_buf_puts(b, "\"/>\n");
    }
    app_buf_puts(b, "</g>\n");
}

/* ---- series ---- */

static int inside_y(const frame *fr, double y) { return y >= fr->y_lo && y <= fr->y_hi; }
static int inside_x(const frame *fr, double x) { return x >= fr->x_lo && x <= fr->x_hi; }

/* The series' points inside the frame as filled circles, in one group. */
static void draw_markers(app_buf *b, const svg_series *s, const frame *fr)
{
    app_buf_puts(b, "<g stroke=\"none\" fill=\"");
    app_svg_put_text(b, s->color);
    app_buf_printf(b, "\" fill-opacity=\"%g\">\n", s->alpha);
    for (size_t i = 0; i < s->n; i++) {
        if (!inside_x(fr, s->x[i]) || !inside_y(fr, s->y[i])) continue;
        app_buf_puts(b, "<circle cx=\"");
        num(b, map_x(fr, s->x[i]));
        app_buf_puts(b, "\" cy=\"");
        num(b, map_y(fr, s->y[i]));
        app_buf_printf(b, "\" r=\"%g\"/>\n", s->radius);
    }
    app_buf_puts(b, "</g>\n");
}

static void draw_series(app_buf *b, const svg_series *s, const frame *fr)
{
    switch (s->kind) {
    case SVG_LINE: {
        app_buf_puts(b, "<path");
        stroke_attrs(b, s);
        app_buf_puts(b, " d=\"");
        int pen = 0;
        for (size_t i = 0; i < s->n; i++) {
            if (!isfinite(s->x[i]) || !isfinite(s->y[i])) {
                pen = 0;
                continue;
            }
            app_buf_putc(b, pen ? ' ' : 'M');
            pt(b, map_x(fr, s->x[i]), map_y(fr, s->y[i]));
            pen = 1;
        }
        app_buf_puts(b, "\"/>\n");
        break;
    }
    case SVG_SCATTER:
        draw_markers(b, s, fr);
        break;
    case SVG_BAND: {
        app_buf_puts(b, "<path stroke=\"none\" fill=\"");
        app_svg_put_text(b, s->color);
        app_buf_printf(b, "\" fill-opacity=\"%g\" d=\"", s->alpha);
        size_t i = 0;
        while (i < s->n) { /* one polygon per run of finite points */
            size_t j = i;
            while (j < s->n && isfinite(s->x[j]) && isfinite(s->y[j]) && isfinite(s->y2[j])) j++;
            if (j > i) {
                for (size_t k = i; k < j; k++) {
                    app_buf_putc(b, k == i ? 'M' : ' ');
                    pt(b, map_x(fr, s->x[k]), map_y(fr, s->y2[k]));
                }
                for (size_t k = j; k-- > i;) {
                    app_buf_putc(b, ' ');
                    pt(b, map_x(fr, s->x[k]), map_y(fr, s->y[k]));
                }
                app_buf_putc(b, 'Z');
            }
            i = j + 1;
        }
        app_buf_puts(b, "\"/>\n");
        break;
    }
    case SVG_HIST: {
        app_buf_puts(b, "<path");
        stroke_attrs(b, s);
        app_buf_puts(b, " d=\"");
        int pen = 0;
        for (size_t i = 0; i < s->n; i++) {
            if (!isfinite(s->x[i]) || !isfinite(s->x[i + 1]) || !isfinite(s->y[i])) {
                pen = 0;
                continue;
            }
            app_buf_putc(b, pen ? ' ' : 'M');
            pt(b, map_x(fr, s->x[i]), map_y(fr, s->y[i]));
            app_buf_putc(b, ' ');
            pt(b, map_x(fr, s->x[i + 1]), map_y(fr, s->y[i]));
            pen = 1;
        }
        app_buf_puts(b, "\"/>\n");
        break;
    }
    case SVG_ERRORBAR: {
        /* the bars (clipped to the panel), then the markers on top */
        app_buf_puts(b, "<path");
        stroke_attrs(b, s);
        app_buf_puts(b, " d=\"");
        for (size_t i = 0; i < s->n; i++) {
            if (!inside_x(fr, s->x[i]) || !isfinite(s->y[i]) || !isfinite(s->y2[i]) ||
                !(s->y2[i] > 0))
                continue;
            double lo = s->y[i] - s->y2[i], hi = s->y[i] + s->y2[i];
            if (hi < fr->y_lo || lo > fr->y_hi) continue;
            double X = map_x(fr, s->x[i]), cap = s->radius + 1.5;
            double Ylo = map_y(fr, lo > fr->y_lo ? lo : fr->y_lo);
            double Yhi = map_y(fr, hi < fr->y_hi ? hi : fr->y_hi);
            app_buf_putc(b, 'M');
            pt(b, X, Ylo);
            app_buf_putc(b, 'V');
            num(b, Yhi);
            if (hi <= fr->y_hi) {
                app_buf_putc(b, 'M');
                pt(b, X - cap, Yhi);
                app_buf_putc(b, 'h');
                num(b, 2 * cap);
            }
            if (lo >= fr->y_lo) {
                app_buf_putc(b, 'M');
                pt(b, X - cap, Ylo);
                app_buf_putc(b, 'h');
                num(b, 2 * cap);
            }
        }
        app_buf_puts(b, "\"/>\n");
        draw_markers(b, s, fr);
        break;
    }
    case SVG_HLINE:
    case SVG_VLINE: {
        int h = s->kind == SVG_HLINE;
        if (h ? !inside_y(fr, s->value) : !inside_x(fr, s->value)) break;
        app_buf_puts(b, "<path");
        stroke_attrs(b, s);
        app_buf_puts(b, " d=\"M");
        if (h) {
            double y = map_y(fr, s->value);
            pt(b, fr->px0, y);
            app_buf_putc(b, 'H');
            num(b, fr->px1);
        } else {
            double x = map_x(fr, s->value);
            pt(b, x, fr->py0);
            app_buf_putc(b, 'V');
            num(b, fr->py1);
        }
        app_buf_puts(b, "\"/>\n");
        break;
    }
    }
}

/* ---- legend ---- */

static void legend_size(const app_svg_panel *p, double *w, double *h, int *n)
{
    double widest = 0;
    *n = 0;
    for (int k = 0; k < p->n_series; k++) {
        if (!p->series[k].label) continue;
        double tw = text_width(p->series[k].label, TICK_FONT);
        if (tw > widest) widest = tw;
        (*n)++;
    }
    *w = 8 + 24 + 6 + widest + 8;
    *h = 6 + 16.0 * *n + 4;
}

/* Data points of the panel that fall inside the pixel box. */
static long points_in_box(const app_svg_panel *p, const frame *fr, double x0, double y0, double x1,
                          double y1)
{
    long n = 0;
    for (int k = 0; k < p->n_series; k++) {
        const svg_series *s = &p->series[k];
        if (s->kind != SVG_LINE && s->kind != SVG_SCATTER && s->kind != SVG_BAND &&
            s->kind != SVG_HIST && s->kind != SVG_ERRORBAR)
            continue;
        for (size_t i = 0; i < s->n; i++) {
            double X = map_x(fr, s->x[i]);
            for (int which = 0; which < (s->kind == SVG_BAND ? 2 : 1); which++) {
                double Y = map_y(fr, which ? s->y2[i] : s->y[i]);
                if (X >= x0 && X <= x1 && Y >= y0 && Y <= y1) n++;
            }
        }
    }
    return n;
}

/* The dot of a legend entry at (cx, cy): style gives its radius and outline. */
static void legend_dot(app_buf *b, double cx, double cy, const char *style, const char *color)
{
    app_buf_puts(b, "<circle cx=\"");
    num(b, cx);
    app_buf_puts(b, "\" cy=\"");
    num(b, cy);
    app_buf_printf(b, "\" %s fill=\"", style);
    app_svg_put_text(b, color);
    app_buf_puts(b, "\"/>\n");
}

static void draw_legend(app_buf *b, const app_svg_panel *p, const frame *fr)
{
    double w, h;
    int n;
    legend_size(p, &w, &h, &n);
    if (n == 0 || p->legend == APP_SVG_LEGEND_NONE) return;
    double m = 8;
    double xs[4] = {fr->px1 - m - w, fr->px0 + m, fr->px1 - m - w, fr->px0 + m};
    double ys[4] = {fr->py0 + m, fr->py0 + m, fr->py1 - m - h, fr->py1 - m - h};
    int corner = 0; /* upper right, upper left, lower right, lower left */
    switch (p->legend) {
    case APP_SVG_LEGEND_UPPER_LEFT: corner = 1; break;
    case APP_SVG_LEGEND_LOWER_RIGHT: corner = 2; break;
    case APP_SVG_LEGEND_LOWER_LEFT: corner = 3; break;
    case APP_SVG_LEGEND_AUTO: {
        long best = -1;
        for (int q = 0; q < 4; q++) {
            long c = points_in_box(p, fr, xs[q], ys[q], xs[q] + w, ys[q] + h);
            if (best < 0 || c < best) {
                best = c;
                corner = q;
            }
        }
        break;
    }
    default: break;
    }
    double x = xs[corner], y = ys[corner];
    app_buf_puts(b, "<g class=\"legend\">\n<rect x=\"");
    num(b, x);
    app_buf_puts(b, "\" y=\"");
    num(b, y);
    app_buf_puts(b, "\" width=\"");
    num(b, w);
    app_buf_puts(b, "\" height=\"");
    num(b, h);
    app_buf_puts(b, "\" rx=\"3\" fill=\"#ffffff\" fill-opacity=\"0.85\" stroke=\"#bbbbbb\"/>\n");
    int row = 0;
    for (int k = 0; k < p->n_series; k++) {
        const svg_series *s = &p->series[k];
        if (!s->label) continue;
        double cy = y + 6 + 16.0 * row + 8, sx = x + 8;
        if (s->kind == SVG_ERRORBAR) {
            app_buf_puts(b, "<path");
            stroke_attrs(b, s);
            app_buf_puts(b, " d=\"M");
            pt(b, sx + 12, cy - 6);
            app_buf_puts(b, "v12M");
            pt(b, sx + 8, cy - 6);
            app_buf_puts(b, "h8M");
            pt(b, sx + 8, cy + 6);
            app_buf_puts(b, "h8\"/>\n");
            legend_dot(b, sx + 12, cy, "r=\"3\"", s->color);
        } else if (s->kind == SVG_SCATTER) {
            legend_dot(b, sx + 12, cy, "r=\"3.5\" stroke=\"#555555\" stroke-width=\"0.6\"",
                       s->color);
        } else if (s->kind == SVG_BAND) {
            app_buf_puts(b, "<rect x=\"");
            num(b, sx);
            app_buf_puts(b, "\" y=\"");
            num(b, cy - 5);
            app_buf_puts(b, "\" width=\"24\" height=\"10\" fill=\"");
            app_svg_put_text(b, s->color);
            app_buf_printf(b, "\" fill-opacity=\"%g\"/>\n", s->alpha);
        } else {
            app_buf_puts(b, "<path");
            stroke_attrs(b, s);
            app_buf_puts(b, " d=\"M");
            pt(b, sx, cy);
            app_buf_puts(b, "h24\"/>\n");
        }
        text(b, sx + 30, cy + 4, "start", TICK_FONT, NULL, s->label);
        row++;
    }
    app_buf_puts(b, "</g>\n");
}

/* ---- panels ---- */

static int draw_panel(app_buf *b, const app_svg_figure *f, const app_svg_panel *p, int index,
                      double ox, double oy)
{
    frame fr;
    panel_ranges(p, &fr);
    levels lv = {{0}, 0, 0, 0, 0, 0};
    if (p->contour) contour_levels(p->contour, &lv);
    int has_bar = p->contour && lv.any;

    double top = p->title ? 30 : 14, bottom = p->xlabel ? 46 : 30;
    double right = 18;
    char label[64];
    if (has_bar) {
        double widest = 0;
        for (int k = 0; k < lv.n_bounds; k++) {
            app_svg_tick_label(label, sizeof label, lv.bound[k], lv.step);
            widest = fmax(widest, text_width(label, TICK_FONT));
        }
        right = 12 + 14 + 5 + widest + (p->contour->colorbar_label ? 22 : 0) + 10;
    }
    fr.py0 = oy + top;
    fr.py1 = oy + f->panel_h - bottom;
    double yt[MAX_TICKS], xt[MAX_TICKS], ystep, xstep;
    int ny = app_svg_nice_ticks(fr.y_lo, fr.y_hi, (int)fmax(2, (fr.py1 - fr.py0) / 50), yt,
                                MAX_TICKS, &ystep);
    double widest = 0;
    for (int k = 0; k < ny; k++) {
        app_svg_tick_label(label, sizeof label, yt[k], ystep);
        widest = fmax(widest, text_width(label, TICK_FONT));
    }
    double left = 10 + (p->ylabel ? 20 : 0) + widest + 8;
    fr.px0 = ox + left;
    fr.px1 = ox + f->panel_w - right;
    if (fr.px1 - fr.px0 < 20 || fr.py1 - fr.py0 < 20) return AD_ERR_ARG; /* no room */
    int nxt = app_svg_nice_ticks(fr.x_lo, fr.x_hi, (int)fmax(2, (fr.px1 - fr.px0) / 70), xt,
                                 MAX_TICKS, &xstep);

    app_buf_printf(b, "<g class=\"panel\" id=\"panel%d\">\n", index);
    app_buf_printf(b, "<defs><clipPath id=\"clip%d\"><rect x=\"", index);
    num(b, fr.px0);
    app_buf_puts(b, "\" y=\"");
    num(b, fr.py0);
    app_buf_puts(b, "\" width=\"");
    num(b, fr.px1 - fr.px0);
    app_buf_puts(b, "\" height=\"");
    num(b, fr.py1 - fr.py0);
    app_buf_puts(b, "\"/></clipPath></defs>\n");

    /* light grid lines at the ticks (not over a map) */
    if (!p->contour) {
        app_buf_puts(b, "<path fill=\"none\" stroke=\"#e6e6e6\" stroke-width=\"1\" d=\"");
        for (int k = 0; k < nxt; k++) {
            app_buf_putc(b, 'M');
            pt(b, map_x(&fr, xt[k]), fr.py0);
            app_buf_putc(b, 'V');
            num(b, fr.py1);
        }
        for (int k = 0; k < ny; k++) {
            app_buf_putc(b, 'M');
            pt(b, fr.px0, map_y(&fr, yt[k]));
            app_buf_putc(b, 'H');
            num(b, fr.px1);
        }
        app_buf_puts(b, "\"/>\n");
    }

    app_buf_printf(b, "<g clip-path=\"url(#clip%d)\">\n", index);
    if (has_bar) {
        int rc = draw_cells(b, p->contour, &lv, &fr);
        if (rc) return rc;
        if (p->contour->lines) draw_contour_lines(b, p->contour, &lv, &fr);
    }
    for (int k = 0; k < p->n_series; k++) draw_series(b, &p->series[k], &fr);
    app_buf_puts(b, "</g>\n");

    /* frame, ticks, tick labels */
    app_buf_puts(b, "<rect fill=\"none\" stroke=\"#333333\" stroke-width=\"1\" x=\"");
    num(b, fr.px0);
    app_buf_puts(b, "\" y=\"");
    num(b, fr.py0);
    app_buf_puts(b, "\" width=\"");
    num(b, fr.px1 - fr.px0);
    app_buf_puts(b, "\" height=\"");
    num(b, fr.py1 - fr.py0);
    app_buf_puts(b, "\"/>\n<path stroke=\"#333333\" stroke-width=\"1\" d=\"");
    for (int k = 0; k < nxt; k++) {
        app_buf_putc(b, 'M');
        pt(b, map_x(&fr, xt[k]), fr.py1);
        app_buf_puts(b, "v5");
    }
    for (int k = 0; k < ny; k++) {
        app_buf_putc(b, 'M');
        pt(b, fr.px0, map_y(&fr, yt[k]));
        app_buf_puts(b, "h-5");
    }
    app_buf_puts(b, "\"/>\n<g fill=\"#222222\">\n");
    for (int k = 0; k < nxt; k++) {
        app_svg_tick_label(label, sizeof label, xt[k], xstep);
        text(b, map_x(&fr, xt[k]), fr.py1 + 18, "middle", TICK_FONT, NULL, label);
    }
    for (int k = 0; k < ny; k++) {
        app_svg_tick_label(label, sizeof label, yt[k], ystep);
        text(b, fr.px0 - 8, map_y(&fr, yt[k]) + 4, "end", TICK_FONT, NULL, label);
    }
    double mx = 0.5 * (fr.px0 + fr.px1), my = 0.5 * (fr.py0 + fr.py1);
    if (p->xlabel) text(b, mx, fr.py1 + 38, "middle", LABEL_FONT, NULL, p->xlabel);
    if (p->ylabel) {
        char rot[64];
        double x = ox + 16;
        snprintf(rot, sizeof rot, " transform=\"rotate(-90 %.1f %.1f)\"", x, my);
        text(b, x, my, "middle", LABEL_FONT, rot, p->ylabel);
    }
    if (p->title) text(b, mx, oy + 20, "middle", 13, " font-weight=\"bold\"", p->title);
    app_buf_puts(b, "</g>\n");

    if (has_bar) { /* colour bar: one box per level, labels at the boundaries */
        double bx = fr.px1 + 12, bw = 14;
        int n_levels = lv.n_bounds - 1;
        double lo = lv.bound[0], hi = lv.bound[lv.n_bounds - 1];
        app_buf_puts(b, "<g class=\"colorbar\" shape-rendering=\"crispEdges\">\n");
        for (int k = 0; k < n_levels; k++) {
            char col[8];
            colormap(n_levels > 1 ? (k + 0.5) / n_levels : 0.5, col);
            double ya = fr.py1 - (lv.bound[k + 1] - lo) / (hi - lo) * (fr.py1 - fr.py0);
            double yb = fr.py1 - (lv.bound[k] - lo) / (hi - lo) * (fr.py1 - fr.py0);
            app_buf_puts(b, "<rect x=\"");
            num(b, bx);
            app_buf_puts(b, "\" y=\"");
            num(b, ya);
            app_buf_puts(b, "\" width=\"");
            num(b, bw);
            app_buf_puts(b, "\" height=\"");
            num(b, yb - ya);
            app_buf_printf(b, "\" fill=\"%s\"/>\n", col);
        }
        app_buf_puts(b, "<rect fill=\"none\" stroke=\"#333333\" x=\"");
        num(b, bx);
        app_buf_puts(b, "\" y=\"");
        num(b, fr.py0);
        app_buf_puts(b, "\" width=\"");
        num(b, bw);
        app_buf_puts(b, "\" height=\"");
        num(b, fr.py1 - fr.py0);
        app_buf_puts(b, "\"/>\n</g>\n<g fill=\"#222222\">\n");
        int every = (lv.n_bounds + 10) / 11; /* at most about 11 labels */
        for (int k = 0; k < lv.n_bounds; k += every) {
            double y = fr.py1 - (lv.bound[k] - lo) / (hi - lo) * (fr.py1 - fr.py0);
            app_svg_tick_label(label, sizeof label, lv.bound[k], lv.step);
            text(b, bx + bw + 5, y + 4, "start", TICK_FONT, NULL, label);
        }
        if (p->contour->colorbar_label) {
            char rot[64];
            double x = ox + f->panel_w - 12;
            snprintf(rot, sizeof rot, " transform=\"rotate(-90 %.1f %.1f)\"", x, my);
            text(b, x, my, "middle", LABEL_FONT, rot, p->contour->colorbar_label);
        }
        app_buf_puts(b, "</g>\n");
    }
    draw_legend(b, p, &fr);
    app_buf_puts(b, "</g>\n");
    return AD_OK;
}

int app_svg_render(const app_svg_figure *f, app_buf *out)
{
    if (!f || !out) return AD_ERR_ARG;
    if (f->err) return f->err;
    double title_h = f->title ? 34 : 0;
    double width = f->cols * f->panel_w, height = title_h + f->rows * f->panel_h;
    app_buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    app_buf_printf(out,
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" "
                   "viewBox=\"0 0 %g %g\" font-family=\"%s\">\n",
                   width, height, width, height, FONT);
    app_buf_printf(out, "<rect x=\"0\" y=\"0\" width=\"%g\" height=\"%g\" fill=\"#ffffff\"/>\n",
                   width, height);
    if (f->title) text(out, width / 2, 24, "middle", 15, " font-weight=\"bold\"", f->title);
    for (int r = 0; r < f->rows; r++) {
        for (int c = 0; c < f->cols; c++) {
            int rc = draw_panel(out, f, &f->panels[r * f->cols + c], r * f->cols + c,
                                c * f->panel_w, title_h + r * f->panel_h);
            if (rc) return rc;
        }
    }
    app_buf_puts(out, "</svg>\n");
    return out->err;
}

int app_svg_save(const app_svg_figure *f, const char *path, char *msg, size_t msg_size)
{
    app_buf b;
    app_buf_init(&b);
    int rc = app_svg_render(f, &b);
    if (rc) {
        if (msg && msg_size)
            snprintf(msg, msg_size, "cannot make figure '%s': %s", path ? path : "",
                     rc == AD_ERR_NOMEM ? "out of memory" : "bad plot data or settings");
    } else {
        rc = app_fs_write_atomic(path, b.data, b.len, msg, msg_size);
    }
    app_buf_free(&b);
    return rc;
}
