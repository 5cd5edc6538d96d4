/* test_apps_svg.c - the SVG plotting module: nice ticks, well-formed and
 * deterministic output, escaping, caps, errors and allocation failures. */
#include <check.h>
#include <math.h>
#include <string.h>

#include "apps/toolkit/app_buf.h"
#include "apps/toolkit/app_fs.h"
#include "apps/toolkit/app_svg.h"
#include "autodiff/ad.h"
#include "ck_util.h"

/* ---- a tiny XML checker: balanced tags, quoted attributes, entities ---- */

static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)); p += strlen(what)) n++;
    return n;
}

/* 1 when every element is closed in order, attributes are quoted and every
 * '&' starts a known entity; *elements receives the number of elements. */
static int well_formed(const char *s, int *elements, char *why, size_t why_size)
{
    char stack[64][32];
    int depth = 0, n = 0;
    const char *p = s;
    if (strncmp(p, "<?xml", 5) == 0) {
        p = strstr(p, "?>");
        if (!p) return snprintf(why, why_size, "bad prolog"), 0;
        p += 2;
    }
    while (*p) {
        if (*p == '&') {
            static const char *const ent[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
            int ok = 0;
            for (int k = 0; k < 5; k++) ok |= strncmp(p, ent[k], strlen(ent[k])) == 0;
            if (!ok) return snprintf(why, why_size, "bare & at %.20s", p), 0;
            p++;
            continue;
        }
        if (*p == '>') return snprintf(why, why_size, "stray > at %.20s", p), 0;
        if (*p != '<') {
            p++;
            continue;
        }
        int closing = p[1] == '/';
        p += closing ? 2 : 1;
        char name[32];
        size_t len = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-:");
        if (len == 0 || len >= sizeof name)
            return snprintf(why, why_size, "bad tag at %.20s", p), 0;
        memcpy(name, p, len);
        name[len] = '\0';
        p += len;
        if (closing) {
            if (depth == 0 || strcmp(stack[depth - 1], name) != 0)
                return snprintf(why, why_size, "unbalanced </%s>", name), 0;
            depth--;
            if (*p != '>') return snprintf(why, why_size, "bad end tag %s", name), 0;
            p++;
            continue;
        }
        /* attributes: name="value" pairs */
        for (;;) {
            while (*p == ' ' || *p == '\n') p++;
            if (*p == '>' || (p[0] == '/' && p[1] == '>')) break;
            size_t an = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-:");
            if (an == 0 || p[an] != '=' || p[an + 1] != '"')
                return snprintf(why, why_size, "bad attribute in <%s> at %.20s", name, p), 0;
            p += an + 2;
            const char *q = strchr(p, '"');
            if (!q) return snprintf(why, why_size, "unterminated attribute"), 0;
            for (const char *c = p; c < q; c++)
                if (*c == '<' || (*c == '&' && strncmp(c, "&amp;", 5) && strncmp(c, "&quot;", 6) &&
                                  strncmp(c, "&lt;", 4) && strncmp(c, "&gt;", 4) &&
                                  strncmp(c, "&apos;", 6)))
                    return snprintf(why, why_size, "bad character in attribute of <%s>", name), 0;
            p = q + 1;
        }
        n++;
        if (*p == '/') {
            p += 2;
        } else {
            if (depth == 64) return snprintf(why, why_size, "too deep"), 0;
            strcpy(stack[depth++], name);
            p++;
        }
    }
    *elements = n;
    if (depth) return snprintf(why, why_size, "<%s> not closed", stack[depth - 1]), 0;
    return 1;
}

/* A figure with every kind of series, non-finite data and hostile text. */
static app_svg_figure *sample_figure(void)
{
    app_svg_figure *f = app_svg_figure_new(2, 2, 0, 0);
    if (!f) return NULL;
    app_svg_figure_title(f, "Test <figure> & \"quotes\" 'x' \x01\xff");
    app_svg_panel *p = app_svg_panel_at(f, 0, 0);
    app_svg_panel_title(p, "lines");
    app_svg_panel_labels(p, "x", "F / kT");
    double x[50], y[50], lo[50], hi[50];
    for (int i = 0; i < 50; i++) {
        x[i] = -2 + 4.0 * i / 49;
        y[i] = x[i] * x[i] * x[i] * x[i] - 4 * x[i] * x[i];
        lo[i] = y[i] - 0.5;
        hi[i] = y[i] + 0.5;
    }
    y[20] = NAN; /* breaks the line in two */
    hi[30] = INFINITY;
    app_svg_band(p, x, lo, hi, 50, &(app_svg_style){.label = "band", .color = app_svg_color(0)});
    app_svg_line(p, x, y, 50, &(app_svg_style){.label = "exact <U>", .color = app_svg_color(0)});
    app_svg_line(p, x, lo, 50, &(app_svg_style){.label = "dashed", .dash = APP_SVG_DASHED});
    app_svg_hline(p, 0, NULL);
    app_svg_vline(p, 1, &(app_svg_style){.dash = APP_SVG_DOTTED});
    p = app_svg_panel_at(f, 0, 1);
    double edges[11], counts[10];
    for (int i = 0; i <= 10; i++) edges[i] = i;
    for (int i = 0; i < 10; i++) counts[i] = (i - 5) * (i - 5);
    app_svg_histogram(p, edges, counts, 10, &(app_svg_style){.label = "hist"});
    app_svg_panel_yrange(p, 0, 30);
    app_svg_panel_legend(p, APP_SVG_LEGEND_UPPER_LEFT);
    p = app_svg_panel_at(f, 1, 0);
    static double sx[20000], sy[20000];
    for (int i = 0; i < 20000; i++) {
        sx[i] = sin(i * 0.37);
        sy[i] = cos(i * 0.11);
    }
    app_svg_scatter(p, sx, sy, 20000, &(app_svg_style){.label = "samples", .alpha = 0.2});
    p = app_svg_panel_at(f, 1, 1);
    double z[30 * 20];
    for (int j = 0; j < 20; j++)
        for (int i = 0; i < 30; i++) {
            double u = -1 + 2.0 * i / 29, v = -1 + 2.0 * j / 19;
            z[j * 30 + i] = (u * u - 0.5) * (u * u - 0.5) + v * v;
        }
    z[5] = NAN;
    app_svg_contour(p, z, 30, 20, -1, 1, -1, 1,
                    &(app_svg_contour_opts){.n_levels = 8, .colorbar_label = "U & kT"});
    app_svg_panel_labels(p, "x", "y");
    return f;
}

START_TEST(test_nice_ticks)
{
    double t[32], step;
    ck_assert_int_eq(app_svg_nice_ticks(0, 1, 5, t, 32, &step), 6);
    const double want[6] = {0, 0.2, 0.4, 0.6, 0.8, 1};
    for (int i = 0; i < 6; i++)
        ck_assert_double_eq(t[i], want[i]); /* exact, no 0.6000000000000001 */
    ck_assert_double_eq(step, 0.2);
    char label[32];
    app_svg_tick_label(label, sizeof label, t[3], step);
    ck_assert_str_eq(label, "0.6");
    app_svg_tick_label(label, sizeof label, t[0], step);
    ck_assert_str_eq(label, "0.0");

    ck_assert_int_eq(app_svg_nice_ticks(-3.7, 12.2, 5, t, 32, &step), 3); /* 0 5 10 */
    ck_assert_double_eq(step, 5);
    ck_assert_double_eq(t[0], 0);
    ck_assert_double_eq(t[2], 10);
    ck_assert_int_eq(app_svg_nice_ticks(0.001, 0.0042, 4, t, 32, &step), 4);
    ck_assert_double_eq(t[0], 0.001);
    ck_assert_double_eq(t[2], 0.003);
    app_svg_tick_label(label, sizeof label, t[2], step);
    ck_assert_str_eq(label, "0.003");
    ck_assert_int_eq(app_svg_nice_ticks(-15.3, -7.2, 4, t, 32, &step), 4); /* -14 -12 -10 -8 */
    ck_assert_double_eq(t[0], -14);
    app_svg_tick_label(label, sizeof label, t[0], step);
    ck_assert_str_eq(label, "-14");
    ck_assert_int_eq(app_svg_nice_ticks(-1e6, 1e6, 4, t, 32, &step), 5);
    app_svg_tick_label(label, sizeof label, t[4], step);
    ck_assert_str_eq(label, "1e+06");
    app_svg_tick_label(label, sizeof label, -1e-17, 0.5); /* no "-0.0" */
    ck_assert_str_eq(label, "0.0");
    /* contour grids round the step down: at least the requested levels */
    ck_assert_int_eq(app_svg_nice_grid(-150, 100, 12, 1, t, 32, &step), 13);
    ck_assert_double_eq(step, 20);
    /* every step is 1, 2 or 5 times a power of ten, ticks cover the range */
    for (int k = 0; k < 200; k++) {
        double lo = -50 + 0.73 * k, hi = lo + 0.01 + 0.37 * k * k;
        int n = app_svg_nice_ticks(lo, hi, 5, t, 32, &step);
        ck_assert(n >= 2 && n <= 11);
        double m = step / pow(10, floor(log10(step)));
        ck_assert_msg(fabs(m - 1) < 1e-9 || fabs(m - 2) < 1e-9 || fabs(m - 5) < 1e-9, "step %g",
                      step);
        ck_assert(t[0] >= lo - 1e-9 * step && t[n - 1] <= hi + 1e-9 * step);
    }
    /* degenerate ranges */
    ck_assert_int_eq(app_svg_nice_ticks(1, 1, 5, t, 32, &step), 0);
    ck_assert_int_eq(app_svg_nice_ticks(2, 1, 5, t, 32, &step), 0);
    ck_assert_int_eq(app_svg_nice_ticks(NAN, 1, 5, t, 32, &step), 0);
    ck_assert_int_eq(app_svg_nice_ticks(-1e308, 1e308, 5, t, 32, &step), 0);
    int tiny = app_svg_nice_ticks(0, 1e-308, 5, t, 32, &step); /* no NaN ticks */
    for (int i = 0; i < tiny; i++) ck_assert(isfinite(t[i]));
    ck_assert_int_eq(app_svg_nice_ticks(0, 1, 5, t, 3, &step), 3); /* capped */
}
END_TEST

START_TEST(test_well_formed)
{
    app_svg_figure *f = sample_figure();
    ck_assert_ptr_nonnull(f);
    app_buf b;
    app_buf_init(&b);
    ck_assert_int_eq(app_svg_render(f, &b), AD_OK);
    char why[128] = "";
    int elements = 0;
    ck_assert_msg(well_formed(b.data, &elements, why, sizeof why), "%s", why);
    ck_assert_int_gt(elements, 100);
    ck_assert_ptr_nonnull(strstr(b.data, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
    ck_assert_int_eq(count(b.data, "<svg"), 1);
    ck_assert_int_eq(count(b.data, "</svg>\n"), 1);
    ck_assert_int_eq(count(b.data, "class=\"panel\""), 4);
    ck_assert_int_eq(count(b.data, "<clipPath"), 4);
    ck_assert_int_eq(count(b.data, "class=\"legend\""), 3);
    ck_assert_int_eq(count(b.data, "class=\"colorbar\""), 1);
    ck_assert_ptr_nonnull(strstr(b.data, "stroke-dasharray=\"6 4\""));
    ck_assert_ptr_nonnull(
        strstr(b.data, "Test &lt;figure&gt; &amp; &quot;quotes&quot; &apos;x&apos;  \xEF\xBF\xBD"));
    ck_assert_ptr_nonnull(strstr(b.data, ">exact &lt;U&gt;</text>"));
    ck_assert_ptr_nonnull(strstr(b.data, ">U &amp; kT</text>"));
    ck_assert_ptr_nonnull(strstr(b.data, ">F / kT</text>"));
    /* the line broken at the NaN: two subpaths */
    const char *line = strstr(b.data, "stroke=\"#1f77b4\" stroke-width=\"1.8\"");
    ck_assert_ptr_nonnull(line);
    const char *d = strstr(line, " d=\"");
    ck_assert_int_eq((int)(strchr(d + 4, '"') - d > 0), 1);
    int moves = 0;
    for (const char *c = d + 4; *c != '"'; c++) moves += *c == 'M';
    ck_assert_int_eq(moves, 2);
    /* nothing non-finite leaks into coordinates */
    ck_assert_ptr_null(strstr(b.data, "nan"));
    ck_assert_ptr_null(strstr(b.data, "inf"));
    ck_assert_ptr_null(strstr(b.data, "-0,"));
    /* the scatter series is capped (legend swatches add 1 circle) */
    ck_assert_int_le(count(b.data, "<circle"), APP_SVG_MAX_POINTS + 1);
    ck_assert_int_gt(count(b.data, "<circle"), APP_SVG_MAX_POINTS / 2);
    app_buf_free(&b);
    app_svg_figure_free(f);
}
END_TEST

/* Error bars: one bar with two caps per point whose error is finite and
 * positive, a marker per point inside the panel, the y range grown to hold
 * the bars, and a legend entry; the output stays well formed. */
START_TEST(test_errorbars)
{
    app_svg_figure *f = app_svg_figure_new(1, 1, 400, 300);
    app_svg_panel *p = app_svg_panel_at(f, 0, 0);
    const double x[4] = {0.5, 1, 1.5, 2}, y[4] = {6.8, 3.4, 2.2, 1.6};
    const double e[4] = {0.5, NAN, 0, 0.25};
    app_svg_panel_xrange(p, 0, 2.5);
    ck_assert_int_eq(app_svg_errorbars(p, x, y, e, 4,
                                       &(app_svg_style){.label = "model", .color = "#d62728"}),
                     AD_OK);
    app_buf b;
    app_buf_init(&b);
    ck_assert_int_eq(app_svg_render(f, &b), AD_OK);
    char why[128] = "";
    int elements = 0;
    ck_assert_msg(well_formed(b.data, &elements, why, sizeof why), "%s", why);
    /* four markers and the legend's; bars only for the points 0 and 3 */
    ck_assert_int_eq(count(b.data, "<circle"), 5);
    const char *path = strstr(b.data, "stroke=\"#d62728\"");
    ck_assert_ptr_nonnull(path);
    const char *d = strstr(path, " d=\"");
    int moves = 0, verticals = 0;
    for (const char *c = d + 4; *c != '"'; c++) {
        moves += *c == 'M';
        verticals += *c == 'V';
    }
    ck_assert_int_eq(verticals, 2);
    ck_assert_int_eq(moves, 6); /* a bar and its two caps, twice */
    ck_assert_ptr_null(strstr(b.data, "nan"));
    app_buf_free(&b);
    /* bad arguments are sticky errors */
    ck_assert_int_eq(app_svg_errorbars(p, x, y, NULL, 4, NULL), AD_ERR_ARG);
    ck_assert_int_eq(app_svg_errorbars(NULL, x, y, e, 4, NULL), AD_ERR_ARG);
    app_svg_figure_free(f);
}
END_TEST

START_TEST(test_deterministic)
{
    app_svg_figure *f = sample_figure(), *g = sample_figure();
    app_buf a, b, c;
    app_buf_init(&a);
    app_buf_init(&b);
    app_buf_init(&c);
    ck_assert_int_eq(app_svg_render(f, &a), AD_OK);
    ck_assert_int_eq(app_svg_render(f, &b), AD_OK);
    ck_assert_int_eq(app_svg_render(g, &c), AD_OK);
    ck_assert_uint_eq(a.len, b.len);
    ck_assert(memcmp(a.data, b.data, a.len) == 0);
    ck_assert_uint_eq(a.len, c.len);
    ck_assert(memcmp(a.data, c.data, a.len) == 0);
    ck_assert_uint_lt(a.len, 600000); /* 20k scatter points stay small */
    /* saved through the atomic writer: the same bytes on disk */
    const char *tmp = ck_tmpdir("svg");
    char path[512], msg[512];
    app_fs_join(path, sizeof path, tmp, "fig.svg");
    ck_assert_int_eq(app_svg_save(f, path, msg, sizeof msg), AD_OK);
    char *disk = NULL;
    size_t len = 0;
    ck_assert_int_eq(app_fs_read_file(path, &disk, &len, msg, sizeof msg), AD_OK);
    ck_assert_uint_eq(len, a.len);
    ck_assert(memcmp(disk, a.data, len) == 0);
    ad_free(disk);
    app_buf_free(&a);
    app_buf_free(&b);
    app_buf_free(&c);
    app_svg_figure_free(f);
    app_svg_figure_free(g);
}
END_TEST

START_TEST(test_text_escaping)
{
    app_buf b;
    app_buf_init(&b);
    app_svg_put_text(&b, "<a & 'b'>\"\x01\t\xff\xc3\xa9\xe2\x82");
    ck_assert_str_eq(
        b.data,
        "&lt;a &amp; &apos;b&apos;&gt;&quot;  \xEF\xBF\xBD\xc3\xa9\xEF\xBF\xBD\xEF\xBF\xBD");
    app_buf_free(&b);
}
END_TEST

START_TEST(test_errors)
{
    ck_assert_ptr_null(app_svg_figure_new(0, 1, 0, 0));
    ck_assert_ptr_null(app_svg_figure_new(1, 1, 10, 0));
    ck_assert_ptr_null(app_svg_figure_new(1, 1, NAN, 0));
    app_buf b;
    app_buf_init(&b);
    app_svg_figure *f = app_svg_figure_new(1, 2, 0, 0);
    ck_assert_ptr_null(app_svg_panel_at(f, 0, 2)); /* out of the grid: sticky */
    ck_assert_int_eq(app_svg_render(f, &b), AD_ERR_ARG);
    app_svg_figure_free(f);

    f = app_svg_figure_new(1, 1, 0, 0);
    app_svg_panel *p = app_svg_panel_at(f, 0, 0);
    double z[4] = {0, 1, 2, 3};
    ck_assert_int_eq(app_svg_contour(p, z, 1, 4, 0, 1, 0, 1, NULL), AD_ERR_ARG);
    app_svg_figure_free(f);
    f = app_svg_figure_new(1, 1, 0, 0);
    p = app_svg_panel_at(f, 0, 0);
    ck_assert_int_eq(app_svg_contour(p, z, 2, 2, 0, 1, 1, 1, NULL), AD_ERR_ARG);
    app_svg_figure_free(f);
    f = app_svg_figure_new(1, 1, 0, 0);
    p = app_svg_panel_at(f, 0, 0);
    app_svg_panel_xrange(p, 1, 0);
    ck_assert_int_eq(app_svg_line(p, z, z, 4, NULL), AD_ERR_ARG); /* sticky */
    app_svg_figure_free(f);
    f = app_svg_figure_new(1, 1, 0, 0);
    p = app_svg_panel_at(f, 0, 0);
    ck_assert_int_eq(app_svg_hline(p, NAN, NULL), AD_ERR_ARG);
    app_svg_figure_free(f);

    /* empty panels and all-NaN data still render a valid frame */
    f = app_svg_figure_new(1, 2, 0, 0);
    double nan4[4] = {NAN, NAN, NAN, NAN};
    ck_assert_int_eq(app_svg_line(app_svg_panel_at(f, 0, 0), nan4, nan4, 4, NULL), AD_OK);
    ck_assert_int_eq(app_svg_contour(app_svg_panel_at(f, 0, 1), nan4, 2, 2, 0, 1, 0, 1, NULL),
                     AD_OK);
    ck_assert_int_eq(app_svg_render(f, &b), AD_OK);
    char why[128] = "";
    int n;
    ck_assert_msg(well_formed(b.data, &n, why, sizeof why), "%s", why);
    /* constant field: a single level */
    app_buf_clear(&b);
    app_svg_figure_free(f);
    f = app_svg_figure_new(1, 1, 0, 0);
    double flat[4] = {3, 3, 3, 3};
    ck_assert_int_eq(app_svg_contour(app_svg_panel_at(f, 0, 0), flat, 2, 2, 0, 1, 0, 1, NULL),
                     AD_OK);
    ck_assert_int_eq(app_svg_render(f, &b), AD_OK);
    ck_assert_msg(well_formed(b.data, &n, why, sizeof why), "%s", why);
    /* saving into a "directory" that is a file */
    const char *tmp = ck_tmpdir("svg-err");
    char file[512], path[600], msg[600];
    app_fs_join(file, sizeof file, tmp, "file");
    ck_assert_int_eq(app_fs_write_atomic(file, "x", 1, msg, sizeof msg), AD_OK);
    app_fs_join(path, sizeof path, file, "fig.svg");
    ck_assert_int_eq(app_svg_save(f, path, msg, sizeof msg), AD_ERR_IO);
    ck_assert_ptr_nonnull(strstr(msg, path));
    app_svg_figure_free(f);
    app_buf_free(&b);
}
END_TEST

START_TEST(test_out_of_memory)
{
    int ok_seen = 0;
    for (long n = 0; n < 400 && !ok_seen; n++) {
        ad_alloc_fail_after(n);
        app_svg_figure *f = sample_figure();
        app_buf b;
        app_buf_init(&b);
        int rc = f ? app_svg_render(f, &b) : AD_ERR_NOMEM;
        ad_alloc_fail_after(-1);
        ck_assert_msg(rc == AD_OK || rc == AD_ERR_NOMEM, "n=%ld rc=%d", n, rc);
        ok_seen = rc == AD_OK;
        app_buf_free(&b);
        app_svg_figure_free(f);
    }
    ck_assert(ok_seen);
}
END_TEST

Suite *apps_svg_suite(void)
{
    Suite *s = suite_create("apps-svg");
    TCase *tc = tcase_create("forward");
    tcase_add_test(tc, test_nice_ticks);
    tcase_add_test(tc, test_well_formed);
    tcase_add_test(tc, test_deterministic);
    tcase_add_test(tc, test_errorbars);
    tcase_add_test(tc, test_text_escaping);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("memory");
    tcase_add_test(tc, test_out_of_memory);
    suite_add_tcase(s, tc);
    return s;
}
