/* app_options.c - the declarative command-line parser. */
#include "apps/toolkit/app_options.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apps/toolkit/app_buf.h"
#include "autodiff/ad.h"

/* Fill msg with "program: <text> (try --help)" and return AD_ERR_ARG. */
static int fail(const app_cli *cli, char *msg, size_t size, const char *fmt, ...)
    APP_PRINTF_LIKE(4, 5);
static int fail(const app_cli *cli, char *msg, size_t size, const char *fmt, ...)
{
    if (msg && size) {
        char text[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof text, fmt, ap);
        va_end(ap);
        snprintf(msg, size, "%s: %s (try --help)", cli->program ? cli->program : "program", text);
    }
    return AD_ERR_ARG;
}

/* A printable, bounded copy of user text for a message: control and
 * non-ASCII bytes become '?', long values are cut with "...". */
static void quote_n(char *out, size_t size, const char *s, size_t len)
{
    size_t n = 0, i = 0, limit = size > 4 ? size - 4 : 0;
    for (; i < len && s[i] && n < limit; i++) {
        unsigned char c = (unsigned char)s[i];
        out[n++] = (c >= 0x20 && c < 0x7F) ? (char)c : '?';
    }
    if (i < len && s[i] && size >= 4) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    if (size) out[n < size ? n : size - 1] = '\0';
}

static void quote(char *out, size_t size, const char *s) { quote_n(out, size, s, (size_t)-1); }

static const app_option *find(const app_cli *cli, const char *name, size_t len)
{
    for (int i = 0; i < cli->n_options; i++) {
        const char *o = cli->options[i].name;
        if (strlen(o) == len && strncmp(o, name, len) == 0) return &cli->options[i];
    }
    return NULL;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* A decimal number (strtod also skips spaces and reads hex; accept a
 * decimal form only, plus the nan / inf spellings, which callers reject
 * unless allowed).  REAL_OK: finite; REAL_SPECIAL: nan or inf spelt out;
 * REAL_OVERFLOW: a decimal literal beyond the double range (1e999);
 * REAL_BAD: not a number. */
enum { REAL_OK, REAL_SPECIAL, REAL_OVERFLOW, REAL_BAD };
static int read_real(const char *text, double *out)
{
    const char *d = (*text == '-' || *text == '+') ? text + 1 : text;
    int decimal = is_digit(*d) || (*d == '.' && is_digit(d[1]));
    int special = (*d == 'n' || *d == 'N' || *d == 'i' || *d == 'I');
    if ((!decimal && !special) || (d[0] == '0' && (d[1] == 'x' || d[1] == 'X'))) return REAL_BAD;
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (*end || end == text) return REAL_BAD;
    *out = v;
    if (!isfinite(v)) return decimal ? REAL_OVERFLOW : REAL_SPECIAL;
    return REAL_OK;
}

int app_read_number(const char *text, size_t len, double *out, char *why, size_t why_size)
{
    char item[64], q[48];
    quote_n(q, sizeof q, text, len);
    double v = 0;
    int kind = REAL_BAD;
    if (len < sizeof item) {
        memcpy(item, text, len);
        item[len] = '\0';
        kind = read_real(item, &v);
    }
    if (kind == REAL_BAD) snprintf(why, why_size, "'%s' is not a number", q);
    else if (kind == REAL_OVERFLOW) snprintf(why, why_size, "'%s' is too large", q);
    else if (kind == REAL_SPECIAL) snprintf(why, why_size, "'%s' is not a finite number", q);
    if (kind != REAL_OK) return AD_ERR_ARG;
    *out = v;
    return AD_OK;
}

/* ---- temperature lists ---- */

int app_temperatures_parse(const char *text, int has_min, double min, int has_max, double max,
                           app_temperatures *out, char *why, size_t why_size)
{
    app_temperatures t = {0};
    char q[48];
#define WHY(...) (snprintf(why, why_size, __VA_ARGS__), AD_ERR_ARG)
    if (!text || !*text) return WHY("an empty list");
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0) {
            quote(q, sizeof q, text);
            return WHY("an empty entry in '%s'", q);
        }
        if (t.n == APP_MAX_TEMPERATURES) {
            int n = t.n + 1;
            for (const char *c = strchr(p, ','); c; c = strchr(c + 1, ',')) n++;
            return WHY("%d values (at most %d)", n, APP_MAX_TEMPERATURES);
        }
        quote_n(q, sizeof q, p, len);
        double v = 0;
        if (app_read_number(p, len, &v, why, why_size) != AD_OK) return AD_ERR_ARG;
        if (!(v > 0)) return WHY("'%s' is not positive (a temperature)", q);
        if (has_min && has_max && (v < min || v > max))
            return WHY("%s is out of range [%.15g, %.15g]", q, min, max);
        if (has_min && v < min) return WHY("%s is below the minimum %.15g", q, min);
        if (has_max && v > max) return WHY("%s is above the maximum %.15g", q, max);
        for (int k = 0; k < t.n; k++)
            if (t.kT[k] == v) return WHY("%.15g is given twice", v);
        /* insert in increasing order */
        int at = t.n;
        while (at > 0 && t.kT[at - 1] > v) {
            t.kT[at] = t.kT[at - 1];
            at--;
        }
        t.kT[at] = v;
        t.n++;
        if (!comma) break;
        p = comma + 1;
    }
