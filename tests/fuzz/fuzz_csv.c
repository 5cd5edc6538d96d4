/* fuzz_csv.c - libFuzzer target for smp_csv_read.
 *
 * Every input is read with non-finite values refused and allowed.
 * Properties: the status is one of the documented codes; an error leaves a
 * message naming the file and no data set; success gives a consistent data
 * set (names present and free of NUL and control bytes, values finite unless
 * allowed) that smp_csv_write and smp_csv_read carry through bit for bit.
 */
#include <math.h>

#include "autodiff/ad.h"
#include "sampling/smp_data.h"
#include "tests/fuzz/fuzz_util.h"

/* Same value, NaN equal to NaN (the text form keeps no NaN payload). */
static int fuzz_csv_same(ad_real a, ad_real b)
{
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return memcmp(&a, &b, sizeof a) == 0;
}

/* Write d and read it back; 1 with why on a difference. */
static int fuzz_csv_round_trip(const smp_dataset *d, const char *path, int allow, char *why,
                               size_t why_len)
{
    char msg[512];
    int st = smp_csv_write(path, d->x, d->n, d->dim, (const char *const *)d->names, msg,
                           sizeof msg);
    if (st == AD_ERR_ARG) return 0; /* a name holding a quote or a CR: refused by design */
    if (st != AD_OK) return 0;      /* disk trouble: not the reader's fault */
    smp_dataset *e = NULL;
    st = smp_csv_read(path, allow, &e, msg, sizeof msg);
    int bad = 0;
    if (st != AD_OK) {
        bad = fuzz_violation(why, why_len, "the written copy does not read back: %d %s", st, msg);
    } else if (e->n != d->n || e->dim != d->dim) {
        bad = fuzz_violation(why, why_len, "round trip [%d,%d] -> [%d,%d]", d->n, d->dim, e->n,
                             e->dim);
    } else {
        for (int j = 0; !bad && j < d->dim; j++)
            if (strcmp(d->names[j], e->names[j]) != 0)
                bad = fuzz_violation(why, why_len, "name %d: '%s' -> '%s'", j, d->names[j],
                                     e->names[j]);
        for (size_t i = 0; !bad && i < (size_t)d->n * (size_t)d->dim; i++)
            if (!fuzz_csv_same(d->x[i], e->x[i]))
                bad = fuzz_violation(why, why_len, "value %zu: %.17g -> %.17g", i, d->x[i],
                                     e->x[i]);
    }
    smp_dataset_free(e);
    remove(path);
    return bad;
}

static int fuzz_csv_read_once(const char *path, int allow, char *why, size_t why_len)
{
    char msg[512] = "";
    static smp_dataset sentinel;
    smp_dataset *d = &sentinel; /* must be reset to NULL on error */
    int st = smp_csv_read(path, allow, &d, msg, sizeof msg);
    if (st != AD_OK) {
        if (d != NULL) return fuzz_violation(why, why_len, "status %d leaves *out set", st);
        if (st != AD_ERR_FORMAT && st != AD_ERR_NUMERIC && st != AD_ERR_IO && st != AD_ERR_NOMEM)
            return fuzz_violation(why, why_len, "undocumented status %d (%s)", st, msg);
        if (strncmp(msg, path, strlen(path)) != 0)
            return fuzz_violation(why, why_len, "message does not name the file: '%s'", msg);
        return 0;
    }
    int bad = 0;
    if (!d || d->n < 0 || d->dim < 1 || !d->x || !d->names) {
        bad = fuzz_violation(why, why_len, "inconsistent data set");
    } else {
        for (int j = 0; !bad && j < d->dim; j++)
            if (!d->names[j] || !d->names[j][0])
                bad = fuzz_violation(why, why_len, "column %d has no name", j);
        /* the reader takes text only: no control byte (the tab aside) in a name */
        for (int j = 0; !bad && j < d->dim; j++)
            for (const unsigned char *c = (const unsigned char *)d->names[j]; !bad && *c; c++)
                if ((*c < 0x20 && *c != '\t') || *c == 0x7f)
                    bad = fuzz_violation(why, why_len, "column %d's name holds byte 0x%02x", j,
                                         *c);
        for (size_t i = 0; !bad && !allow && i < (size_t)d->n * (size_t)d->dim; i++)
            if (!isfinite(d->x[i])) bad = fuzz_violation(why, why_len, "value %zu not finite", i);
        if (!bad) {
            char rt[600];
            snprintf(rt, sizeof rt, "%s.rt.csv", path);
            bad = fuzz_csv_round_trip(d, rt, allow, why, why_len);
        }
    }
    smp_dataset_free(d);
    return bad;
}

static int fuzz_csv_run(const uint8_t *data, size_t size, const char *scratch, char *why,
                        size_t why_len)
{
    if (fuzz_write_file(scratch, data, size) != 0) return 0;
    return fuzz_csv_read_once(scratch, 0, why, why_len) ||
           fuzz_csv_read_once(scratch, 1, why, why_len);
}

#ifdef LIBBG_FUZZ_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[600];
    if (fuzz_csv_run(data, size, fuzz_scratch("csv"), why, sizeof why)) {
        fprintf(stderr, "fuzz_csv: %s\n", why);
        abort();
    }
    return 0;
}
#endif
