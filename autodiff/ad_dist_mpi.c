/* ad_dist_mpi.c - the distribution layer on MPI (ad_dist.h), compiled in
 * the MPI build only (-DBG_MPI): ranks of a duplicate of MPI_COMM_WORLD,
 * every collective opened by one MPI_Allreduce that agrees on the status
 * and checks that the ranks are in step. */
#ifdef BG_MPI
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ad_alloc.h"
#include "ad_dist.h"
#include "ad_dist_impl.h"
#include "ad_status.h"

static struct {
    int active;       /* ad_dist_init succeeded             */
    int started_here; /* ad_dist_init called MPI_Init       */
    int rank, size, node_size;
    MPI_Comm comm;
    long seq;         /* collectives so far (in-step check) */
    int *counts, *displs; /* [size]                         */
} D = {0, 0, 0, 1, 1, MPI_COMM_NULL, 0, NULL, NULL};

/* Kinds of collective, compared between ranks. */
enum { K_AGREE = 1, K_GATHER, K_BCAST, K_SUM, K_BLOCKS };

/* Values passed along the chain of ad_dist_sum_blocks at a time. */
#define CHUNK ((size_t)1 << 16)
#define TAG_BLOCKS 17

int ad_dist_init(int *argc, char ***argv, char *msg, size_t msg_len)
{
    if (D.active) return AD_OK;
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        int provided = 0;
        if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return ad_status_fail(msg, msg_len, AD_ERR_IO, "MPI could not be started");
        D.started_here = 1;
    }
    MPI_Comm_dup(MPI_COMM_WORLD, &D.comm);
    MPI_Comm_rank(D.comm, &D.rank);
    MPI_Comm_size(D.comm, &D.size);
    MPI_Comm node;
    D.node_size = 1;
    if (MPI_Comm_split_type(D.comm, MPI_COMM_TYPE_SHARED, D.rank, MPI_INFO_NULL, &node) ==
        MPI_SUCCESS) {
        MPI_Comm_size(node, &D.node_size);
        MPI_Comm_free(&node);
    }
    D.counts = malloc((size_t)D.size * sizeof *D.counts);
    D.displs = malloc((size_t)D.size * sizeof *D.displs);
    if (!D.counts || !D.displs) {
        free(D.counts);
        free(D.displs);
        D.counts = D.displs = NULL;
        MPI_Comm_free(&D.comm);
        return ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "out of memory");
    }
    D.active = 1;
    return AD_OK;
}

void ad_dist_finalize(void)
{
    if (!D.active) return;
    MPI_Comm_free(&D.comm);
    free(D.counts);
    free(D.displs);
    D.counts = D.displs = NULL;
    D.active = 0;
    if (D.started_here) MPI_Finalize();
    D.started_here = 0;
}

int ad_dist_compiled(void) { return 1; }
int ad_dist_world_rank(void) { return D.active ? D.rank : 0; }
int ad_dist_world_size(void) { return D.active ? D.size : 1; }
int ad_dist_node_size(void) { return D.active ? D.node_size : 1; }

/* More than one rank takes part in collectives now. */
static int multi(void) { return D.active && D.size > 1 && !ad_dist_impl_local(); }

int ad_dist_rank(void) { return multi() ? D.rank : 0; }
int ad_dist_size(void) { return multi() ? D.size : 1; }

void ad_dist_abort(int code)
{
    if (D.active) MPI_Abort(MPI_COMM_WORLD, code);
}

/* The opening of every collective: the status of the lowest failing rank
 * (with its message, into msg), and the in-step check of sequence number,
 * kind and size. */
static int open_collective(int kind, long size_tag, int status, char *msg, size_t msg_len)
{
    D.seq++;
    long in[7] = {status != AD_OK ? D.rank : D.size, D.seq, -D.seq, kind, -kind, size_tag,
                  -size_tag};
    long out[7];
    MPI_Allreduce(in, out, 7, MPI_LONG, MPI_MIN, D.comm);
    int out_of_step = out[1] != -out[2] || out[3] != -out[4] || out[5] != -out[6];
    int result = AD_OK;
    struct {
        int status;
        char text[AD_DIST_MSG_MAX];
    } m;
    memset(&m, 0, sizeof m);
    if (out[0] < D.size) {
        int from = (int)out[0];
        if (D.rank == from) {
            m.status = status;
            ad_dist_impl_text(m.text, sizeof m.text, status, msg, from);
        }
        MPI_Bcast(&m, (int)sizeof m, MPI_BYTE, from, D.comm);
        result = m.status;
        if (msg && msg_len && D.rank != from) snprintf(msg, msg_len, "%s", m.text);
    }
    if (out_of_step) {
        if (result == AD_OK) {
            result = AD_ERR_ARG;
            snprintf(m.text, sizeof m.text,
                     "ranks out of step (a rank called another collective operation)");
        }
        ad_dist_impl_desync()(result, m.text);
        if (msg && msg_len) snprintf(msg, msg_len, "%s", m.text);
    }
    return result;
}

int ad_dist_agree(int status, char *msg, size_t msg_len)
{
    return ad_dist_agree_at(0, status, msg, msg_len);
}

int ad_dist_agree_at(int site, int status, char *msg, size_t msg_len)
{
    if (!multi()) return status;
    return open_collective(K_AGREE, site, status, msg, msg_len);
}