#undef WHY
    *out = t;
    return AD_OK;
}

size_t app_temperatures_text(const app_temperatures *t, int exact, char *buf, size_t size)
{
    size_t need = 0;
    if (size) buf[0] = '\0';
    for (int k = 0; t && k < t->n; k++) {
        char one[40];
        int n = snprintf(one, sizeof one, exact ? "%s%.17g" : "%s%g", k ? "," : "", t->kT[k]);
        if (n < 0) break;
        if (need + (size_t)n < size) memcpy(buf + need, one, (size_t)n + 1);
        else if (size && need < size) buf[need] = '\0';
        need += (size_t)n;
    }
    return need;
}

/* Check the bounds of a numeric value already converted to double. */
static int check_range(const app_cli *cli, const app_option *o, double v, const char *text,
                       char *msg, size_t size)
{
    char q[48];
    quote(q, sizeof q, text);
    if (o->has_min && o->has_max && (v < o->min || v > o->max))
        return fail(cli, msg, size, "--%s: %s is out of range [%.15g, %.15g]", o->name, q,
                    o->min, o->max);
    if (o->has_min && v < o->min)
        return fail(cli, msg, size, "--%s: %s is below the minimum %.15g", o->name, q, o->min);
    if (o->has_max && v > o->max)
        return fail(cli, msg, size, "--%s: %s is above the maximum %.15g", o->name, q, o->max);
    return AD_OK;
}

