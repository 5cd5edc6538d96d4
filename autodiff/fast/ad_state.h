/* ad_state.h - the process-wide state of the fast path, defined in one file
 * (ad_state.c).  The core keeps almost none: a tape owns its memory, an RNG
 * is a plain value; there are only the counter that numbers tapes (ad_tape.c)
 * and the allocation counters of ad_alloc.c.  The fast path keeps this:
 *
 *   the thread count       how many threads parallel work may use: set by
 *                          ad_threads_set, else BG_THREADS, else 1; read by
 *                          the pool, ad_gemm and the parallel ops
 *   the GEMM buffers       the packing buffers of ad_gemm: one pair per
 *                          thread of a product called from outside the pool's
 *                          tasks (such products take turns, under a lock),
 *                          and one pair per worker for products called inside
 *                          a task (each worker touches only its own); grown,
 *                          never shrunk, until ad_gemm_release_buffers
 *   the scratch buffer     of the fused backward passes (ad_dense, ad_mlp):
 *                          one user at a time, under a lock; grown, never
 *                          shrunk
 *   the processor          the instruction sets it has, found once
 *
 * Buffers are kept so that a training loop allocates nothing after its first
 * iteration.  Two more things live as long as the process, in the files they
 * belong to: the pool's worker threads (ad_pool.c; started when first needed,
 * joined by ad_threads_shutdown) and the kernel sets that ad_gemm.c and
 * ad_rows.c pick from the processor's instruction sets (fixed once picked,
 * except by the selection calls for tests, ad_rows_isa_select).
 *
 * Fast path.  Speeds up: nothing by itself; it is what lets the kernels
 * reuse memory.  Must agree with: no allocation in a steady training loop
 * (tests/test_autodiff_core.c, tests/test_flows_threads.c).
 */
#ifndef LIBBG_AUTODIFF_FAST_AD_STATE_H
#define LIBBG_AUTODIFF_FAST_AD_STATE_H

#include <stddef.h>

#include "autodiff/ad_config.h"

/* ---- the thread count ----------------------------------------------------- */

/* Largest accepted thread count (the caller's thread included). */
#define AD_THREADS_MAX 64

/* Set the number of threads parallel work may use (the calling thread
 * included); 1 switches parallelism off.  Returns AD_OK, or AD_ERR_ARG (and
 * changes nothing) when n is outside [1, AD_THREADS_MAX]. */
int ad_threads_set(int n);
/* The current setting: the last ad_threads_set, else BG_THREADS when it holds
 * a valid count (read once, at the first use), else 1. */
int ad_threads_get(void);
/* AD_OK when BG_THREADS is unset, empty or a valid count; otherwise
 * AD_ERR_ARG with a message naming the value (which ad_threads_get then
 * ignores, using 1), so that a program can warn about it. */
int ad_threads_env_check(char *msg, size_t msg_len);

/* ---- the GEMM buffers (used by ad_gemm.c) ---------------------------------- */

/* One thread's packing buffers, in elements. */
typedef struct {
    ad_real *a, *b;
    size_t a_cap, b_cap;
} ad_gemm_buffers;

typedef struct {
    /* products called from outside a task: thread w of the product uses
     * caller[w]; only under ad_gemm_state_lock */
    ad_gemm_buffers caller[AD_THREADS_MAX];
    /* products called inside a task of ad_parallel_for: worker w uses
     * task[w], without the lock (one parallel-for runs at a time) */
    ad_gemm_buffers task[AD_THREADS_MAX];
    /* what every task[w] is known to hold (ad_gemm_reserve_tasks; under the
     * lock) */
    int task_threads;
    size_t task_a, task_b;
} ad_gemm_state;

/* The buffers, and the lock that products called from outside a task take. */
ad_gemm_state *ad_gemm_state_get(void);
void ad_gemm_state_lock(void);
void ad_gemm_state_unlock(void);
/* Make bufs[w0 .. w1-1] hold a_need and b_need elements: 1, or 0 when out of
 * memory. */
int ad_gemm_buffers_grow(ad_gemm_buffers *bufs, int w0, int w1, size_t a_need, size_t b_need);
/* Free the GEMM buffers (they are allocated again when needed). */
void ad_gemm_release_buffers(void);

/* ---- the scratch buffer (used by the fused ops) ------------------------------ */

/* A scratch buffer of at least n elements for one backward pass at a time.
 * Returns it locked, or NULL (and not locked) when it cannot be allocated;
 * ad_scratch_unlock hands it back.  Not to be taken twice by one thread. */
ad_real *ad_scratch_lock(size_t n);
void ad_scratch_unlock(void);

/* ---- the processor (used by ad_gemm.c and ad_rows.c) ------------------------ */

/* 1 when this build has the x86-64 instruction-set copies of the kernels:
 * GCC or Clang on x86-64 (-DAD_GEMM_PLAIN_C builds the portable copies only,
 * as other compilers and processors get them, to test those here). */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(AD_GEMM_PLAIN_C)
#define AD_FAST_X86 1
#else
#define AD_FAST_X86 0
#endif

/* The instruction sets this processor has (all 0 without AD_FAST_X86). */
typedef struct {
    int avx2, fma, avx512f;
} ad_cpu_features;
const ad_cpu_features *ad_cpu_features_get(void);

#endif
