/* test_autodiff_errors.c - the sticky error (each class of bad input gives
 * its documented message and no crash), allocation failure at every point
 * of a forward and backward pass, and the arena's steady state. */
#include <check.h>
#include <math.h>
#include <string.h>

#include "autodiff/ad.h"
#include "ck_util.h"

/* One class of bad input: the op call and the exact message it leaves. */
typedef struct error_case {
    const char *what;
    int status;
    const char *message;
} error_case;

static const error_case errors[] = {
    {"binary shape", AD_ERR_SHAPE,
     "ad_add: bad argument #2 (shape [3], expected broadcastable with [3,4])"},
    {"matmul inner", AD_ERR_SHAPE, "ad_matmul: bad argument #2 (shape [5,2], expected [4,*])"},
    {"matmul transposed", AD_ERR_SHAPE, "ad_matmul: bad argument #2 (shape [5,2], expected [*,4])"},
    {"matmul rank", AD_ERR_SHAPE,
     "ad_matmul: bad argument #1 (shape [3], expected a matrix [m,k])"},
    {"concat rows", AD_ERR_SHAPE, "ad_concat_cols: bad argument #2 (shape [5,2], expected [3,*])"},
    {"where mask", AD_ERR_SHAPE, "ad_where: bad argument #1 (shape [4], expected [3,4])"},
    {"reshape size", AD_ERR_SHAPE,
     "ad_reshape: bad argument #3 (shape [5,2], expected 12 elements)"},
    {"transpose rank", AD_ERR_SHAPE,
     "ad_transpose: bad argument #1 (shape [2,2,3], expected a matrix [m,n])"},
    {"axis too big", AD_ERR_ARG, "ad_sum_axis: bad argument #2 (axis 2, tensor has 2 dims)"},
    {"axis too negative", AD_ERR_ARG, "ad_logsumexp: bad argument #2 (axis -3, tensor has 2 dims)"},
    {"slice past the end", AD_ERR_ARG,
     "ad_slice_cols: bad arguments #2, #3 (columns [3, 6) of a tensor with 4)"},
    {"slice negative", AD_ERR_ARG,
     "ad_slice_cols: bad arguments #2, #3 (columns [-1, 1) of a tensor with 4)"},
    {"gather index", AD_ERR_ARG,
     "ad_gather_cols: bad argument #2 (index[1] = 4, tensor has 4 columns)"},
    {"gather negative", AD_ERR_ARG,
     "ad_gather_cols: bad argument #2 (index[0] = -1, tensor has 4 columns)"},
    {"NULL tensor", AD_ERR_ARG, "ad_mul: bad argument #2 (NULL tensor)"},
    {"poisoned input", AD_ERR_ARG, "ad_exp: bad argument #1 (poisoned tensor)"},
    {"clamp bounds", AD_ERR_ARG, "ad_clamp: bad arguments #2, #3 (lo 2 > hi 1)"},
    {"backward without grad", AD_ERR_ARG,
     "ad_backward: the output does not depend on any tensor "
     "that requires a gradient"},
    {"backward on poison", AD_ERR_ARG, "ad_backward: bad argument #1 (poisoned tensor)"},
    {"constant without data", AD_ERR_ARG, "ad_constant: bad argument #3 (NULL data)"},
};
#define N_ERRORS ((int)(sizeof errors / sizeof errors[0]))

