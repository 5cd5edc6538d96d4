/* ad_gemm.h - the one matrix-product kernel every dense layer goes through.
 *
 * Row-major: C[m x n] = alpha * op(A) * op(B) + beta * C, where op(A) is
 * A [m x k] (lda >= k) or, with trans_a, A^T for A stored [k x m] (lda >= m);
 * likewise op(B) is B [k x n] or B^T for B stored [n x k].  With beta == 0,
 * C is overwritten (its old contents, even NaN, are ignored).
 */
#ifndef LIBBG_AUTODIFF_AD_GEMM_H
#define LIBBG_AUTODIFF_AD_GEMM_H

#include "ad_config.h"

void ad_gemm(int trans_a, int trans_b, int m, int n, int k, ad_real alpha,
             const ad_real *a, int lda, const ad_real *b, int ldb, ad_real beta,
             ad_real *c, int ldc);

/* The plain triple loop, kept as the reference the fast kernel is tested
 * against. */
void ad_gemm_reference(int trans_a, int trans_b, int m, int n, int k, ad_real alpha,
                       const ad_real *a, int lda, const ad_real *b, int ldb, ad_real beta,
                       ad_real *c, int ldc);

#endif
