/* ad_gemm_kernel.c - the register-tiled micro-kernels of ad_gemm and the
 * packing of its operands, built once per instruction set.
 *
 * Fast path.  Speeds up: the inner loop of ad_gemm.  Must agree with:
 * ad_gemm_reference (to rounding), each tile of a variant bit for bit with
 * every other tile of it.
 *
 * One kernel body, instantiated per instruction set and tile width.  An
 * MR x W tile of C is held in MR * nv vector accumulators (W = nv * VL
 * reals); each step p broadcasts MR values of A, loads nv vectors of B and
 * does MR * nv multiply-adds.  The full tiles: AVX-512 8 x 24 (24 zmm
 * accumulators, 8 broadcasts and 3 loads per step) and 5 x 40 (for widths
 * such as 200 that 24 does not divide: 25 accumulators, 5 broadcasts and 5
 * loads); AVX2 6 x 8 (12 ymm accumulators); the baseline x86-64 kernel 4 x 6
 * with SSE2 (12 xmm accumulators).
 *
 * The last column sliver of C, when narrower than NR, gets the kernel with
 * the fewest vectors that cover it (n = 100 with 8 x 24 tiles: four full
 * tiles and one 8 x 8 tile, not a fifth 8 x 24 one), so at most VL - 1
 * columns of multiply-adds are spent on padding.  Edge tiles are written in
 * place: whole vectors as usual, the last partial vector and the rows past
 * m left out.  Each element's sum is the same sequence of multiply-adds
 * whatever the width of its tile.
 *
 * A comes as MR contiguous values per step, the steps lda apart (a packed
 * sliver, lda = MR, or a transposed A read in place, lda its row stride),
 * or, for the "rows" kernels, straight from a row-major op(A) (MR rows lda
 * apart, each read forwards): packing such an A is a transpose, which
 * costs more than broadcasting from MR streams, and the MR x KC rows stay
 * in L1 across the column slivers as the packed sliver would.  B comes
 * packed, its steps ldb apart (the sliver's width).
 *
 * The vectors are GCC/Clang vector extensions (vector_size), so the compiler
 * emits the instructions for each target attribute; no intrinsics.  Plain
 * loops over an accumulator array vectorise well for some tile shapes only
 * (GCC turned 6 x 8 into shuffles at 2 GFLOP/s), so the vector type is
 * spelled out.  Other compilers get a plain-C kernel.
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

/* How the kernels read A[i][p]: MR values per step, steps lda apart, or MR
 * rows lda apart. */
#define A_PACKED(i, p) a[(ptrdiff_t)(p) * lda + (i)]
#define A_ROWS(i, p) a[(ptrdiff_t)(i) * lda + (p)]

/* ---- packing, per instruction set ---------------------------------------- */

/* The copies have compile-time lengths (MR, NR) where they matter, so they
 * become vector moves instead of calls to memcpy for a few values. */
#define AD_GEMM_PACK_A(NAME, TARGET, MR)                                                       \
    static TARGET void NAME(int trans, const ad_real *restrict a, size_t lda, int i0, int mc,   \
                            int p0, int kc, ad_real *restrict dst)                              \
    {                                                                                           \
        const int full = mc / MR * MR, rows = mc - full; /* whole slivers, rows of the last */  \
        const size_t sliver = (size_t)MR * kc;                                                  \
        if (trans) { /* A stored [k x m]: each step's values are contiguous; read row by row */ \
            for (int p = 0; p < kc; p++) {                                                      \
                const ad_real *src = a + (size_t)(p0 + p) * lda + i0;                           \
                ad_real *d = dst + (size_t)p * MR;                                              \
                for (int s = 0; s < full; s += MR, d += sliver)                                 \
                    for (int i = 0; i < MR; i++) d[i] = src[s + i];                             \
                if (rows)                                                                       \
                    for (int i = 0; i < MR; i++) d[i] = i < rows ? src[full + i] : 0;           \
            }                                                                                   \
            return;                                                                             \
        }                                                                                       \
        for (int s = 0; s < mc; s += MR, dst += sliver)                                         \
            for (int i = 0; i < MR; i++) {                                                      \
                const ad_real *src = a + (size_t)(i0 + s + i) * lda + p0;                       \
                if (s + i < mc)                                                                 \
                    for (int p = 0; p < kc; p++) dst[(size_t)p * MR + i] = src[p];              \
                else                                                                            \
                    for (int p = 0; p < kc; p++) dst[(size_t)p * MR + i] = 0;                   \
            }                                                                                   \
    }

