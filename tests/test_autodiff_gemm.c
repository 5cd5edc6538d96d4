/* test_autodiff_gemm.c - the blocked GEMM against the reference triple loop,
 * for every kernel variant this processor can run, and the thread pool.
 *
 * The blocked sum adds in a different order from the reference, so results
 * are compared with the standard error bound of a dot product: each computed
 * sum s of k products satisfies |s - exact| <= gamma_k sum_p |a_ip||b_pj|,
 * gamma_n = n u / (1 - n u).  Blocking over k adds at most two roundings per
 * block and the final alpha/beta update three, so both results lie within
 * gamma_{2k+4} (|alpha| S_ij + |beta| |C_ij|) of the exact value, with
 * S_ij = sum_p |a_ip||b_pj|, and within twice that of each other.
 */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "autodiff/ad.h"
#include "autodiff/fast/ad_pool.h"
#include "ck_util.h"

static double gamma_n(double n) { return n * AD_REAL_EPS / (1 - n * AD_REAL_EPS); }

typedef struct {
    int ta, tb, m, n, k, lda, ldb, ldc;
    ad_real *a, *b, *c0; /* inputs; c0 is C before the product */
} problem;

/* Random A, B and C for op(A) [m x k], op(B) [k x n], with `pad` spare
 * columns in every leading dimension. */
static problem problem_new(int ta, int tb, int m, int n, int k, int pad, uint64_t seed)
{
    problem p = {ta, tb, m, n, k, 0, 0, 0, NULL, NULL, NULL};
    p.lda = (ta ? m : k) + pad;
    p.ldb = (tb ? k : n) + pad;
    p.ldc = n + pad;
    size_t na = (size_t)(ta ? k : m) * p.lda, nb = (size_t)(tb ? n : k) * p.ldb;
    size_t nc = (size_t)m * p.ldc;
    p.a = malloc(sizeof(ad_real) * (na ? na : 1));
    p.b = malloc(sizeof(ad_real) * (nb ? nb : 1));
    p.c0 = malloc(sizeof(ad_real) * (nc ? nc : 1));
    ck_assert(p.a && p.b && p.c0);
    ad_rng rng;
    ad_rng_seed(&rng, seed, 7);
    ad_rng_fill_normal(&rng, p.a, na, 0, 1);
    ad_rng_fill_normal(&rng, p.b, nb, 0, 1);
    ad_rng_fill_normal(&rng, p.c0, nc, 0, 1);
    return p;
}

static void problem_free(problem *p)
{
    free(p->a);
    free(p->b);
    free(p->c0);
}

static ad_real *copy_of(const ad_real *x, size_t n)
{
    ad_real *y = malloc(sizeof(ad_real) * (n ? n : 1));
    ck_assert(y);
    if (n) memcpy(y, x, sizeof(ad_real) * n);
    return y;
}

/* Run `variant` on p with alpha, beta and check it against the reference,
 * element by element, and that the padding of C is untouched.  With
 * nan_c, C starts as NaN (only meaningful with beta == 0). */
