/* test_autodiff_mlp.c - ad_mlp, the chain of dense layers as one op:
 * gradient checks (thin and wide layers, every activation, several blocks
 * of rows), agreement with the same chain of ad_dense ops, bit-identical
 * results for 1 and 2 threads, the forward without a node (grad disabled),
 * an input shared with another op, frozen inputs, and errors.
 *
 * Tolerances: ad_gradcheck's own.  ReLU layers: the inputs are redrawn
 * until every pre-activation is at least 1e-3 from the kink (the central
 * difference spans ~1e-5).  Against ad_dense: the forward values and the
 * products are the same operations in the same order (asserted equal); the
 * weight and bias gradients are sums over the m rows in another order,
 * which differ by at most ~2 m ulps of the sum of |terms|; the terms here
 * are below 1 in size (weights and inputs in [-1, 1], bounded activations,
 * at most 6 units per layer in the cases compared), so 1e-15 m (k + 1)
 * bounds it.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/ad.h"
#include "ck_util.h"

enum { MAX_L = 4 };

typedef struct mlp_case {
    const char *what;
    int m, n_layers;
    int widths[MAX_L + 1];
    ad_activation act[MAX_L];
} mlp_case;

static const mlp_case CASES[] = {
    {"one layer, tanh", 4, 1, {3, 2}, {AD_ACT_TANH}},
    {"3-4-4-2 relu relu tanh", 5, 3, {3, 4, 4, 2}, {AD_ACT_RELU, AD_ACT_RELU, AD_ACT_TANH}},
    {"2-D flow net 1-5-5-1", 6, 3, {1, 5, 5, 1}, {AD_ACT_RELU, AD_ACT_RELU, AD_ACT_IDENTITY}},
    {"thin out, tanh 1-4-1", 7, 2, {1, 4, 1}, {AD_ACT_TANH, AD_ACT_TANH}},
    {"several blocks 2-6-3", 150, 2, {2, 6, 3}, {AD_ACT_TANH, AD_ACT_IDENTITY}},
    {"four layers 3-5-1-4-2", 70, 4, {3, 5, 1, 4, 2},
     {AD_ACT_TANH, AD_ACT_IDENTITY, AD_ACT_TANH, AD_ACT_TANH}},
};
#define N_CASES (int)(sizeof CASES / sizeof CASES[0])
/* compared with ad_dense only: more blocks than weight-gradient groups, so
 * a group sums several blocks */
static const mlp_case LONG_CASE = {"2500 rows 2-6-3", 2500, 2, {2, 6, 3},
                                   {AD_ACT_TANH, AD_ACT_IDENTITY}};

/* in[0] = x, then w and b of each layer, values in [-1, 1]. */
static int make_inputs(const mlp_case *c, uint64_t seed, ad_tensor **in)
{
    ad_rng r;
    ad_rng_seed(&r, seed, 0);
    in[0] = ad_tensor_new(2, (int[]){c->m, c->widths[0]});
    for (int l = 0; l < c->n_layers; l++) {
        in[1 + 2 * l] = ad_tensor_new(2, (int[]){c->widths[l], c->widths[l + 1]});
        in[2 + 2 * l] = ad_tensor_new(1, (int[]){c->widths[l + 1]});
    }
    int n = 1 + 2 * c->n_layers;
    for (int i = 0; i < n; i++) {
        ad_rng_fill_uniform(&r, in[i]->data, in[i]->size, -1, 1);
        ad_tensor_require_grad(in[i]);
    }
    return n;
}

static void free_inputs(ad_tensor **in, int n)
{
    for (int i = 0; i < n; i++) ad_tensor_free(in[i]);
}

static ad_tensor *fused(ad_tape *t, ad_tensor *const *in, const mlp_case *c, ad_tensor *x)
{
    ad_tensor *w[MAX_L], *b[MAX_L];
    for (int l = 0; l < c->n_layers; l++) {
        w[l] = in[1 + 2 * l];
        b[l] = in[2 + 2 * l];
    }
    return ad_mlp(t, x, c->n_layers, w, b, c->act);
}