/* Convert `text` for option o and store it. */
static int assign(const app_cli *cli, const app_option *o, const char *text, char *msg,
                  size_t size)
{
    char q[48];
    quote(q, sizeof q, text);
    char *end = NULL;
    switch (o->kind) {
    case APP_OPT_STRING:
        *(const char **)o->dest = text;
        return AD_OK;
    case APP_OPT_INT: {
        /* strtoll would skip leading spaces; require a sign or a digit first */
        const char *d = (*text == '-' || *text == '+') ? text + 1 : text;
        if (!is_digit(*d)) return fail(cli, msg, size, "--%s: '%s' is not an integer", o->name, q);
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (*end) return fail(cli, msg, size, "--%s: '%s' is not an integer", o->name, q);
        if (errno == ERANGE || v < INT_MIN || v > INT_MAX)
            return fail(cli, msg, size, "--%s: '%s' is too large for an integer", o->name, q);
        if (check_range(cli, o, (double)v, text, msg, size)) return AD_ERR_ARG;
        *(int *)o->dest = (int)v;
        return AD_OK;
    }
    case APP_OPT_UINT64: {
        const char *d = *text == '+' ? text + 1 : text;
        if (!is_digit(*d))
            return fail(cli, msg, size, "--%s: '%s' is not a non-negative integer", o->name, q);
        errno = 0;
        unsigned long long v = strtoull(d, &end, 10);
        if (*end)
            return fail(cli, msg, size, "--%s: '%s' is not a non-negative integer", o->name, q);
        int too_large = errno == ERANGE;
#if ULLONG_MAX > UINT64_MAX
        too_large = too_large || v > UINT64_MAX;
#endif
        if (too_large)
            return fail(cli, msg, size, "--%s: '%s' is too large (at most %llu)", o->name, q,
                        (unsigned long long)UINT64_MAX);
        if (check_range(cli, o, (double)v, text, msg, size)) return AD_ERR_ARG;
        *(uint64_t *)o->dest = (uint64_t)v;
        return AD_OK;
    }
    case APP_OPT_DOUBLE: {
        double v;
        int kind = read_real(text, &v);
        if (kind == REAL_BAD) return fail(cli, msg, size, "--%s: '%s' is not a number", o->name, q);
        if (kind == REAL_OVERFLOW) return fail(cli, msg, size, "--%s: '%s' is too large", o->name, q);
        if (kind == REAL_SPECIAL && !o->allow_nonfinite)
            return fail(cli, msg, size, "--%s: '%s' is not a finite number", o->name, q);
        if (!isnan(v) && check_range(cli, o, v, text, msg, size)) return AD_ERR_ARG;
        *(double *)o->dest = v;
        return AD_OK;
    }
    case APP_OPT_TEMPERATURES: {
        char why[160];
        if (app_temperatures_parse(text, o->has_min, o->min, o->has_max, o->max,
                                   (app_temperatures *)o->dest, why, sizeof why) != AD_OK)
            return fail(cli, msg, size, "--%s: %s", o->name, why);
        return AD_OK;
    }
    case APP_OPT_CHOICE: {
        const char *names = o->value_name ? o->value_name : "";
        int index = 0;
        for (const char *p = names;; index++) {
            const char *bar = strchr(p, '|');
            size_t n = bar ? (size_t)(bar - p) : strlen(p);
            if (n && strlen(text) == n && strncmp(text, p, n) == 0) {
                *(int *)o->dest = index;
                return AD_OK;
            }
            if (!bar) break;
            p = bar + 1;
        }
        char list[128];
        snprintf(list, sizeof list, "%s", names);
        for (char *c = list; *c; c++)
            if (*c == '|') *c = '/';
        return fail(cli, msg, size, "--%s: '%s' is not one of %s", o->name, q, list);
    }
    case APP_OPT_FLAG:
        break;
    }
    return fail(cli, msg, size, "--%s: bad option table entry", o->name);
}

int app_options_parse(const app_cli *cli, int argc, char **argv, char *msg, size_t msg_size)
{
    if (msg && msg_size) msg[0] = '\0';
    if (!cli || (cli->n_options > 0 && !cli->options) || argc < 0 || (argc > 0 && !argv))
        return AD_ERR_ARG;
    for (int i = 0; i < cli->n_options; i++)
        if (!cli->options[i].name || !cli->options[i].dest)
            return fail(cli, msg, msg_size, "option table entry %d is incomplete", i);
    /* --help anywhere wins over every other argument, even a bad one */
    for (int i = 1; i < argc && argv[i]; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return APP_OPTIONS_HELP;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        char q[48];
        if (!arg) break;
        quote(q, sizeof q, arg);
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0' || arg[2] == '=') {
            if (arg[0] == '-' && arg[1] != '\0')
                return fail(cli, msg, msg_size, "unknown option '%s'", q);
            return fail(cli, msg, msg_size, "unexpected argument '%s'", q);
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const app_option *o = find(cli, name, len);
        if (!o) {
            quote_n(q, sizeof q, arg, len + 2); /* without any "=value" */
            return fail(cli, msg, msg_size, "unknown option '%s'", q);
        }
        if (o->kind == APP_OPT_FLAG) {
            if (eq) return fail(cli, msg, msg_size, "--%s takes no value", o->name);
            *(int *)o->dest = 1;
            continue;
        }
        const char *value;
        if (eq) {
            value = eq + 1;
        } else {
            /* "--out --quick" is a forgotten value, not a directory named
             * "--quick"; such a value can still be given as --out=--quick */
            if (i + 1 >= argc || !argv[i + 1] || strncmp(argv[i + 1], "--", 2) == 0)
                return fail(cli, msg, msg_size, "--%s: missing value", o->name);
            value = argv[++i];
        }
        if ((o->kind == APP_OPT_STRING || o->kind == APP_OPT_TEMPERATURES ||
             o->kind == APP_OPT_CHOICE) && value[0] == '\0')
            return fail(cli, msg, msg_size, "--%s: empty value", o->name);
        if (assign(cli, o, value, msg, msg_size)) return AD_ERR_ARG;
    }
    return AD_OK;
}

