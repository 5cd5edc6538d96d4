/* ad_pool.c - the persistent worker pool behind ad_parallel_for.
 *
 * Fast path.  Speeds up: every parallel loop (ad_gemm, the fused ops, the
 * optimizers, the pair potentials).  Must agree with: the same tasks run
 * one after another on one thread, bit for bit (ad_pool.h says what a task
 * must do for that).
 *
 * One job at a time: the caller publishes (fn, ctx, n_tasks), bumps a
 * job ticket and wakes any sleeping workers; every participating
 * thread, the caller included, takes task indices from a shared atomic
 * counter until none are left; the caller then waits until the
 * participating workers have checked in.  Workers whose index is beyond the
 * job's thread count skip it.  A job of ad_parallel_each is the same with
 * one task per thread, and each thread runs the task of its own index.
 *
 * A training iteration makes a few hundred parallel calls of tens of
 * microseconds each, so a worker that has finished a job first spins for a
 * while (SPIN_NS) watching the ticket, and only then sleeps on
 * the condition variable: waking a sleeping thread costs a system call on
 * each side and, in a virtual machine, tens of microseconds.  The caller
 * likewise spins while it waits for the workers, yielding the processor
 * once the wait gets long (another process may hold the worker's core).
 */
#include "ad_pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "autodiff/ad_alloc.h"

/* How long an idle worker spins before it sleeps, and how long the caller
 * spins on the check-ins before it starts yielding. */
#define SPIN_NS 200000L
#define WAIT_SPIN_NS 50000L

static struct {
    pthread_mutex_t lock;      /* guards sleeping, threads, n_workers       */
    pthread_cond_t wake;       /* idle workers sleep here                   */
    pthread_t *threads;        /* the workers (index w-1 runs worker w)     */
    int n_workers;             /* started workers (threads - 1 at most)     */
    int sleeping;              /* workers in pthread_cond_wait              */
    atomic_int stop;           /* set by shutdown: workers exit             */
    /* The job ticket, (generation << TICKET_SHIFT) | workers taking part
     * (caller excluded), stored once per job: it publishes the job. */
    atomic_ulong ticket;
    /* The current job: written by the caller before the ticket, read by
     * the taking-part workers after they see it (the caller does not
     * change them before every one of those has checked in). */
    ad_task_fn fn;
    void *ctx;
    int n_tasks;
    int each;                  /* 1: thread w runs task w only (parallel_each) */
    atomic_int next_task;      /* next task index to hand out               */
    atomic_int n_checked_in;   /* participating workers finished            */
    unsigned long spawn_ticket; /* the ticket a new worker starts from      */
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, 0, 0, 0,
          NULL, NULL, 0, 0, 0, 0, 0};

/* Low bits of the ticket: the number of workers taking part (< 2^8). */
#define TICKET_SHIFT 8
_Static_assert(AD_THREADS_MAX < (1 << TICKET_SHIFT), "worker count must fit the ticket");

/* Serialises whole parallel-for calls made by different user threads. */
static pthread_mutex_t job_lock = PTHREAD_MUTEX_INITIALIZER;

/* Worker index of the current thread while it runs a task, else -1. */
static _Thread_local int current_worker = -1;

static void cpu_relax(void)
{
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_ia32_pause();
#endif
}

static long elapsed_ns(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)(now.tv_sec - since->tv_sec) * 1000000000L + (now.tv_nsec - since->tv_nsec);
}

/* Take task indices until none are left (or, for parallel_each, run the
 * task of this thread's index). */
static void run_tasks(ad_task_fn fn, void *ctx, int n_tasks, int each, int worker)
{
    if (each) {
        if (worker < n_tasks) fn(ctx, worker, worker);
        return;
    }
    int task;
    while ((task = atomic_fetch_add_explicit(&pool.next_task, 1, memory_order_relaxed)) < n_tasks)
        fn(ctx, task, worker);
}

/* Wait until the ticket differs from `seen` (or shutdown): spin first,
 * then sleep.  Returns the new ticket. */
static unsigned long wait_for_job(unsigned long seen)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned spins = 1;; spins++) {
        unsigned long t = atomic_load_explicit(&pool.ticket, memory_order_acquire);
        if (t != seen || atomic_load_explicit(&pool.stop, memory_order_relaxed)) return t;
        cpu_relax();
        if (spins % 256 == 0 && elapsed_ns(&t0) > SPIN_NS) break;
    }
    /* The caller stores the ticket before it takes the lock to look for
     * sleepers, and this thread checks it again under the lock: either it
     * sees the new job here, or it is already waiting when the caller
     * broadcasts. */
    pthread_mutex_lock(&pool.lock);
    pool.sleeping++;
    unsigned long t;
    while ((t = atomic_load(&pool.ticket)) == seen && !atomic_load(&pool.stop))
        pthread_cond_wait(&pool.wake, &pool.lock);
    pool.sleeping--;
    pthread_mutex_unlock(&pool.lock);
    return t;
}