static void check_variant(ad_gemm_variant_id variant, const problem *p, ad_real alpha,
                          ad_real beta, int nan_c)
{
    size_t nc = (size_t)p->m * p->ldc;
    ad_real *got = copy_of(p->c0, nc), *want = copy_of(p->c0, nc);
    if (nan_c)
        for (size_t i = 0; i < nc; i++) got[i] = want[i] = NAN;
    ad_real *before = copy_of(got, nc);
    ck_assert_int_eq(ad_gemm_variant(variant, p->ta, p->tb, p->m, p->n, p->k, alpha, p->a,
                                     p->lda, p->b, p->ldb, beta, got, p->ldc),
                     AD_OK);
    ad_gemm_reference(p->ta, p->tb, p->m, p->n, p->k, alpha, p->a, p->lda, p->b, p->ldb, beta,
                      want, p->ldc);

    /* S = |op(A)| |op(B)| through the reference on absolute values. */
    size_t na = (size_t)(p->ta ? p->k : p->m) * p->lda, nb = (size_t)(p->tb ? p->n : p->k) * p->ldb;
    ad_real *abs_a = copy_of(p->a, na), *abs_b = copy_of(p->b, nb), *s = copy_of(p->c0, nc);
    for (size_t i = 0; i < na; i++) abs_a[i] = fabs(abs_a[i]);
    for (size_t i = 0; i < nb; i++) abs_b[i] = fabs(abs_b[i]);
    ad_gemm_reference(p->ta, p->tb, p->m, p->n, p->k, 1, abs_a, p->lda, abs_b, p->ldb, 0, s,
                      p->ldc);
    double g = 2 * gamma_n(2.0 * p->k + 4) * (1 + gamma_n(p->k)); /* S itself is rounded */
    for (int i = 0; i < p->m; i++)
        for (int j = 0; j < p->ldc; j++) {
            size_t at = (size_t)i * p->ldc + j;
            if (j >= p->n) { /* padding: never written */
                ck_assert_msg(memcmp(&got[at], &before[at], sizeof(ad_real)) == 0,
                              "%s: padding C[%d][%d] written", ad_gemm_variant_name(variant),
                              i, j);
                continue;
            }
            double c_old = nan_c || beta == 0 ? 0 : fabs(p->c0[at]);
            double tol = g * (fabs(alpha) * s[at] + fabs(beta) * c_old) + 4 * DBL_MIN;
            ck_assert_msg(isfinite(got[at]) && fabs(got[at] - want[at]) <= tol,
                          "%s ta=%d tb=%d m=%d n=%d k=%d alpha=%g beta=%g: C[%d][%d] = %.17g, "
                          "reference %.17g, |diff| %.3g > bound %.3g",
                          ad_gemm_variant_name(variant), p->ta, p->tb, p->m, p->n, p->k,
                          (double)alpha, (double)beta, i, j, (double)got[at], (double)want[at],
                          fabs(got[at] - want[at]), tol);
        }
    free(got);
    free(want);
    free(before);
    free(abs_a);
    free(abs_b);
    free(s);
}

/* Shapes: the odd sizes around the tile sizes (4, 5, 6, 8, 24, 40) and cache
 * blocks (k > 256 spans several k blocks, m > 960 several row blocks,
 * n > 480 several column blocks). */
static const int shapes[][3] = {
    {1, 1, 1},     {7, 13, 33},   {13, 7, 65},    {33, 65, 1},   {65, 129, 7},
    {129, 33, 13}, {1, 129, 65},  {129, 1, 33},   {33, 33, 33},  {25, 49, 129},
    {13, 29, 600}, {1000, 50, 20}, {3, 1100, 5},   {17, 23, 257}, {8, 24, 256},
    {10, 200, 70},
};
#define N_SHAPES ((int)(sizeof shapes / sizeof shapes[0]))

/* Variant under test in a loop test: _i + 1 is an ad_gemm_variant_id. */
#define VARIANT_OF(i) ((ad_gemm_variant_id)((i) + 1))
#define SKIP_UNSUPPORTED(v)                                                              \
    do {                                                                                 \
        if (!ad_gemm_variant_supported(v)) return; /* this processor lacks it */       \
    } while (0)

START_TEST(test_against_reference)
{
    ad_gemm_variant_id v = VARIANT_OF(_i);
    SKIP_UNSUPPORTED(v);
    for (int s = 0; s < N_SHAPES; s++)
        for (int t = 0; t < 4; t++) {
            problem p = problem_new(t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2],
                                    s % 3 == 0 ? 0 : 3, 100 + s);
            check_variant(v, &p, 1, 0, 0);
            check_variant(v, &p, 1, 1, 0);
            check_variant(v, &p, -0.75, 1.5, 0);
            problem_free(&p);
        }
}
END_TEST

/* Every width of the last column sliver (n = 1..33 covers each edge kernel
 * of every tile, full vectors and partial ones) and the 100/101 columns of
 * the 2-D flows' layers, with bottom-edge row slivers of every height (m
 * runs through 1..19 and 100, 101), one and several k blocks, each
 * transpose, beta 0 (C NaN beforehand) and beta != 0. */
