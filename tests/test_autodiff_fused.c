/* test_autodiff_fused.c - the fused dense op ad_dense: gradient checks for
 * every activation and for the thin shapes that bypass ad_gemm (one output
 * column, one input column), agreement with the composed ops (matmul, add,
 * activation), bit-identical results for 1 and 2 threads and for every
 * instruction-set copy of the row kernels (autodiff/fast/ad_rows.h), and errors.
 *
 * Tolerances: ad_gradcheck's own (derived from the finite-difference error;
 * autodiff/ad_gradcheck.h).  ReLU inputs: the pre-activations are checked to
 * stay at least 1e-3 from the kink, far more than the 2h ~ 1e-5 that the
 * central difference spans.  Fused against composed: the same products in
 * another summation order differ by a few ulps of the sum of |terms|, so
 * 1e-13 relative to it is a bound, not a tuned value.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/ad.h"
#include "autodiff/fast/ad_rows.h"
#include "ck_util.h"

typedef struct dense_case {
    const char *what;
    int m, k, n;
    int bias;
    ad_activation act;
} dense_case;

static const dense_case CASES[] = {
    {"identity 5x3x4", 5, 3, 4, 1, AD_ACT_IDENTITY},
    {"relu 5x3x4", 5, 3, 4, 1, AD_ACT_RELU},
    {"tanh 5x3x4", 5, 3, 4, 1, AD_ACT_TANH},
    {"no bias, tanh", 4, 3, 2, 0, AD_ACT_TANH},
    {"thin n=1, tanh", 6, 9, 1, 1, AD_ACT_TANH},
    {"thin n=1, identity", 6, 4, 1, 1, AD_ACT_IDENTITY},
    {"thin k=1, relu", 6, 1, 5, 1, AD_ACT_RELU},
    {"thin k=1, tanh, no bias", 6, 1, 3, 0, AD_ACT_TANH},
    {"several row chunks, tanh", 150, 2, 3, 1, AD_ACT_TANH},
    {"several row chunks, n=1", 150, 3, 1, 1, AD_ACT_IDENTITY},
};
#define N_CASES (int)(sizeof CASES / sizeof CASES[0])

static ad_tensor *build(ad_tape *t, ad_tensor *const *in, int n_inputs, void *ctx)
{
    const dense_case *c = ctx;
    return ad_dense(t, in[0], in[1], n_inputs > 2 ? in[2] : NULL, c->act);
}

/* x, W (and b) with values from a fixed seed; the caller frees them. */
static int make_inputs(const dense_case *c, uint64_t seed, ad_tensor **in)
{
    ad_rng r;
    ad_rng_seed(&r, seed, 0);
    in[0] = ad_tensor_new(2, (int[]){c->m, c->k});
    in[1] = ad_tensor_new(2, (int[]){c->k, c->n});
    in[2] = c->bias ? ad_tensor_new(1, (int[]){c->n}) : NULL;
    int n = c->bias ? 3 : 2;
    for (int i = 0; i < n; i++) {
        ad_rng_fill_uniform(&r, in[i]->data, in[i]->size, -1, 1);
        ad_tensor_require_grad(in[i]);
    }
    return n;
}

/* The smallest |x W + b| over all outputs: the distance to the relu kink. */
static double min_abs_preactivation(ad_tensor *const *in, const dense_case *c)
{
    double lo = INFINITY;
    for (int i = 0; i < c->m; i++)
        for (int j = 0; j < c->n; j++) {
            double s = c->bias ? in[2]->data[j] : 0;
            for (int p = 0; p < c->k; p++)
                s += in[0]->data[i * c->k + p] * in[1]->data[p * c->n + j];
            if (fabs(s) < lo) lo = fabs(s);
        }
    return lo;
}