/* Make error number i happen on t; returns the op's result. */
static ad_tensor *provoke(ad_tape *t, int i, ad_tape *other)
{
    ad_tensor *m34 = ad_zeros(t, 2, (int[]){3, 4});
    ad_tensor *m52 = ad_zeros(t, 2, (int[]){5, 2});
    ad_tensor *v3 = ad_zeros(t, 1, (int[]){3});
    ad_tensor *v4 = ad_zeros(t, 1, (int[]){4});
    switch (i) {
    case 0: return ad_add(t, m34, v3);
    case 1: return ad_matmul(t, m34, m52, 0, 0);
    case 2: return ad_matmul(t, m34, m52, 0, 1);
    case 3: return ad_matmul(t, v3, m34, 0, 0);
    case 4: return ad_concat_cols(t, ad_zeros(t, 2, (int[]){3, 2}), m52);
    case 5: return ad_where(t, v4, m34, m34);
    case 6: return ad_reshape(t, m34, 2, (int[]){5, 2});
    case 7: return ad_transpose(t, ad_zeros(t, 3, (int[]){2, 2, 3}));
    case 8: return ad_sum_axis(t, m34, 2);
    case 9: return ad_logsumexp(t, m34, -3);
    case 10: return ad_slice_cols(t, m34, 3, 3);
    case 11: return ad_slice_cols(t, m34, -1, 2);
    case 12: return ad_gather_cols(t, m34, (int[]){0, 4}, 2);
    case 13: return ad_gather_cols(t, m34, (int[]){-1}, 1);
    case 14: return ad_mul(t, m34, NULL);
    case 15: return ad_exp(t, ad_tape_poison(other));
    case 16: return ad_clamp(t, m34, 2, 1);
    case 17: ad_backward(t, ad_sum(t, m34)); return ad_tape_poison(t);
    case 18: ad_backward(t, ad_tape_poison(other)); return ad_tape_poison(t);
    case 19: return ad_constant(t, 1, (int[]){2}, NULL);
    }
    return NULL;
}

START_TEST(test_error_message)
{
    const error_case *e = &errors[_i];
    ad_tape *t = ad_tape_new(0), *other = ad_tape_new(0);
    ad_tensor *y = provoke(t, _i, other);
    ck_assert_ptr_nonnull(y);
    ck_assert_msg(!y->valid, "%s: the result is valid", e->what);
    ck_assert_uint_eq(y->size, 0);
    ck_assert(!ad_tape_ok(t));
    ck_assert_msg(ad_tape_status(t) == e->status, "%s: status %d", e->what, ad_tape_status(t));
    ck_assert_str_eq(ad_tape_error(t), e->message);
    /* sticky: later ops return the poison and keep the first message */
    ad_tensor *z = ad_tanh(t, ad_zeros(t, 1, (int[]){2}));
    ck_assert(!z->valid);
    ck_assert_int_eq(ad_backward(t, z), e->status);
    ck_assert_str_eq(ad_tape_error(t), e->message);
    ad_tape_reset(t);
    ck_assert(ad_tape_ok(t));
    ck_assert_str_eq(ad_tape_error(t), "");
    ad_tape_free(t);
    ad_tape_free(other);
}
END_TEST

/* After an error every op, whatever its arguments, returns the poison. */
START_TEST(test_every_op_poisoned)
{
    ad_tape *t = ad_tape_new(0);
    ad_tensor *x = ad_tape_input(t, 2, (int[]){2, 2}, NULL);
    ad_tensor *v = ad_tape_input(t, 1, (int[]){2}, NULL);
    ad_tensor *p = ad_tape_poison(t);
    ad_sum_axis(t, x, 7);
    ad_tensor *r[] = {
        ad_add(t, x, v), ad_sub(t, x, v), ad_mul(t, x, v), ad_div(t, x, v),
        ad_minimum(t, x, v), ad_maximum(t, x, v), ad_where(t, x, x, v),
        ad_neg(t, x), ad_scale(t, x, 2), ad_add_scalar(t, x, 1), ad_exp(t, x),
        ad_log(t, x), ad_tanh(t, x), ad_relu(t, x), ad_sigmoid(t, x),
        ad_softplus(t, x), ad_sqrt(t, x), ad_square(t, x), ad_pow(t, x, 2),
        ad_abs(t, x), ad_clamp(t, x, 0, 1), ad_sum(t, x), ad_mean(t, x),
        ad_sum_axis(t, x, 0), ad_mean_axis(t, x, 0), ad_logsumexp(t, x, 0),
        ad_matmul(t, x, x, 0, 0), ad_reshape(t, x, 1, (int[]){4}), ad_transpose(t, x),
        ad_slice_cols(t, x, 0, 1), ad_concat_cols(t, x, x), ad_gather_cols(t, x, (int[]){0}, 1),
        ad_zeros(t, 1, (int[]){2}), ad_full(t, 1, (int[]){2}, 1), ad_scalar(t, 1),
        ad_constant(t, 1, (int[]){2}, (ad_real[]){1, 2}), ad_tape_input(t, 1, (int[]){2}, NULL),
        ad_exp(t, p),
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
        ck_assert_msg(r[i] == p, "op %zu did not return the poison", i);
        ck_assert_uint_eq(r[i]->size, 0);
    }
    ck_assert_int_eq(ad_tape_n_nodes(t), 0);
    ck_assert_str_eq(ad_tape_error(t), "ad_sum_axis: bad argument #2 (axis 7, tensor has 2 dims)");
    ad_tape_free(t);
}
END_TEST