START_TEST(test_edge_widths)
{
    ad_gemm_variant_id v = VARIANT_OF(_i);
    SKIP_UNSUPPORTED(v);
    static const int extra[][3] = {{100, 100, 100}, {101, 101, 101}, {2048, 100, 100},
                                   {100, 100, 300}, {37, 100, 2}, {101, 38, 200}};
    const int n_extra = (int)(sizeof extra / sizeof extra[0]);
    for (int s = 0; s < 33 + n_extra; s++) {
        int n = s + 1, m = 1 + (n * 5) % 19, k = 1 + (n * 7) % 37;
        if (n % 4 == 0) k += 256; /* two k blocks: the edge tiles' beta = 1 pass */
        if (s >= 33) {
            m = extra[s - 33][0];
            n = extra[s - 33][1];
            k = extra[s - 33][2];
        }
        for (int t = 0; t < 4; t++) {
            problem p = problem_new(t & 1, t >> 1, m, n, k, (s + t) % 3, 400 + s);
            check_variant(v, &p, 1, 0, 1);
            check_variant(v, &p, -0.75, 1.5, 0);
            problem_free(&p);
        }
    }
}
END_TEST

START_TEST(test_beta_zero_ignores_nan)
{
    ad_gemm_variant_id v = VARIANT_OF(_i);
    SKIP_UNSUPPORTED(v);
    for (int s = 0; s < N_SHAPES; s += 2) {
        problem p = problem_new(s & 1, (s >> 1) & 1, shapes[s][0], shapes[s][1], shapes[s][2], 2,
                                200 + s);
        check_variant(v, &p, 1, 0, 1);
        check_variant(v, &p, 2.5, 0, 1);
        problem_free(&p);
    }
}
END_TEST

START_TEST(test_empty_sum)
{
    ad_gemm_variant_id v = VARIANT_OF(_i);
    SKIP_UNSUPPORTED(v);
    ad_real c[6] = {1, 2, 3, 4, 5, 6}, a[1] = {0}, b[1] = {0};
    ck_assert_int_eq(ad_gemm_variant(v, 0, 0, 2, 3, 0, 1, a, 1, b, 3, 2, c, 3), AD_OK);
    for (int i = 0; i < 6; i++) ck_assert(c[i] == 2 * (i + 1));
    c[0] = NAN;
    ck_assert_int_eq(ad_gemm_variant(v, 0, 0, 2, 3, 0, 1, a, 1, b, 3, 0, c, 3), AD_OK);
    for (int i = 0; i < 6; i++) ck_assert(c[i] == 0);
    /* m or n zero: nothing is touched */
    ck_assert_int_eq(ad_gemm_variant(v, 0, 0, 0, 3, 2, 1, a, 2, b, 3, 0, NULL, 3), AD_OK);
}
END_TEST

/* 1 thread versus 2 (and 3): the same bits, for shapes that are split by
 * rows, by columns, and over several k blocks, in every transpose. */
START_TEST(test_threads_bit_identical)
{
    ad_gemm_variant_id v = VARIANT_OF(_i);
    SKIP_UNSUPPORTED(v);
    static const int big[][3] = {{257, 129, 65}, {33, 1000, 70}, {200, 200, 600}, {150, 13, 700}};
    for (int s = 0; s < 4; s++)
        for (int t = 0; t < 4; t++) {
            problem p = problem_new(t & 1, t >> 1, big[s][0], big[s][1], big[s][2], 1, 300 + s);
            size_t nc = (size_t)p.m * p.ldc;
            ad_real *c[3];
            for (int th = 0; th < 3; th++) {
                ck_assert_int_eq(ad_threads_set(th + 1), AD_OK);
                c[th] = copy_of(p.c0, nc);
                ad_gemm_variant(v, p.ta, p.tb, p.m, p.n, p.k, 0.5, p.a, p.lda, p.b, p.ldb, 1.25,
                                c[th], p.ldc);
            }
            ck_assert_msg(memcmp(c[0], c[1], sizeof(ad_real) * nc) == 0,
                          "%s shape %d trans %d: 2 threads differ from 1",
                          ad_gemm_variant_name(v), s, t);
            ck_assert_msg(memcmp(c[0], c[2], sizeof(ad_real) * nc) == 0,
                          "%s shape %d trans %d: 3 threads differ from 1",
                          ad_gemm_variant_name(v), s, t);
            for (int th = 0; th < 3; th++) free(c[th]);
            problem_free(&p);
        }
    ad_threads_set(1);
    ad_threads_shutdown();
}
END_TEST

