/* ad_gemm_kernel.c - the register-tiled micro-kernels of ad_gemm, one body
 * compiled for several instruction sets.
 *
 * The body is plain C: an MR x NR array of accumulators, and for each step p
 * one value of A per row times NR values of B.  With MR and NR constant the
 * compiler unrolls the loops, keeps the accumulators in vector registers and
 * vectorises along the NR columns (with AVX-512 and 8 x 24: 24 zmm
 * accumulators, 3 loads of B and 8 broadcasts of A per step).  Each wrapper
 * below fixes the tile size and the instruction set through a target
 * attribute; ad_gemm.c picks one at run time.  GCC vectorises this only at
 * -O3, hence the pragma (Clang does at -O2).
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif

#include <math.h>

#include "ad_gemm_impl.h"

#if defined(__GNUC__) || defined(__clang__)
#define AD_INLINE static inline __attribute__((always_inline))
#else
#define AD_INLINE static inline
#endif

/* The kernel body; MR, NR and use_fma are constants at every call.  With
 * use_fma the update is a fused multiply-add (one rounding), used where the
 * instruction set has one; otherwise a multiply then an add. */
AD_INLINE void kernel_body(const int MR, const int NR, const int use_fma, int kc,
                           const ad_real *restrict a, const ad_real *restrict b,
                           ad_real *restrict c, ptrdiff_t ldc, ad_real alpha, ad_real beta)
{
    ad_real acc[AD_GEMM_MAX_TILE];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) acc[i * NR + j] = 0;
    for (int p = 0; p < kc; p++) {
        const ad_real *ap = a + (size_t)p * MR, *bp = b + (size_t)p * NR;
        for (int i = 0; i < MR; i++) {
            ad_real ai = ap[i];
            for (int j = 0; j < NR; j++)
                acc[i * NR + j] = use_fma ? AD_MATH(fma)(ai, bp[j], acc[i * NR + j])
                                          : acc[i * NR + j] + ai * bp[j];
        }
    }
    if (beta == 0) {
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++) c[i * ldc + j] = alpha * acc[i * NR + j];
    } else {
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++) {
                ad_real scaled = alpha * acc[i * NR + j];
                c[i * ldc + j] = scaled + beta * c[i * ldc + j];
            }
    }
}

void ad_gemm_kernel_portable(int kc, const ad_real *a, const ad_real *b, ad_real *c,
                             ptrdiff_t ldc, ad_real alpha, ad_real beta)
{
    kernel_body(AD_GEMM_PORTABLE_MR, AD_GEMM_PORTABLE_NR, 0, kc, a, b, c, ldc, alpha, beta);
}

#if AD_GEMM_HAVE_X86
__attribute__((target("avx2,fma"))) void ad_gemm_kernel_avx2(int kc, const ad_real *a,
                                                             const ad_real *b, ad_real *c,
                                                             ptrdiff_t ldc, ad_real alpha,
                                                             ad_real beta)
{
    kernel_body(AD_GEMM_AVX2_MR, AD_GEMM_AVX2_NR, 1, kc, a, b, c, ldc, alpha, beta);
}

__attribute__((target("avx512f,avx2,fma"))) void ad_gemm_kernel_avx512(int kc, const ad_real *a,
                                                                       const ad_real *b,
                                                                       ad_real *c, ptrdiff_t ldc,
                                                                       ad_real alpha, ad_real beta)
{
    kernel_body(AD_GEMM_AVX512_MR, AD_GEMM_AVX512_NR, 1, kc, a, b, c, ldc, alpha, beta);
}
#endif