/* The same chain as ad_dense ops; with pre_min, the smallest |pre-activation|
 * of the relu layers. */
static ad_tensor *chain(ad_tape *t, ad_tensor *const *in, const mlp_case *c, ad_tensor *x,
                        double *pre_min)
{
    ad_tensor *h = x;
    for (int l = 0; l < c->n_layers; l++) {
        if (pre_min && c->act[l] == AD_ACT_RELU) {
            ad_tensor *pre = ad_dense(t, h, in[1 + 2 * l], in[2 + 2 * l], AD_ACT_IDENTITY);
            for (size_t j = 0; j < pre->size; j++)
                if (fabs(pre->data[j]) < *pre_min) *pre_min = fabs(pre->data[j]);
        }
        h = ad_dense(t, h, in[1 + 2 * l], in[2 + 2 * l], c->act[l]);
    }
    return h;
}

static ad_tensor *build(ad_tape *t, ad_tensor *const *in, int n_inputs, void *ctx)
{
    (void)n_inputs;
    return fused(t, in, ctx, in[0]);
}

START_TEST(test_mlp_gradcheck)
{
    const mlp_case *c = &CASES[_i];
    ad_tensor *in[1 + 2 * MAX_L];
    uint64_t seed = 300 + (uint64_t)_i;
    int n = make_inputs(c, seed, in);
    for (;;) { /* redraw until no relu pre-activation is near the kink */
        ad_tape *t = ad_tape_new(0);
        double lo = INFINITY;
        chain(t, in, c, in[0], &lo);
        ad_tape_free(t);
        if (lo >= 1e-3) break;
        free_inputs(in, n);
        n = make_inputs(c, ++seed, in);
    }
    ad_gradcheck_report rep;
    ck_assert_int_eq(ad_gradcheck(build, (void *)c, n, in, NULL, &rep), AD_OK);
    ck_assert_msg(rep.ok, "%s: %s", c->what, rep.message);
    free_inputs(in, n);
}
END_TEST

/* y, then every gradient, of L = sum(y * v) for fixed v (so that each row
 * and column gets its own weight), with x a tape input (as in a flow) or a
 * constant; frozen: the first layer's weight needs no gradient. */
static ad_real *run(const mlp_case *c, int use_fused, int x_const, int frozen, size_t *len)
{
    ad_tensor *in[1 + 2 * MAX_L];
    int n = make_inputs(c, 41, in);
    if (frozen) in[1]->requires_grad = 0;
    ad_tape *t = ad_tape_new(0);
    ad_tensor *x = x_const ? ad_constant(t, 2, in[0]->shape, in[0]->data)
                           : ad_tape_input(t, 2, in[0]->shape, in[0]->data);
    ad_tensor *y = use_fused ? fused(t, in, c, x) : chain(t, in, c, x, NULL);
    ad_tensor *v = ad_tensor_new(2, y->shape);
    ad_rng r;
    ad_rng_seed(&r, 3, 0);
    ad_rng_fill_uniform(&r, v->data, v->size, -1, 1);
    ck_assert_int_eq(ad_backward(t, ad_sum(t, ad_mul(t, y, v))), AD_OK);
    *len = y->size + x->size;
    for (int i = 1; i < n; i++) *len += in[i]->size;
    ad_real *out = calloc(*len, sizeof(ad_real)), *p = out;
    memcpy(p, y->data, y->size * sizeof(ad_real));
    p += y->size;
    if (x->grad) memcpy(p, x->grad, x->size * sizeof(ad_real));
    p += x->size;
    for (int i = 1; i < n; i++) {
        if (in[i]->requires_grad) memcpy(p, in[i]->grad, in[i]->size * sizeof(ad_real));
        p += in[i]->size;
    }
    ad_tensor_free(v);
    free_inputs(in, n);
    ad_tape_free(t);
    return out;
}

