/* smp_data.h - data sets of samples: [n, dim] arrays, CSV files with a header
 * line (readable by numpy.loadtxt(..., delimiter=",", skiprows=1) and
 * pandas.read_csv), shuffling and mini-batches drawn with replacement.
 *
 * A smp_dataset owns its rows and column names; release it with
 * smp_dataset_free.  Functions return AD_OK or an error code and write a
 * message (naming the file and line for CSV errors) into msg.
 */
#ifndef LIBBG_SAMPLING_SMP_DATA_H
#define LIBBG_SAMPLING_SMP_DATA_H

#include <stddef.h>

#include "autodiff/ad.h"

typedef struct smp_dataset {
    int n;          /* rows (samples)                                   */
    int dim;        /* columns (coordinates per sample)                 */
    ad_real *x;     /* n * dim values, row-major, owned                 */
    char **names;   /* dim column names (owned; NULL when none given)   */
} smp_dataset;

/* A data set of n zero rows (n may be 0); names are NULL.  NULL on failure. */
smp_dataset *smp_dataset_new(int n, int dim);
/* A data set holding a copy of x[n*dim] and of names (names may be NULL). */
smp_dataset *smp_dataset_from(const ad_real *x, int n, int dim, const char *const *names);
void smp_dataset_free(smp_dataset *d); /* accepts NULL */

/* Write x[n*dim] as CSV: a header line of column names (NULL names: x0, x1,
 * ...), then one row per sample, every value with %.17g (exact round trip).
 * Written to "path.tmp" and renamed, so a failure leaves no partial file.
 * path must not be NULL, "" or name a directory ("out/", "."): AD_ERR_ARG,
 * as "" would write, then remove, ".tmp" in the current directory.  Names must not contain commas, quotes, newlines or
 * other control bytes (a tab is allowed): the reader refuses those.  A FIFO, a
 * device or a directory at "path.tmp" is refused (AD_ERR_IO), never written
 * into.  In the MPI build a collective call: rank 0 writes, every rank returns
 * its status (autodiff/ad_dist.h). */
int smp_csv_write(const char *path, const ad_real *x, int n, int dim, const char *const *names,
                  char *msg, size_t msg_len);

/* The largest CSV file smp_csv_read reads: 1 GiB (about 30 million values of
 * %.17g).  smp_csv_read_max takes another limit. */
#define SMP_CSV_MAX_BYTES ((size_t)1 << 30)

/* Read a CSV file written as above (or by numpy/pandas without an index
 * column): a header line, then rows of numbers.  Errors name the file and
 * the line: empty file, ragged rows, non-numeric fields, and non-finite values
 * (nan, inf, and in a float build numbers beyond its range) unless
 * allow_nonfinite.  The file must be text: a NUL byte or
 * another control byte (anything below 0x20 but the tab and the line ends, and
 * 0x7f) on any line is refused with its line and position, so a checkpoint
 * ("LIBBGCKP...", named as such) or an image is never read as 0 rows.  The path
 * must name a regular file (symbolic links are followed): a FIFO, a device or a
 * directory is refused at once, without blocking (AD_ERR_IO), and a file of
 * more than SMP_CSV_MAX_BYTES is refused before it is read (AD_ERR_FORMAT).
 * Codes: AD_OK, AD_ERR_ARG (path NULL or "", out NULL), AD_ERR_IO,
 * AD_ERR_FORMAT, AD_ERR_NUMERIC, AD_ERR_NOMEM.  On success *out is a new data
 * set; on error *out is NULL. */
int smp_csv_read(const char *path, int allow_nonfinite, smp_dataset **out, char *msg,
                 size_t msg_len);
/* The same with a limit of max_bytes bytes instead of SMP_CSV_MAX_BYTES: a
 * larger file is refused before a byte is read, and one that grows past the
 * limit while being read is refused there (AD_ERR_FORMAT). */
int smp_csv_read_max(const char *path, int allow_nonfinite, size_t max_bytes, smp_dataset **out,
                     char *msg, size_t msg_len);

/* Shuffle the rows of x[n*dim] in place (Fisher-Yates with r). */
int smp_shuffle_rows(ad_real *x, int n, int dim, ad_rng *r);
/* Draw batch rows of x[n*dim] uniformly with replacement into out[batch*dim];
 * the chosen row indices go to index (may be NULL). */
int smp_sample_rows(const ad_real *x, int n, int dim, ad_rng *r, int batch, ad_real *out,
                    int *index);

#endif