static const char *kind_value_name(app_opt_kind k)
{
    switch (k) {
    case APP_OPT_INT: return "N";
    case APP_OPT_UINT64: return "N";
    case APP_OPT_DOUBLE: return "X";
    case APP_OPT_STRING: return "S";
    case APP_OPT_TEMPERATURES: return "LIST";
    case APP_OPT_CHOICE: return "NAME";
    case APP_OPT_FLAG: break;
    }
    return "";
}

/* The current value of a destination, as the --help default. */
static void current_value(const app_option *o, char *out, size_t size)
{
    out[0] = '\0';
    switch (o->kind) {
    case APP_OPT_INT: snprintf(out, size, "%d", *(const int *)o->dest); break;
    case APP_OPT_UINT64:
        snprintf(out, size, "%llu", (unsigned long long)*(const uint64_t *)o->dest);
        break;
    case APP_OPT_DOUBLE: snprintf(out, size, "%g", *(const double *)o->dest); break;
    case APP_OPT_STRING: {
        const char *s = *(const char *const *)o->dest;
        if (s) snprintf(out, size, "%s", s);
        break;
    }
    case APP_OPT_TEMPERATURES: app_temperatures_text(o->dest, 0, out, size); break;
    case APP_OPT_CHOICE: {
        /* the index-th name of value_name */
        const char *p = o->value_name ? o->value_name : "";
        for (int k = *(const int *)o->dest; k > 0 && p; k--) {
            p = strchr(p, '|');
            if (p) p++;
        }
        if (p) snprintf(out, size, "%.*s", (int)strcspn(p, "|"), p);
        break;
    }
    case APP_OPT_FLAG: break;
    }
}

size_t app_options_usage(const app_cli *cli, char *buf, size_t size)
{
    app_buf b;
    app_buf_init(&b);
    app_buf_printf(&b, "usage: %s [options]\n", cli->program ? cli->program : "program");
    if (cli->description && *cli->description) app_buf_printf(&b, "\n%s\n", cli->description);
    app_buf_puts(&b, "\noptions:\n");
    int width = 6; /* "--help" */
    for (int i = 0; i < cli->n_options; i++) {
        const app_option *o = &cli->options[i];
        const char *v = o->value_name ? o->value_name : kind_value_name(o->kind);
        int w = (int)(strlen(o->name) + 2 + (*v ? strlen(v) + 1 : 0));
        if (w > width) width = w;
    }
    for (int i = 0; i < cli->n_options; i++) {
        const app_option *o = &cli->options[i];
        const char *v = o->value_name ? o->value_name : kind_value_name(o->kind);
        char head[128], def[64];
        snprintf(head, sizeof head, "--%s%s%s", o->name, *v ? " " : "", v);
        app_buf_printf(&b, "  %-*s  %s", width, head, o->help ? o->help : "");
        /* A help line that states its own default (one that depends on
         * other options, say) is not given the variable's initial value. */
        current_value(o, def, sizeof def);
        if (*def && !(o->help && strstr(o->help, "default")))
            app_buf_printf(&b, " (default %s)", def);
        app_buf_putc(&b, '\n');
    }
    app_buf_printf(&b, "  %-*s  %s\n", width, "--help", "print this help and exit");
    size_t need = b.err ? 0 : b.len;
    if (size) {
        size_t n = need < size ? need : size - 1;
        if (n) memcpy(buf, b.data, n);
        buf[n] = '\0';
    }
    app_buf_free(&b);
    return need;
}