int ad_dist_gather(int status, void *buf, size_t item_bytes, long n, char *msg, size_t msg_len)
{
    if (!multi()) return status;
    if (status == AD_OK && (item_bytes > INT_MAX || n > INT_MAX || n < 0 || (n > 0 && !buf)))
        status = ad_status_fail(msg, msg_len, AD_ERR_ARG,
                                "ad_dist_gather: %ld items of %zu bytes cannot be gathered", n,
                                item_bytes);
    status = open_collective(K_GATHER, n * (long)(item_bytes & 0xffffff), status, msg, msg_len);
    if (status != AD_OK || n == 0 || item_bytes == 0) return status;
    for (int r = 0; r < D.size; r++) {
        long lo, hi;
        ad_dist_share_of(n, r, &lo, &hi);
        D.counts[r] = (int)(hi - lo);
        D.displs[r] = (int)lo;
    }
    MPI_Datatype item;
    MPI_Type_contiguous((int)item_bytes, MPI_BYTE, &item);
    MPI_Type_commit(&item);
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, D.counts, D.displs, item, D.comm);
    MPI_Type_free(&item);
    return AD_OK;
}

/* bytes from rank `from`, in pieces that an int counts */
static void bcast_bytes(void *buf, size_t bytes, int from)
{
    const size_t piece = (size_t)1 << 30;
    for (size_t at = 0; at < bytes; at += piece) {
        size_t m = bytes - at < piece ? bytes - at : piece;
        MPI_Bcast((char *)buf + at, (int)m, MPI_BYTE, from, D.comm);
    }
}

int ad_dist_bcast(int status, void *buf, size_t bytes, int from, char *msg, size_t msg_len)
{
    if (!multi()) return status;
    if (status == AD_OK && (from < 0 || from >= D.size || (bytes && !buf)))
        status = ad_status_fail(msg, msg_len, AD_ERR_ARG, "ad_dist_bcast: bad arguments");
    status = open_collective(K_BCAST, (long)(bytes & 0x7fffffff) + from, status, msg, msg_len);
    if (status == AD_OK) bcast_bytes(buf, bytes, from);
    return status;
}

int ad_dist_sum_long(int status, long *v, int n, char *msg, size_t msg_len)
{
    if (!multi()) return status;
    status = open_collective(K_SUM, n, status, msg, msg_len);
    if (status == AD_OK && n > 0) MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_LONG, MPI_SUM, D.comm);
    return status;
}

/* The nearest rank below (step -1) or above (step +1) `r` that owns blocks,
 * or -1. */
static int rank_with_blocks(long n_blocks, int r, int step)
{
    for (int k = r + step; k >= 0 && k < D.size; k += step) {
        long lo, hi;
        ad_dist_share_of(n_blocks, k, &lo, &hi);
        if (hi > lo) return k;
    }
    return -1;
}

int ad_dist_sum_blocks(int status, const ad_real *mine, long n_blocks, size_t len, ad_real *out,
                       char *msg, size_t msg_len)
{
    if (!multi()) return ad_dist_impl_sum_local(status, mine, n_blocks, len, out, msg, msg_len);
    long lo, hi;
    ad_dist_share(n_blocks, &lo, &hi);
    const int in_place = mine == out && hi > lo;
    size_t n_chunks = (len + CHUNK - 1) / CHUNK;
    MPI_Request *req = NULL;
    ad_real *in = NULL; /* in place: where the partial sum arrives */
    if (status == AD_OK && (n_blocks < 1 || !out || (hi > lo && !mine) || (in_place && hi - lo > 1)))
        status = ad_status_fail(msg, msg_len, AD_ERR_ARG, "ad_dist_sum_blocks: %ld blocks%s",
                                n_blocks, in_place ? " (in place: more than one here)" : "");
    if (status == AD_OK && n_chunks &&
        (!(req = ad_malloc(n_chunks * sizeof *req)) ||
         (in_place && !(in = ad_malloc((len < CHUNK ? len : CHUNK) * sizeof *in)))))
        status = ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "ad_dist_sum_blocks: out of memory");
    status = open_collective(K_BLOCKS, n_blocks + (long)(len & 0xffffff) * 4096, status, msg,
                             msg_len);
    if (status != AD_OK) {
        ad_free(req);
        ad_free(in);
        return status;
    }
    int last = rank_with_blocks(n_blocks, D.size, -1);
    if (hi > lo) {
        int prev = rank_with_blocks(n_blocks, D.rank, -1);
        int next = rank_with_blocks(n_blocks, D.rank, +1);
        for (size_t c = 0; c < n_chunks; c++) {
            size_t j0 = c * CHUNK, j1 = j0 + CHUNK < len ? j0 + CHUNK : len;
            int bytes = (int)((j1 - j0) * sizeof *out);
            if (prev >= 0 && in_place) {
                /* out holds this rank's one block: partial sum + block, the
                 * addition of the serial loop's out += b */
                MPI_Recv(in, bytes, MPI_BYTE, prev, TAG_BLOCKS, D.comm, MPI_STATUS_IGNORE);
                for (size_t j = j0; j < j1; j++) out[j] = in[j - j0] + out[j];
            } else {
                if (prev >= 0)
                    MPI_Recv(out + j0, bytes, MPI_BYTE, prev, TAG_BLOCKS, D.comm,
                             MPI_STATUS_IGNORE);
                ad_dist_impl_fold(mine, hi - lo, len, j0, j1, out, prev >= 0);
            }
            req[c] = MPI_REQUEST_NULL;
            if (next >= 0) MPI_Isend(out + j0, bytes, MPI_BYTE, next, TAG_BLOCKS, D.comm, &req[c]);
        }
        MPI_Waitall((int)n_chunks, req, MPI_STATUSES_IGNORE);
    }
    ad_free(req);
    ad_free(in);
    bcast_bytes(out, len * sizeof *out, last);
    return AD_OK;
}
#else
/* The serial build takes every function from ad_dist.c. */
typedef int ad_dist_mpi_unused;
#endif