static void *worker_main(void *arg)
{
    int worker = (int)(size_t)arg;
    current_worker = worker;
    /* A worker is started just before the job it takes part in is
     * published, so it starts from the ticket before that job. */
    unsigned long seen = pool.spawn_ticket;
    for (;;) {
        seen = wait_for_job(seen);
        if (atomic_load(&pool.stop)) break;
        /* Not taking part: the caller does not wait for this thread, so it
         * must not look at the job (which may already be the next one). */
        if ((unsigned long)worker > (seen & ((1UL << TICKET_SHIFT) - 1))) continue;
        run_tasks(pool.fn, pool.ctx, pool.n_tasks, pool.each, worker);
        atomic_fetch_add_explicit(&pool.n_checked_in, 1, memory_order_release);
    }
    return NULL;
}

/* In the child of a fork only the forking thread exists: forget the
 * workers (their memory is the child's copy) and start from fresh locks. */
static void forget_workers_after_fork(void)
{
    pthread_mutex_init(&pool.lock, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pthread_mutex_init(&job_lock, NULL);
    ad_free(pool.threads);
    pool.threads = NULL;
    pool.n_workers = 0;
    pool.sleeping = 0;
    atomic_store(&pool.stop, 0);
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void register_atfork(void) { pthread_atfork(NULL, NULL, forget_workers_after_fork); }

/* Start workers until there are `want` of them (called with job_lock held,
 * no job running).  Returns how many exist afterwards. */
static int grow_workers(int want)
{
    if (want <= pool.n_workers) return pool.n_workers;
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&pool.lock);
    if (!pool.threads) pool.threads = ad_malloc(sizeof *pool.threads * (AD_THREADS_MAX - 1));
    if (pool.threads) {
        pool.spawn_ticket = atomic_load(&pool.ticket);
        while (pool.n_workers < want) {
            if (pthread_create(&pool.threads[pool.n_workers], NULL, worker_main,
                               (void *)(size_t)(pool.n_workers + 1)) != 0)
                break;
            pool.n_workers++;
        }
    }
    int n = pool.n_workers;
    pthread_mutex_unlock(&pool.lock);
    return n;
}

/* Publish a job to `threads` - 1 workers (fewer if they cannot be started),
 * take part in it and wait for them; called with threads >= 2, not from a
 * task. */
static void run_job(int threads, int n_tasks, int each, ad_task_fn fn, void *ctx)
{
    pthread_mutex_lock(&job_lock);
    int workers = grow_workers(threads - 1);
    if (workers > threads - 1) workers = threads - 1;
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n_tasks = n_tasks;
    pool.each = each;
    atomic_store_explicit(&pool.next_task, 0, memory_order_relaxed);
    atomic_store_explicit(&pool.n_checked_in, 0, memory_order_relaxed);
    unsigned long generation = (atomic_load(&pool.ticket) >> TICKET_SHIFT) + 1;
    atomic_store(&pool.ticket, generation << TICKET_SHIFT | (unsigned long)workers); /* publish */
    if (workers > 0) {
        pthread_mutex_lock(&pool.lock);
        if (pool.sleeping) pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.lock);
    }
    current_worker = 0;
    run_tasks(fn, ctx, n_tasks, each, 0);
    current_worker = -1;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned spins = 1;
         atomic_load_explicit(&pool.n_checked_in, memory_order_acquire) < workers; spins++) {
        if (spins % 256 == 0 && elapsed_ns(&t0) > WAIT_SPIN_NS) sched_yield();
        else cpu_relax();
    }
    pool.fn = NULL;
    pool.ctx = NULL;
    pthread_mutex_unlock(&job_lock);
}

void ad_parallel_for(int n_tasks, ad_task_fn fn, void *ctx)
{
    if (n_tasks <= 0) return;
    int threads = ad_threads_get();
    if (threads > n_tasks) threads = n_tasks;
    if (threads <= 1 || current_worker >= 0) {
        /* Serial, or nested inside a task: run inline on this thread. */
        int worker = current_worker >= 0 ? current_worker : 0;
        for (int task = 0; task < n_tasks; task++) fn(ctx, task, worker);
        return;
    }
    run_job(threads, n_tasks, 0, fn, ctx);
}

void ad_parallel_each(ad_task_fn fn, void *ctx)
{
    int threads = ad_threads_get();
    if (current_worker >= 0) {
        fn(ctx, current_worker, current_worker);
        return;
    }
    if (threads <= 1) {
        fn(ctx, 0, 0);
        return;
    }
    run_job(threads, threads, 1, fn, ctx);
}

int ad_pool_worker(void) { return current_worker; }

void ad_threads_shutdown(void)
{
    pthread_mutex_lock(&job_lock);
    pthread_mutex_lock(&pool.lock);
    atomic_store(&pool.stop, 1);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    for (int w = 0; w < pool.n_workers; w++) pthread_join(pool.threads[w], NULL);
    pthread_mutex_lock(&pool.lock);
    ad_free(pool.threads);
    pool.threads = NULL;
    pool.n_workers = 0;
    atomic_store(&pool.stop, 0);
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&job_lock);
}