START_TEST(test_dense_gradcheck)
{
    const dense_case *c = &CASES[_i];
    ad_tensor *in[3];
    uint64_t seed = 100 + (uint64_t)_i;
    int n = make_inputs(c, seed, in);
    /* For relu, redraw until no pre-activation is near the kink. */
    while (c->act == AD_ACT_RELU && min_abs_preactivation(in, c) < 1e-3) {
        for (int i = 0; i < n; i++) ad_tensor_free(in[i]);
        n = make_inputs(c, ++seed, in);
    }
    ad_gradcheck_report rep;
    ck_assert_int_eq(ad_gradcheck(build, (void *)c, n, in, NULL, &rep), AD_OK);
    ck_assert_msg(rep.ok, "%s: %s", c->what, rep.message);
    for (int i = 0; i < n; i++) ad_tensor_free(in[i]);
}
END_TEST

/* act(x W + b) from the separate ops, on the tape. */
static ad_tensor *composed(ad_tape *t, ad_tensor *const *in, const dense_case *c)
{
    ad_tensor *y = ad_matmul(t, in[0], in[1], 0, 0);
    if (c->bias) y = ad_add(t, y, in[2]);
    if (c->act == AD_ACT_RELU) return ad_relu(t, y);
    if (c->act == AD_ACT_TANH) return ad_tanh(t, y);
    return y;
}

START_TEST(test_dense_matches_composed)
{
    const dense_case *c = &CASES[_i];
    ad_tensor *in[3];
    int n = make_inputs(c, 7 + (uint64_t)_i, in);
    ad_tape *t = ad_tape_new(0);
    ad_real *grads[2][3];
    ad_real *out[2];
    for (int v = 0; v < 2; v++) {
        ad_tape_reset(t);
        for (int i = 0; i < n; i++) ad_tensor_zero_grad(in[i]);
        ad_tensor *y = v ? composed(t, in, c) : ad_dense(t, in[0], in[1], in[2], c->act);
        ck_assert_msg(ad_tape_ok(t), "%s", ad_tape_error(t));
        out[v] = malloc(y->size * sizeof(ad_real));
        memcpy(out[v], y->data, y->size * sizeof(ad_real));
        ck_assert_int_eq(ad_backward(t, y), AD_OK);
        for (int i = 0; i < n; i++) {
            grads[v][i] = malloc(in[i]->size * sizeof(ad_real));
            memcpy(grads[v][i], in[i]->grad, in[i]->size * sizeof(ad_real));
        }
    }
    /* bound: a few ulps of the sum of |terms| (k + 1 terms of size <= 1);
     * float: 8 eps per term (the two orders of summation and the FMA of the
     * GEMM against separate rounding each cost a few u per term) */
    double tol = CK_REAL_TOL(1e-13, 8 * AD_REAL_EPS) * (c->k + 1);
    for (int j = 0; j < c->m * c->n; j++) ck_assert_close(out[0][j], out[1][j], tol, 0, c->what, j);
    for (int i = 0; i < n; i++)
        for (size_t j = 0; j < in[i]->size; j++)
            ck_assert_close(grads[0][i][j], grads[1][i][j], tol * c->m, 0, c->what, (int)j);
    for (int v = 0; v < 2; v++) {
        free(out[v]);
        for (int i = 0; i < n; i++) free(grads[v][i]);
    }
    for (int i = 0; i < n; i++) ad_tensor_free(in[i]);
    ad_tape_free(t);
}
END_TEST

/* Forward values and all three gradients with `threads` threads, in out
 * (y, dx, dW, db concatenated; malloc'd). */
static ad_real *dense_run(const dense_case *c, int threads, size_t *len)
{
    ck_assert_int_eq(ad_threads_set(threads), AD_OK);
    ad_tensor *in[3];
    int n = make_inputs(c, 99, in);
    ad_tape *t = ad_tape_new(0);
    ad_tensor *x = ad_tape_input(t, 2, in[0]->shape, in[0]->data); /* a tape input, as in a flow */
    ad_tensor *y = ad_dense(t, x, in[1], in[2], c->act);
    ck_assert_int_eq(ad_backward(t, y), AD_OK);
    *len = y->size + x->size + in[1]->size + (n > 2 ? in[2]->size : 0);
    ad_real *out = malloc(*len * sizeof(ad_real)), *p = out;
    memcpy(p, y->data, y->size * sizeof(ad_real));
    p += y->size;
    memcpy(p, x->grad, x->size * sizeof(ad_real));
    p += x->size;
    for (int i = 1; i < n; i++) {
        memcpy(p, in[i]->grad, in[i]->size * sizeof(ad_real));
        p += in[i]->size;
    }
    for (int i = 0; i < n; i++) ad_tensor_free(in[i]);
    ad_tape_free(t);
    ad_threads_set(1);
    return out;
}