/* With no tape at all (ad_tape_new failed) ops return an invalid tensor
 * instead of crashing, and the tape queries answer. */
START_TEST(test_null_tape)
{
    ad_tensor *x = ad_tensor_new(1, (int[]){3});
    ad_tensor *y = ad_exp(NULL, x);
    ck_assert_ptr_nonnull(y);
    ck_assert(!y->valid);
    ck_assert(!ad_add(NULL, x, x)->valid);
    ck_assert(!ad_zeros(NULL, 1, (int[]){2})->valid);
    ck_assert(!ad_tape_ok(NULL));
    ck_assert_int_eq(ad_backward(NULL, y), AD_ERR_ARG);
    ck_assert_int_eq(ad_tape_n_nodes(NULL), 0);
    ad_tape_reset(NULL);
    ad_tape_free(NULL);
    ad_tensor_free(NULL);
    ad_tensor_free(x);
}
END_TEST

START_TEST(test_bad_shapes)
{
    ad_tape *t = ad_tape_new(0);
    ck_assert(!ad_zeros(t, 5, (int[]){1, 1, 1, 1, 1})->valid);
    ck_assert_str_eq(ad_tape_error(t), "ad_tape_tensor: invalid shape (bad rank)");
    ad_tape_reset(t);
    ck_assert(!ad_zeros(t, 2, (int[]){2, -1})->valid);
    ck_assert_str_eq(ad_tape_error(t), "ad_tape_tensor: invalid shape [2,-1]");
    ad_tape_reset(t);
    /* a shape whose element count overflows fails as out of memory, never
     * as a small buffer with a large shape */
    ck_assert(!ad_zeros(t, 4, (int[]){1 << 30, 1 << 30, 1 << 30, 1 << 30})->valid);
    ck_assert_int_eq(ad_tape_status(t), AD_ERR_NOMEM);
    ck_assert_ptr_null(ad_tensor_new(3, (int[]){1 << 30, 1 << 30, 1 << 30}));
    ck_assert_ptr_null(ad_tensor_new(-1, NULL));
    /* a heap tensor marked by hand without a gradient buffer */
    ad_tape_reset(t);
    ad_tensor *h = ad_tensor_new(1, (int[]){2});
    h->requires_grad = 1;
    ck_assert_int_eq(ad_backward(t, ad_sum(t, h)), AD_ERR_ARG);
    ck_assert_str_eq(ad_tape_error(t), "ad_backward: a heap tensor requires a gradient but has "
                                       "no buffer (use ad_tensor_require_grad)");
    ad_tensor_free(h);
    ad_tape_free(t);
}
END_TEST

/* ---- allocation failure */

/* A small forward and backward that touches most kinds of allocation:
 * the tape and its blocks (tiny, so they chain), heap parameters, node
 * records, gather's saved index, arena gradients.  Returns the status. */
