/* ad_state.c - the process-wide state of the fast path (ad_state.h): the
 * thread count, the GEMM buffers, the scratch buffer of the fused backward
 * passes and the processor's instruction sets, with the calls that set,
 * grow and free them.  Every other file of the fast path reaches them
 * through these calls.
 */
#include "ad_state.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "autodiff/ad_alloc.h"
#include "autodiff/ad_status.h"

/* ---- the thread count ----------------------------------------------------- */

/* 0 until first read or set. */
static atomic_int thread_setting = 0;
static pthread_mutex_t setting_lock = PTHREAD_MUTEX_INITIALIZER;

int ad_threads_set(int n)
{
    if (n < 1 || n > AD_THREADS_MAX) return AD_ERR_ARG;
    atomic_store(&thread_setting, n);
    return AD_OK;
}

/* BG_THREADS as a thread count: 0 when unset or empty, -1 when it is not a
 * whole number in [1, AD_THREADS_MAX]. */
static int env_threads(void)
{
    const char *s = getenv("BG_THREADS");
    if (!s || !*s) return 0;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno || v < 1 || v > AD_THREADS_MAX) return -1;
    return (int)v;
}

int ad_threads_env_check(char *msg, size_t msg_len)
{
    if (env_threads() >= 0) return AD_OK;
    return ad_status_fail(msg, msg_len, AD_ERR_ARG,
                          "BG_THREADS=\"%.40s\" is not a thread count in 1..%d (ignored)",
                          getenv("BG_THREADS"), AD_THREADS_MAX);
}

int ad_threads_get(void)
{
    int n = atomic_load_explicit(&thread_setting, memory_order_relaxed);
    if (n) return n;
    pthread_mutex_lock(&setting_lock);
    n = atomic_load(&thread_setting);
    if (n == 0) {
        n = 1;
        int v = env_threads();
        if (v > 0) n = v;
        atomic_store(&thread_setting, n);
    }
    pthread_mutex_unlock(&setting_lock);
    return n;
}

/* ---- the GEMM buffers ------------------------------------------------------ */

static ad_gemm_state gemm_state;
static pthread_mutex_t gemm_lock = PTHREAD_MUTEX_INITIALIZER;

ad_gemm_state *ad_gemm_state_get(void) { return &gemm_state; }
void ad_gemm_state_lock(void) { pthread_mutex_lock(&gemm_lock); }
void ad_gemm_state_unlock(void) { pthread_mutex_unlock(&gemm_lock); }

int ad_gemm_buffers_grow(ad_gemm_buffers *s, int w0, int w1, size_t a_need, size_t b_need)
{
    for (int w = w0; w < w1; w++) {
        if (s[w].a_cap < a_need) {
            ad_free_aligned(s[w].a);
            s[w].a = ad_malloc_aligned(sizeof(ad_real) * a_need, 64);
            s[w].a_cap = s[w].a ? a_need : 0;
            if (!s[w].a) return 0;
        }
        if (s[w].b_cap < b_need) {
            ad_free_aligned(s[w].b);
            s[w].b = ad_malloc_aligned(sizeof(ad_real) * b_need, 64);
            s[w].b_cap = s[w].b ? b_need : 0;
            if (!s[w].b) return 0;
        }
    }
    return 1;
}

static void free_buffers(ad_gemm_buffers *s)
{
    ad_free_aligned(s->a);
    ad_free_aligned(s->b);
    *s = (ad_gemm_buffers){NULL, NULL, 0, 0};
}

void ad_gemm_release_buffers(void)
{
    pthread_mutex_lock(&gemm_lock);
    for (int w = 0; w < AD_THREADS_MAX; w++) {
        free_buffers(&gemm_state.caller[w]);
        free_buffers(&gemm_state.task[w]);
    }
    gemm_state.task_threads = 0;
    gemm_state.task_a = gemm_state.task_b = 0;
    pthread_mutex_unlock(&gemm_lock);
}

/* ---- the scratch buffer ----------------------------------------------------- */

static struct {
    ad_real *data;
    size_t cap; /* elements */
} scratch;
static pthread_mutex_t scratch_mutex = PTHREAD_MUTEX_INITIALIZER;

ad_real *ad_scratch_lock(size_t n)
{
    pthread_mutex_lock(&scratch_mutex);
    if (scratch.cap < n || !scratch.data) {
        ad_free_aligned(scratch.data);
        scratch.data = ad_malloc_aligned((n ? n : 1) * sizeof(ad_real), 64);
        scratch.cap = scratch.data ? n : 0;
    }
    if (!scratch.data) {
        pthread_mutex_unlock(&scratch_mutex);
        return NULL;
    }
    return scratch.data;
}

void ad_scratch_unlock(void) { pthread_mutex_unlock(&scratch_mutex); }

/* ---- the processor ------------------------------------------------------------ */

static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;
static ad_cpu_features cpu;

static void cpu_detect(void)
{
#if AD_FAST_X86
    __builtin_cpu_init();
    cpu.avx2 = __builtin_cpu_supports("avx2") != 0;
    cpu.fma = __builtin_cpu_supports("fma") != 0;
    cpu.avx512f = __builtin_cpu_supports("avx512f") != 0;
#endif
}

const ad_cpu_features *ad_cpu_features_get(void)
{
    pthread_once(&cpu_once, cpu_detect);
    return &cpu;
}