START_TEST(test_dense_threads_same_bits)
{
    /* big enough that rows, products and bias sums are split */
    static const dense_case big[] = {
        {"400x64x48 relu", 400, 64, 48, 1, AD_ACT_RELU},
        {"400x64x48 tanh", 400, 64, 48, 1, AD_ACT_TANH},
        {"thin 3000x40x1", 3000, 40, 1, 1, AD_ACT_TANH},
        {"thin 3000x1x40", 3000, 1, 40, 1, AD_ACT_RELU},
    };
    for (int b = 0; b < 4; b++) {
        size_t n1, n2;
        ad_real *one = dense_run(&big[b], 1, &n1), *two = dense_run(&big[b], 2, &n2);
        ck_assert_uint_eq(n1, n2);
        for (size_t i = 0; i < n1; i++)
            ck_assert_msg(memcmp(&one[i], &two[i], sizeof one[i]) == 0, "%s [%zu]: %.17g vs %.17g",
                          big[b].what, i, one[i], two[i]);
        free(one);
        free(two);
    }
    ad_threads_shutdown();
}
END_TEST

/* The row kernels' instruction-set copies (baseline, AVX2, AVX-512, those
 * this processor runs) give the same bits: each kernel on lengths around
 * every vector width, with and without bias and column sums, and whole
 * dense layers (thin and wide, forward and backward). */
