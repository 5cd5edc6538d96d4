/* app_svg.h - a small plotting module that writes standalone SVG figures.
 *
 * A figure is a grid of panels (rows x cols, each panel_width x panel_height
 * pixels).  Each panel has x/y ranges (from the data, padded by 4%, or set
 * explicitly), "nice" ticks (steps of 1, 2 or 5 times a power of ten), tick
 * labels, axis labels, a title and a legend, and holds any number of series:
 * lines, scatter points, error bands, histograms (step lines), horizontal and
 * vertical reference lines, and at most one filled-contour map of a 2-D field
 * (cells coloured by discrete level, contour lines by marching squares, and a
 * colour bar).
 *
 * Size: a line, band or scatter series keeps at most APP_SVG_MAX_POINTS points,
 * chosen by an even stride for lines and bands (first and last points kept)
 * and as a uniformly random, order-preserving subset with a fixed seed for
 * scatter points (a stride would alias with interleaved data), so 100k
 * samples make a file of a few hundred kB at most.  Non-finite values
 * are skipped (they break a line or band into pieces).
 *
 * Ownership: the figure copies everything it is given (data and strings) and
 * owns the copies until app_svg_figure_free.  Panels belong to their figure.
 * Errors are sticky: a failed call (bad argument, out of memory) is recorded
 * and reported again by app_svg_render and app_svg_save, so a program may
 * build a whole figure and check once.  The output is deterministic: the same
 * calls give the same bytes.
 */
#ifndef LIBBG_APPS_TOOLKIT_APP_SVG_H
#define LIBBG_APPS_TOOLKIT_APP_SVG_H

#include <stddef.h>

#include "apps/toolkit/app_buf.h"

#define APP_SVG_MAX_POINTS 5000
#define APP_SVG_PALETTE_SIZE 10

typedef struct app_svg_figure app_svg_figure;
typedef struct app_svg_panel app_svg_panel;

typedef enum { APP_SVG_SOLID, APP_SVG_DASHED, APP_SVG_DOTTED, APP_SVG_DASHDOT } app_svg_dash;

typedef enum {
    APP_SVG_LEGEND_AUTO, /* the corner that covers the fewest data points */
    APP_SVG_LEGEND_NONE,
    APP_SVG_LEGEND_UPPER_RIGHT,
    APP_SVG_LEGEND_UPPER_LEFT,
    APP_SVG_LEGEND_LOWER_RIGHT,
    APP_SVG_LEGEND_LOWER_LEFT
} app_svg_legend;

/* How a series looks.  A zeroed struct (or NULL) gives the defaults. */
typedef struct {
    const char *label; /* legend text; NULL or "": not in the legend             */
    const char *color; /* "#rrggbb"; NULL: the panel's next palette colour (grey   */
                       /* for reference lines)                                     */
    double width;      /* stroke width in px; 0: 1.8 (lines), 1.2 (reference)      */
    app_svg_dash dash; /* line pattern                                             */
    double alpha;      /* opacity; 0: lines 1, bands 0.25, scatter 0.5             */
    double radius;     /* scatter point radius in px; 0: 1.6                       */
} app_svg_style;

/* Options of a filled-contour map.  A zeroed struct (or NULL) gives defaults. */
typedef struct {
    int n_levels;               /* about this many colour levels; 0: 10 (max 64)  */
    double vmin, vmax;          /* colour range; vmin >= vmax: the data's range;  */
                                /* values beyond it get the end colours          */
    int no_lines;               /* 1: no contour lines                            */
    const char *colorbar_label; /* text beside the colour bar; NULL: none         */
} app_svg_contour_opts;

/* A new figure; panel sizes <= 0 mean 440 x 330.  NULL on bad sizes or OOM. */
app_svg_figure *app_svg_figure_new(int rows, int cols, double panel_width, double panel_height);
void app_svg_figure_free(app_svg_figure *f);
void app_svg_figure_title(app_svg_figure *f, const char *title);
/* The panel at (row, col), or NULL (and a sticky error) when out of range. */
app_svg_panel *app_svg_panel_at(app_svg_figure *f, int row, int col);