void app_options_print_usage(const app_cli *cli, FILE *stream)
{
    size_t need = app_options_usage(cli, NULL, 0);
    char *text = ad_malloc(need + 1);
    if (!text) return;
    app_options_usage(cli, text, need + 1);
    fputs(text, stream);
    ad_free(text);
}

int app_options_handle(const app_cli *cli, int argc, char **argv)
{
    char msg[512];
    int rc = app_options_parse(cli, argc, argv, msg, sizeof msg);
    if (rc == APP_OPTIONS_HELP) {
        app_options_print_usage(cli, stdout);
        return 0;
    }
    if (rc != AD_OK) {
        fprintf(stderr, "%s\n", msg[0] ? msg : "bad command line (try --help)");
        return 2;
    }
    return -1;
}

/* ---- training temperatures ---- */

int app_train_temperatures_check(const char *program, const app_temperatures *t,
                                 const app_temperatures *extra, char *msg, size_t size)
{
    const app_cli cli = {program, NULL, NULL, 0};
    if (!extra->n) return AD_OK;
    if (!t->n) return fail(&cli, msg, size, "--train-temperatures needs --temperatures");
    if (t->n + extra->n > APP_MAX_TEMPERATURES)
        return fail(&cli, msg, size,
                    "--temperatures and --train-temperatures give %d temperatures together "
                    "(at most %d)",
                    t->n + extra->n, APP_MAX_TEMPERATURES);
    for (int i = 0; i < extra->n; i++)
        for (int j = 0; j < t->n; j++)
            if (extra->kT[i] == t->kT[j])
                return fail(&cli, msg, size,
                            "--train-temperatures: %g is already in --temperatures (list each "
                            "temperature once)",
                            extra->kT[i]);
    return AD_OK;
}

/* ---- the coupling family ---- */

int app_coupling_check(const char *program, app_coupling *c, char *msg, size_t size)
{
    const app_cli cli = {program, NULL, NULL, 0};
    if (c->kind != APP_COUPLING_AFFINE && c->kind != APP_COUPLING_SPLINE)
        return fail(&cli, msg, size, "--coupling: unknown coupling %d", c->kind);
    if (c->kind == APP_COUPLING_AFFINE) {
        if (c->bins) return fail(&cli, msg, size, "--spline-bins needs --coupling spline");
        if (c->bound != 0) return fail(&cli, msg, size, "--spline-bound needs --coupling spline");
        return AD_OK;
    }
    if (!c->bins) c->bins = APP_COUPLING_DEFAULT_BINS;
    if (c->bound == 0) c->bound = APP_COUPLING_DEFAULT_BOUND;
    return AD_OK;
}

int app_coupling_text(const app_coupling *c, char *buf, size_t size)
{
    if (!c || c->kind == APP_COUPLING_AFFINE) return snprintf(buf, size, "%s", "");
    return snprintf(buf, size, "spline bins %d bound %.17g", c->bins, c->bound);
}

void app_label_append_settings(const app_temperatures *t, const app_coupling *c, char *buf,
                               size_t size)
{
    if (t && t->n) {
        size_t n = strlen(buf);
        snprintf(buf + n, size - n, " temperatures=");
        n = strlen(buf);
        app_temperatures_text(t, 1, buf + n, size - n);
    }
    if (c && c->kind != APP_COUPLING_AFFINE) {
        size_t n = strlen(buf);
        snprintf(buf + n, size - n, " coupling=");
        n = strlen(buf);
        app_coupling_text(c, buf + n, size - n);
    }
}

void app_coupling_append_title(const app_coupling *c, char *buf, size_t size)
{
    if (!c || c->kind != APP_COUPLING_SPLINE) return;
    size_t n = strlen(buf);
    snprintf(buf + n, size - n, ", spline couplings (%d bins on [-%g, %g])", c->bins, c->bound,
             c->bound);
}