START_TEST(test_row_copies_same_bits)
{
    enum { MAXN = 203 };
    static const ad_activation acts[] = {AD_ACT_IDENTITY, AD_ACT_RELU, AD_ACT_TANH};
    ad_real a[MAXN], b[MAXN], c[MAXN];
    unsigned long long state = 12345;
    for (int i = 0; i < MAXN; i++) { /* values in (-2, 2), a few exact zeros for relu */
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        a[i] = i % 17 == 0 ? 0 : (ad_real)((double)(state >> 11) / 9007199254740992.0 * 4 - 2);
        b[i] = (ad_real)(0.37 * (i % 11) - 1.8);
        c[i] = (ad_real)(0.9 - 0.013 * i);
    }
    static const int lens[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, MAXN};
    enum { NL = sizeof lens / sizeof lens[0], PER = 21 * MAXN }; /* 1 + 20 n values per length */
    static ad_real ref[NL][PER], got[NL][PER];
    const ad_rows_isa best = ad_rows_isa_current();
    int tried = 0;
    for (int isa = AD_ROWS_BASELINE; isa < AD_ROWS_N_ISA; isa++) {
        if (!ad_rows_isa_supported((ad_rows_isa)isa)) continue;
        ck_assert_int_eq(ad_rows_isa_select((ad_rows_isa)isa), 0);
        ck_assert_int_eq(ad_rows_isa_current(), isa);
        tried++;
        for (int l = 0; l < NL; l++) {
            int n = lens[l];
            ad_real *out = isa == AD_ROWS_BASELINE ? ref[l] : got[l];
            memset(out, 0, sizeof ref[l]);
            ad_real *o = out;
            o[0] = ad_row_dot(a, b, n);
            o += 1;
            ad_row_scale(o, (ad_real)0.7, a, n);
            o += n;
            ad_row_axpy(memcpy(o, c, (size_t)n * sizeof *o), (ad_real)-1.3, a, n);
            o += n;
            for (int k = 0; k < 3; k++) {
                ad_row_outer_act(o, (ad_real)0.45, a, k == 1 ? NULL : b, n, acts[k]);
                o += n;
                ad_row_bias_act(memcpy(o, a, (size_t)n * sizeof *o), k == 2 ? NULL : b, n, acts[k]);
                o += n;
                ad_real *colsum = memcpy(o + n, c, (size_t)n * sizeof *o);
                ad_row_act_grad(acts[k] == AD_ACT_IDENTITY ? NULL : o, c, a, colsum, n, acts[k]);
                o += 2 * n;
                ad_real *g = memcpy(o, b, (size_t)n * sizeof *o);
                ad_row_act_grad_inplace(g, c, k == 0 ? NULL : memcpy(o + n, a, (size_t)n * sizeof *o),
                                        n, acts[k]);
                o += 2 * n;
            }
            ck_assert((size_t)(o - out) <= PER);
            if (isa != AD_ROWS_BASELINE)
                for (int i = 0; i < PER; i++)
                    ck_assert_msg(memcmp(&ref[l][i], &got[l][i], sizeof ref[l][i]) == 0,
                                  "%s, n = %d, [%d]: %.17g vs baseline %.17g",
                                  ad_rows_isa_name((ad_rows_isa)isa), n, i, got[l][i], ref[l][i]);
        }
    }
    ck_assert_int_ge(tried, 1);
    ck_assert_int_eq(ad_rows_isa_supported(AD_ROWS_N_ISA), 0);
    ck_assert_int_eq(ad_rows_isa_select(AD_ROWS_N_ISA), -1);

    /* whole layers */
    static const dense_case layers[] = {
        {"130x40x1 tanh", 130, 40, 1, 1, AD_ACT_TANH},
        {"130x1x37 relu", 130, 1, 37, 1, AD_ACT_RELU},
        {"130x24x37 tanh", 130, 24, 37, 1, AD_ACT_TANH},
    };
    for (int d = 0; d < 3; d++) {
        ck_assert_int_eq(ad_rows_isa_select(AD_ROWS_BASELINE), 0);
        size_t n0;
        ad_real *base = dense_run(&layers[d], 1, &n0);
        for (int isa = AD_ROWS_AVX2; isa < AD_ROWS_N_ISA; isa++) {
            if (ad_rows_isa_select((ad_rows_isa)isa) != 0) continue;
            size_t n1;
            ad_real *other = dense_run(&layers[d], 1, &n1);
            ck_assert_uint_eq(n0, n1);
            for (size_t i = 0; i < n0; i++)
                ck_assert_msg(memcmp(&base[i], &other[i], sizeof base[i]) == 0,
                              "%s, %s [%zu]: %.17g vs %.17g", layers[d].what,
                              ad_rows_isa_name((ad_rows_isa)isa), i, other[i], base[i]);
            free(other);
        }
        free(base);
    }
    ck_assert_int_eq(ad_rows_isa_select(best), 0);
    ck_assert_int_eq(ad_rows_isa_current(), ad_rows_isa_best());
    ad_threads_shutdown();
}
END_TEST

/* dL/dx of L = sum(dense(x)) + sum(x^2) for a tape input x, with the other
 * consumer (x^2) recorded before (order 0) or after (order 1) the dense op:
 * the dense op's backward then finds x's gradient already there (it adds to
 * it) or not yet there (it writes it).  Either way it must be the sum of the
 * two contributions, as from the separate ops. */
static ad_real *shared_input_grad(const dense_case *c, int fused, int order)
{
    ad_tensor *in[3];
    make_inputs(c, 31, in);
    ad_tape *t = ad_tape_new(0);
    ad_tensor *x = ad_tape_input(t, 2, in[0]->shape, in[0]->data);
    ad_tensor *sq = order == 0 ? ad_sum(t, ad_square(t, x)) : NULL;
    ad_tensor *xs[3] = {x, in[1], in[2]};
    ad_tensor *y = fused ? ad_dense(t, x, in[1], in[2], c->act) : composed(t, xs, c);
    if (order == 1) sq = ad_sum(t, ad_square(t, x));
    ad_tensor *loss = ad_add(t, ad_sum(t, y), sq);
    ck_assert_msg(ad_tape_ok(t), "%s", ad_tape_error(t));
    ck_assert_int_eq(ad_backward(t, loss), AD_OK);
    ad_real *g = malloc(x->size * sizeof(ad_real));
    memcpy(g, x->grad, x->size * sizeof(ad_real));
    for (int i = 0; i < 3; i++) ad_tensor_free(in[i]);
    ad_tape_free(t);
    return g;
}

