/* ad_pool.c - the persistent worker pool behind ad_parallel_for.
 *
 * One job at a time: the caller publishes (fn, ctx, n_tasks), bumps a
 * generation counter and wakes the workers; every participating thread,
 * the caller included, takes task indices from a shared counter until none
 * are left; the caller then waits until the participating workers have
 * checked in.  Workers whose index is beyond the job's thread count go back
 * to sleep at once.
 */
#include "ad_pool.h"

#include <pthread.h>
#include <stdlib.h>

#include "ad_alloc.h"
#include "ad_config.h"

static struct {
    pthread_mutex_t lock;      /* guards everything below                  */
    pthread_cond_t wake;       /* workers wait here for a new generation   */
    pthread_cond_t done;       /* the caller waits here for check-ins      */
    pthread_t *threads;        /* the workers (index w-1 runs worker w)    */
    int n_workers;             /* started workers (threads - 1 at most)    */
    int stop;                  /* set by shutdown: workers exit            */
    unsigned long generation;  /* incremented once per job                 */
    ad_task_fn fn;             /* the current job ...                      */
    void *ctx;
    int n_tasks;
    int next_task;             /* next task index to hand out              */
    int n_active;              /* workers taking part (caller excluded)    */
    int n_checked_in;          /* participating workers finished           */
    unsigned long spawn_generation; /* generation a new worker starts from */
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
          NULL, 0, 0, 0, NULL, NULL, 0, 0, 0, 0, 0};

/* Serialises whole parallel-for calls made by different user threads. */
static pthread_mutex_t job_lock = PTHREAD_MUTEX_INITIALIZER;

/* The thread count: 0 until first read or set. */
static int thread_setting = 0;
static pthread_mutex_t setting_lock = PTHREAD_MUTEX_INITIALIZER;

/* Worker index of the current thread while it runs a task, else -1. */
static _Thread_local int current_worker = -1;

int ad_threads_set(int n)
{
    if (n < 1 || n > AD_THREADS_MAX) return AD_ERR_ARG;
    pthread_mutex_lock(&setting_lock);
    thread_setting = n;
    pthread_mutex_unlock(&setting_lock);
    return AD_OK;
}

int ad_threads_get(void)
{
    pthread_mutex_lock(&setting_lock);
    if (thread_setting == 0) {
        int n = 1;
        const char *s = getenv("BG_THREADS");
        if (s && *s) {
            char *end;
            long v = strtol(s, &end, 10);
            if (*end == '\0' && v >= 1 && v <= AD_THREADS_MAX) n = (int)v;
        }
        thread_setting = n;
    }
    int n = thread_setting;
    pthread_mutex_unlock(&setting_lock);
    return n;
}

/* Take task indices until none are left.  Called with pool.lock held; the
 * lock is released around each task. */
static void run_tasks(int worker)
{
    ad_task_fn fn = pool.fn;
    void *ctx = pool.ctx;
    while (pool.next_task < pool.n_tasks) {
        int task = pool.next_task++;
        pthread_mutex_unlock(&pool.lock);
        fn(ctx, task, worker);
        pthread_mutex_lock(&pool.lock);
    }
}

static void *worker_main(void *arg)
{
    int worker = (int)(size_t)arg;
    current_worker = worker;
    pthread_mutex_lock(&pool.lock);
    /* A worker is started just before the job it takes part in is
     * published, so it starts from the generation before that job. */
    unsigned long seen = pool.spawn_generation;
    for (;;) {
        while (pool.generation == seen && !pool.stop) pthread_cond_wait(&pool.wake, &pool.lock);
        if (pool.stop) break;
        seen = pool.generation;
        if (worker > pool.n_active) continue;
        run_tasks(worker);
        if (++pool.n_checked_in == pool.n_active) pthread_cond_signal(&pool.done);
    }
    pthread_mutex_unlock(&pool.lock);
    return NULL;
}

/* In the child of a fork only the forking thread exists: forget the
 * workers (their memory is the child's copy) and start from fresh locks. */
static void forget_workers_after_fork(void)
{
    pthread_mutex_init(&pool.lock, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pthread_cond_init(&pool.done, NULL);
    pthread_mutex_init(&job_lock, NULL);
    ad_free(pool.threads);
    pool.threads = NULL;
    pool.n_workers = 0;
    pool.stop = 0;
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void register_atfork(void) { pthread_atfork(NULL, NULL, forget_workers_after_fork); }

/* Start workers until there are `want` of them (called with pool.lock held,
 * no job running).  Returns how many exist afterwards. */
static int grow_workers(int want)
{
    if (want <= pool.n_workers) return pool.n_workers;
    pthread_once(&atfork_once, register_atfork);
    if (!pool.threads) {
        pool.threads = ad_malloc(sizeof *pool.threads * (AD_THREADS_MAX - 1));
        if (!pool.threads) return 0;
    }
    pool.spawn_generation = pool.generation;
    while (pool.n_workers < want) {
        if (pthread_create(&pool.threads[pool.n_workers], NULL, worker_main,
                           (void *)(size_t)(pool.n_workers + 1)) != 0)
            break;
        pool.n_workers++;
    }
    return pool.n_workers;
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
    pthread_mutex_lock(&job_lock);
    pthread_mutex_lock(&pool.lock);
    int workers = grow_workers(threads - 1);
    if (workers > threads - 1) workers = threads - 1;
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n_tasks = n_tasks;
    pool.next_task = 0;
    pool.n_active = workers;
    pool.n_checked_in = 0;
    pool.generation++;
    if (workers > 0) pthread_cond_broadcast(&pool.wake);
    current_worker = 0;
    run_tasks(0);
    current_worker = -1;
    while (pool.n_checked_in < pool.n_active) pthread_cond_wait(&pool.done, &pool.lock);
    pool.fn = NULL;
    pool.ctx = NULL;
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&job_lock);
}

void ad_threads_shutdown(void)
{
    pthread_mutex_lock(&job_lock);
    pthread_mutex_lock(&pool.lock);
    pool.stop = 1;
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    for (int w = 0; w < pool.n_workers; w++) pthread_join(pool.threads[w], NULL);
    pthread_mutex_lock(&pool.lock);
    ad_free(pool.threads);
    pool.threads = NULL;
    pool.n_workers = 0;
    pool.stop = 0;
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&job_lock);
}