/* Panel settings.  All accept a NULL panel (and do nothing). */
void app_svg_panel_title(app_svg_panel *p, const char *title);
void app_svg_panel_labels(app_svg_panel *p, const char *xlabel, const char *ylabel);
void app_svg_panel_xrange(app_svg_panel *p, double lo, double hi); /* lo < hi, finite */
void app_svg_panel_yrange(app_svg_panel *p, double lo, double hi);
void app_svg_panel_legend(app_svg_panel *p, app_svg_legend where);

/* Series.  Each returns AD_OK or an error (also recorded in the figure). */
int app_svg_line(app_svg_panel *p, const double *x, const double *y, size_t n,
                 const app_svg_style *style);
int app_svg_scatter(app_svg_panel *p, const double *x, const double *y, size_t n,
                    const app_svg_style *style);
/* A filled band between lower[i] and upper[i] at x[i]. */
int app_svg_band(app_svg_panel *p, const double *x, const double *lower, const double *upper,
                 size_t n, const app_svg_style *style);
/* A histogram drawn as a step line: n_bins values between n_bins + 1 edges. */
int app_svg_histogram(app_svg_panel *p, const double *edges, const double *values,
                      size_t n_bins, const app_svg_style *style);
/* Points with vertical error bars: a marker (style radius, 0: 3 px) at
 * (x[i], y[i]) and a bar with caps from y[i] - err[i] to y[i] + err[i]; a
 * point whose err[i] is not finite and > 0 gets the marker alone. */
int app_svg_errorbars(app_svg_panel *p, const double *x, const double *y, const double *err,
                      size_t n, const app_svg_style *style);
int app_svg_hline(app_svg_panel *p, double y, const app_svg_style *style);
int app_svg_vline(app_svg_panel *p, double x, const app_svg_style *style);
/* A filled-contour map of z on a grid: z[j * nx + i] is the value at
 * x = x0 + i (x1 - x0) / (nx - 1), y = y0 + j (y1 - y0) / (ny - 1); 2 <= nx, ny <= 1000.
 * Unless set explicitly, the panel's ranges become [x0, x1] x [y0, y1]. */
int app_svg_contour(app_svg_panel *p, const double *z, int nx, int ny, double x0, double x1,
                    double y0, double y1, const app_svg_contour_opts *opts);

/* Render the figure into out (appended).  AD_OK or the first error. */
int app_svg_render(const app_svg_figure *f, app_buf *out);
/* Render and write atomically to path; msg names the path on failure. */
int app_svg_save(const app_svg_figure *f, const char *path, char *msg, size_t msg_size);

/* Helpers, public for tests and for the programs. */
/* Palette colour i (mod APP_SVG_PALETTE_SIZE), "#rrggbb". */
const char *app_svg_color(int i);
/* Nice ticks inside [lo, hi] with about `target` intervals (the step is the
 * 1-2-5 value nearest to (hi - lo) / target): fills at most
 * max_ticks values and returns their number (0 for an empty or non-finite
 * range); *step receives the spacing when step is not NULL. */
int app_svg_nice_ticks(double lo, double hi, int target, double *ticks, int max_ticks,
                       double *step);
/* The same with at_least = 1: the step is rounded down instead of up, so the
 * grid has at least `target` intervals (used for contour levels). */
int app_svg_nice_grid(double lo, double hi, int target, int at_least, double *ticks,
                      int max_ticks, double *step);
/* A tick label for value v on a grid of spacing step ("0.2", "-15", "1e+06"). */
void app_svg_tick_label(char *buf, size_t size, double v, double step);
/* Append text with XML escaping (& < > " '), control characters as spaces and
 * invalid UTF-8 as U+FFFD. */
void app_svg_put_text(app_buf *b, const char *s);

#endif
