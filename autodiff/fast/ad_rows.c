/* ad_rows.c - the row loops of the dense layer ops (ad_rows.h).
 *
 * Fast path.  Speeds up: the element-wise work of ad_dense and ad_mlp.  Must
 * agree with: ad_add for the bias and ad_relu / ad_tanh and their backward
 * for the activation (the formulas are ad_act.h's), bit for bit, in every
 * instruction-set copy.
 *
 * Each kernel is built three times, for AVX-512, AVX2 and the baseline
 * (ad_rows_impl.h, included once per instruction set with a target
 * attribute), and the set is picked once, at the first call, from what the
 * processor supports (ad_cpu_features_get, ad_state.h), through a table of
 * function pointers.  That works with GCC and Clang on any x86-64 system; other
 * compilers and processors get the baseline copy only.  Contraction into
 * multiply-adds is off in this file, so all three copies round alike and a
 * result does not depend on the copy that ran (nor on the thread count). */
#if defined(__GNUC__) && !defined(__clang__)
/* GCC vectorises these loops only at -O3 (its -O2 cost model refuses loops
 * of unknown length); Clang does at -O2.  fp-contract=off: as -std=c11
 * already sets, but also under -std=gnu11. */
#pragma GCC optimize("O3", "fp-contract=off")
#endif
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#include "ad_rows.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

#include "ad_state.h"

typedef struct {
    ad_real (*dot)(const ad_real *a, const ad_real *b, int n);
    void (*scale)(ad_real *restrict y, ad_real x0, const ad_real *restrict w, int n);
    void (*outer_act)(ad_real *restrict y, ad_real x0, const ad_real *restrict w,
                      const ad_real *restrict b, int n, ad_activation act);
    void (*axpy)(ad_real *restrict y, ad_real x0, const ad_real *restrict w, int n);
    void (*bias_act)(ad_real *restrict y, const ad_real *restrict b, int n, ad_activation act);
    void (*act_grad)(ad_real *restrict g, const ad_real *restrict y, const ad_real *restrict dy,
                     ad_real *restrict colsum, int n, ad_activation act);
    void (*act_grad_inplace)(ad_real *restrict g, const ad_real *restrict y,
                             ad_real *restrict colsum, int n, ad_activation act);
} ad_row_kernels;

/* The instruction-set copies are built where AD_FAST_X86 says (ad_state.h),
 * as the GEMM kernels are. */
#define ROW_TARGET
#define ROW_NAME(f) row_##f##_baseline
#include "ad_rows_impl.h"
#undef ROW_TARGET
#undef ROW_NAME

#if AD_FAST_X86
#define ROW_TARGET __attribute__((target("avx2")))
#define ROW_NAME(f) row_##f##_avx2
#include "ad_rows_impl.h"
#undef ROW_TARGET
#undef ROW_NAME

#define ROW_TARGET __attribute__((target("avx512f")))
#define ROW_NAME(f) row_##f##_avx512
#include "ad_rows_impl.h"
#undef ROW_TARGET
#undef ROW_NAME
#endif

static const ad_row_kernels *const row_sets[AD_ROWS_N_ISA] = {
    [AD_ROWS_BASELINE] = &row_kernels_baseline,
#if AD_FAST_X86
    [AD_ROWS_AVX2] = &row_kernels_avx2,
    [AD_ROWS_AVX512] = &row_kernels_avx512,
#endif
};
static const char *const row_set_names[AD_ROWS_N_ISA] = {"baseline", "avx2", "avx512"};

static pthread_once_t rows_once = PTHREAD_ONCE_INIT;
static int rows_supported[AD_ROWS_N_ISA];
static ad_rows_isa rows_best = AD_ROWS_BASELINE;
/* The set in use: NULL until the first call picks one.  An acquire load
 * (a plain load on x86-64) per call. */
static _Atomic(const ad_row_kernels *) rows_active;

static void rows_detect(void)
{
    rows_supported[AD_ROWS_BASELINE] = 1;
#if AD_FAST_X86
    const ad_cpu_features *f = ad_cpu_features_get();
    rows_supported[AD_ROWS_AVX2] = f->avx2;
    rows_supported[AD_ROWS_AVX512] = f->avx512f;
#endif
    for (int i = AD_ROWS_BASELINE; i < AD_ROWS_N_ISA; i++)
        if (rows_supported[i] && row_sets[i]) rows_best = (ad_rows_isa)i;
    const ad_row_kernels *expected = NULL;
    atomic_compare_exchange_strong(&rows_active, &expected, row_sets[rows_best]);
}

static const ad_row_kernels *rows(void)
{
    const ad_row_kernels *k = atomic_load_explicit(&rows_active, memory_order_acquire);
    if (k) return k;
    pthread_once(&rows_once, rows_detect);
    return atomic_load_explicit(&rows_active, memory_order_acquire);
}

int ad_rows_isa_supported(ad_rows_isa isa)
{
    pthread_once(&rows_once, rows_detect);
    return isa >= AD_ROWS_BASELINE && isa < AD_ROWS_N_ISA && rows_supported[isa] &&
           row_sets[isa] != NULL;
}

ad_rows_isa ad_rows_isa_current(void)
{
    const ad_row_kernels *k = rows();
    for (int i = AD_ROWS_BASELINE; i < AD_ROWS_N_ISA; i++)
        if (row_sets[i] == k) return (ad_rows_isa)i;
    return AD_ROWS_BASELINE;
}

ad_rows_isa ad_rows_isa_best(void)
{
    pthread_once(&rows_once, rows_detect);
    return rows_best;
}

const char *ad_rows_isa_name(ad_rows_isa isa)
{
    return isa >= AD_ROWS_BASELINE && isa < AD_ROWS_N_ISA ? row_set_names[isa] : "?";
}

int ad_rows_isa_select(ad_rows_isa isa)
{
    if (!ad_rows_isa_supported(isa)) return -1;
    atomic_store_explicit(&rows_active, row_sets[isa], memory_order_release);
    return 0;
}

ad_real ad_row_dot(const ad_real *a, const ad_real *b, int n) { return rows()->dot(a, b, n); }

void ad_row_scale(ad_real *restrict y, ad_real x0, const ad_real *restrict w, int n)
{
    rows()->scale(y, x0, w, n);
}

void ad_row_outer_act(ad_real *restrict y, ad_real x0, const ad_real *restrict w,
                      const ad_real *restrict b, int n, ad_activation act)
{
    rows()->outer_act(y, x0, w, b, n, act);
}

void ad_row_axpy(ad_real *restrict y, ad_real x0, const ad_real *restrict w, int n)
{
    rows()->axpy(y, x0, w, n);
}

void ad_row_bias_act(ad_real *restrict y, const ad_real *restrict b, int n, ad_activation act)
{
    rows()->bias_act(y, b, n, act);
}

void ad_row_act_grad(ad_real *restrict g, const ad_real *restrict y, const ad_real *restrict dy,
                     ad_real *restrict colsum, int n, ad_activation act)
{
    rows()->act_grad(g, y, dy, colsum, n, act);
}

void ad_row_act_grad_inplace(ad_real *restrict g, const ad_real *restrict y,
                             ad_real *restrict colsum, int n, ad_activation act)
{
    rows()->act_grad_inplace(g, y, colsum, n, act);
}

void ad_rows_bias_act_block(void *ctx, ad_real *y, int ldy, int r0, int rows, int c0, int cols)
{
    const ad_bias_act *f = ctx;
    for (int i = r0; i < r0 + rows; i++)
        ad_row_bias_act(y + (size_t)i * ldy + c0, f->b ? f->b + c0 : NULL, cols, f->act);
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
