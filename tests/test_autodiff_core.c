/* test_autodiff_core.c - the tape, broadcasting and a first gradcheck, and
 * a wide node (more inputs than a node holds) recorded from a list in the
 * tape's arena. */
#include <check.h>
#include <math.h>
#include <string.h>

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

/* A custom op with more inputs than a node holds: y = sum_i (i + 1) x_i^2
 * over WIDE inputs of one shape;  dx_i += 2 (i + 1) x_i dy. */
enum { WIDE = AD_MAX_INPUTS + 3 };

static void wide_backward(ad_tape *t, ad_node *n)
{
    const ad_real *gy = n->output->grad;
    for (int i = 0; i < n->n_inputs; i++) {
        ad_tensor *x = n->inputs[i];
        ad_real *gx = ad_node_grad(t, x);
        if (!gx) continue;
        for (size_t j = 0; j < x->size; j++) gx[j] += 2 * (i + 1) * x->data[j] * gy[j];
    }
}
static const ad_op OP_WIDE = {"wide", wide_backward};

/* stack_list: record from a list on the stack instead (refused). */
static ad_tensor *wide_op(ad_tape *t, ad_tensor *const *in, int stack_list)
{
    if (!ad_op_begin(t, "wide", WIDE, in)) return ad_tape_poison(t);
    ad_tensor *y = ad_zeros(t, in[0]->n_dims, in[0]->shape);
    if (!y->valid) return y;
    for (int i = 0; i < WIDE; i++)
        for (size_t j = 0; j < y->size; j++)
            y->data[j] += (i + 1) * in[i]->data[j] * in[i]->data[j];
    ad_tensor *on_stack[WIDE];
    ad_tensor **list = stack_list ? on_stack : ad_tape_alloc(t, sizeof(ad_tensor *[WIDE]));
    if (!list) return ad_tape_poison(t);
    memcpy(list, in, sizeof(ad_tensor *[WIDE]));
    ad_node *n = ad_tape_record_wide(t, &OP_WIDE, y, WIDE, list);
    if (n) ck_assert_ptr_eq(n->inputs, list);
    return y->valid ? y : ad_tape_poison(t);
}

static ad_tensor *wide_fn(ad_tape *t, ad_tensor *const *in, int n, void *ctx)
{
    (void)n;
    (void)ctx;
    return wide_op(t, in, 0);
}

START_TEST(test_wide_node)
{
    ad_rng rng;
    ad_rng_seed(&rng, 3, 0);
    ad_tensor *in[WIDE];
    for (int i = 0; i < WIDE; i++) {
        in[i] = ad_tensor_new(2, (int[]){2, 3});
        ad_rng_fill_normal(&rng, in[i]->data, in[i]->size, 0, 1);
    }
    ad_gradcheck_report rep;
    ck_assert_int_eq(ad_gradcheck(wide_fn, NULL, WIDE, in, NULL, &rep), AD_OK);
    ck_assert_msg(rep.ok, "%s", rep.message);
    ad_tape *t = ad_tape_new(0);
    for (int i = 0; i < WIDE; i++) ad_tensor_require_grad(in[i]);
    /* the ordinary record refuses that many inputs */
    ad_tensor *y = ad_zeros(t, 2, (int[]){2, 3});
    ck_assert_ptr_null(ad_tape_record(t, &OP_WIDE, y, WIDE, in));
    ck_assert(!y->valid);
    ck_assert_msg(strstr(ad_tape_error(t), "wide: cannot record 7 inputs (1..4"), "%s",
                  ad_tape_error(t));
    /* the wide one, a list that is not in the arena */
    ad_tape_reset(t);
    ck_assert(!wide_op(t, in, 1)->valid);
    ck_assert_msg(strstr(ad_tape_error(t), "wide: the input list of a wide node must be in the "
                                           "tape's arena"),
                  "%s", ad_tape_error(t));
    ad_tape_free(t);
    for (int i = 0; i < WIDE; i++) ad_tensor_free(in[i]);
}
END_TEST

Suite *ad_core_suite(void)
{
    Suite *s = suite_create("autodiff-core");
    TCase *tc = tcase_create("gradcheck");
    tcase_add_test(tc, test_gradcheck_composed);
    tcase_add_test(tc, test_wide_node);
    suite_add_tcase(s, tc);
    tc = tcase_create("memory");
    tcase_add_test(tc, test_steady_state_no_malloc);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_sticky_error);
    suite_add_tcase(s, tc);
    return s;
}
