/* test_autodiff_core.c - the tape, broadcasting and a first gradcheck. */
#include <check.h>
#include <math.h>

#include "autodiff/ad.h"
#include "ck_util.h"

static ad_tensor *poly(ad_tape *t, ad_tensor *const *in, int n, void *ctx)
{
    (void)n;
    (void)ctx;
    /* sum over broadcast: x [3,4] * w [4] + b [3,1], then tanh and matmul */
    ad_tensor *h = ad_tanh(t, ad_add(t, ad_mul(t, in[0], in[1]), in[2]));
    return ad_matmul(t, h, in[0], 1, 0);
}

START_TEST(test_gradcheck_composed)
{
    ad_rng rng;
    ad_rng_seed(&rng, 1, 0);
    int sx[2] = {3, 4}, sw[1] = {4}, sb[2] = {3, 1};
    ad_tensor *x = ad_tensor_new(2, sx), *w = ad_tensor_new(1, sw), *b = ad_tensor_new(2, sb);
    ad_rng_fill_normal(&rng, x->data, x->size, 0, 1);
    ad_rng_fill_normal(&rng, w->data, w->size, 0, 1);
    ad_rng_fill_normal(&rng, b->data, b->size, 0, 1);
    ad_tensor *in[3] = {x, w, b};
    ad_gradcheck_report rep;
    ck_assert_int_eq(ad_gradcheck(poly, NULL, 3, in, NULL, &rep), AD_OK);
    ck_assert_msg(rep.ok, "%s", rep.message);
    /* options: zeros are the defaults; designated fields change one; a
     * negative or non-finite field is rejected by name */
    ad_gradcheck_options opt = {.safety = 20};
    ck_assert_int_eq(ad_gradcheck(poly, NULL, 3, in, &opt, &rep), AD_OK);
    ck_assert_msg(rep.ok, "%s", rep.message);
    opt.rtol = -1e-7;
    ck_assert_int_eq(ad_gradcheck(poly, NULL, 3, in, &opt, &rep), AD_ERR_ARG);
    ck_assert_str_eq(rep.message,
                     "ad_gradcheck: options->rtol = -1e-07 (need finite >= 0; 0: the default)");
    opt = (ad_gradcheck_options){.step = NAN};
    ck_assert_int_eq(ad_gradcheck(poly, NULL, 3, in, &opt, &rep), AD_ERR_ARG);
    ck_assert_str_eq(rep.message,
                     "ad_gradcheck: options->step = nan (need finite >= 0; 0: the default)");
    ad_tensor_free(x);
    ad_tensor_free(w);
    ad_tensor_free(b);
}
END_TEST

START_TEST(test_steady_state_no_malloc)
{
    ad_tape *t = ad_tape_new(4096); /* small blocks: forces chaining */
    ad_tensor *p = ad_tensor_new_param(2, (int[]){64, 64});
    long before = 0;
    size_t peak = 0;
    for (int it = 0; it < 5; it++) {
        ad_tape_reset(t);
        if (it == 1) {
            before = ad_alloc_count();
            peak = ad_tape_bytes_reserved(t);
        }
        ad_tensor *y = ad_sum(t, ad_tanh(t, ad_matmul(t, p, p, 0, 1)));
        ck_assert(ad_tape_ok(t));
        ck_assert_int_eq(ad_backward(t, y), AD_OK);
    }
    ck_assert_int_eq(ad_alloc_count(), before);
    ck_assert_uint_eq(ad_tape_bytes_reserved(t), peak);
    ad_tensor_free(p);
    ad_tape_free(t);
}
END_TEST

START_TEST(test_sticky_error)
{
    ad_tape *t = ad_tape_new(0);
    ad_tensor *a = ad_zeros(t, 2, (int[]){5, 2});
    ad_tensor *b = ad_zeros(t, 2, (int[]){4, 3});
    ad_tensor *c = ad_matmul(t, a, b, 0, 0);
    ck_assert(!c->valid);
    ck_assert(!ad_tape_ok(t));
    ck_assert_str_eq(ad_tape_error(t), "ad_matmul: bad argument #2 (shape [4,3], expected [2,*])");
    ad_tensor *d = ad_exp(t, a); /* later ops do nothing */
    ck_assert(!d->valid);
    ck_assert_uint_eq(d->size, 0);
    ck_assert_str_eq(ad_tape_error(t), "ad_matmul: bad argument #2 (shape [4,3], expected [2,*])");
    ad_tape_reset(t);
    ck_assert(ad_tape_ok(t));
    ad_tape_free(t);
}
END_TEST

Suite *ad_core_suite(void)
{
    Suite *s = suite_create("autodiff-core");
    TCase *tc = tcase_create("gradcheck");
    tcase_add_test(tc, test_gradcheck_composed);
    suite_add_tcase(s, tc);
    tc = tcase_create("memory");
    tcase_add_test(tc, test_steady_state_no_malloc);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_sticky_error);
    suite_add_tcase(s, tc);
    return s;
}
