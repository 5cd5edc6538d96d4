/* ad_dist.c - the distribution layer's parts that do not communicate
 * (shares, local regions, root sections, the ordered fold, the testing
 * aid) and, in the serial build, the one-rank implementation of the rest
 * (ad_dist.h).  The MPI build takes the rest from ad_dist_mpi.c. */
#include "ad_dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ad_dist_impl.h"
#include "ad_status.h"

static int local_depth;
/* Root sections opened by ad_dist_root_begin calls that returned 1: 1 for
 * the one rank 0 opened among several ranks (it entered a local region),
 * 0 for those opened alone (serial, or nested in a region). */
#define ROOT_STACK 64
static unsigned char root_entered[ROOT_STACK];
static int n_root;
static ad_dist_desync_fn desync_fn;

int ad_dist_impl_local(void) { return local_depth > 0; }

void ad_dist_local_begin(void) { local_depth++; }

void ad_dist_local_end(void)
{
    if (local_depth > 0) local_depth--;
}

int ad_dist_is_root(void) { return ad_dist_rank() == 0; }

void ad_dist_share_of(long n, int rank, long *lo, long *hi)
{
    long size = ad_dist_size();
    if (n < 0) n = 0;
    if (rank < 0) rank = 0;
    if (rank >= size) rank = (int)size - 1;
    /* n * rank / size without overflow for any n below LONG_MAX / 2^16 */
    *lo = (long)((long long)n * rank / size);
    *hi = (long)((long long)n * (rank + 1) / size);
}

void ad_dist_share(long n, long *lo, long *hi) { ad_dist_share_of(n, ad_dist_rank(), lo, hi); }

int ad_dist_root_begin(void)
{
    int alone = ad_dist_size() == 1;
    if (!alone && ad_dist_rank() != 0) return 0;
    if (n_root < ROOT_STACK) root_entered[n_root] = !alone;
    n_root++;
    if (!alone) ad_dist_local_begin();
    return 1;
}

int ad_dist_root_end(int status, char *msg, size_t msg_len)
{
    /* a rank other than 0 among several opened nothing; otherwise close the
     * innermost section (leaving the region rank 0 entered) */
    if (ad_dist_size() == 1 && n_root > 0) {
        n_root--;
        if (n_root < ROOT_STACK && root_entered[n_root]) ad_dist_local_end();
    }
    if (ad_dist_size() == 1) return status;
    return ad_dist_agree_at(AD_DIST_SITE_ROOT, status, msg, msg_len);
}

void ad_dist_impl_fold(const ad_real *blocks, long count, size_t len, size_t j0, size_t j1,
                       ad_real *out, int have)
{
    long b = 0;
    if (!have && count > 0) {
        if (out != blocks) memcpy(out + j0, blocks + j0, (j1 - j0) * sizeof *out);
        b = 1;
    }
    for (; b < count; b++) {
        const ad_real *p = blocks + (size_t)b * len;
        for (size_t j = j0; j < j1; j++) out[j] += p[j];
    }
}

int ad_dist_impl_sum_local(int status, const ad_real *mine, long n_blocks, size_t len,
                           ad_real *out, char *msg, size_t msg_len)
{
    if (status != AD_OK) return status;
    if (n_blocks < 1 || !mine || !out || (mine == out && n_blocks > 1))
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "ad_dist_sum_blocks: %ld blocks%s",
                              n_blocks, mine == out && mine ? " (in place: more than one)" : "");
    ad_dist_impl_fold(mine, n_blocks, len, 0, len, out, 0);
    return AD_OK;
}

void ad_dist_impl_text(char *text, size_t len, int status, const char *msg, int rank)
{
    if (!text || !len) return;
    if (msg && msg[0])
        snprintf(text, len, "%s", msg);
    else
        snprintf(text, len, "rank %d failed (%s)", rank, ad_status_name(status));
}

void ad_dist_on_desync(ad_dist_desync_fn fn) { desync_fn = fn; }

static void default_desync(int status, const char *msg)
{
    (void)status;
    (void)msg;
}

ad_dist_desync_fn ad_dist_impl_desync(void) { return desync_fn ? desync_fn : default_desync; }

int ad_dist_fault(const char *what)
{
    const char *s = getenv("BG_DIST_FAULT");
    if (!s || !what || !*what) return 0;
    size_t n = strlen(what);
    int me = ad_dist_world_rank();
    while (*s) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        const char *at = memchr(s, '@', len);
        if (at && (size_t)(at - s) == n && strncmp(s, what, n) == 0) {
            char *stop;
            long r = strtol(at + 1, &stop, 10);
            if (stop == s + len && stop != at + 1 && r == me) return 1;
        }
        s += len;
        if (*s == ',') s++;
    }
    return 0;
}

#ifndef BG_MPI
/* ---- one process --------------------------------------------------------- */

int ad_dist_init(int *argc, char ***argv, char *msg, size_t msg_len)
{
    (void)argc;
    (void)argv;
    (void)msg;
    (void)msg_len;
    return AD_OK;
}

void ad_dist_finalize(void) {}
int ad_dist_compiled(void) { return 0; }
int ad_dist_rank(void) { return 0; }
int ad_dist_size(void) { return 1; }
int ad_dist_world_rank(void) { return 0; }
int ad_dist_world_size(void) { return 1; }
int ad_dist_node_size(void) { return 1; }

int ad_dist_agree(int status, char *msg, size_t msg_len)
{
    (void)msg;
    (void)msg_len;
    return status;
}

int ad_dist_agree_at(int site, int status, char *msg, size_t msg_len)
{
    (void)site;
    (void)msg;
    (void)msg_len;
    return status;
}

int ad_dist_gather(int status, void *buf, size_t item_bytes, long n, char *msg, size_t msg_len)
{
    (void)buf;
    (void)item_bytes;
    (void)n;
    (void)msg;
    (void)msg_len;
    return status;
}

int ad_dist_bcast(int status, void *buf, size_t bytes, int from, char *msg, size_t msg_len)
{
    (void)buf;
    (void)bytes;
    (void)from;
    (void)msg;
    (void)msg_len;
    return status;
}

int ad_dist_sum_long(int status, long *v, int n, char *msg, size_t msg_len)
{
    (void)v;
    (void)n;
    (void)msg;
    (void)msg_len;
    return status;
}

int ad_dist_sum_blocks(int status, const ad_real *mine, long n_blocks, size_t len, ad_real *out,
                       char *msg, size_t msg_len)
{
    return ad_dist_impl_sum_local(status, mine, n_blocks, len, out, msg, msg_len);
}

void ad_dist_abort(int code) { (void)code; }
#endif