START_TEST(test_mlp_matches_dense)
{
    const mlp_case *c = _i < N_CASES ? &CASES[_i] : &LONG_CASE;
    int kmax = 1;
    for (int l = 0; l <= c->n_layers; l++)
        if (c->widths[l] > kmax) kmax = c->widths[l];
    /* float: 8 eps per term of each sum, as in the dense layer's tests */
    const double tol = CK_REAL_TOL(1e-15, 8 * AD_REAL_EPS) * c->m * (kmax + 1);
    for (int variant = 0; variant < 3; variant++) {
        int x_const = variant == 1, frozen = variant == 2;
        size_t n1, n2;
        ad_real *a = run(c, 1, x_const, frozen, &n1), *b = run(c, 0, x_const, frozen, &n2);
        ck_assert_uint_eq(n1, n2);
        size_t ny = (size_t)c->m * c->widths[c->n_layers];
        ck_assert_msg(memcmp(a, b, ny * sizeof(ad_real)) == 0, "%s: forward differs", c->what);
        for (size_t j = ny; j < n1; j++) ck_assert_close(a[j], b[j], tol, 0, c->what, (int)j);
        free(a);
        free(b);
    }
}
END_TEST

static ad_real *threads_run(const mlp_case *c, int threads, size_t *len)
{
    ck_assert_int_eq(ad_threads_set(threads), AD_OK);
    ad_real *out = run(c, 1, 0, 0, len);
    ad_threads_set(1);
    return out;
}

START_TEST(test_mlp_threads_same_bits)
{
    /* big enough for several blocks, groups and split sums */
    static const mlp_case big[] = {
        {"3000 x 1-40-40-1", 3000, 3, {1, 40, 40, 1}, {AD_ACT_RELU, AD_ACT_RELU, AD_ACT_TANH}},
        {"700 x 5-48-48-5", 700, 3, {5, 48, 48, 5}, {AD_ACT_TANH, AD_ACT_RELU, AD_ACT_IDENTITY}},
    };
    for (int k = 0; k < 2; k++) {
        size_t n1, n2;
        ad_real *one = threads_run(&big[k], 1, &n1), *two = threads_run(&big[k], 2, &n2);
        ck_assert_uint_eq(n1, n2);
        for (size_t i = 0; i < n1; i++)
            ck_assert_msg(memcmp(&one[i], &two[i], sizeof one[i]) == 0, "%s [%zu]: %.17g vs %.17g",
                          big[k].what, i, one[i], two[i]);
        free(one);
        free(two);
    }
    ad_threads_shutdown();
}
END_TEST

/* With gradients off the hidden outputs live in a scratch buffer, not on the
 * tape: the same output, bit for bit, at 1 and 2 threads. */
START_TEST(test_mlp_no_grad_forward)
{
    static const mlp_case c = {"500 x 3-30-30-3", 500, 3, {3, 30, 30, 3},
                               {AD_ACT_RELU, AD_ACT_TANH, AD_ACT_IDENTITY}};
    ad_tensor *in[1 + 2 * MAX_L];
    int n = make_inputs(&c, 8, in);
    ad_tape *t = ad_tape_new(0);
    ad_tensor *ref = fused(t, in, &c, in[0]);
    size_t bytes_with = ad_tape_bytes_used(t);
    for (int threads = 1; threads <= 2; threads++) {
        ck_assert_int_eq(ad_threads_set(threads), AD_OK);
        ad_tape *u = ad_tape_new(0);
        ad_tape_set_grad_enabled(u, 0);
        ad_tensor *y = fused(u, in, &c, in[0]);
        ck_assert_msg(ad_tape_ok(u), "%s", ad_tape_error(u));
        ck_assert(memcmp(y->data, ref->data, y->size * sizeof(ad_real)) == 0);
        ck_assert_ptr_null(ad_tape_first(u));
        /* the two hidden [500 x 30] outputs were not put on the tape */
        ck_assert_uint_lt(ad_tape_bytes_used(u) + 2 * 500 * 30 * sizeof(ad_real), bytes_with + 1);
        ad_tape_free(u);
    }
    ad_threads_set(1);
    ad_threads_shutdown();
    ad_tape_free(t);
    free_inputs(in, n);
}
END_TEST

/* x used by ad_mlp and by x^2, recorded before or after: dx is the sum of
 * both contributions (the op writes a fresh gradient or adds to one). */
