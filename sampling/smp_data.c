/* smp_data.c - data sets: CSV input and output, shuffling, mini-batches. */
#include "smp_data.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int say(char *msg, size_t msg_len, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static int say(char *msg, size_t msg_len, int code, const char *fmt, ...)
{
    if (msg && msg_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, msg_len, fmt, ap);
        va_end(ap);
    }
    return code;
}

static char *copy_string(const char *s, size_t len)
{
    char *c = ad_malloc(len + 1);
    if (c) {
        memcpy(c, s, len);
        c[len] = '\0';
    }
    return c;
}

smp_dataset *smp_dataset_new(int n, int dim)
{
    if (n < 0 || dim < 1) return NULL;
    smp_dataset *d = ad_calloc(1, sizeof *d);
    if (!d) return NULL;
    d->n = n;
    d->dim = dim;
    d->x = ad_calloc((size_t)n * (size_t)dim + 1, sizeof(ad_real));
    if (!d->x) {
        ad_free(d);
        return NULL;
    }
    return d;
}

/* Give d a copy of dim names; 0 on success. */
static int set_names(smp_dataset *d, const char *const *names)
{
    d->names = ad_calloc((size_t)d->dim, sizeof(char *));
    if (!d->names) return -1;
    for (int j = 0; j < d->dim; j++)
        if (!(d->names[j] = copy_string(names[j], strlen(names[j])))) return -1;
    return 0;
}

smp_dataset *smp_dataset_from(const ad_real *x, int n, int dim, const char *const *names)
{
    smp_dataset *d = smp_dataset_new(n, dim);
    if (!d) return NULL;
    if (n > 0 && x) memcpy(d->x, x, (size_t)n * (size_t)dim * sizeof(ad_real));
    if (names && set_names(d, names) != 0) {
        smp_dataset_free(d);
        return NULL;
    }
    return d;
}

void smp_dataset_free(smp_dataset *d)
{
    if (!d) return;
    if (d->names)
        for (int j = 0; j < d->dim; j++) ad_free(d->names[j]);
    ad_free(d->names);
    ad_free(d->x);
    ad_free(d);
}

int smp_csv_write(const char *path, const ad_real *x, int n, int dim, const char *const *names,
                  char *msg, size_t msg_len)
{
    if (!path || dim < 1 || n < 0 || (n > 0 && !x))
        return say(msg, msg_len, AD_ERR_ARG, "smp_csv_write: bad arguments (path, n %d, dim %d)",
                   n, dim);
    for (int j = 0; names && j < dim; j++)
        if (!names[j] || strpbrk(names[j], ",\"\r\n"))
            return say(msg, msg_len, AD_ERR_ARG, "smp_csv_write: column name %d is NULL or holds "
                       "a comma, quote or newline", j);
    size_t len = strlen(path);
    char *tmp = ad_malloc(len + 5);
    if (!tmp) return say(msg, msg_len, AD_ERR_NOMEM, "smp_csv_write: out of memory");
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".tmp", 5);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        int code = say(msg, msg_len, AD_ERR_IO, "%s: cannot open for writing: %s", tmp,
                       strerror(errno));
        ad_free(tmp);
        return code;
    }
    for (int j = 0; j < dim; j++) {
        if (names) fputs(names[j], f);
        else fprintf(f, "x%d", j);
        fputc(j + 1 < dim ? ',' : '\n', f);
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < dim; j++) {
            fprintf(f, "%.17g", (double)x[(size_t)i * dim + j]);
            fputc(j + 1 < dim ? ',' : '\n', f);
        }
    int bad = ferror(f);
    if (fclose(f) != 0) bad = 1;
    int status = AD_OK;
    if (bad) {
        status = say(msg, msg_len, AD_ERR_IO, "%s: write failed", tmp);
        remove(tmp);
    } else if (rename(tmp, path) != 0) {
        status = say(msg, msg_len, AD_ERR_IO, "%s: cannot rename to %s: %s", tmp, path,
                     strerror(errno));
        remove(tmp);
    }
    ad_free(tmp);
    return status;
}