START_TEST(test_dense_shared_input)
{
    const dense_case *c = &CASES[_i];
    /* dx sums n terms g W^T of size <= 1, plus 2x: a few ulps of n + 2
     * (float: 8 eps per term, as in test_dense_matches_composed) */
    double tol = CK_REAL_TOL(1e-13, 8 * AD_REAL_EPS) * (c->n + 2);
    for (int order = 0; order < 2; order++) {
        ad_real *fused = shared_input_grad(c, 1, order), *ref = shared_input_grad(c, 0, order);
        for (int j = 0; j < c->m * c->k; j++) ck_assert_close(fused[j], ref[j], tol, 0, c->what, j);
        free(fused);
        free(ref);
    }
}
END_TEST

START_TEST(test_dense_errors)
{
    ad_tape *t = ad_tape_new(0);
    ad_tensor *x = ad_zeros(t, 2, (int[]){4, 3});
    ad_tensor *w = ad_zeros(t, 2, (int[]){2, 5});
    ad_tensor *b = ad_zeros(t, 1, (int[]){5});
    ad_tensor *y = ad_dense(t, x, w, b, AD_ACT_RELU);
    ck_assert(!y->valid);
    ck_assert_msg(
        strstr(ad_tape_error(t), "ad_dense: bad argument #2 (shape [2,5], expected [3,*])"), "%s",
        ad_tape_error(t));
    ad_tape_reset(t);
    x = ad_zeros(t, 2, (int[]){4, 2});
    w = ad_zeros(t, 2, (int[]){2, 5});
    b = ad_zeros(t, 1, (int[]){4});
    ck_assert(!ad_dense(t, x, w, b, AD_ACT_TANH)->valid);
    ck_assert_msg(strstr(ad_tape_error(t), "bad argument #3 (shape [4], expected [5])"), "%s",
                  ad_tape_error(t));
    ad_tape_reset(t);
    x = ad_zeros(t, 2, (int[]){4, 2});
    w = ad_zeros(t, 2, (int[]){2, 5});
    b = ad_zeros(t, 1, (int[]){5});
    ck_assert(!ad_dense(t, x, w, b, (ad_activation)7)->valid);
    ck_assert_msg(strstr(ad_tape_error(t), "unknown activation"), "%s", ad_tape_error(t));
    ad_tape_reset(t);
    x = ad_zeros(t, 1, (int[]){4});
    w = ad_zeros(t, 2, (int[]){2, 5});
    ck_assert(!ad_dense(t, x, w, NULL, AD_ACT_IDENTITY)->valid);
    ck_assert_msg(strstr(ad_tape_error(t), "bad argument #1 (shape [4], expected a matrix"), "%s",
                  ad_tape_error(t));
    ad_tape_free(t);
}
END_TEST

Suite *ad_fused_suite(void)
{
    Suite *s = suite_create("autodiff-fused");
    TCase *tc = tcase_create("gradcheck");
    tcase_add_loop_test(tc, test_dense_gradcheck, 0, N_CASES);
    suite_add_tcase(s, tc);
    tc = tcase_create("forward");
    tcase_add_loop_test(tc, test_dense_matches_composed, 0, N_CASES);
    tcase_add_loop_test(tc, test_dense_shared_input, 0, N_CASES);
    tcase_add_test(tc, test_dense_threads_same_bits);
    tcase_add_test(tc, test_row_copies_same_bits);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_dense_errors);
    suite_add_tcase(s, tc);
    return s;
}
