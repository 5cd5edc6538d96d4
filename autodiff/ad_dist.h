/* ad_dist.h - work spread over processes (MPI ranks), and the serial case.
 *
 * The default build has one process: every function here is then a no-op
 * that returns its input (one rank, rank 0, nothing to exchange).  The MPI
 * build (`make MPI=1`, -DBG_MPI, compiled with mpicc) implements them on
 * MPI_COMM_WORLD once a program has called ad_dist_init; a process that
 * never calls it (the test runner, a program of the user's) is one rank as
 * well.  No other file of the library calls MPI.
 *
 * How results stay the same for any number of ranks (as they do for any
 * number of threads, autodiff/fast/ad_pool.h):
 *   - work is split over items (chains, windows, rows of a batch, blocks of
 *     a batch) by a fixed partition: rank r of N owns items
 *     [floor(n r / N), floor(n (r + 1) / N)) (ad_dist_share);
 *   - an item's result is computed by one rank alone, from random numbers
 *     that belong to the item (or to a stream every rank draws in full),
 *     never to the rank;
 *   - per-item results are gathered into the full array on every rank
 *     (ad_dist_gather), so every rank continues with identical data;
 *   - sums over items are taken in item order, whatever rank computed them
 *     (ad_dist_sum_blocks), never in rank order.
 *
 * Collectives: every function that communicates (agree, gather, bcast,
 * sums, root_end) must be called by every rank, in the same order.  Each
 * carries a status: a rank that failed passes its error code and message,
 * and every rank returns the code of the lowest failing rank with its
 * message, so that a failure anywhere ends every rank the same way.  Ranks
 * that fall out of step (one calls a different collective than another)
 * are detected (each call compares a sequence number, the kind of call and
 * its size) and the job is aborted through the handler of
 * ad_dist_on_desync, never left to hang.
 *
 * Local regions: between ad_dist_local_begin and ad_dist_local_end the
 * calling rank works alone (e.g. on the umbrella windows it owns): rank 0 of
 * one, and collectives are no-ops.  Regions nest.
 *
 * MPI is called from the thread that called ad_dist_init only (the thread
 * pool's workers never communicate).
 */
#ifndef LIBBG_AUTODIFF_AD_DIST_H
#define LIBBG_AUTODIFF_AD_DIST_H

#include <stddef.h>

#include "ad_config.h"

/* The longest message an agreement carries (longer ones are cut). */
#define AD_DIST_MSG_MAX 1024

/* Start MPI (MPI_Init_thread, funneled) when built with it and not already
 * started; a no-op returning AD_OK otherwise.  AD_ERR_IO with a message if
 * MPI cannot start. */
int ad_dist_init(int *argc, char ***argv, char *msg, size_t msg_len);
/* Finish MPI when ad_dist_init started it (a no-op otherwise). */
void ad_dist_finalize(void);
/* 1 in the MPI build, 0 in the serial one. */
int ad_dist_compiled(void);

/* This process's rank and the number of ranks (0 and 1 in a local region,
 * in the serial build and before ad_dist_init). */
int ad_dist_rank(void);
int ad_dist_size(void);
/* 1 on rank 0. */
int ad_dist_is_root(void);
/* The same outside any local region (for messages and output). */
int ad_dist_world_rank(void);
int ad_dist_world_size(void);
/* Ranks running on this machine (1 without MPI): programs divide the cores
 * between them for their default thread count. */
int ad_dist_node_size(void);

void ad_dist_local_begin(void);
void ad_dist_local_end(void);

/* Items [*lo, *hi) of n owned by this rank, or by rank `rank` of the
 * current ranks: lo = floor(n rank / size). */
void ad_dist_share(long n, long *lo, long *hi);
void ad_dist_share_of(long n, int rank, long *lo, long *hi);

/* Work that rank 0 alone does (writing a file): ad_dist_root_begin returns
 * 1 on rank 0 (which then works in a local region) and 0 on the others;
 * every rank then calls ad_dist_root_end with its status (AD_OK on the
 * others), which returns rank 0's status and message on every rank.
 *     int st = AD_OK;
 *     if (ad_dist_root_begin()) st = write_it(..., msg, len);
 *     st = ad_dist_root_end(st, msg, len);
 * Serial: begin returns 1 and end returns st. */
int ad_dist_root_begin(void);
int ad_dist_root_end(int status, char *msg, size_t msg_len);

/* Agreement: AD_OK when every rank passed AD_OK; otherwise the status of
 * the lowest rank that did not, with its message copied into msg (msg may
 * be NULL).  Serial: returns status. */
int ad_dist_agree(int status, char *msg, size_t msg_len);
/* The same, marked with `site` (any int): ranks that reach agreements of
 * different sites are out of step.  ad_dist_agree is site 0. */
int ad_dist_agree_at(int site, int status, char *msg, size_t msg_len);

/* buf holds n items of item_bytes bytes; this rank has filled the items of
 * its share (ad_dist_share(n)).  After the agreement on status, if it is
 * AD_OK, every rank holds all n items.  Returns the agreed status. */
int ad_dist_gather(int status, void *buf, size_t item_bytes, long n, char *msg, size_t msg_len);

/* bytes of buf from rank `from` to every rank, after the agreement on
 * status (nothing is sent when it fails). */
int ad_dist_bcast(int status, void *buf, size_t bytes, int from, char *msg, size_t msg_len);

/* v[k] = the sum over ranks of v[k] (integers: exact in any order), after
 * the agreement on status. */
int ad_dist_sum_long(int status, long *v, int n, char *msg, size_t msg_len);

/* An ordered sum over n_blocks blocks of len values each:
 *     out = b_0;  out += b_1;  ...;  out += b_{n_blocks - 1}
 * (element by element, in block order).  mine holds this rank's blocks
 * (ad_dist_share(n_blocks)) one after the other, [count][len]; out [len]
 * receives the sum on every rank.  The additions are those of the serial
 * loop whatever the number of ranks: the partial sum passes from rank to
 * rank (in chunks, so that the ranks work as a pipeline) and each adds its
 * own blocks in order; the last one broadcasts the result.  Called after
 * the agreement on status.  mine may be out itself on a rank that owns at
 * most one block: the block is then replaced by the sum, with the same
 * additions (no copy of it is made; more blocks in place is AD_ERR_ARG). */
int ad_dist_sum_blocks(int status, const ad_real *mine, long n_blocks, size_t len, ad_real *out,
                       char *msg, size_t msg_len);

/* The handler called when ranks fall out of step, with the status and
 * message of the lowest failing rank (AD_ERR_ARG "ranks out of step" if
 * none failed).  A program ends the job there (print, then ad_dist_abort:
 * apps/toolkit/app_dist.h does); the library never does by itself: the
 * default handler returns, and so does the collective call, with that
 * status.  NULL restores the default. */
typedef void (*ad_dist_desync_fn)(int status, const char *msg);
void ad_dist_on_desync(ad_dist_desync_fn fn);

/* For programs: end every rank at once (MPI_Abort) with this exit code.
 * A no-op in the serial build (one process ends itself). */
void ad_dist_abort(int code);

/* Testing aid for the failure paths: 1 when the environment variable
 * BG_DIST_FAULT holds "what@rank" (several separated by commas) for this
 * process's world rank, e.g. BG_DIST_FAULT=nan-loss@1. */
int ad_dist_fault(const char *what);

#endif