START_TEST(test_mlp_shared_input)
{
    const mlp_case *c = &CASES[2];
    ad_real *g[2][2];
    size_t nx = (size_t)c->m * c->widths[0];
    for (int order = 0; order < 2; order++)
        for (int f = 0; f < 2; f++) {
            ad_tensor *in[1 + 2 * MAX_L];
            int n = make_inputs(c, 13, in);
            ad_tape *t = ad_tape_new(0);
            ad_tensor *x = ad_tape_input(t, 2, in[0]->shape, in[0]->data);
            ad_tensor *sq = order == 0 ? ad_sum(t, ad_square(t, x)) : NULL;
            ad_tensor *y = f ? fused(t, in, c, x) : chain(t, in, c, x, NULL);
            if (order == 1) sq = ad_sum(t, ad_square(t, x));
            ck_assert_int_eq(ad_backward(t, ad_add(t, ad_sum(t, y), sq)), AD_OK);
            g[order][f] = malloc(nx * sizeof(ad_real));
            memcpy(g[order][f], x->grad, nx * sizeof(ad_real));
            ad_tape_free(t);
            free_inputs(in, n);
        }
    for (int order = 0; order < 2; order++) {
        for (size_t j = 0; j < nx; j++)
            ck_assert_close(g[order][1][j], g[order][0][j], 1e-14, 0, "dx", (int)j);
        free(g[order][0]);
        free(g[order][1]);
    }
}
END_TEST

/* The deepest chain, AD_MLP_MAX_LAYERS tanh layers of width 2: its
 * 1 + 2 L inputs, more than a node holds, are kept in the op's context;
 * gradient-checked.  One layer more is refused. */
enum { DEEP = AD_MLP_MAX_LAYERS };

static ad_tensor *deep(ad_tape *t, ad_tensor *const *in, int n_inputs, void *ctx)
{
    (void)ctx;
    const int layers = (n_inputs - 1) / 2;
    ad_tensor *w[DEEP + 1], *b[DEEP + 1];
    ad_activation act[DEEP + 1];
    for (int l = 0; l < layers; l++) {
        w[l] = in[1 + 2 * l];
        b[l] = in[2 + 2 * l];
        act[l] = AD_ACT_TANH;
    }
    return ad_mlp(t, in[0], layers, w, b, act);
}

START_TEST(test_mlp_deepest)
{
    ad_tensor *in[1 + 2 * (DEEP + 1)];
    ad_rng r;
    ad_rng_seed(&r, 41, 0);
    in[0] = ad_tensor_new(2, (int[]){3, 2});
    for (int l = 0; l <= DEEP; l++) {
        in[1 + 2 * l] = ad_tensor_new(2, (int[]){2, 2});
        in[2 + 2 * l] = ad_tensor_new(1, (int[]){2});
    }
    for (int i = 0; i < 1 + 2 * (DEEP + 1); i++)
        ad_rng_fill_uniform(&r, in[i]->data, in[i]->size, -1, 1);
    ad_gradcheck_report rep;
    ck_assert_int_eq(ad_gradcheck(deep, NULL, 1 + 2 * DEEP, in, NULL, &rep), AD_OK);
    ck_assert_msg(rep.ok, "%s", rep.message);
    ad_tape *t = ad_tape_new(0);
    ad_tensor *y = deep(t, in, 1 + 2 * DEEP, NULL);
    ck_assert(ad_tape_ok(t));
    ck_assert_int_eq(y->node->n_inputs, 1 + 2 * DEEP);
    ck_assert_ptr_ne(y->node->inputs, y->node->slots);
    for (int i = 0; i < 1 + 2 * DEEP; i++) ck_assert_ptr_eq(y->node->inputs[i], in[i]);
    ad_tape_reset(t);
    ck_assert(!deep(t, in, 1 + 2 * (DEEP + 1), NULL)->valid);
    ck_assert_msg(strstr(ad_tape_error(t), "ad_mlp: bad argument #2 (17 layers"), "%s",
                  ad_tape_error(t));
    ad_tape_free(t);
    for (int i = 0; i < 1 + 2 * (DEEP + 1); i++) ad_tensor_free(in[i]);
}
END_TEST