#define AD_GEMM_PACK_B(NAME, TARGET, NR, VL)                                                   \
    static TARGET void NAME(int trans, const ad_real *restrict b, size_t ldb, int p0, int kc,   \
                            int j0, int nc, ad_real *restrict dst)                              \
    {                                                                                           \
        for (int t = 0; t < nc; t += NR) {                                                      \
            int cols = nc - t < NR ? nc - t : NR;                                               \
            if (cols == NR && trans) { /* B stored [n x k] */                                   \
                for (int j = 0; j < NR; j++) {                                                  \
                    const ad_real *src = b + (size_t)(j0 + t + j) * ldb + p0;                   \
                    for (int p = 0; p < kc; p++) dst[(size_t)p * NR + j] = src[p];              \
                }                                                                               \
                dst += (size_t)NR * kc;                                                         \
            } else if (cols == NR) {                                                            \
                const ad_real *src = b + (size_t)p0 * ldb + j0 + t;                             \
                for (int p = 0; p < kc; p++)                                                    \
                    for (int j = 0; j < NR; j++) dst[(size_t)p * NR + j] = src[p * ldb + j];    \
                dst += (size_t)NR * kc;                                                         \
            } else { /* the last sliver, cols rounded up to whole vectors */                    \
                int w = (cols + VL - 1) / VL * VL;                                              \
                for (int p = 0; p < kc; p++)                                                    \
                    for (int j = 0; j < w; j++)                                                 \
                        dst[(size_t)p * w + j] =                                                \
                            j >= cols  ? 0                                                      \
                            : trans    ? b[(size_t)(j0 + t + j) * ldb + p0 + p]                 \
                                       : b[(size_t)(p0 + p) * ldb + j0 + t + j];                \
                dst += (size_t)w * kc;                                                          \
            }                                                                                   \
        }                                                                                       \
    }

#if AD_FAST_X86

/* The kernel body for vector type VT of VL reals (VTU: the same, for
 * unaligned memory), tile MR x (NV * VL), A read by A_AT. */
#define AD_GEMM_VECTOR_KERNEL(NAME, TARGET, VT, VTU, VL, MR, NV, A_AT)                         \
    static TARGET void NAME(int kc, const ad_real *restrict a, ptrdiff_t lda,                   \
                            const ad_real *restrict b, ptrdiff_t ldb, ad_real *restrict c,       \
                            ptrdiff_t ldc, ad_real alpha, ad_real beta, int rows, int cols)      \
    {                                                                                           \
        VT acc[MR][NV];                                                                         \
        for (int i = 0; i < MR; i++)                                                            \
            for (int v = 0; v < NV; v++) acc[i][v] = (VT){0};                                   \
        for (int p = 0; p < kc; p++) {                                                          \
            VT bv[NV];                                                                          \
            for (int v = 0; v < NV; v++)                                                        \
                bv[v] = *(const VTU *)(b + (ptrdiff_t)p * ldb + v * VL);                        \
            for (int i = 0; i < MR; i++) {                                                      \
                VT ai = A_AT(i, p) - (VT){0}; /* broadcast */                                   \
                for (int v = 0; v < NV; v++) acc[i][v] = acc[i][v] + ai * bv[v];                \
            }                                                                                   \
        }                                                                                       \
        VT va = alpha - (VT){0}, vb = beta - (VT){0};                                           \
        if (rows == MR && cols == NV * VL) {                                                    \
            for (int i = 0; i < MR; i++)                                                        \
                for (int v = 0; v < NV; v++) {                                                  \
                    ad_real *cv = c + i * ldc + v * VL;                                         \
                    if (beta == 0)                                                              \
                        *(VTU *)cv = va * acc[i][v];                                            \
                    else                                                                        \
                        *(VTU *)cv = va * acc[i][v] + vb * *(VTU *)cv;                          \
                }                                                                               \
            return;                                                                             \
        }                                                                                       \
        /* An edge tile: whole vectors, then the last one lane by lane. */                      \
        for (int i = 0; i < MR && i < rows; i++)                                                \
            for (int v = 0; v < NV; v++) {                                                      \
                ad_real *cv = c + i * ldc + v * VL;                                             \
                int left = cols - v * VL;                                                       \
                if (left >= VL) {                                                               \
                    if (beta == 0)                                                              \
                        *(VTU *)cv = va * acc[i][v];                                            \
                    else                                                                        \
                        *(VTU *)cv = va * acc[i][v] + vb * *(VTU *)cv;                          \
                    continue;                                                                   \
                }                                                                               \
                ad_real lane[VL] = {0};                                                         \
                if (beta == 0) {                                                                \
                    *(VTU *)lane = va * acc[i][v];                                              \
                } else {                                                                        \
                    for (int l = 0; l < left; l++) lane[l] = cv[l];                             \
                    *(VTU *)lane = va * acc[i][v] + vb * *(VTU *)lane;                          \
                }                                                                               \
                for (int l = 0; l < left; l++) cv[l] = lane[l];                                 \
                break;                                                                          \
            }                                                                                   \
    }

