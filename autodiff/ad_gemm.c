/* ad_gemm.c - matrix product.  This is the reference implementation; the
 * fast, blocked kernel replaces the body of ad_gemm without changing its
 * contract. */
#include "ad_gemm.h"

#include <stddef.h>

void ad_gemm_reference(int trans_a, int trans_b, int m, int n, int k, ad_real alpha,
                       const ad_real *a, int lda, const ad_real *b, int ldb, ad_real beta,
                       ad_real *c, int ldc)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            ad_real s = 0;
            for (int p = 0; p < k; p++) {
                ad_real av = trans_a ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                ad_real bv = trans_b ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                s += av * bv;
            }
            ad_real *cij = &c[(size_t)i * ldc + j];
            *cij = beta == 0 ? alpha * s : alpha * s + beta * *cij;
        }
}

void ad_gemm(int trans_a, int trans_b, int m, int n, int k, ad_real alpha,
             const ad_real *a, int lda, const ad_real *b, int ldb, ad_real beta,
             ad_real *c, int ldc)
{
    ad_gemm_reference(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