START_TEST(test_mlp_errors)
{
    ad_tape *t = ad_tape_new(0);
    ad_tensor *x = ad_zeros(t, 2, (int[]){4, 3});
    ad_tensor *w[2] = {ad_zeros(t, 2, (int[]){3, 5}), ad_zeros(t, 2, (int[]){4, 2})};
    ad_tensor *b[2] = {ad_zeros(t, 1, (int[]){5}), ad_zeros(t, 1, (int[]){2})};
    ad_activation act[2] = {AD_ACT_RELU, AD_ACT_IDENTITY};
    ck_assert(!ad_mlp(t, x, 2, w, b, act)->valid);
    ck_assert_msg(strstr(ad_tape_error(t), "ad_mlp: bad argument #3 (w[1] has shape [4,2], "
                                           "expected [5,*])"),
                  "%s", ad_tape_error(t));
    ad_tape_reset(t);
    x = ad_zeros(t, 2, (int[]){4, 3});
    w[0] = ad_zeros(t, 2, (int[]){3, 5});
    w[1] = ad_zeros(t, 2, (int[]){5, 2});
    b[0] = ad_zeros(t, 1, (int[]){5});
    b[1] = ad_zeros(t, 1, (int[]){3});
    ck_assert(!ad_mlp(t, x, 2, w, b, act)->valid);
    ck_assert_msg(strstr(ad_tape_error(t), "bad argument #4 (b[1] has shape [3], expected [2])"),
                  "%s", ad_tape_error(t));
    ad_tape_reset(t);
    x = ad_zeros(t, 2, (int[]){4, 3});
    w[0] = ad_zeros(t, 2, (int[]){3, 5});
    b[0] = ad_zeros(t, 1, (int[]){5});
    ad_activation bad_act[1] = {(ad_activation)9};
    ck_assert(!ad_mlp(t, x, 1, w, b, bad_act)->valid);
    ck_assert_msg(strstr(ad_tape_error(t), "bad argument #5 (act[0]: unknown activation 9)"), "%s",
                  ad_tape_error(t));
    ad_tape_reset(t);
    x = ad_zeros(t, 2, (int[]){4, 3});
    ck_assert(!ad_mlp(t, x, 0, w, b, act)->valid);
    ck_assert_msg(strstr(ad_tape_error(t), "ad_mlp: bad argument #2"), "%s", ad_tape_error(t));
    ad_tape_reset(t);
    x = ad_zeros(t, 2, (int[]){4, 3});
    ad_tensor *none[1] = {NULL};
    w[0] = ad_zeros(t, 2, (int[]){3, 5});
    ck_assert(!ad_mlp(t, x, 1, w, none, act)->valid);
    ck_assert_msg(strstr(ad_tape_error(t), "bad argument #4 (b[0] is NULL)"), "%s",
                  ad_tape_error(t));
    ad_tape_reset(t);
    x = ad_zeros(t, 1, (int[]){4});
    w[0] = ad_zeros(t, 2, (int[]){3, 5});
    b[0] = ad_zeros(t, 1, (int[]){5});
    ck_assert(!ad_mlp(t, x, 1, w, b, act)->valid);
    ck_assert_msg(strstr(ad_tape_error(t), "ad_mlp: bad argument #1 (shape [4], expected a matrix"),
                  "%s", ad_tape_error(t));
    ad_tape_free(t);
}
END_TEST

Suite *ad_mlp_suite(void)
{
    Suite *s = suite_create("autodiff-mlp");
    TCase *tc = tcase_create("gradcheck");
    tcase_add_loop_test(tc, test_mlp_gradcheck, 0, N_CASES);
    tcase_add_test(tc, test_mlp_deepest);
    suite_add_tcase(s, tc);
    tc = tcase_create("forward");
    tcase_add_loop_test(tc, test_mlp_matches_dense, 0, N_CASES + 1);
    tcase_add_test(tc, test_mlp_threads_same_bits);
    tcase_add_test(tc, test_mlp_no_grad_forward);
    tcase_add_test(tc, test_mlp_shared_input);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_mlp_errors);
    suite_add_tcase(s, tc);
    return s;
}