/* The packed-A and rows-of-A kernels 1..5 vectors wide, the packing and the
 * table of one instruction set. */
#define AD_GEMM_VARIANT(SFX, TARGET, VT, VTU, VL, MR, NR)                                      \
    _Static_assert((NR) % (VL) == 0 && (NR) / (VL) >= 1 && (NR) / (VL) <= AD_GEMM_MAX_NV,       \
                   "NR must be 1.." "5 whole vectors");                                        \
    AD_GEMM_VECTOR_KERNEL(kp1_##SFX, TARGET, VT, VTU, VL, MR, 1, A_PACKED)                      \
    AD_GEMM_VECTOR_KERNEL(kp2_##SFX, TARGET, VT, VTU, VL, MR, 2, A_PACKED)                      \
    AD_GEMM_VECTOR_KERNEL(kp3_##SFX, TARGET, VT, VTU, VL, MR, 3, A_PACKED)                      \
    AD_GEMM_VECTOR_KERNEL(kp4_##SFX, TARGET, VT, VTU, VL, MR, 4, A_PACKED)                      \
    AD_GEMM_VECTOR_KERNEL(kp5_##SFX, TARGET, VT, VTU, VL, MR, 5, A_PACKED)                      \
    AD_GEMM_VECTOR_KERNEL(kr1_##SFX, TARGET, VT, VTU, VL, MR, 1, A_ROWS)                        \
    AD_GEMM_VECTOR_KERNEL(kr2_##SFX, TARGET, VT, VTU, VL, MR, 2, A_ROWS)                        \
    AD_GEMM_VECTOR_KERNEL(kr3_##SFX, TARGET, VT, VTU, VL, MR, 3, A_ROWS)                        \
    AD_GEMM_VECTOR_KERNEL(kr4_##SFX, TARGET, VT, VTU, VL, MR, 4, A_ROWS)                        \
    AD_GEMM_VECTOR_KERNEL(kr5_##SFX, TARGET, VT, VTU, VL, MR, 5, A_ROWS)                        \
    AD_GEMM_PACK_A(pack_a_##SFX, TARGET, MR)                                                    \
    AD_GEMM_PACK_B(pack_b_##SFX, TARGET, NR, VL)                                                \
    const ad_gemm_kernels ad_gemm_kernels_##SFX = {                                             \
        MR, NR, VL,                                                                             \
        {0, kp1_##SFX, kp2_##SFX, kp3_##SFX, kp4_##SFX, kp5_##SFX},                             \
        {0, kr1_##SFX, kr2_##SFX, kr3_##SFX, kr4_##SFX, kr5_##SFX},                             \
        pack_a_##SFX, pack_b_##SFX};

/* Vectors of 16, 32 and 64 bytes (SSE2, AVX2, AVX-512 registers): 2, 4
 * and 8 doubles, or 4, 8 and 16 floats; the _u types may sit at any real's
 * address (packed panels are 64-byte aligned, C and in-place A need not
 * be). */
typedef ad_real ad_v16 __attribute__((vector_size(16)));
typedef ad_real ad_v32 __attribute__((vector_size(32)));
typedef ad_real ad_v64 __attribute__((vector_size(64)));
typedef ad_real ad_v16u __attribute__((vector_size(16), aligned(sizeof(ad_real))));
typedef ad_real ad_v32u __attribute__((vector_size(32), aligned(sizeof(ad_real))));
typedef ad_real ad_v64u __attribute__((vector_size(64), aligned(sizeof(ad_real))));
#define AD_VL(bytes) ((int)((bytes) / sizeof(ad_real)))

#define AD_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define AD_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))

AD_GEMM_VARIANT(portable, , ad_v16, ad_v16u, AD_VL(16), AD_GEMM_PORTABLE_MR, AD_GEMM_PORTABLE_NR)
AD_GEMM_VARIANT(avx2, AD_TARGET_AVX2, ad_v32, ad_v32u, AD_VL(32), AD_GEMM_AVX2_MR, AD_GEMM_AVX2_NR)
AD_GEMM_VARIANT(avx512, AD_TARGET_AVX512, ad_v64, ad_v64u, AD_VL(64), AD_GEMM_AVX512_MR,
                AD_GEMM_AVX512_NR)
AD_GEMM_VARIANT(avx512w, AD_TARGET_AVX512, ad_v64, ad_v64u, AD_VL(64), AD_GEMM_AVX512W_MR,
                AD_GEMM_AVX512W_NR)

#else /* any other compiler or processor: plain C, "vectors" of 2 reals */

#define AD_GEMM_PLAIN_KERNEL(NAME, MR, NW, A_AT)                                               \
    static void NAME(int kc, const ad_real *restrict a, ptrdiff_t lda,                          \
                     const ad_real *restrict b, ptrdiff_t ldb, ad_real *restrict c,              \
                     ptrdiff_t ldc, ad_real alpha, ad_real beta, int rows, int cols)             \
    {                                                                                           \
        ad_real acc[MR][NW];                                                                    \
        for (int i = 0; i < MR; i++)                                                            \
            for (int j = 0; j < NW; j++) acc[i][j] = 0;                                         \
        for (int p = 0; p < kc; p++)                                                            \
            for (int i = 0; i < MR; i++) {                                                      \
                ad_real ai = A_AT(i, p);                                                        \
                for (int j = 0; j < NW; j++)                                                    \
                    acc[i][j] = acc[i][j] + ai * b[(ptrdiff_t)p * ldb + j];                     \
            }                                                                                   \
        for (int i = 0; i < rows; i++)                                                          \
            for (int j = 0; j < cols; j++)                                                      \
                c[i * ldc + j] = beta == 0 ? alpha * acc[i][j]                                  \
                                           : alpha * acc[i][j] + beta * c[i * ldc + j];         \
    }

enum { PMR = AD_GEMM_PORTABLE_MR };
_Static_assert(AD_GEMM_PORTABLE_NR % 2 == 0 && AD_GEMM_PORTABLE_NR <= 2 * AD_GEMM_MAX_NV,
               "NR must be 1..5 pairs");
AD_GEMM_PLAIN_KERNEL(kp1, PMR, 2, A_PACKED)
AD_GEMM_PLAIN_KERNEL(kp2, PMR, 4, A_PACKED)
AD_GEMM_PLAIN_KERNEL(kp3, PMR, 6, A_PACKED)
AD_GEMM_PLAIN_KERNEL(kp4, PMR, 8, A_PACKED)
AD_GEMM_PLAIN_KERNEL(kp5, PMR, 10, A_PACKED)
AD_GEMM_PLAIN_KERNEL(kr1, PMR, 2, A_ROWS)
AD_GEMM_PLAIN_KERNEL(kr2, PMR, 4, A_ROWS)
AD_GEMM_PLAIN_KERNEL(kr3, PMR, 6, A_ROWS)
AD_GEMM_PLAIN_KERNEL(kr4, PMR, 8, A_ROWS)
AD_GEMM_PLAIN_KERNEL(kr5, PMR, 10, A_ROWS)
AD_GEMM_PACK_A(pack_a_plain, , PMR)
AD_GEMM_PACK_B(pack_b_plain, , AD_GEMM_PORTABLE_NR, 2)
const ad_gemm_kernels ad_gemm_kernels_portable = {
    PMR, AD_GEMM_PORTABLE_NR, 2, {0, kp1, kp2, kp3, kp4, kp5}, {0, kr1, kr2, kr3, kr4, kr5},
    pack_a_plain, pack_b_plain};

#endif
