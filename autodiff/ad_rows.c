/* ad_rows.c - the row loops of the dense layer ops (ad_rows.h). */
#if defined(__GNUC__) && !defined(__clang__)
/* GCC vectorises these loops only at -O3 (its -O2 cost model refuses loops
 * of unknown length); Clang does at -O2. */
#pragma GCC optimize("O3")
#endif

#include "ad_rows.h"

#include <math.h>
#include <pthread.h>

#include "ad_alloc.h"

/* Built for AVX-512 and AVX2 as well as the baseline and picked at load
 * time, like the GEMM kernels (one machine always runs the same clone, so
 * thread counts still cannot change a result).  Needs glibc's ifunc;
 * elsewhere the baseline loop is the only one. */
#if defined(__x86_64__) && defined(__GLIBC__) && \
    (defined(__clang__) ? __clang_major__ >= 14 : defined(__GNUC__))
#define ROW_KERNEL __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ROW_KERNEL
#endif

ROW_KERNEL ad_real ad_row_dot(const ad_real *a, const ad_real *b, int n)
{
    ad_real s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int p = 0;
    for (; p + 8 <= n; p += 8)
        for (int u = 0; u < 8; u++) s[u] += a[p + u] * b[p + u];
    ad_real r = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
    for (; p < n; p++) r += a[p] * b[p];
    return r;
}

ROW_KERNEL void ad_row_scale(ad_real *restrict y, ad_real x0, const ad_real *restrict w, int n)
{
    for (int j = 0; j < n; j++) y[j] = x0 * w[j];
}

ROW_KERNEL void ad_row_outer_act(ad_real *restrict y, ad_real x0, const ad_real *restrict w,
                                 const ad_real *restrict b, int n, ad_activation act)
{
    /* the product is rounded before the bias is added (separate statements:
     * no contraction into one multiply-add), as ad_row_scale followed by
     * ad_row_bias_act would round */
    for (int j = 0; j < n; j++) {
        ad_real v = x0 * w[j];
        if (b) v = v + b[j];
        if (act == AD_ACT_RELU) v = v > 0 ? v : 0;
        else if (act == AD_ACT_TANH) v = AD_MATH(tanh)(v);
        y[j] = v;
    }
}

ROW_KERNEL void ad_row_axpy(ad_real *restrict y, ad_real x0, const ad_real *restrict w, int n)
{
    for (int j = 0; j < n; j++) y[j] += x0 * w[j];
}

ROW_KERNEL void ad_row_bias_act(ad_real *restrict y, const ad_real *restrict b, int n,
                                ad_activation act)
{
    if (b)
        for (int j = 0; j < n; j++) y[j] += b[j];
    if (act == AD_ACT_RELU)
        for (int j = 0; j < n; j++) y[j] = y[j] > 0 ? y[j] : 0;
    else if (act == AD_ACT_TANH)
        for (int j = 0; j < n; j++) y[j] = AD_MATH(tanh)(y[j]);
}

ROW_KERNEL void ad_row_act_grad(ad_real *restrict g, const ad_real *restrict y,
                                const ad_real *restrict dy, ad_real *restrict colsum, int n,
                                ad_activation act)
{
    if (act == AD_ACT_RELU) /* y > 0 exactly where x W + b > 0 */
        for (int j = 0; j < n; j++) {
            ad_real v = dy[j]; /* loaded unconditionally: a select, not a branch */
            g[j] = y[j] > 0 ? v : 0;
        }
    else if (act == AD_ACT_TANH)
        for (int j = 0; j < n; j++) g[j] = dy[j] * (1 - y[j] * y[j]);
    if (colsum)
        for (int j = 0; j < n; j++) colsum[j] += (act == AD_ACT_IDENTITY ? dy : g)[j];
}

ROW_KERNEL void ad_row_act_grad_inplace(ad_real *restrict g, const ad_real *restrict y,
                                        ad_real *restrict colsum, int n, ad_activation act)
{
    if (act == AD_ACT_RELU)
        for (int j = 0; j < n; j++) g[j] = y[j] > 0 ? g[j] : 0;
    else if (act == AD_ACT_TANH)
        for (int j = 0; j < n; j++) g[j] *= 1 - y[j] * y[j];
    if (colsum)
        for (int j = 0; j < n; j++) colsum[j] += g[j];
}

void ad_row_thin_forward(ad_real *y, const ad_real *x, const ad_real *w, const ad_real *b, int k,
                         int n, ad_activation act)
{
    if (n == 1) {
        y[0] = ad_row_dot(x, w, k);
        ad_row_bias_act(y, b, 1, act);
    } else {
        ad_row_outer_act(y, x[0], w, b, n, act);
    }
}

void ad_row_thin_dw(ad_real *gw, const ad_real *x, const ad_real *g, int k, int n)
{
    if (n == 1) ad_row_axpy(gw, g[0], x, k);
    else ad_row_axpy(gw, x[0], g, n);
}

void ad_row_thin_dx(ad_real *gx, const ad_real *g, const ad_real *w, int k, int n, int fresh)
{
    if (n == 1) {
        if (fresh) ad_row_scale(gx, g[0], w, k);
        else ad_row_axpy(gx, g[0], w, k);
    } else {
        ad_real v = ad_row_dot(g, w, n);
        gx[0] = fresh ? v : gx[0] + v;
    }
}

int ad_block_rows(int m)
{
    int r = (m / 4 + 7) / 8 * 8;
    return r < 64 ? 64 : r > 256 ? 256 : r;
}

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