static int small_step(void)
{
    ad_tape *t = ad_tape_new(512);
    ad_tensor *w = ad_tensor_new_param(2, (int[]){4, 3});
    ad_tensor *b = ad_tensor_new_param(1, (int[]){3});
    int status = AD_ERR_NOMEM;
    if (t && w && b) {
        for (size_t i = 0; i < w->size; i++) w->data[i] = 0.1 * (double)i - 0.5;
        ad_real xv[20];
        for (int i = 0; i < 20; i++) xv[i] = sin(i);
        ad_tensor *x = ad_tape_input(t, 2, (int[]){5, 4}, xv);
        ad_tensor *h = ad_tanh(t, ad_add(t, ad_matmul(t, x, w, 0, 0), b));
        ad_tensor *g = ad_gather_cols(t, h, (int[]){2, 0, 2, 1}, 4);
        ad_tensor *l = ad_sum(t, ad_logsumexp(t, ad_concat_cols(t, g, h), 1));
        int forward_ok = ad_tape_ok(t);
        status = forward_ok ? ad_backward(t, l) : ad_tape_status(t);
        if (status != AD_OK) {
            ck_assert_msg(forward_ok || !l->valid,
                          "an op returned a valid tensor after running out of memory");
            ck_assert_msg(strstr(ad_tape_error(t), "out of memory") != NULL, "message: %s",
                          ad_tape_error(t));
        } else {
            ck_assert(isfinite(l->data[0]) && isfinite(w->grad[0]));
        }
    }
    ad_tensor_free(w);
    ad_tensor_free(b);
    ad_tape_free(t);
    return status;
}

static ad_tensor *gc_fn(ad_tape *t, ad_tensor *const *in, int n, void *ctx)
{
    (void)n;
    (void)ctx;
    return ad_logsumexp(t, ad_mul(t, in[0], in[0]), 0);
}

static int small_gradcheck(void)
{
    ad_tensor *x = ad_tensor_new(1, (int[]){3});
    int status = AD_ERR_NOMEM;
    if (x) {
        x->data[0] = 0.5;
        ad_gradcheck_report rep;
        status = ad_gradcheck(gc_fn, NULL, 1, &x, NULL, &rep);
        if (status == AD_OK) ck_assert_msg(rep.ok, "%s", rep.message);
        else ck_assert_msg(strstr(rep.message, "out of memory") != NULL, "%s", rep.message);
    }
    ad_tensor_free(x);
    return status;
}

/* For n = 0, 1, ... let the n+1-th allocation fail: every run either
 * succeeds or reports AD_ERR_NOMEM, never crashes, and (under `make
 * sanitize`, LeakSanitizer) frees everything. */
static void fail_at_every_allocation(int (*step)(void), const char *what)
{
    /* A first run lets process-wide buffers that are kept between calls
     * (ad_gemm's packing buffers) reach their size; the second is counted. */
    ck_assert_int_eq(step(), AD_OK);
    long before = ad_alloc_count();
    ck_assert_int_eq(step(), AD_OK);
    long needed = ad_alloc_count() - before;
    ck_assert(needed > 3);
    int failures = 0;
    for (long n = 0; n <= needed; n++) {
        ad_alloc_fail_after(n);
        int status = step();
        ad_alloc_fail_after(-1);
        ck_assert_msg(status == AD_OK || status == AD_ERR_NOMEM, "%s, n = %ld: status %d", what, n,
                      status);
        if (n < needed) ck_assert_msg(status == AD_ERR_NOMEM, "%s, n = %ld: no failure", what, n);
        failures += status != AD_OK;
    }
    ck_assert_int_eq(failures, (int)needed);
}

START_TEST(test_alloc_failure_step)
{
    fail_at_every_allocation(small_step, "forward+backward");
}
END_TEST

START_TEST(test_alloc_failure_gradcheck)
{
    fail_at_every_allocation(small_gradcheck, "gradcheck");
}
END_TEST

/* ---- the arena */

/* One training-like step with many ops; the same recording every time. */
static ad_tensor *many_ops(ad_tape *t, ad_tensor *w, const ad_real *xv)
{
    ad_tensor *x = ad_constant(t, 2, (int[]){8, 6}, xv);
    ad_tensor *h = ad_softplus(t, ad_matmul(t, x, w, 0, 0));
    ad_tensor *g = ad_gather_cols(t, h, (int[]){0, 1, 1, 3}, 4);
    ad_tensor *mask = ad_full(t, 2, (int[]){8, 4}, 1);
    ad_tensor *s = ad_where(t, mask, g, ad_scalar(t, 0));
    ad_tensor *c = ad_concat_cols(t, ad_slice_cols(t, s, 1, 2), ad_clamp(t, h, -1, 1));
    return ad_mean(t, ad_logsumexp(t, ad_transpose(t, c), 0));
}

