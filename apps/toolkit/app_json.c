/* app_json.c - the JSON writer. */
#include "apps/toolkit/app_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/ad.h"

void app_json_init(app_json *w, int pretty)
{
    memset(w, 0, sizeof *w);
    app_buf_init(&w->out);
    w->pretty = pretty;
}

void app_json_free(app_json *w)
{
    app_buf_free(&w->out);
    app_json_init(w, w->pretty);
}

static int set_error(app_json *w, int err)
{
    if (!w->err) w->err = err;
    return w->err;
}

static void newline_indent(app_json *w)
{
    if (!w->pretty) return;
    app_buf_putc(&w->out, '\n');
    for (int i = 0; i < w->depth; i++) app_buf_puts(&w->out, "  ");
}

/* Everything that precedes a value: the comma, the indent, or a check that a
 * key was given inside an object.  Returns nonzero when the value must not be
 * written. */
static int before_value(app_json *w)
{
    if (w->err) return w->err;
    if (w->done) return set_error(w, AD_ERR_STATE); /* a second top-level value */
    if (w->depth > 0) {
        if (w->kind[w->depth - 1] == '{') {
            if (!w->have_key) return set_error(w, AD_ERR_STATE);
            w->have_key = 0;
        } else {
            if (w->count[w->depth - 1]++) app_buf_putc(&w->out, ',');
            newline_indent(w);
        }
    }
    return 0;
}

/* After a scalar or a closed container. */
static void after_value(app_json *w)
{
    if (w->depth == 0) w->done = 1;
    if (w->out.err) set_error(w, w->out.err);
}

static void put_escaped(app_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    app_buf_putc(b, '"');
    while (n) {
        unsigned char c = *p;
        size_t run = 0;
        /* copy plain runs at once */
        while (run < n && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\')
            run++;
        if (run) {
            app_buf_append(b, p, run);
            p += run;
            n -= run;
            continue;
        }
        if (c >= 0x80) {
            size_t k = app_utf8_sequence(p, n);
            if (k) {
                app_buf_append(b, p, k);
            } else {
                app_buf_puts(b, "\\ufffd");
                k = 1;
            }
            p += k;
            n -= k;
            continue;
        }
        switch (c) {
        case '"': app_buf_puts(b, "\\\""); break;
        case '\\': app_buf_puts(b, "\\\\"); break;
        case '\b': app_buf_puts(b, "\\b"); break;
        case '\f': app_buf_puts(b, "\\f"); break;
        case '\n': app_buf_puts(b, "\\n"); break;
        case '\r': app_buf_puts(b, "\\r"); break;
        case '\t': app_buf_puts(b, "\\t"); break;
        default: {
            char u[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
            app_buf_puts(b, u);
        }
        }
        p++;
        n--;
    }
    app_buf_putc(b, '"');
}

static void begin(app_json *w, char kind)
{
    if (before_value(w)) return;
    if (w->depth >= APP_JSON_MAX_DEPTH) {
        set_error(w, AD_ERR_STATE);
        return;
    }
    app_buf_putc(&w->out, kind);
    w->kind[w->depth] = kind;
    w->count[w->depth] = 0;
    w->depth++;
}

static void end(app_json *w, char kind)
{
    if (w->err) return;
    if (w->depth == 0 || w->kind[w->depth - 1] != kind || w->have_key) {
        set_error(w, AD_ERR_STATE);
        return;
    }
    int had = w->count[w->depth - 1];
    w->depth--;
    if (had) newline_indent(w);
    app_buf_putc(&w->out, kind == '{' ? '}' : ']');
    after_value(w);
}

void app_json_object_begin(app_json *w) { begin(w, '{'); }
void app_json_object_end(app_json *w) { end(w, '{'); }
void app_json_array_begin(app_json *w) { begin(w, '['); }
void app_json_array_end(app_json *w) { end(w, '['); }

void app_json_key(app_json *w, const char *key)
{
    if (w->err) return;
    if (w->depth == 0 || w->kind[w->depth - 1] != '{' || w->have_key || !key) {
        set_error(w, AD_ERR_STATE);
        return;
    }
    if (w->count[w->depth - 1]++) app_buf_putc(&w->out, ',');
    newline_indent(w);
    put_escaped(&w->out, key);
    app_buf_puts(&w->out, w->pretty ? ": " : ":");
    w->have_key = 1;
}

void app_json_string(app_json *w, const char *s)
{
    if (!s) {
        app_json_null(w);
        return;
    }
    if (before_value(w)) return;
    put_escaped(&w->out, s);
    after_value(w);
}

void app_json_number(app_json *w, double v)
{
    if (!isfinite(v)) {
        app_json_null(w);
        return;
    }
    if (before_value(w)) return;
    char text[40];
    /* the shortest of 15, 16, 17 significant digits that reads back exactly */
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, v);
        if (strtod(text, NULL) == v) break;
    }
    app_buf_puts(&w->out, text);
    after_value(w);
}

void app_json_int(app_json *w, long long v)
{
    if (before_value(w)) return;
    app_buf_printf(&w->out, "%lld", v);
    after_value(w);
}

void app_json_bool(app_json *w, int v)
{
    if (before_value(w)) return;
    app_buf_puts(&w->out, v ? "true" : "false");
    after_value(w);
}

void app_json_null(app_json *w)
{
    if (before_value(w)) return;
    app_buf_puts(&w->out, "null");
    after_value(w);
}

void app_json_key_string(app_json *w, const char *key, const char *s)
{
    app_json_key(w, key);
    app_json_string(w, s);
}

void app_json_key_number(app_json *w, const char *key, double v)
{
    app_json_key(w, key);
    app_json_number(w, v);
}

void app_json_key_int(app_json *w, const char *key, long long v)
{
    app_json_key(w, key);
    app_json_int(w, v);
}

void app_json_key_bool(app_json *w, const char *key, int v)
{
    app_json_key(w, key);
    app_json_bool(w, v);
}

void app_json_number_array(app_json *w, const double *v, size_t n)
{
    int pretty = w->pretty;
    app_json_array_begin(w);
    w->pretty = 0; /* numbers of one array on one line */
    for (size_t i = 0; i < n; i++) app_json_number(w, v[i]);
    app_json_array_end(w);
    w->pretty = pretty;
}

int app_json_finish(app_json *w, char *msg, size_t msg_size)
{
    if (!w->err && w->out.err) w->err = w->out.err;
    if (!w->err && !w->done) w->err = AD_ERR_STATE;
    if (!w->err) app_buf_putc(&w->out, '\n');
    if (!w->err && w->out.err) w->err = w->out.err;
    if (w->err && msg && msg_size)
        snprintf(msg, msg_size, "JSON writer: %s",
                 w->err == AD_ERR_NOMEM ? "out of memory"
                                        : "unbalanced document or a value without its key");
    return w->err;
}
