/* ad_gemm_impl.h - shared between ad_gemm.c (blocking, packing, threads,
 * dispatch) and ad_gemm_kernel.c (the register-tiled micro-kernels).
 *
 * A micro-kernel computes one MR x NR tile of C from packed panels:
 *   a: kc steps of MR values of op(A) (a[p*MR + i] = op(A)[i][p]),
 *   b: kc steps of NR values of op(B) (b[p*NR + j] = op(B)[p][j]),
 *   C[i*ldc + j] = alpha * acc[i][j] + beta * C[i*ldc + j]   (beta != 0)
 *   C[i*ldc + j] = alpha * acc[i][j]                          (beta == 0),
 * where acc[i][j] is summed over p = 0, 1, ..., kc-1 in that order, so every
 * element of C sees the same sequence of operations wherever its tile lies.
 */
#ifndef LIBBG_AUTODIFF_AD_GEMM_IMPL_H
#define LIBBG_AUTODIFF_AD_GEMM_IMPL_H

#include <stddef.h>

#include "ad_config.h"

typedef void (*ad_gemm_kernel_fn)(int kc, const ad_real *a, const ad_real *b, ad_real *c,
                                  ptrdiff_t ldc, ad_real alpha, ad_real beta);

/* Tile sizes of each kernel (rows MR of C, columns NR of C) and cache
 * blocks (KC steps of k, MC rows, NC columns; MC a multiple of MR, NC of NR).
 * They can be overridden at build time (-D) for tuning. */
#ifndef AD_GEMM_PORTABLE_MR
#define AD_GEMM_PORTABLE_MR 4
#define AD_GEMM_PORTABLE_NR 6
#endif
#ifndef AD_GEMM_AVX2_MR
#define AD_GEMM_AVX2_MR 6
#define AD_GEMM_AVX2_NR 8
#endif
#ifndef AD_GEMM_AVX512_MR
#define AD_GEMM_AVX512_MR 8
#define AD_GEMM_AVX512_NR 24
#endif
#ifndef AD_GEMM_AVX512W_MR
#define AD_GEMM_AVX512W_MR 5
#define AD_GEMM_AVX512W_NR 40
#endif
#ifndef AD_GEMM_PORTABLE_BLOCKS
#define AD_GEMM_PORTABLE_BLOCKS 256, 960, 480
#endif
#ifndef AD_GEMM_AVX2_BLOCKS
#define AD_GEMM_AVX2_BLOCKS 256, 960, 480
#endif
#ifndef AD_GEMM_AVX512_BLOCKS
#define AD_GEMM_AVX512_BLOCKS 256, 960, 480
#endif
#ifndef AD_GEMM_AVX512W_BLOCKS
#define AD_GEMM_AVX512W_BLOCKS 256, 960, 480
#endif
/* The largest tile, for scratch tiles at the edges of C. */
#define AD_GEMM_MAX_TILE 512

/* 1 when this compiler can build the x86-64 instruction-set variants. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define AD_GEMM_HAVE_X86 1
#else
#define AD_GEMM_HAVE_X86 0
#endif

void ad_gemm_kernel_portable(int kc, const ad_real *a, const ad_real *b, ad_real *c,
                             ptrdiff_t ldc, ad_real alpha, ad_real beta);
#if AD_GEMM_HAVE_X86
void ad_gemm_kernel_avx2(int kc, const ad_real *a, const ad_real *b, ad_real *c, ptrdiff_t ldc,
                         ad_real alpha, ad_real beta);
void ad_gemm_kernel_avx512(int kc, const ad_real *a, const ad_real *b, ad_real *c,
                           ptrdiff_t ldc, ad_real alpha, ad_real beta);
void ad_gemm_kernel_avx512w(int kc, const ad_real *a, const ad_real *b, ad_real *c,
                            ptrdiff_t ldc, ad_real alpha, ad_real beta);
#endif

#endif