/* One line without its end-of-line characters into *buf (grown with
 * ad_realloc).  Returns 1 for a line, 0 at end of file, -1 out of memory. */
static int read_line(FILE *f, char **buf, size_t *cap)
{
    size_t len = 0;
    int c, any = 0;
    while ((c = fgetc(f)) != EOF) {
        any = 1;
        if (c == '\n') break;
        if (len + 2 > *cap) {
            size_t ncap = *cap ? 2 * *cap : 256;
            char *nb = ad_realloc(*buf, ncap);
            if (!nb) return -1;
            *buf = nb;
            *cap = ncap;
        }
        (*buf)[len++] = (char)c;
    }
    if (!any) return 0;
    if (!*buf) {
        *buf = ad_malloc(256);
        if (!*buf) return -1;
        *cap = 256;
    }
    if (len > 0 && (*buf)[len - 1] == '\r') len--;
    (*buf)[len] = '\0';
    return 1;
}

static int blank(const char *s)
{
    while (*s && isspace((unsigned char)*s)) s++;
    return *s == '\0';
}

static int count_fields(const char *s)
{
    int n = 1;
    for (; *s; s++) n += *s == ',';
    return n;
}

typedef struct reader {
    const char *path;
    FILE *f;
    char *line;
    size_t cap;
    ad_real *x;
    size_t n_rows, cap_rows;
    char **names;
    int dim;
} reader;

static void reader_free(reader *r)
{
    if (r->f) fclose(r->f);
    ad_free(r->line);
    ad_free(r->x);
    if (r->names)
        for (int j = 0; j < r->dim; j++) ad_free(r->names[j]);
    ad_free(r->names);
}

