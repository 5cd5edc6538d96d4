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

#include "autodiff/ad_dist.h"
#include "autodiff/ad_file.h"

static char *copy_string(const char *s, size_t len)
{
    char *c = ad_malloc(len + 1);
    if (c) {
        memcpy(c, s, len);
        c[len] = '\0';
    }
    return c;
}

/* A byte that has no place in CSV text: ASCII controls other than the tab
 * (line ends are taken apart before this is asked), and DEL. */
static int control_byte(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
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

static int csv_write_here(const char *path, const ad_real *x, int n, int dim,
                          const char *const *names, char *msg, size_t msg_len)
{
    /* "" must not become ".tmp" in the current directory */
    int rc = ad_path_check(path, "smp_csv_write", "the file name", msg, msg_len);
    if (rc != AD_OK) return rc;
    if (dim < 1 || n < 0 || (n > 0 && !x))
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "smp_csv_write: bad arguments (n %d, dim %d)", n,
                   dim);
    for (int j = 0; names && j < dim; j++) {
        if (!names[j] || strpbrk(names[j], ",\""))
            return ad_status_fail(msg, msg_len, AD_ERR_ARG, "smp_csv_write: column name %d is NULL or holds "
                       "a comma or a quote", j);
        for (const unsigned char *c = (const unsigned char *)names[j]; *c; c++)
            if (control_byte(*c))
                return ad_status_fail(msg, msg_len, AD_ERR_ARG, "smp_csv_write: column name %d holds the "
                           "control byte 0x%02x (a newline, CR or other)", j, *c);
    }
    char *tmp = ad_path_format("%s.tmp", path);
    if (!tmp) return ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "smp_csv_write: out of memory");
    FILE *f = NULL;
    rc = ad_file_open_write(tmp, NULL, &f, msg, msg_len);
    if (rc != AD_OK) {
        ad_free(tmp);
        return rc;
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
        status = ad_status_fail(msg, msg_len, AD_ERR_IO, "%s: write failed", tmp);
        remove(tmp);
    } else if (rename(tmp, path) != 0) {
        status = ad_status_fail(msg, msg_len, AD_ERR_IO, "%s: cannot rename to %s: %s", tmp, path,
                     strerror(errno));
        remove(tmp);
    }
    ad_free(tmp);
    return status;
}

/* In the MPI build a collective call: rank 0 writes, every rank returns its
 * status (autodiff/ad_dist.h). */
int smp_csv_write(const char *path, const ad_real *x, int n, int dim, const char *const *names,
                  char *msg, size_t msg_len)
{
    int rc = AD_OK;
    if (ad_dist_root_begin()) rc = csv_write_here(path, x, n, dim, names, msg, msg_len);
    return ad_dist_root_end(rc, msg, msg_len);
}

/* One line without its end-of-line characters into *buf (grown with
 * ad_realloc), its length in *len (NUL bytes included, so they can be
 * reported).  *total counts the bytes read so far; past max_bytes the read
 * stops.  Returns 1 for a line, 0 at end of file, -1 out of memory, -2 over
 * the limit. */
static int read_line(FILE *f, char **buf, size_t *cap, size_t *len_out, size_t *total,
                     size_t max_bytes)
{
    size_t len = 0;
    int c, any = 0;
    while ((c = fgetc(f)) != EOF) {
        if (++*total > max_bytes) return -2;
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
    *len_out = len;
    return 1;
}

/* CSV is text: a NUL or another control byte anywhere (a checkpoint, an
 * image, a damaged file) stops the read with the line and the byte.  A line 1
 * that starts with the checkpoint magic and is not text is named as what it
 * is (text that merely starts with those letters is a column name). */
static int check_text(const char *path, long lineno, const char *line, size_t len, char *msg,
                      size_t msg_len)
{
    static const char magic[8] = {'L', 'I', 'B', 'B', 'G', 'C', 'K', 'P'};
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c != 0 && !control_byte(c)) continue;
        if (lineno == 1 && len >= sizeof magic && memcmp(line, magic, sizeof magic) == 0)
            return ad_status_fail(msg, msg_len, AD_ERR_FORMAT, "%s:1: a libbg checkpoint (binary), not a "
                       "CSV file", path);
        if (c == 0)
            return ad_status_fail(msg, msg_len, AD_ERR_FORMAT, "%s:%ld: NUL byte at byte %zu of the line: "
                       "a binary file, not CSV text", path, lineno, i + 1);
        return ad_status_fail(msg, msg_len, AD_ERR_FORMAT, "%s:%ld: control byte 0x%02x at byte %zu of "
                   "the line: a binary file, not CSV text", path, lineno, c, i + 1);
    }
    return AD_OK;
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
    if (!r->names) return ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", r->path);
    const char *s = r->line;
    for (int j = 0; j < r->dim; j++) {
        const char *end = strchr(s, ',');
        if (!end) end = s + strlen(s);
        while (s < end && isspace((unsigned char)*s)) s++;
        const char *e = end;
        while (e > s && isspace((unsigned char)e[-1])) e--;
        if (e == s)
            return ad_status_fail(msg, msg_len, AD_ERR_FORMAT, "%s:1: header column %d has no name", r->path,
                       j + 1);
        if (!(r->names[j] = copy_string(s, (size_t)(e - s))))
            return ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", r->path);
        s = *end ? end + 1 : end;
    }
    return AD_OK;
}

