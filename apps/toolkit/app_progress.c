/* app_progress.c - the progress line. */
#include "apps/toolkit/app_progress.h"

#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double app_clock_seconds(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return 0;
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void app_progress_format_duration(char *buf, size_t size, double s)
{
    if (!isfinite(s) || s < 0) {
        snprintf(buf, size, "?");
        return;
    }
    if (s > 99.0 * 3600) {
        snprintf(buf, size, ">99h");
        return;
    }
    long t = (long)(s + 0.5);
    if (t < 60) snprintf(buf, size, "%lds", t);
    else if (t < 3600) snprintf(buf, size, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, size, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
}

/* A loss value in a few characters: 3 significant digits, whole numbers
 * from 1000 on (so -1234.5 prints as -1234, not -1.23e+03). */
static void format_value(char *buf, size_t size, double v)
{
    if (isfinite(v) && fabs(v) >= 1000 && fabs(v) < 1e9) snprintf(buf, size, "%.0f", v);
    else snprintf(buf, size, "%.3g", v);
}

int app_progress_format(char *buf, size_t size, const app_progress_line *l)
{
    char text[512], v[32];
    size_t n = 0;
#define PUT(...)                                                                    \
    do {                                                                            \
        int k_ = snprintf(text + n, sizeof text - n, __VA_ARGS__);                  \
        if (k_ > 0) n = (size_t)k_ < sizeof text - n ? n + (size_t)k_ : sizeof text - 1; \
    } while (0)
    if (l->n_stages > 0) PUT("stage %d/%d  ", l->stage, l->n_stages);
    if (l->stage_name && *l->stage_name) PUT("%.32s  ", l->stage_name);
    if (l->total > 0) PUT("it %ld/%ld", l->iteration, l->total);
    else PUT("it %ld", l->iteration);
    for (int i = 0; i < l->n_values && l->values; i++) {
        format_value(v, sizeof v, l->values[i].value);
        const char *name = l->values[i].name ? l->values[i].name : "";
        if (i == 0) PUT("  %.24s %s", name, v);
        else PUT("%s%.24s %s", i == 1 ? " (" : " ", name, v);
        if (i > 0 && i == l->n_values - 1) PUT(")");
    }
    /* Below 50 ms of elapsed time the rate is dominated by clock granularity
     * and start-up costs (e.g. "8130077 it/s" after one iteration): omit it. */
    double rate = l->elapsed >= 0.05 ? (double)l->iteration / l->elapsed : NAN;
    if (isfinite(rate) && l->iteration > 0) {
        if (rate >= 10) PUT("  %.0f it/s", rate);
        else PUT("  %.2g it/s", rate);
        if (l->total > 0 && l->iteration <= l->total) {
            char eta[16];
            app_progress_format_duration(eta, sizeof eta, (double)(l->total - l->iteration) / rate);
            PUT("  eta %s", eta);
        }
    }
#undef PUT
    return snprintf(buf, size, "%s", text);
}

void app_progress_init(app_progress *p, FILE *stream, double interval)
{
    memset(p, 0, sizeof *p);
    p->stream = stream ? stream : stderr;
    p->tty = isatty(fileno(p->stream)) ? 1 : 0;
    p->interval = interval > 0 ? interval : 5.0;
    p->stage_start = p->last_print = app_clock_seconds();
}

void app_progress_stage(app_progress *p, int stage, int n_stages, const char *name, long total)
{
    if (p->line_open) app_progress_done(p);
    p->stage = stage;
    p->n_stages = n_stages;
    p->stage_name = name;
    p->total = total;
    p->stage_start = app_clock_seconds();
    p->printed = 0;
    p->last[0] = '\0';
}

void app_progress_update(app_progress *p, long iteration, const app_progress_value *values,
                         int n_values)
{
    double now = app_clock_seconds();
    int last = p->total > 0 && iteration >= p->total;
    /* a terminal is redrawn at most 10 times a second */
    double gap = p->tty ? 0.1 : p->interval;
    if (p->printed && !last && now - p->last_print < gap) return;
    app_progress_line l = {p->stage, p->n_stages, p->stage_name, iteration, p->total,
                           values, n_values, now - p->stage_start};
    app_progress_format(p->last, sizeof p->last, &l);
    if (p->tty) {
        fprintf(p->stream, "\r%s\033[K", p->last);
        p->line_open = 1;
    } else {
        fprintf(p->stream, "%s\n", p->last);
    }
    fflush(p->stream);
    p->printed = 1;
    p->last_print = now;
}

void app_progress_done(app_progress *p)
{
    if (p->line_open) {
        fputc('\n', p->stream);
        fflush(p->stream);
        p->line_open = 0;
    }
}
