/* ad_gemm_kernel.c - the register-tiled micro-kernels of ad_gemm.
 *
 * One kernel body, instantiated per instruction set.  An MR x NR tile of C is
 * held in MR * NV vector accumulators (NR = NV * VL doubles per row); each
 * step p broadcasts MR values of A, loads NV vectors of B and does MR * NV
 * multiply-adds.  With AVX-512 (8 x 24): 24 zmm accumulators, 8 broadcasts
 * and 3 loads per step; 5 x 40, for widths such as 200 that 24 does not
 * divide: 25 accumulators, 5 broadcasts and 5 loads); with AVX2 (6 x 8): 12 ymm accumulators; the
 * baseline x86-64 kernel (4 x 6 with SSE2): 12 xmm accumulators.
 *
 * The vectors are GCC/Clang vector extensions (vector_size), so the compiler
 * emits the instructions for each target attribute; no intrinsics.  Plain
 * loops over an accumulator array vectorise well for some tile shapes only
 * (GCC turned 6 x 8 into shuffles at 2 GFLOP/s), so the vector type is
 * spelled out.  Other compilers get the plain-C portable kernel.
 *
 * The multiply-add is contracted into one FMA where the target has one:
 * GCC needs fp-contract=fast for that (set below for this file only; -std=c11
 * turns it off); Clang contracts `acc + a * b` by default.  The code is fixed
 * at build time, so every tile of one variant rounds the same way.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "fp-contract=fast")
#endif

#include "ad_gemm_impl.h"

#if AD_GEMM_HAVE_X86

/* The kernel body for vector type VT of VL doubles (VTU: the same, for
 * unaligned memory), tile MR x (NV * VL). */
#define AD_GEMM_VECTOR_KERNEL(NAME, TARGET, VT, VTU, VL, MR, NV)                         \
    TARGET void NAME(int kc, const ad_real *restrict a, const ad_real *restrict b,         \
                     ad_real *restrict c, ptrdiff_t ldc, ad_real alpha, ad_real beta)      \
    {                                                                                      \
        VT acc[MR][NV];                                                                    \
        for (int i = 0; i < MR; i++)                                                       \
            for (int v = 0; v < NV; v++) acc[i][v] = (VT){0};                              \
        for (int p = 0; p < kc; p++) {                                                     \
            VT bv[NV];                                                                     \
            for (int v = 0; v < NV; v++) bv[v] = *(const VTU *)(b + ((size_t)p * NV + v) * VL); \
            for (int i = 0; i < MR; i++) {                                                 \
                VT ai = a[(size_t)p * MR + i] - (VT){0}; /* broadcast */                   \
                for (int v = 0; v < NV; v++) acc[i][v] = acc[i][v] + ai * bv[v];           \
            }                                                                              \
        }                                                                                  \
        VT va = alpha - (VT){0}, vb = beta - (VT){0};                                      \
        for (int i = 0; i < MR; i++)                                                       \
            for (int v = 0; v < NV; v++) {                                                 \
                ad_real *cv = c + i * ldc + v * VL;                                        \
                if (beta == 0)                                                             \
                    *(VTU *)cv = va * acc[i][v];                                           \
                else                                                                       \
                    *(VTU *)cv = va * acc[i][v] + vb * *(VTU *)cv;                         \
            }                                                                              \
    }

/* Vectors of 2, 4 and 8 reals; the _u types may sit at any real's address
 * (packed panels are 64-byte aligned, C need not be). */
typedef ad_real ad_v2 __attribute__((vector_size(2 * sizeof(ad_real))));
typedef ad_real ad_v4 __attribute__((vector_size(4 * sizeof(ad_real))));
typedef ad_real ad_v8 __attribute__((vector_size(8 * sizeof(ad_real))));
typedef ad_real ad_v2u __attribute__((vector_size(2 * sizeof(ad_real)), aligned(sizeof(ad_real))));
typedef ad_real ad_v4u __attribute__((vector_size(4 * sizeof(ad_real)), aligned(sizeof(ad_real))));
typedef ad_real ad_v8u __attribute__((vector_size(8 * sizeof(ad_real)), aligned(sizeof(ad_real))));

AD_GEMM_VECTOR_KERNEL(ad_gemm_kernel_portable, , ad_v2, ad_v2u, 2, AD_GEMM_PORTABLE_MR,
                      AD_GEMM_PORTABLE_NR / 2)
AD_GEMM_VECTOR_KERNEL(ad_gemm_kernel_avx2, __attribute__((target("avx2,fma"))), ad_v4, ad_v4u, 4,
                      AD_GEMM_AVX2_MR, AD_GEMM_AVX2_NR / 4)
AD_GEMM_VECTOR_KERNEL(ad_gemm_kernel_avx512, __attribute__((target("avx512f,avx2,fma"))), ad_v8,
                      ad_v8u, 8, AD_GEMM_AVX512_MR, AD_GEMM_AVX512_NR / 8)
AD_GEMM_VECTOR_KERNEL(ad_gemm_kernel_avx512w, __attribute__((target("avx512f,avx2,fma"))), ad_v8,
                      ad_v8u, 8, AD_GEMM_AVX512W_MR, AD_GEMM_AVX512W_NR / 8)

#else /* any other compiler or processor: plain C */

void ad_gemm_kernel_portable(int kc, const ad_real *restrict a, const ad_real *restrict b,
                             ad_real *restrict c, ptrdiff_t ldc, ad_real alpha, ad_real beta)
{
    enum { MR = AD_GEMM_PORTABLE_MR, NR = AD_GEMM_PORTABLE_NR };
    ad_real acc[MR][NR];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) acc[i][j] = 0;
    for (int p = 0; p < kc; p++)
        for (int i = 0; i < MR; i++) {
            ad_real ai = a[(size_t)p * MR + i];
            for (int j = 0; j < NR; j++) acc[i][j] = acc[i][j] + ai * b[(size_t)p * NR + j];
        }
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++)
            c[i * ldc + j] =
                beta == 0 ? alpha * acc[i][j] : alpha * acc[i][j] + beta * c[i * ldc + j];
}

#endif