/* Parse one data line (line number lineno) into a new row. */
static int parse_row(reader *r, long lineno, int allow_nonfinite, char *msg, size_t msg_len)
{
    int fields = count_fields(r->line);
    if (fields != r->dim)
        return ad_status_fail(msg, msg_len, AD_ERR_FORMAT, "%s:%ld: %d fields, expected %d (the header has "
                   "%d columns)", r->path, lineno, fields, r->dim, r->dim);
    if (r->n_rows >= (size_t)INT_MAX)
        return ad_status_fail(msg, msg_len, AD_ERR_FORMAT, "%s:%ld: more than %d rows", r->path, lineno,
                   INT_MAX);
    if (r->n_rows == r->cap_rows) {
        /* the first block holds about 8 KiB of values whatever the width, so
         * a header with a million columns does not reserve 1024 such rows */
        size_t first = (size_t)1024 / (size_t)r->dim;
        size_t ncap = r->cap_rows ? 2 * r->cap_rows : (first ? first : 1);
        ad_real *nx = ad_realloc(r->x, ncap * (size_t)r->dim * sizeof(ad_real));
        if (!nx) return ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", r->path);
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
            return ad_status_fail(msg, msg_len, AD_ERR_FORMAT, "%s:%ld: column %d: '%.*s' is not a number",
                       r->path, lineno, j + 1, flen > 40 ? 40 : flen, s);
        }
        if (!allow_nonfinite && !isfinite(v))
            return ad_status_fail(msg, msg_len, AD_ERR_NUMERIC, "%s:%ld: column %d: non-finite value %g",
                       r->path, lineno, j + 1, v);
        /* a finite value beyond the range of ad_real (1e300 in a float
         * build) is refused too, rather than read as an infinity */
        if (!allow_nonfinite && isfinite(v) && !isfinite((double)(ad_real)v))
            return ad_status_fail(msg, msg_len, AD_ERR_NUMERIC,
                       "%s:%ld: column %d: value %g out of range (largest %g)", r->path,
                       lineno, j + 1, v, (double)AD_REAL_MAX);
        row[j] = (ad_real)v;
        s = *after ? after + 1 : after;
    }
    r->n_rows++;
    return AD_OK;
}

int smp_csv_read(const char *path, int allow_nonfinite, smp_dataset **out, char *msg,
                 size_t msg_len)
{
    return smp_csv_read_max(path, allow_nonfinite, SMP_CSV_MAX_BYTES, out, msg, msg_len);
}

int smp_csv_read_max(const char *path, int allow_nonfinite, size_t max_bytes, smp_dataset **out,
                     char *msg, size_t msg_len)
{
    if (!out) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "smp_csv_read: NULL out");
    *out = NULL;
    int status = ad_path_check(path, "smp_csv_read", "the file name", msg, msg_len);
    if (status != AD_OK) return status;
    reader r = {path, NULL, NULL, 0, NULL, 0, 0, NULL, 0};
    /* a regular file of at most max_bytes, or a message naming what it is */
    status = ad_file_open_read(path, NULL, max_bytes, &r.f, NULL, msg, msg_len);
    if (status != AD_OK) return status;
    int got;
    long lineno = 0;
    size_t len = 0, total = 0;
    while ((got = read_line(r.f, &r.line, &r.cap, &len, &total, max_bytes)) == 1) {
        lineno++;
        status = check_text(path, lineno, r.line, len, msg, msg_len);
        if (status != AD_OK) break;
        if (blank(r.line)) continue;
        status = r.names ? parse_row(&r, lineno, allow_nonfinite, msg, msg_len)
                         : parse_header(&r, msg, msg_len);
        if (status != AD_OK) break;
    }
    if (status == AD_OK && got == -1)
        status = ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", path);
    if (status == AD_OK && got == -2)
        status = ad_status_fail(msg, msg_len, AD_ERR_FORMAT, "%s:%ld: the file grew past the limit of %zu "
                     "bytes while being read", path, lineno + 1, max_bytes);
    if (status == AD_OK && ferror(r.f))
        status = ad_status_fail(msg, msg_len, AD_ERR_IO, "%s: read error", path);
    if (status == AD_OK && !r.names)
        status = ad_status_fail(msg, msg_len, AD_ERR_FORMAT, "%s: empty file (no header line)", path);
    if (status == AD_OK) {
        smp_dataset *d = ad_calloc(1, sizeof *d);
        if (!d) {
            status = ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", path);
        } else {
            d->n = (int)r.n_rows;
            d->dim = r.dim;
            d->x = r.x ? r.x : ad_calloc(1, sizeof(ad_real));
            d->names = r.names;
            r.x = NULL;
            r.names = NULL;
            if (!d->x) {
                smp_dataset_free(d);
                status = ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", path);
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