/* Parse the header line into r->names; returns AD_OK or an error. */
static int parse_header(reader *r, char *msg, size_t msg_len)
{
    r->dim = count_fields(r->line);
    r->names = ad_calloc((size_t)r->dim, sizeof(char *));
    if (!r->names) return say(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", r->path);
    const char *s = r->line;
    for (int j = 0; j < r->dim; j++) {
        const char *end = strchr(s, ',');
        if (!end) end = s + strlen(s);
        while (s < end && isspace((unsigned char)*s)) s++;
        const char *e = end;
        while (e > s && isspace((unsigned char)e[-1])) e--;
        if (e == s)
            return say(msg, msg_len, AD_ERR_FORMAT, "%s:1: header column %d has no name", r->path,
                       j + 1);
        if (!(r->names[j] = copy_string(s, (size_t)(e - s))))
            return say(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", r->path);
        s = *end ? end + 1 : end;
    }
    return AD_OK;
}

/* Parse one data line (line number lineno) into a new row. */
static int parse_row(reader *r, long lineno, int allow_nonfinite, char *msg, size_t msg_len)
{
    int fields = count_fields(r->line);
    if (fields != r->dim)
        return say(msg, msg_len, AD_ERR_FORMAT, "%s:%ld: %d fields, expected %d (the header has "
                   "%d columns)", r->path, lineno, fields, r->dim, r->dim);
    if (r->n_rows >= (size_t)INT_MAX)
        return say(msg, msg_len, AD_ERR_FORMAT, "%s:%ld: more than %d rows", r->path, lineno,
                   INT_MAX);
    if (r->n_rows == r->cap_rows) {
        /* the first block holds about 8 KiB of values whatever the width, so
         * a header with a million columns does not reserve 1024 such rows */
        size_t first = (size_t)1024 / (size_t)r->dim;
        size_t ncap = r->cap_rows ? 2 * r->cap_rows : (first ? first : 1);
        ad_real *nx = ad_realloc(r->x, ncap * (size_t)r->dim * sizeof(ad_real));
        if (!nx) return say(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", r->path);
        r->x = nx;
        r->cap_rows = ncap;
    }
    ad_real *row = r->x + r->n_rows * (size_t)r->dim;
    char *s = r->line;
    for (int j = 0; j < r->dim; j++) {
        char *end;
        double v = strtod(s, &end);
        char *after = end;
        while (*after && *after != ',' && isspace((unsigned char)*after)) after++;
        if (end == s || (*after && *after != ',')) {
            char *stop = strchr(s, ',');
            int flen = stop ? (int)(stop - s) : (int)strlen(s);
            return say(msg, msg_len, AD_ERR_FORMAT, "%s:%ld: column %d: '%.*s' is not a number",
                       r->path, lineno, j + 1, flen > 40 ? 40 : flen, s);
        }
        if (!allow_nonfinite && !isfinite(v))
            return say(msg, msg_len, AD_ERR_NUMERIC, "%s:%ld: column %d: non-finite value %g",
                       r->path, lineno, j + 1, v);
        row[j] = (ad_real)v;
        s = *after ? after + 1 : after;
    }
    r->n_rows++;
    return AD_OK;
}

int smp_csv_read(const char *path, int allow_nonfinite, smp_dataset **out, char *msg,
                 size_t msg_len)
{
    if (!path || !out) return say(msg, msg_len, AD_ERR_ARG, "smp_csv_read: NULL path or out");
    *out = NULL;
    reader r = {path, NULL, NULL, 0, NULL, 0, 0, NULL, 0};
    r.f = fopen(path, "r");
    if (!r.f) return say(msg, msg_len, AD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    int status = AD_OK, got;
    long lineno = 0;
    while ((got = read_line(r.f, &r.line, &r.cap)) == 1) {
        lineno++;
        if (blank(r.line)) continue;
        status = r.names ? parse_row(&r, lineno, allow_nonfinite, msg, msg_len)
                         : parse_header(&r, msg, msg_len);
        if (status != AD_OK) break;
    }
    if (status == AD_OK && got < 0)
        status = say(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", path);
    if (status == AD_OK && ferror(r.f))
        status = say(msg, msg_len, AD_ERR_IO, "%s: read error", path);
    if (status == AD_OK && !r.names)
        status = say(msg, msg_len, AD_ERR_FORMAT, "%s: empty file (no header line)", path);
    if (status == AD_OK) {
        smp_dataset *d = ad_calloc(1, sizeof *d);
        if (!d) {
            status = say(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", path);
        } else {
            d->n = (int)r.n_rows;
            d->dim = r.dim;
            d->x = r.x ? r.x : ad_calloc(1, sizeof(ad_real));
            d->names = r.names;
            r.x = NULL;
            r.names = NULL;
            if (!d->x) {
                smp_dataset_free(d);
                status = say(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", path);
            } else {
                *out = d;
            }
        }
    }
    reader_free(&r);
    return status;
}

int smp_shuffle_rows(ad_real *x, int n, int dim, ad_rng *r)
{
    if (n < 0 || dim < 1 || !r || (n > 0 && !x)) return AD_ERR_ARG;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)ad_rng_below(r, (uint64_t)i + 1);
        if (j == i) continue;
        ad_real *a = x + (size_t)i * dim, *b = x + (size_t)j * dim;
        for (int k = 0; k < dim; k++) {
            ad_real tmp = a[k];
            a[k] = b[k];
            b[k] = tmp;
        }
    }
    return AD_OK;
}

int smp_sample_rows(const ad_real *x, int n, int dim, ad_rng *r, int batch, ad_real *out,
                    int *index)
{
    if (n < 1 || dim < 1 || !r || !x || batch < 0 || (batch > 0 && !out)) return AD_ERR_ARG;
    for (int b = 0; b < batch; b++) {
        int i = (int)ad_rng_below(r, (uint64_t)n);
        memcpy(out + (size_t)b * dim, x + (size_t)i * dim, (size_t)dim * sizeof(ad_real));
        if (index) index[b] = i;
    }
    return AD_OK;
}