START_TEST(test_steady_state)
{
    ad_real xv[48];
    for (int i = 0; i < 48; i++) xv[i] = cos(i);
    ad_tensor *w = ad_tensor_new_param(2, (int[]){6, 5});
    for (size_t i = 0; i < w->size; i++) w->data[i] = 0.05 * (double)i;
    ad_tape *t = ad_tape_new(1024); /* small blocks: the chain matters */
    long allocs = 0;
    size_t used = 0, reserved = 0;
    for (int it = 0; it < 6; it++) {
        ad_tape_reset(t);
        ck_assert_uint_eq(ad_tape_bytes_used(t), 0);
        ad_tensor_zero_grad(w);
        ad_tensor *l = many_ops(t, w, xv);
        ck_assert_msg(ad_tape_ok(t), "%s", ad_tape_error(t));
        ck_assert_int_eq(ad_backward(t, l), AD_OK);
        if (it == 0) {
            allocs = ad_alloc_count();
            used = ad_tape_bytes_used(t);
            reserved = ad_tape_bytes_reserved(t);
            ck_assert(reserved > 1024); /* more than one block was needed */
        } else {
            ck_assert_int_eq(ad_alloc_count(), allocs);
            ck_assert_uint_eq(ad_tape_bytes_used(t), used);
            ck_assert_uint_eq(ad_tape_bytes_reserved(t), reserved);
            ck_assert_uint_eq(ad_tape_bytes_peak(t), used);
        }
    }
    ad_tensor_free(w);
    ad_tape_free(t);
}
END_TEST

/* Chained blocks never move: a tensor made first keeps its values while
 * requests larger than a block force new blocks. */
START_TEST(test_arena_chaining)
{
    ad_tape *t = ad_tape_new(256);
    ad_tensor *first = ad_full(t, 1, (int[]){4}, 7);
    for (int k = 1; k <= 20; k++) {
        ad_tensor *big = ad_full(t, 1, (int[]){k * 40}, -1);
        ck_assert(big->valid);
        ck_assert_uint_eq((uintptr_t)big->data % 8, 0);
        void *raw = ad_tape_alloc(t, (size_t)k * 3);
        ck_assert_uint_eq((uintptr_t)raw % 64, 0);
    }
    for (int i = 0; i < 4; i++) ck_assert_double_eq(first->data[i], 7);
    size_t reserved = ad_tape_bytes_reserved(t);
    ad_tape_reset(t);
    ad_full(t, 1, (int[]){4}, 7);
    for (int k = 1; k <= 20; k++) {
        ad_full(t, 1, (int[]){k * 40}, -1);
        ad_tape_alloc(t, (size_t)k * 3);
    }
    ck_assert(ad_tape_ok(t));
    ck_assert_uint_eq(ad_tape_bytes_reserved(t), reserved);
    ad_tape_free(t);
}
END_TEST

Suite *ad_errors_suite(void)
{
    Suite *s = suite_create("autodiff-errors");
    TCase *tc = tcase_create("errors");
    tcase_add_loop_test(tc, test_error_message, 0, N_ERRORS);
    tcase_add_test(tc, test_every_op_poisoned);
    tcase_add_test(tc, test_null_tape);
    tcase_add_test(tc, test_bad_shapes);
    suite_add_tcase(s, tc);
    tc = tcase_create("memory");
    tcase_add_test(tc, test_alloc_failure_step);
    tcase_add_test(tc, test_alloc_failure_gradcheck);
    tcase_add_test(tc, test_steady_state);
    tcase_add_test(tc, test_arena_chaining);
    suite_add_tcase(s, tc);
    return s;
}
