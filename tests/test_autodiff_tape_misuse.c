/* test_autodiff_tape_misuse.c - tape tensors used where they are no longer
 * (or never were) valid: on another tape, or after their tape's reset.
 * Every op and ad_backward reject them with the tape's sticky error
 * (autodiff/ad_tape.h), in every build; heap tensors stay valid on any tape
 * and across resets. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "autodiff/ad.h"
#include "ck_util.h"

/* t's first error is `code` with exactly `message`, and it sticks. */
static void assert_error(ad_tape *t, ad_tensor *y, int code, const char *message)
{
    ck_assert_ptr_nonnull(y);
    ck_assert(!y->valid);
    ck_assert_int_eq(ad_tape_status(t), code);
    ck_assert_str_eq(ad_tape_error(t), message);
    ad_tensor *z = ad_exp(t, ad_zeros(t, 1, (int[]){2}));
    ck_assert(!z->valid);
    ck_assert_str_eq(ad_tape_error(t), message);
}

/* One case per kind of op entry: binary, unary, reduction, shape, fused. */
static ad_tensor *misuse(ad_tape *t, int i, ad_tensor *own, ad_tensor *stray)
{
    ad_tensor *w = ad_tensor_new(2, (int[]){3, 2});
    ad_tensor *y = NULL;
    switch (i) {
    case 0: y = ad_add(t, own, stray); break;
    case 1: y = ad_mul(t, stray, own); break;
    case 2: y = ad_tanh(t, stray); break;
    case 3: y = ad_sum(t, stray); break;
    case 4: y = ad_reshape(t, stray, 1, (int[]){12}); break;
    case 5: y = ad_where(t, stray, own, own); break;
    case 6: y = ad_matmul(t, own, stray, 0, 1); break;
    case 7: y = ad_dense(t, stray, w, NULL, AD_ACT_TANH); break;
    case 8: ad_backward(t, stray); y = ad_tape_poison(t); break;
    }
    ad_tensor_free(w);
    return y;
}

static const char *const misuse_ops[] = {
    "ad_add: bad argument #2", "ad_mul: bad argument #1", "ad_tanh: bad argument #1",
    "ad_sum: bad argument #1", "ad_reshape: bad argument #1", "ad_where: bad argument #1",
    "ad_matmul: bad argument #2", "ad_dense: bad argument #1", "ad_backward: bad argument #1",
};
#define N_MISUSE (int)(sizeof misuse_ops / sizeof misuse_ops[0])

START_TEST(test_tensor_from_another_tape)
{
    ad_tape *t = ad_tape_new(0), *other = ad_tape_new(0);
    ad_tensor *own = ad_tape_input(t, 2, (int[]){4, 3}, NULL);
    ad_tensor *stray = ad_tape_input(other, 2, (int[]){4, 3}, NULL);
    ad_tensor *y = misuse(t, _i, own, _i == 8 ? ad_sum(other, stray) : stray);
    char expected[128];
    snprintf(expected, sizeof expected, "%s (tensor from another tape)", misuse_ops[_i]);
    assert_error(t, y, AD_ERR_ARG, expected);
    /* the other tape and its tensor are untouched */
    ck_assert(ad_tape_ok(other));
    ck_assert_int_eq(ad_backward(other, ad_sum(other, ad_square(other, stray))), AD_OK);
    ad_tape_free(t);
    ad_tape_free(other);
}
END_TEST

START_TEST(test_tensor_from_before_reset)
{
    ad_tape *t = ad_tape_new(0);
    /* the arena hands out memory in order from its start after a reset: the
     * first tensor holds the place that `own` takes below, so that the stale
     * headers after it stay intact (once a new tensor takes a stale one's
     * place, the two cannot be told apart; autodiff/ad_tape.h) */
    ad_tensor *placeholder = ad_tape_input(t, 2, (int[]){4, 3}, NULL);
    ad_tensor *stale = ad_tape_input(t, 2, (int[]){4, 3}, NULL);
    ad_tensor *stale_sum = ad_sum(t, stale);
    ad_tape_reset(t);
    ad_tensor *stray = _i == 8 ? stale_sum : stale;
    ad_tensor *own = ad_tape_input(t, 2, (int[]){4, 3}, NULL);
    ck_assert_ptr_eq(own, placeholder);
    ad_tensor *y = misuse(t, _i, own, stray);
    char expected[128];
    snprintf(expected, sizeof expected, "%s (tensor from before ad_tape_reset)", misuse_ops[_i]);
    assert_error(t, y, AD_ERR_ARG, expected);
    ad_tape_free(t);
}
END_TEST

