/* ad_gemm.h - the one matrix-product kernel every dense layer goes through.
 *
 * Fast path.  Speeds up: ad_matmul (ops_matmul.c) and the products of the
 * fused dense layers.  Must agree with: ad_gemm_reference, the plain triple
 * loop below (to rounding: sums are blocked over k and contracted into
 * multiply-adds where the processor has them).
 *
 * Row-major: C[m x n] = alpha * op(A) * op(B) + beta * C, where op(A) is
 * A [m x k] (lda >= k) or, with trans_a, A^T for A stored [k x m] (lda >= m);
 * likewise op(B) is B [k x n] or B^T for B stored [n x k].  With beta == 0,
 * C is overwritten (its old contents, even NaN, are ignored).
 *
 * ad_gemm is cache-blocked and register-tiled, with one set of micro-kernels
 * per instruction set (AVX-512, AVX2 + FMA, and a portable one that is the
 * x86-64 baseline and the only one elsewhere), chosen once at run time.  The
 * last column tiles, when n is not a multiple of the tile width, get a
 * kernel only as wide as the vectors that cover them, so at most one vector
 * per row of C is partly padding.  Large
 * products are split over ad_threads_get() threads (ad_state.h) by rows or
 * columns of C, never over k, and each element is summed in the same order
 * whatever its position, so results are bit-identical for any thread count.
 * Packing buffers are kept between calls (grown, never shrunk; ad_state.h,
 * where ad_gemm_release_buffers frees them), so a training loop allocates
 * nothing after its first iteration.  Concurrent calls from
 * several threads are safe (they take turns), and a call made inside a task
 * of ad_parallel_for runs on that thread alone with that worker's own
 * buffers, so the tasks of one parallel-for compute their products at the
 * same time.  If a buffer cannot be allocated, the product is still
 * computed, by the reference loop.
 */
#ifndef LIBBG_AUTODIFF_FAST_AD_GEMM_H
#define LIBBG_AUTODIFF_FAST_AD_GEMM_H

#include "ad_state.h" /* the packing buffers; ad_gemm_release_buffers */
#include "autodiff/ad_config.h"

void ad_gemm(int trans_a, int trans_b, int m, int n, int k, ad_real alpha,
             const ad_real *a, int lda, const ad_real *b, int ldb, ad_real beta,
             ad_real *c, int ldc);

/* Called by ad_gemm_epilogue on each block of C as soon as it holds its final
 * value, while the block is still in cache: rows [r0, r0 + rows), columns
 * [c0, c0 + cols) of C.  Blocks do not overlap, together they cover C once,
 * and they may be handed to different threads at the same time. */
typedef void (*ad_gemm_epilogue_fn)(void *ctx, ad_real *c, int ldc, int r0, int rows, int c0,
                                    int cols);

/* ad_gemm followed by epi on every element of C (each element's value is
 * the one ad_gemm gives; epi sees it once).  For fused element-wise work,
 * such as a dense layer's bias and activation, that would otherwise be a
 * second pass over C. */
void ad_gemm_epilogue(int trans_a, int trans_b, int m, int n, int k, ad_real alpha,
                      const ad_real *a, int lda, const ad_real *b, int ldb, ad_real beta,
                      ad_real *c, int ldc, ad_gemm_epilogue_fn epi, void *epi_ctx);

/* op(B) packed once for several products that share it (a dense layer's
 * weights, used by every block of rows of the fused layers): each product
 * would otherwise copy it into its packing buffer again.  The results are
 * those of ad_gemm / ad_gemm_epilogue with the same B, bit for bit.
 *
 *   ad_gemm_packed_b_size  elements of the packed form of a k x n op(B)
 *   ad_gemm_pack_b         pack op(B) (B stored [k x n], or [n x k] with
 *                          trans_b) into dst, which must hold that many
 *                          elements (any alignment) and outlive *out; *out
 *                          also keeps b, which must outlive it too (the
 *                          products fall back to it without memory)
 *   ad_gemm_epilogue_packed  C = alpha op(A) op(B) + beta C, then epi (may
 *                          be NULL), with op(B) from *b: m x b->n x b->k */
typedef struct {
    const ad_real *data;
    const ad_real *b;
    int ldb, trans_b, k, n;
} ad_gemm_packed_b;
size_t ad_gemm_packed_b_size(int k, int n);
void ad_gemm_pack_b(int trans_b, int k, int n, const ad_real *b, int ldb, ad_real *dst,
                    ad_gemm_packed_b *out);
void ad_gemm_epilogue_packed(int trans_a, int m, ad_real alpha, const ad_real *a, int lda,
                             const ad_gemm_packed_b *b, ad_real beta, ad_real *c, int ldc,
                             ad_gemm_epilogue_fn epi, void *epi_ctx);

/* The plain triple loop, kept as the reference the fast kernel is tested
 * against. */
void ad_gemm_reference(int trans_a, int trans_b, int m, int n, int k, ad_real alpha,
                       const ad_real *a, int lda, const ad_real *b, int ldb, ad_real beta,
                       ad_real *c, int ldc);

/* The micro-kernel variants.  AD_GEMM_AUTO is what ad_gemm uses: the
 * widest instruction set this processor supports and, with AVX-512, of its
 * two tile widths 5 x 40 where 40 divides n and 24 does not (n = 200),
 * else 8 x 24 (n = 38, 100, 1024), a choice that depends on n only, never
 * on the thread count. */
typedef enum {
    AD_GEMM_AUTO = 0,
    AD_GEMM_PORTABLE, /* plain C, 4 x 6 tiles: baseline x86-64 (SSE2), any CPU */
    AD_GEMM_AVX2,     /* AVX2 + FMA, 6 x 8 tiles                              */
    AD_GEMM_AVX512,   /* AVX-512F, 8 x 24 tiles                               */
    AD_GEMM_AVX512W,  /* AVX-512F, 5 x 40 tiles (for n = 200 and the like)    */
    AD_GEMM_N_VARIANTS
} ad_gemm_variant_id;

/* 1 when `variant` was compiled in and this processor can run it. */
int ad_gemm_variant_supported(ad_gemm_variant_id variant);
/* The variant AD_GEMM_AUTO resolves to on this processor for n columns. */
ad_gemm_variant_id ad_gemm_variant_auto(int n);
/* A short name ("portable", "avx2", "avx512", "avx512w", "auto"), or "?" */
const char *ad_gemm_variant_name(ad_gemm_variant_id variant);

/* ad_gemm with a chosen variant (for tests and benchmarks).  Returns AD_OK, or
 * AD_ERR_ARG (and leaves C alone) when the variant is not supported here. */
int ad_gemm_variant(ad_gemm_variant_id variant, int trans_a, int trans_b, int m, int n, int k,
                    ad_real alpha, const ad_real *a, int lda, const ad_real *b, int ldb,
                    ad_real beta, ad_real *c, int ldc);

/* Reserve, on every thread of ad_parallel_for, the packing buffers of an
 * m x n x k product (C is m x n, any transposition) that tasks will compute
 * with ad_gemm or ad_gemm_epilogue.  A task otherwise grows its worker's
 * buffers when it first needs them, and which worker runs which task is not
 * fixed, so a loop would allocate whenever a thread first drew a task of
 * some shape; reserving before the parallel-for makes a loop's allocations
 * end with its first iteration.  Does nothing on one thread or inside a
 * task.  Returns 0 when out of memory (tasks then fall back as ad_gemm
 * does), else 1. */
int ad_gemm_reserve_tasks(int m, int n, int k);

#endif