START_TEST(test_variants_listed)
{
    ck_assert(ad_gemm_variant_supported(AD_GEMM_AUTO));
    ck_assert(ad_gemm_variant_supported(AD_GEMM_PORTABLE));
    ck_assert(!ad_gemm_variant_supported(AD_GEMM_N_VARIANTS));
    ck_assert(ad_gemm_variant_supported(ad_gemm_variant_auto(200)));
    if (ad_gemm_variant_supported(AD_GEMM_AVX512)) { /* 40 where it divides n, 24 does not */
        /* float: tiles of 48 and 80 columns; 80 divides 400, 48 does not
         * (and no whole number of 16-float vectors makes 200) */
        ck_assert_int_eq(ad_gemm_variant_auto(CK_REAL_FLOAT ? 400 : 200), AD_GEMM_AVX512W);
        ck_assert_int_eq(ad_gemm_variant_auto(64), AD_GEMM_AVX512);
        ck_assert_int_eq(ad_gemm_variant_auto(38), AD_GEMM_AVX512);
        ck_assert_int_eq(ad_gemm_variant_auto(100), AD_GEMM_AVX512);
        ck_assert_int_eq(ad_gemm_variant_auto(1024), AD_GEMM_AVX512);
    }
    ck_assert_str_eq(ad_gemm_variant_name(AD_GEMM_PORTABLE), "portable");
    ck_assert_str_eq(ad_gemm_variant_name((ad_gemm_variant_id)99), "?");
    ad_real c = 5;
    ck_assert_int_eq(ad_gemm_variant((ad_gemm_variant_id)99, 0, 0, 1, 1, 1, 1, &c, 1, &c, 1, 0,
                                     &c, 1),
                     AD_ERR_ARG);
    ck_assert(c == 5);
#if AD_FAST_X86 /* ad_state.h */
    __builtin_cpu_init();
    ck_assert_int_eq(ad_gemm_variant_supported(AD_GEMM_AVX512),
                     __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma"));
#endif
}
END_TEST

/* ---- memory ---------------------------------------------------------------- */

START_TEST(test_no_allocation_after_first_call)
{
    ad_threads_set(2);
    problem p = problem_new(0, 1, 300, 200, 300, 0, 5);
    ad_real *c = copy_of(p.c0, (size_t)p.m * p.ldc);
    ad_gemm(0, 1, p.m, p.n, p.k, 1, p.a, p.lda, p.b, p.ldb, 0, c, p.ldc);
    ad_gemm(1, 0, p.k, p.n, p.m, 1, p.a, p.lda, c, p.ldc, 0, p.b, p.n); /* the backward shape */
    long before = ad_alloc_count();
    for (int it = 0; it < 3; it++) {
        ad_gemm(0, 1, p.m, p.n, p.k, 1, p.a, p.lda, p.b, p.ldb, 0, c, p.ldc);
        ad_gemm(1, 0, p.k, p.n, p.m, 1, p.a, p.lda, c, p.ldc, 0, p.b, p.n);
        ad_gemm(0, 0, 7, 5, 3, 1, p.a, 3, p.b, 5, 1, c, 5); /* smaller: fits */
    }
    ck_assert_int_eq(ad_alloc_count(), before);
    free(c);
    problem_free(&p);
    ad_threads_set(1);
    ad_threads_shutdown();
    ad_gemm_release_buffers();
}
END_TEST

/* Products computed inside pool tasks, one per thread (ad_parallel_each
 * runs a task on every thread, so no thread can miss it). */
typedef struct {
    problem *p;
    ad_real *c[4]; /* one C per thread */
} task_products;

static void product_on_each_thread(void *ctx, int task, int worker)
{
    task_products *tp = ctx;
    problem *p = tp->p;
    (void)task;
    ad_gemm(p->ta, p->tb, p->m, p->n, p->k, 1, p->a, p->lda, p->b, p->ldb, 0,
            tp->c[worker], p->ldc);
}

/* After ad_gemm_reserve_tasks for a shape, products of that shape (or
 * smaller) inside tasks allocate nothing on any thread; reserving again
 * allocates nothing; more threads or a larger shape grow the buffers. */
START_TEST(test_task_buffers_reserved)
{
    ad_gemm_release_buffers();
    problem p = problem_new(0, 1, 64, 200, 38, 0, 6);
    task_products tp = {&p, {NULL}};
    for (int w = 0; w < 4; w++) tp.c[w] = copy_of(p.c0, (size_t)p.m * p.ldc);
    for (int threads = 2; threads <= 3; threads++) {
        ad_threads_set(threads);
        ck_assert_int_eq(ad_gemm_reserve_tasks(p.m, p.n, p.k), 1);
        long before = ad_alloc_count();
        ck_assert_int_eq(ad_gemm_reserve_tasks(p.m, p.n, p.k), 1);
        ck_assert_int_eq(ad_gemm_reserve_tasks(p.m / 2, p.n, p.k), 1);
        ad_parallel_each(product_on_each_thread, &tp);
        ck_assert_int_eq(ad_alloc_count(), before);
        for (int w = 1; w < threads; w++)
            ck_assert(memcmp(tp.c[0], tp.c[w], sizeof(ad_real) * p.m * p.ldc) == 0);
    }
    /* Without the reservation the first product of a larger shape on each
     * thread grows that thread's buffers. */
    problem big = problem_new(0, 1, 64, 200, 300, 0, 7);
    tp.p = &big;
    for (int w = 0; w < 3; w++) {
        free(tp.c[w]);
        tp.c[w] = copy_of(big.c0, (size_t)big.m * big.ldc);
    }
    long before = ad_alloc_count();
    ad_parallel_each(product_on_each_thread, &tp);
    ck_assert_int_ge(ad_alloc_count() - before, 3);
    /* One thread: no task buffers to reserve. */
    ad_threads_set(1);
    before = ad_alloc_count();
    ck_assert_int_eq(ad_gemm_reserve_tasks(1000, 1000, 1000), 1);
    ck_assert_int_eq(ad_alloc_count(), before);
    for (int w = 0; w < 4; w++) free(tp.c[w]);
    problem_free(&p);
    problem_free(&big);
    ad_threads_shutdown();
    ad_gemm_release_buffers();
}
END_TEST

/* With every allocation failing, the product is still right. */
START_TEST(test_out_of_memory_still_computes)
{
    ad_gemm_release_buffers();
    problem p = problem_new(1, 0, 40, 30, 50, 1, 9);
    ad_alloc_fail_after(0);
    check_variant(AD_GEMM_AUTO, &p, 1, 0.5, 0);
    ad_alloc_fail_after(-1);
    check_variant(AD_GEMM_AUTO, &p, 1, 0.5, 0);
    problem_free(&p);
    ad_gemm_release_buffers();
}
END_TEST

/* ---- the epilogue ------------------------------------------------------------- */

typedef struct {
    int m, n, ldc;
    int *visits; /* [m * n]: how often the epilogue saw each element */
    int bad;     /* a block outside C, or the wrong ldc */
} epi_ctx;

/* Counts each element's visits and maps it to 2 c + 1. */
static void epi_count(void *ctx, ad_real *c, int ldc, int r0, int rows, int c0, int cols)
{
    epi_ctx *e = ctx;
    if (ldc != e->ldc || r0 < 0 || c0 < 0 || rows < 1 || cols < 1 || r0 + rows > e->m ||
        c0 + cols > e->n) {
        e->bad = 1;
        return;
    }
    for (int i = r0; i < r0 + rows; i++)
        for (int j = c0; j < c0 + cols; j++) {
            e->visits[i * e->n + j]++; /* blocks are disjoint: no race */
            c[(size_t)i * ldc + j] = 2 * c[(size_t)i * ldc + j] + 1;
        }
}

/* ad_gemm_epilogue gives exactly ad_gemm's C with the epilogue applied once
 * to every element, never to the padding: odd shapes, several k, row and
 * column blocks, each transpose, 1 and 2 threads, and the empty sum. */
START_TEST(test_gemm_epilogue)
{
    static const int extra[][3] = {{257, 129, 65}, {33, 1000, 70}, {2048, 100, 100},
                                   {13, 7, 0}};
    const int n_shapes = N_SHAPES + (int)(sizeof extra / sizeof extra[0]);
    for (int threads = 1; threads <= 2; threads++) {
        ck_assert_int_eq(ad_threads_set(threads), AD_OK);
        for (int s = 0; s < n_shapes; s++) {
            const int *sh = s < N_SHAPES ? shapes[s] : extra[s - N_SHAPES];
            for (int t = 0; t < 4; t++) {
                problem p = problem_new(t & 1, t >> 1, sh[0], sh[1], sh[2], (s + t) % 3, 500 + s);
                size_t nc = (size_t)p.m * p.ldc;
                ad_real *want = copy_of(p.c0, nc), *got = copy_of(p.c0, nc);
                ad_real beta = t == 3 ? 0 : 0.5;
                ad_gemm(p.ta, p.tb, p.m, p.n, p.k, 1.5, p.a, p.lda, p.b, p.ldb, beta, want, p.ldc);
                for (int i = 0; i < p.m; i++)
                    for (int j = 0; j < p.n; j++)
                        want[(size_t)i * p.ldc + j] = 2 * want[(size_t)i * p.ldc + j] + 1;
                epi_ctx e = {p.m, p.n, p.ldc, calloc((size_t)p.m * p.n, sizeof(int)), 0};
                ck_assert_ptr_nonnull(e.visits);
                ad_gemm_epilogue(p.ta, p.tb, p.m, p.n, p.k, 1.5, p.a, p.lda, p.b, p.ldb, beta, got,
                                 p.ldc, epi_count, &e);
                ck_assert_msg(!e.bad, "shape %d trans %d: a block outside C", s, t);
                for (int i = 0; i < p.m * p.n; i++)
                    ck_assert_msg(e.visits[i] == 1, "shape %d trans %d threads %d: element %d "
                                  "seen %d times", s, t, threads, i, e.visits[i]);
                ck_assert_msg(memcmp(want, got, sizeof(ad_real) * nc) == 0,
                              "shape %d trans %d threads %d: not ad_gemm's C + the epilogue", s, t,
                              threads);
                free(e.visits);
                free(want);
                free(got);
                problem_free(&p);
            }
        }
    }
    ad_threads_set(1);
    ad_threads_shutdown();
}
END_TEST

/* op(B) packed once (ad_gemm_pack_b) and used by several products: the
 * same C as ad_gemm, bit for bit, with k and n spanning several cache
 * blocks (KC 256, NC 480), either transposition, on 1 and 2 threads, and
 * from inside pool tasks that each take a range of rows (as ad_mlp's
 * blocks do).  The ranges are 120 rows, a multiple of every kernel's MR,
 * so that each row lands in the same kind of tile as in the single call:
 * the kernels apply alpha and beta with their own contractions, which can
 * differ in the last bit between a full and an edge tile when alpha != 1
 * and beta is not 0 or 1 (the library's products use alpha = 1 and
 * beta = 0 or 1, where they cannot). */
typedef struct {
    const problem *p;
    const ad_gemm_packed_b *pb;
    ad_real *c;
    int rows; /* per task */
} packed_rows_ctx;

static void packed_rows_task(void *ctx, int task, int worker)
{
    (void)worker;
    const packed_rows_ctx *r = ctx;
    const problem *p = r->p;
    int r0 = task * r->rows, rows = p->m - r0 < r->rows ? p->m - r0 : r->rows;
    const ad_real *a = p->ta ? p->a + r0 : p->a + (size_t)r0 * p->lda;
    ad_gemm_epilogue_packed(p->ta, rows, 1.5, a, p->lda, r->pb, 0.5, r->c + (size_t)r0 * p->ldc,
                            p->ldc, NULL, NULL);
}

START_TEST(test_gemm_packed_b)
{
    static const int sh[][3] = {{257, 129, 65}, {33, 1000, 70}, {200, 200, 600}, {150, 13, 700},
                                {64, 530, 300}, {1, 1, 1},      {7, 38, 200}};
    for (int threads = 1; threads <= 2; threads++) {
        ck_assert_int_eq(ad_threads_set(threads), AD_OK);
        for (int s = 0; s < (int)(sizeof sh / sizeof sh[0]); s++)
            for (int t = 0; t < 4; t++) {
                problem p =
                    problem_new(t & 1, t >> 1, sh[s][0], sh[s][1], sh[s][2], s % 3, 700 + s);
                size_t nc = (size_t)p.m * p.ldc, size = ad_gemm_packed_b_size(p.k, p.n);
                ck_assert(size >= (size_t)p.k * p.n);
                ad_real *want = copy_of(p.c0, nc), *got = copy_of(p.c0, nc);
                ad_real *inside = copy_of(p.c0, nc), *buf = malloc(sizeof(ad_real) * size);
                ck_assert_ptr_nonnull(buf);
                ad_gemm(p.ta, p.tb, p.m, p.n, p.k, 1.5, p.a, p.lda, p.b, p.ldb, 0.5, want, p.ldc);
                ad_gemm_packed_b pb;
                ad_gemm_pack_b(p.tb, p.k, p.n, p.b, p.ldb, buf, &pb);
                ad_gemm_epilogue_packed(p.ta, p.m, 1.5, p.a, p.lda, &pb, 0.5, got, p.ldc, NULL,
                                        NULL);
                ck_assert_msg(memcmp(want, got, sizeof(ad_real) * nc) == 0,
                              "shape %d trans %d threads %d: packed B differs from ad_gemm", s, t,
                              threads);
                packed_rows_ctx r = {&p, &pb, inside, 120};
                ad_parallel_for((p.m + r.rows - 1) / r.rows, packed_rows_task, &r);
                ck_assert_msg(memcmp(want, inside, sizeof(ad_real) * nc) == 0,
                              "shape %d trans %d threads %d: packed B in tasks differs", s, t,
                              threads);
                free(want);
                free(got);
                free(inside);
                free(buf);
                problem_free(&p);
            }
    }
    ad_threads_set(1);
    ad_threads_shutdown();
}
END_TEST

/* ---- the pool ---------------------------------------------------------------- */

typedef struct {
    int hits[100];    /* how often each task ran */
    int bad_worker;   /* a worker index out of range was seen */
    int threads;
} count_ctx;

static void count_task(void *ctx, int task, int worker)
{
    count_ctx *cc = ctx;
    cc->hits[task]++; /* each task index is handed out once: no race */
    if (worker < 0 || worker >= cc->threads) cc->bad_worker = 1;
}

static void nested_task(void *ctx, int task, int worker)
{
    count_ctx *inner = (count_ctx *)ctx + 1 + task;
    (void)worker;
    ad_parallel_for(10, count_task, inner); /* runs inline on this thread */
}

START_TEST(test_parallel_for)
{
    ck_assert_int_eq(ad_threads_set(0), AD_ERR_ARG);
    ck_assert_int_eq(ad_threads_set(AD_THREADS_MAX + 1), AD_ERR_ARG);
    static const int task_counts[] = {0, 1, 2, 3, 7, 100};
    for (int threads = 1; threads <= 4; threads++) {
        ck_assert_int_eq(ad_threads_set(threads), AD_OK);
        ck_assert_int_eq(ad_threads_get(), threads);
        for (int t = 0; t < 6; t++) {
            count_ctx cc;
            memset(&cc, 0, sizeof cc);
            cc.threads = threads;
            ad_parallel_for(task_counts[t], count_task, &cc);
            for (int i = 0; i < 100; i++) ck_assert_int_eq(cc.hits[i], i < task_counts[t]);
            ck_assert(!cc.bad_worker);
        }
        count_ctx nested[4];
        memset(nested, 0, sizeof nested);
        for (int i = 0; i < 4; i++) nested[i].threads = threads;
        ad_parallel_for(3, nested_task, nested);
        for (int i = 1; i < 4; i++)
            for (int j = 0; j < 100; j++) ck_assert_int_eq(nested[i].hits[j], j < 10);
    }
    /* Shrinking the count keeps the extra workers idle; shutdown and restart. */
    ad_threads_set(2);
    count_ctx cc;
    memset(&cc, 0, sizeof cc);
    cc.threads = 2;
    ad_parallel_for(50, count_task, &cc);
    ck_assert_int_eq(cc.hits[49], 1);
    ad_threads_shutdown();
    memset(&cc, 0, sizeof cc);
    cc.threads = 2;
    ad_parallel_for(50, count_task, &cc);
    ck_assert_int_eq(cc.hits[0], 1);
    ad_threads_set(1);
    ad_threads_shutdown();
    ad_threads_shutdown(); /* twice is harmless */
}
END_TEST

static void each_task(void *ctx, int task, int worker)
{
    count_ctx *cc = ctx;
    cc->hits[worker]++; /* one task per worker index: no race */
    if (worker < 0 || worker >= cc->threads || task != worker) cc->bad_worker = 1;
}

static void nested_each(void *ctx, int task, int worker)
{
    count_ctx *inner = (count_ctx *)ctx + 1 + task;
    (void)worker;
    ad_parallel_each(each_task, inner); /* this thread only */
}

/* ad_parallel_each runs its function once on every thread, with task ==
 * worker index; from inside a task, once on that thread. */
START_TEST(test_parallel_each)
{
    for (int threads = 1; threads <= 4; threads++) {
        ck_assert_int_eq(ad_threads_set(threads), AD_OK);
        for (int rep = 0; rep < 20; rep++) {
            count_ctx cc;
            memset(&cc, 0, sizeof cc);
            cc.threads = threads;
            ad_parallel_each(each_task, &cc);
            for (int i = 0; i < 100; i++) ck_assert_int_eq(cc.hits[i], i < threads);
            ck_assert(!cc.bad_worker);
        }
        count_ctx nested[4];
        memset(nested, 0, sizeof nested);
        for (int i = 0; i < 4; i++) nested[i].threads = threads;
        ad_parallel_for(3, nested_each, nested);
        for (int i = 1; i < 4; i++) {
            int total = 0;
            for (int j = 0; j < 100; j++) total += nested[i].hits[j];
            ck_assert_int_eq(total, 1);
            ck_assert(!nested[i].bad_worker);
        }
    }
    ad_threads_set(1);
    ad_threads_shutdown();
}
END_TEST

/* Many short jobs in a row, with the thread count and the task count
 * changing between them (so that some workers sit jobs out while others
 * take part) and pauses long enough for the idle workers to fall asleep:
 * every task of every job runs exactly once, on a valid worker. */
START_TEST(test_parallel_for_many_jobs)
{
    static const int task_counts[] = {1, 2, 3, 5, 64};
    count_ctx cc;
    for (int job = 0; job < 6000; job++) {
        int threads = 1 + job % 4, n = task_counts[(job / 4) % 5];
        ck_assert_int_eq(ad_threads_set(threads), AD_OK);
        memset(&cc, 0, sizeof cc);
        cc.threads = threads;
        ad_parallel_for(n, count_task, &cc);
        for (int i = 0; i < 100; i++) ck_assert_int_eq(cc.hits[i], i < n);
        ck_assert(!cc.bad_worker);
        if (job % 100 == 99) { /* idle workers go from spinning to sleeping */
            struct timespec pause = {0, job % 1000 == 999 ? 5000000 : 300000};
            nanosleep(&pause, NULL);
        }
    }
    ad_threads_set(1);
    ad_threads_shutdown();
}
END_TEST

Suite *ad_gemm_suite(void)
{
    Suite *s = suite_create("autodiff-gemm");
    int n_variants = AD_GEMM_N_VARIANTS - 1;
    TCase *tc = tcase_create("reference");
    tcase_set_tags(tc, "slow");
    tcase_add_loop_test(tc, test_against_reference, 0, n_variants);
    tcase_add_loop_test(tc, test_edge_widths, 0, n_variants);
    tcase_add_loop_test(tc, test_beta_zero_ignores_nan, 0, n_variants);
    tcase_add_loop_test(tc, test_empty_sum, 0, n_variants);
    tcase_add_test(tc, test_variants_listed);
    suite_add_tcase(s, tc);
    tc = tcase_create("threads");
    tcase_set_tags(tc, "slow");
    tcase_add_loop_test(tc, test_threads_bit_identical, 0, n_variants);
    tcase_add_test(tc, test_gemm_epilogue);
    tcase_add_test(tc, test_gemm_packed_b);
    tcase_add_test(tc, test_parallel_for);
    tcase_add_test(tc, test_parallel_for_many_jobs);
    tcase_add_test(tc, test_parallel_each);
    suite_add_tcase(s, tc);
    tc = tcase_create("memory");
    tcase_add_test(tc, test_no_allocation_after_first_call);
    tcase_add_test(tc, test_task_buffers_reserved);
    tcase_add_test(tc, test_out_of_memory_still_computes);
    suite_add_tcase(s, tc);
    return s;
}