/* Both tapes and every generation accept heap tensors (parameters, views),
 * and tensors made after a reset are valid. */
START_TEST(test_heap_tensors_valid_everywhere)
{
    ad_tensor *w = ad_tensor_new_param(1, (int[]){3});
    for (int i = 0; i < 3; i++) w->data[i] = (ad_real)(i + 1);
    ad_tape *a = ad_tape_new(0), *b = ad_tape_new(0);
    for (int iter = 0; iter < 3; iter++) {
        ad_tape *t = iter % 2 ? b : a;
        ad_tape_reset(t);
        ad_tensor_zero_grad(w);
        ad_tensor *x = ad_constant(t, 1, (int[]){3}, (ad_real[]){2, 3, 4});
        ad_tensor *loss = ad_sum(t, ad_mul(t, ad_reshape(t, w, 2, (int[]){1, 3}), x));
        ck_assert_msg(ad_tape_ok(t), "%s", ad_tape_error(t));
        ck_assert_int_eq(ad_backward(t, loss), AD_OK);
        ck_assert(loss->data[0] == 2 + 6 + 12);
        /* d/dw sum(w x) = x, exactly */
        ck_assert(w->grad[0] == 2 && w->grad[1] == 3 && w->grad[2] == 4);
    }
    /* a view of the same parameter memory is a heap tensor too */
    ad_tensor view;
    ck_assert_int_eq(ad_tensor_init_view(&view, 1, (int[]){3}, w->data, w->grad), AD_OK);
    ad_tensor *y = ad_sum(a, &view);
    ck_assert(ad_tape_ok(a));
    ck_assert(y->data[0] == 6);
    ad_tape_free(a);
    ad_tape_free(b);
    ad_tensor_free(w);
}
END_TEST

/* A stale tensor used through a chain of ops: the first op that sees it
 * fails, the message does not change afterwards, and a reset clears the
 * error so that the next iteration runs. */
START_TEST(test_reset_clears_misuse)
{
    ad_tape *t = ad_tape_new(0);
    ad_tensor *placeholder = ad_tape_input(t, 1, (int[]){5}, NULL);
    ad_tensor *stale = ad_tape_input(t, 1, (int[]){5}, NULL);
    ad_tape_reset(t);
    ad_tensor *x = ad_tape_input(t, 1, (int[]){5}, NULL);
    ck_assert_ptr_eq(x, placeholder);
    ad_tensor *y = ad_mul(t, x, stale); /* before anything takes stale's place */
    assert_error(t, y, AD_ERR_ARG, "ad_mul: bad argument #2 (tensor from before ad_tape_reset)");
    ck_assert_int_eq(ad_backward(t, ad_sum(t, ad_square(t, y))), AD_ERR_ARG);
    ad_tape_reset(t);
    ck_assert(ad_tape_ok(t));
    x = ad_tape_input(t, 1, (int[]){5}, (ad_real[]){1, 2, 3, 4, 5});
    ck_assert_int_eq(ad_backward(t, ad_sum(t, ad_square(t, x))), AD_OK);
    for (int i = 0; i < 5; i++) ck_assert(x->grad[i] == 2 * (i + 1));
    ad_tape_free(t);
}
END_TEST

Suite *ad_tape_misuse_suite(void)
{
    Suite *s = suite_create("autodiff-tape-misuse");
    TCase *tc = tcase_create("misuse");
    tcase_add_loop_test(tc, test_tensor_from_another_tape, 0, N_MISUSE);
    tcase_add_loop_test(tc, test_tensor_from_before_reset, 0, N_MISUSE);
    tcase_add_test(tc, test_heap_tensors_valid_everywhere);
    tcase_add_test(tc, test_reset_clears_misuse);
    suite_add_tcase(s, tc);
    return s;
}
