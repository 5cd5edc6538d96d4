/* app_svg_ticks.c - the helpers the renderer (app_svg_draw.c) lays axes and
 * labels out with: nice tick positions, tick labels and XML text escaping.
 * A leaf: it calls nothing else of the SVG module. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "apps/toolkit/app_buf.h"
#include "apps/toolkit/app_svg.h"

static int good_range(double lo, double hi)
{
    return isfinite(lo) && isfinite(hi) && lo < hi && isfinite(hi - lo);
}

/* 10^e for an integer e, exact for |e| <= 22 */
static double pow10i(int e) { return pow(10.0, (double)e); }

int app_svg_nice_ticks(double lo, double hi, int target, double *ticks, int max_ticks,
                       double *step_out)
{
    return app_svg_nice_grid(lo, hi, target, 0, ticks, max_ticks, step_out);
}

int app_svg_nice_grid(double lo, double hi, int target, int at_least, double *ticks,
                      int max_ticks, double *step_out)
{
    if (step_out) *step_out = 0;
    if (!good_range(lo, hi) || max_ticks <= 0 || !ticks) return 0;
    if (target < 1) target = 1;
    double raw = (hi - lo) / target;
    int e = (int)floor(log10(raw));
    double f = raw / pow10i(e);
    int m;
    if (at_least) { /* the largest nice step <= raw: at least `target` intervals */
        if (f >= 5 - 1e-9) m = 5;
        else if (f >= 2 - 1e-9) m = 2;
        else m = 1;
    } else if (f < 1.5) { /* the nearest nice step (Heckbert, Graphics Gems 1990) */
        m = 1;
    } else if (f < 3) {
        m = 2;
    } else if (f < 7) {
        m = 5;
    } else {
        m = 1;
        e += 1;
    }
    /* tick k is k*m*10^e, computed as an integer times or divided by a power
     * of ten so that 0.6 prints as 0.6, not 0.6000000000000001 */
    double scale = pow10i(e < 0 ? -e : e);
    double step = e < 0 ? m / scale : m * scale;
    double k0 = ceil(lo / step - 1e-9), k1 = floor(hi / step + 1e-9);
    /* ranges near the ends of double (1e-308 wide, or 1e308 large) */
    if (!isfinite(scale) || !(step > 0) || !isfinite(k0) || !isfinite(k1)) return 0;
    int n = 0;
    for (double k = k0; k <= k1 && n < max_ticks; k++) {
        double v = e < 0 ? (k * m) / scale : (k * m) * scale;
        ticks[n++] = v == 0 ? 0 : v; /* no -0 */
    }
    if (step_out) *step_out = step;
    return n;
}

void app_svg_tick_label(char *buf, size_t size, double v, double step)
{
    if (fabs(v) < step * 1e-6) v = 0;
    double big = fabs(v) > fabs(step) ? fabs(v) : fabs(step);
    int decimals = step > 0 ? (int)ceil(-log10(step) - 1e-9) : 0;
    if (decimals < 0) decimals = 0;
    if (big >= 1e6 || decimals > 5) snprintf(buf, size, "%.3g", v);
    else snprintf(buf, size, "%.*f", decimals, v);
}

void app_svg_put_text(app_buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)p);
    while (n) {
        unsigned char c = *p;
        size_t k = 1;
        if (c == '&') app_buf_puts(b, "&amp;");
        else if (c == '<') app_buf_puts(b, "&lt;");
        else if (c == '>') app_buf_puts(b, "&gt;");
        else if (c == '"') app_buf_puts(b, "&quot;");
        else if (c == '\'') app_buf_puts(b, "&apos;");
        else if (c < 0x20 || c == 0x7F) app_buf_putc(b, ' ');
        else if (c < 0x80) app_buf_putc(b, (char)c);
        else if ((k = app_utf8_sequence(p, n)) != 0) app_buf_append(b, p, k);
        else {
            app_buf_puts(b, "\xEF\xBF\xBD"); /* U+FFFD */
            k = 1;
        }
        p += k;
        n -= k;
    }
}
