/* app_svg_impl.h - the figure model shared by app_svg.c (building) and
 * app_svg_draw.c (rendering).  Private to apps/app_svg*.c. */
#ifndef LIBBG_APPS_TOOLKIT_APP_SVG_IMPL_H
#define LIBBG_APPS_TOOLKIT_APP_SVG_IMPL_H

#include "apps/toolkit/app_svg.h"

typedef enum {
    SVG_LINE,
    SVG_SCATTER,
    SVG_BAND,
    SVG_HIST,
    SVG_HLINE,
    SVG_VLINE,
    SVG_ERRORBAR
} svg_kind;

typedef struct {
    svg_kind kind;
    size_t n;          /* points (bins for a histogram)                     */
    double *x, *y;     /* points; band: x, lower; hist: edges (n+1), values */
    double *y2;        /* band: upper; error bars: the error                */
    double value;      /* reference line position                           */
    char *label;       /* legend text or NULL                               */
    char *color;       /* resolved colour                                   */
    double width, alpha, radius;
    app_svg_dash dash;
} svg_series;

typedef struct {
    double *z;          /* nx * ny values, copied            */
    int nx, ny;
    double x0, x1, y0, y1;
    int n_levels;
    double vmin, vmax;  /* vmin >= vmax: from the data        */
    int lines;
    char *colorbar_label;
} svg_contour;

struct app_svg_panel {
    app_svg_figure *fig;
    char *title, *xlabel, *ylabel;
    int has_x, has_y;      /* explicit ranges given               */
    double x_lo, x_hi, y_lo, y_hi;
    app_svg_legend legend;
    svg_series *series;
    int n_series, cap_series;
    int n_colors;          /* palette colours handed out so far   */
    svg_contour *contour;
};

struct app_svg_figure {
    int rows, cols;
    double panel_w, panel_h;
    char *title;
    app_svg_panel *panels; /* rows * cols, row-major */
    int err;               /* sticky: 0 or the first error */
};

#endif
