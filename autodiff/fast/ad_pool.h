/* ad_pool.h - a small persistent pthread pool and a parallel-for on top of it.
 *
 * Fast path.  Speeds up: work split over the batch.  Must agree with: one
 * thread, bit for bit (the determinism contract below).
 *
 * The thread count is one process-wide setting, kept with the rest of the
 * fast path's state in ad_state.h (included here): ad_threads_set(n),
 * default 1, or the environment variable BG_THREADS (read once, at the first
 * use, and only if ad_threads_set has not been called).  Workers are created
 * lazily by
 * the first ad_parallel_for that needs them and then kept, sleeping on a
 * condition variable between jobs, so no thread is created per operation.
 * ad_threads_shutdown joins and frees them (the next parallel-for recreates
 * them).  The pool owns its memory; nothing it returns needs freeing.
 *
 * Determinism is the caller's side of the contract: a task must compute the
 * same thing whichever thread runs it (split work over independent outputs,
 * never over a sum), and then results do not depend on the thread count.
 */
#ifndef LIBBG_AUTODIFF_FAST_AD_POOL_H
#define LIBBG_AUTODIFF_FAST_AD_POOL_H

#include <stddef.h>

#include "ad_state.h" /* ad_threads_set, ad_threads_get, AD_THREADS_MAX */

/* Join and free the worker threads.  Call it when no parallel-for is running
 * (for example before exit, so leak checkers see nothing); later parallel
 * work starts new workers. */
void ad_threads_shutdown(void);

/* One task of a parallel-for: `task` is in [0, n_tasks); `worker` is in
 * [0, ad_threads_get()) and names the thread that runs it (0 is the caller),
 * so that a task can use per-thread scratch memory without locks. */
typedef void (*ad_task_fn)(void *ctx, int task, int worker);

/* Run fn(ctx, task, worker) for every task in [0, n_tasks) on up to
 * ad_threads_get() threads (fewer when n_tasks is smaller) and return when
 * all are done.  Which thread runs which task is not fixed.  A call made from
 * inside a task runs its tasks inline on the calling thread (with that
 * thread's worker index); calls from several user threads at once are
 * serialised.  If workers cannot be started the tasks run on fewer threads. */
void ad_parallel_for(int n_tasks, ad_task_fn fn, void *ctx);

/* Run fn(ctx, w, w) once on each thread w of ad_parallel_for's threads (w = 0
 * is the caller; workers that could not be started are left out), for
 * per-thread set-up such as reserving a worker's scratch memory before tasks
 * that use it.  Called from inside a task it runs fn for that thread only. */
void ad_parallel_each(ad_task_fn fn, void *ctx);

/* The worker index of the calling thread while it runs a task of
 * ad_parallel_for, else -1.  Within one parallel-for no two threads have the
 * same index, so a task may use per-worker memory indexed by it. */
int ad_pool_worker(void);

#endif
