/* ad_gemm_impl.h - shared between ad_gemm.c (blocking, threads, dispatch) and
 * ad_gemm_kernel.c (the register-tiled micro-kernels and the packing, built
 * once per instruction set).  Internal to autodiff/fast/ (not installed).
 *
 * A micro-kernel computes one MR x W tile of C, W = nv * VL columns (nv
 * vectors of VL reals; the full tile has nv = NR / VL), from
 *   a: kc steps of MR values of op(A), either MR contiguous values per step,
 *      steps lda apart (a[p*lda + i] = op(A)[i][p]: packed, lda = MR, or a
 *      transposed A read where it lies, lda its row stride), or, for the
 *      "rows" kernels, a[i*lda + p] (op(A) = A stored row-major, lda apart);
 *   b: kc steps of W values of op(B), W contiguous values per step, steps
 *      ldb apart (b[p*ldb + j] = op(B)[p][j]; ad_gemm always passes a
 *      packed sliver, ldb = W: an edge sliver must be packed, since all W
 *      values of a step are read),
 * and writes rows x cols of it (rows <= MR, W - VL < cols <= W; the packed
 * values beyond them are zeros and do not reach C):
 *   C[i*ldc + j] = alpha * acc[i][j] + beta * C[i*ldc + j]   (beta != 0)
 *   C[i*ldc + j] = alpha * acc[i][j]                          (beta == 0),
 * where acc[i][j] is summed over p = 0, 1, ..., kc-1 in that order by one
 * multiply-add per step, whatever the tile width, so every element of C sees
 * the same sequence of operations wherever its tile lies.
 */
#ifndef LIBBG_AUTODIFF_FAST_AD_GEMM_IMPL_H
#define LIBBG_AUTODIFF_FAST_AD_GEMM_IMPL_H

#include <stddef.h>

#include "ad_state.h"
#include "autodiff/ad_config.h"

typedef void (*ad_gemm_kernel_fn)(int kc, const ad_real *a, ptrdiff_t lda, const ad_real *b,
                                  ptrdiff_t ldb, ad_real *c, ptrdiff_t ldc, ad_real alpha,
                                  ad_real beta, int rows, int cols);

/* op(A)[i0:+mc, p0:+kc] into slivers of MR rows: dst[s*MR*kc + p*MR + i],
 * rows past mc zero. */
typedef void (*ad_gemm_pack_a_fn)(int trans, const ad_real *a, size_t lda, int i0, int mc, int p0,
                                  int kc, ad_real *dst);
/* op(B)[p0:+kc, j0:+nc] into slivers of NR columns, dst[t*kc + p*NR + j]
 * for the sliver at column t; the last sliver, when narrower than NR, is
 * W = cols rounded up to VL wide (dst[t*kc + p*W + j]), columns past nc
 * zero. */
typedef void (*ad_gemm_pack_b_fn)(int trans, const ad_real *b, size_t ldb, int p0, int kc, int j0,
                                  int nc, ad_real *dst);

/* The widest tile, in vectors. */
#define AD_GEMM_MAX_NV 5

/* What one instruction set provides. */
typedef struct {
    int mr, nr, vl;                                /* tile MR x NR, vectors of VL */
    ad_gemm_kernel_fn packed[AD_GEMM_MAX_NV + 1]; /* [nv]: A by steps, W = nv * VL */
    ad_gemm_kernel_fn rows[AD_GEMM_MAX_NV + 1];   /* [nv]: A read in place       */
    ad_gemm_pack_a_fn pack_a;
    ad_gemm_pack_b_fn pack_b;
} ad_gemm_kernels;

/* Tile sizes of each kernel (rows MR of C, columns NR of C) and cache
 * blocks (KC steps of k, MC rows, NC columns; MC a multiple of MR, NC of NR).
 * They can be overridden at build time (-D) for tuning; NR must be a
 * multiple of the vector length and at most AD_GEMM_MAX_NV vectors.
 *
 * A vector register holds twice as many floats as doubles (SSE2 4, AVX2 8,
 * AVX-512 16), so the float build's tiles are twice as wide for the same
 * registers: the same number of accumulators, broadcasts and loads per step
 * (the portable one 4 x 8, two vectors, so that it also fits the plain-C
 * kernel's limit of 5 pairs). */
#ifdef AD_REAL_FLOAT
#define AD_GEMM_NR_SCALE 2
#else
#define AD_GEMM_NR_SCALE 1
#endif
#ifndef AD_GEMM_PORTABLE_MR
#define AD_GEMM_PORTABLE_MR 4
#ifdef AD_REAL_FLOAT
#define AD_GEMM_PORTABLE_NR 8
#else
#define AD_GEMM_PORTABLE_NR 6
#endif
#endif
#ifndef AD_GEMM_AVX2_MR
#define AD_GEMM_AVX2_MR 6
#define AD_GEMM_AVX2_NR (8 * AD_GEMM_NR_SCALE)
#endif
#ifndef AD_GEMM_AVX512_MR
#define AD_GEMM_AVX512_MR 8
#define AD_GEMM_AVX512_NR (24 * AD_GEMM_NR_SCALE)
#endif
#ifndef AD_GEMM_AVX512W_MR
#define AD_GEMM_AVX512W_MR 5
#define AD_GEMM_AVX512W_NR (40 * AD_GEMM_NR_SCALE)
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

/* The x86-64 instruction-set variants are built where AD_FAST_X86 says
 * (ad_state.h): GCC or Clang on x86-64, unless -DAD_GEMM_PLAIN_C. */
extern const ad_gemm_kernels ad_gemm_kernels_portable;
#if AD_FAST_X86
extern const ad_gemm_kernels ad_gemm_kernels_avx2;
extern const ad_gemm_kernels ad_gemm_kernels_avx512;
extern const ad_gemm_kernels ad_gemm_kernels_avx512w;
#endif

#endif
