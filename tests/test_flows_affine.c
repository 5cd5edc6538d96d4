/* test_flows_affine.c - the coupling's update as one custom op
 * (flows/flow_affine.c): gradient checks of both directions, the gradient
 * buffers it writes fresh (an input with another consumer recorded before or
 * after it, the same tensor passed twice), agreement with the composed ops,
 * and its error messages; the whole coupling update (flow_affine_couple)
 * against the ops it replaces, bit for bit, and its gradient check.
 *
 * Tolerances: ad_gradcheck's own (derived from the finite-difference error;
 * autodiff/ad_gradcheck.h).  Fused against composed: the same operations in
 * the same order, so equal but for a compiler contracting a * b + c into
 * one rounding: 1e-14 relative is ~50 ulps.
 */
#include <check.h>
#include <math.h>
#include <string.h>

#include "autodiff/ad.h"
#include "ck_util.h"
#include "autodiff/fast/ad_pool.h"
#include "flows/flow_affine.h"

/* ---- gradient checks -------------------------------------------------------- */

typedef struct {
    const char *what;
    int inverse;
    int n_dims, shape[2];
} affine_case;

static const affine_case CASES[] = {
    {"affine_exp [3,4]", 0, 2, {3, 4}},
    {"affine_exp_inv [3,4]", 1, 2, {3, 4}},
    {"affine_exp_inv [5]", 1, 1, {5, 1}},
};
#define N_CASES (int)(sizeof CASES / sizeof CASES[0])

static ad_tensor *run_case(ad_tape *t, ad_tensor *const *in, int n, void *ctx)
{
    (void)n;
    const affine_case *c = ctx;
    return c->inverse ? flow_affine_exp_inv(t, in[0], in[1], in[2])
                      : flow_affine_exp(t, in[0], in[1], in[2]);
}

START_TEST(test_affine_gradcheck)
{
    const affine_case *c = &CASES[_i];
    ad_rng r;
    ad_rng_seed(&r, 2024, (uint64_t)_i);
    ad_tensor *in[3];
    for (int k = 0; k < 3; k++) {
        in[k] = ad_tensor_new_param(c->n_dims, c->shape);
        ad_rng_fill_uniform(&r, in[k]->data, in[k]->size, -2, 2);
    }
    ad_gradcheck_report rep;
    ck_assert_int_eq(ad_gradcheck(run_case, (void *)c, 3, in, NULL, &rep), AD_OK);
    ck_assert_msg(rep.ok, "%s: %s", c->what, rep.message);
    for (int k = 0; k < 3; k++) ad_tensor_free(in[k]);
}
END_TEST

/* ---- fresh gradient buffers ----------------------------------------------------- */

/* The op's backward writes a gradient it creates instead of zero-filling and
 * adding (ad_node_grad_fresh).  An intermediate (tape) input with another
 * consumer recorded before the op (its gradient exists when the backward
 * runs: it must add) or after it (the op's backward comes first: it
 * writes), and the same tensor as two arguments (it must add both parts). */
enum { M = 4, N = 3 };
enum { AFFINE, AFFINE_INV, AFFINE_SAME, N_FRESH };
static const char *FRESH_NAMES[N_FRESH] = {"affine_exp", "affine_exp_inv", "affine_exp(h, h, k)"};

/* case = op * 2 + order; order 0: the other consumer (sum h^2) recorded
 * before the op, 1: after. */
static ad_tensor *build_fresh(ad_tape *t, ad_tensor *const *in, int n_inputs, void *ctx)
{
    (void)n_inputs;
    const int c = *(const int *)ctx, op = c / 2, order = c % 2;
    ad_tensor *h = ad_tanh(t, in[0]); /* on the tape: its gradient is made in backward */
    ad_tensor *k = ad_sigmoid(t, in[1]);
    ad_tensor *other = order == 0 ? ad_sum(t, ad_square(t, h)) : NULL;
    ad_tensor *y = NULL;
    switch (op) {
    case AFFINE: y = flow_affine_exp(t, h, k, ad_scale(t, ad_exp(t, in[0]), 0.5)); break;
    case AFFINE_INV: y = flow_affine_exp_inv(t, k, h, ad_scale(t, ad_exp(t, in[1]), 0.5)); break;
    case AFFINE_SAME: y = flow_affine_exp(t, h, h, k); break;
    default: break;
    }
    if (order == 1) other = ad_sum(t, ad_square(t, h));
    /* weight each output element differently */
    ad_tensor *w = ad_tanh(t, ad_scale(t, y, 0.7));
    return ad_add(t, ad_sum(t, ad_mul(t, y, w)), other);
}

START_TEST(test_affine_fresh_gradients)
{
    int c = _i;
    ad_tensor *in[2];
    ad_rng r;
    ad_rng_seed(&r, 85 + (uint64_t)c, 0);
    for (int i = 0; i < 2; i++) {
        in[i] = ad_tensor_new(2, (int[]){M, N});
        ad_rng_fill_uniform(&r, in[i]->data, in[i]->size, -1, 1);
        ad_tensor_require_grad(in[i]);
    }
    ad_gradcheck_report rep;
    ck_assert_int_eq(ad_gradcheck(build_fresh, &c, 2, in, NULL, &rep), AD_OK);
    ck_assert_msg(rep.ok, "%s, other consumer %s: %s", FRESH_NAMES[c / 2],
                  c % 2 ? "after" : "before", rep.message);
    for (int i = 0; i < 2; i++) ad_tensor_free(in[i]);
}
END_TEST

/* ---- against the composed ops ----------------------------------------------------- */

/* y = z e^s + t (inverse: (x - t) e^-s) from the fused op or from the
 * separate ops, and L = sum(y w) for fixed weights w; out gets y, then the
 * gradients of the three inputs. */
static void affine_run(int fused, int inverse, ad_real *out, int m, int n)
{
    ad_tensor *in[3], *wts;
    ad_rng r;
    ad_rng_seed(&r, 5, 0);
    for (int i = 0; i < 3; i++) {
        in[i] = ad_tensor_new(2, (int[]){m, n});
        ad_rng_fill_uniform(&r, in[i]->data, in[i]->size, -2, 2);
        ad_tensor_require_grad(in[i]);
    }
    wts = ad_tensor_new(2, (int[]){m, n});
    ad_rng_fill_uniform(&r, wts->data, wts->size, -1, 1);
    ad_tape *t = ad_tape_new(0);
    ad_tensor *y;
    if (fused)
        y = inverse ? flow_affine_exp_inv(t, in[0], in[1], in[2])
                    : flow_affine_exp(t, in[0], in[1], in[2]);
    else if (inverse)
        y = ad_mul(t, ad_sub(t, in[0], in[2]), ad_exp(t, ad_neg(t, in[1])));
    else
        y = ad_add(t, ad_mul(t, in[0], ad_exp(t, in[1])), in[2]);
    ck_assert_int_eq(ad_backward(t, ad_sum(t, ad_mul(t, y, wts))), AD_OK);
    size_t sz = (size_t)m * n;
    memcpy(out, y->data, sz * sizeof(ad_real));
    for (int i = 0; i < 3; i++) memcpy(out + (i + 1) * sz, in[i]->grad, sz * sizeof(ad_real));
    for (int i = 0; i < 3; i++) ad_tensor_free(in[i]);
    ad_tensor_free(wts);
    ad_tape_free(t);
}

START_TEST(test_affine_matches_composed)
{
    enum { AM = 7, AN = 5, SZ = AM * AN };
    static const char *what[4] = {"y", "d(first)", "ds", "dshift"};
    for (int inverse = 0; inverse < 2; inverse++) {
        ad_real fused[4 * SZ], sep[4 * SZ];
        affine_run(1, inverse, fused, AM, AN);
        affine_run(0, inverse, sep, AM, AN);
        for (int j = 0; j < 4 * SZ; j++)
            ck_assert_close(fused[j], sep[j], 1e-14 * (1 + fabs(sep[j])), 0, what[j / SZ], j % SZ);
    }
}
END_TEST

/* ---- the whole coupling update ------------------------------------------------------ */

/* A coupling's last steps as the tape records them, on a batch of cm rows
 * of dim coordinates split alternately: zc = z[:, cond], s and t from zc
 * through the parameters a and b (the conditioner's gradient terms reach zc
 * after the update's), then the update fused (flow_affine_couple) or
 * composed (gather the moved columns, flow_affine_exp, concatenate, gather
 * back), and the log-determinant sum(s) as the layer records it.
 * L = sum(x w) + sum(s) / 3; out gets x, then dL/dz, dL/da and dL/db. */
static void couple_run(int fused, int inverse, int cm, int dim, ad_real *out)
{
    flow_split sp;
    ck_assert_int_eq(flow_split_init(&sp, dim, FLOW_SPLIT_ALTERNATE, NULL, 1, NULL, 0), AD_OK);
    ad_rng r;
    ad_rng_seed(&r, 11, (uint64_t)inverse);
    ad_tensor *z = ad_tensor_new(2, (int[]){cm, dim}), *w = ad_tensor_new(2, (int[]){cm, dim});
    ad_tensor *a = ad_tensor_new(2, (int[]){sp.n_cond, sp.n_trans});
    ad_tensor *b = ad_tensor_new(2, (int[]){sp.n_cond, sp.n_trans});
    ad_rng_fill_uniform(&r, z->data, z->size, -2, 2);
    ad_rng_fill_uniform(&r, w->data, w->size, -1, 1);
    ad_rng_fill_uniform(&r, a->data, a->size, -1, 1);
    ad_rng_fill_uniform(&r, b->data, b->size, -1, 1);
    ad_tensor_require_grad(z);
    ad_tensor_require_grad(a);
    ad_tensor_require_grad(b);
    ad_tape *t = ad_tape_new(0);
    ad_tensor *zc = ad_gather_cols(t, z, sp.cond, sp.n_cond);
    ad_tensor *s = ad_tanh(t, ad_matmul(t, zc, a, 0, 0)), *sh = ad_matmul(t, zc, b, 0, 0);
    ad_tensor *x;
    if (fused) {
        x = flow_affine_couple(t, z, zc, s, sh, &sp, inverse);
    } else {
        ad_tensor *z2 = ad_gather_cols(t, z, sp.trans, sp.n_trans);
        ad_tensor *x2 = inverse ? flow_affine_exp_inv(t, z2, s, sh) : flow_affine_exp(t, z2, s, sh);
        x = ad_gather_cols(t, ad_concat_cols(t, zc, x2), sp.unsplit, dim);
    }
    ad_tensor *logdet = ad_sum_axis(t, s, 1);
    ad_tensor *loss = ad_add(t, ad_sum(t, ad_mul(t, x, w)), ad_scale(t, ad_sum(t, logdet), 1. / 3));
    ck_assert_int_eq(ad_backward(t, loss), AD_OK);
    memcpy(out, x->data, z->size * sizeof(ad_real));
    memcpy(out + z->size, z->grad, z->size * sizeof(ad_real));
    memcpy(out + 2 * z->size, a->grad, a->size * sizeof(ad_real));
    memcpy(out + 2 * z->size + a->size, b->grad, b->size * sizeof(ad_real));
    ad_tape_free(t);
    ad_tensor_free(z);
    ad_tensor_free(w);
    ad_tensor_free(a);
    ad_tensor_free(b);
    flow_split_release(&sp);
}

/* Bit for bit, on 1 and 2 threads, with a batch of several tasks (rows of
 * 8192 / dim per task): x, dz, and through s and t the parameters'
 * gradients. */
START_TEST(test_couple_matches_composed)
{
    enum { CM = 2600, DIM = 7, SZ = CM * DIM, NP = 2 * 4 * 3, N = 2 * SZ + NP };
    static ad_real fused[N], sep[N];
    static const char *what[4] = {"x", "dz", "da", "db"};
    for (int threads = 1; threads <= 2; threads++) {
        ad_threads_set(threads);
        for (int inverse = 0; inverse < 2; inverse++) {
            couple_run(1, inverse, CM, DIM, fused);
            couple_run(0, inverse, CM, DIM, sep);
            for (int j = 0; j < N; j++) {
                int part = j < 2 * SZ ? j / SZ : 2 + (j - 2 * SZ) / (NP / 2);
                ck_assert_msg(fused[j] == sep[j], "flow_affine_couple, %d threads, inverse %d: "
                              "%s element %d = %.17g, composed %.17g", threads, inverse,
                              what[part], j, (double)fused[j], (double)sep[j]);
            }
        }
    }
    ad_threads_set(1);
    ad_threads_shutdown();
}
END_TEST

/* Each of the four inputs its own leaf (zc need not be z's columns). */
typedef struct {
    flow_split sp;
    int inverse;
} couple_case;

static ad_tensor *run_couple(ad_tape *t, ad_tensor *const *in, int n, void *ctx)
{
    (void)n;
    const couple_case *c = ctx;
    return flow_affine_couple(t, in[0], in[1], in[2], in[3], &c->sp, c->inverse);
}

START_TEST(test_couple_gradcheck)
{
    couple_case c = {.inverse = _i};
    ck_assert_int_eq(flow_split_init(&c.sp, 5, FLOW_SPLIT_ALTERNATE, NULL, 0, NULL, 0), AD_OK);
    const int inverse = _i;
    const int shapes[4][2] = {{3, 5}, {3, 3}, {3, 2}, {3, 2}};
    ad_rng r;
    ad_rng_seed(&r, 77, (uint64_t)inverse);
    ad_tensor *in[4];
    for (int k = 0; k < 4; k++) {
        in[k] = ad_tensor_new_param(2, shapes[k]);
        ad_rng_fill_uniform(&r, in[k]->data, in[k]->size, -2, 2);
    }
    ad_gradcheck_report rep;
    ck_assert_int_eq(ad_gradcheck(run_couple, &c, 4, in, NULL, &rep), AD_OK);
    ck_assert_msg(rep.ok, "flow_affine_couple, inverse %d: %s", inverse, rep.message);
    for (int k = 0; k < 4; k++) ad_tensor_free(in[k]);
    flow_split_release(&c.sp);
}
END_TEST

START_TEST(test_couple_errors)
{
    flow_split sp;
    ck_assert_int_eq(flow_split_init(&sp, 5, FLOW_SPLIT_ALTERNATE, NULL, 0, NULL, 0), AD_OK);
    ad_tape *t = ad_tape_new(0);
    ad_tensor *z = ad_zeros(t, 2, (int[]){4, 5}), *zc = ad_zeros(t, 2, (int[]){4, 3});
    ad_tensor *s = ad_zeros(t, 2, (int[]){4, 2}), *sh = ad_zeros(t, 2, (int[]){4, 3});
    ck_assert(!flow_affine_couple(t, z, zc, s, sh, &sp, 0)->valid);
    ck_assert_msg(strstr(ad_tape_error(t), "flow_affine_couple: bad argument #4 (shape [4,3], "
                                           "expected [4,2])"),
                  "%s", ad_tape_error(t));
    ad_tape_reset(t);
    z = ad_zeros(t, 1, (int[]){5});
    zc = ad_zeros(t, 2, (int[]){4, 3});
    s = ad_zeros(t, 2, (int[]){4, 2});
    ck_assert(!flow_affine_couple(t, z, zc, s, s, &sp, 1)->valid);
    ck_assert_msg(strstr(ad_tape_error(t), "flow_affine_couple: bad argument #1 (shape [5], "
                                           "expected [batch,5])"),
                  "%s", ad_tape_error(t));
    ad_tape_reset(t);
    z = ad_zeros(t, 2, (int[]){4, 5});
    ck_assert(!flow_affine_couple(t, z, z, z, z, NULL, 0)->valid);
    ck_assert_msg(strstr(ad_tape_error(t), "flow_affine_couple: bad argument #5 (no split"), "%s",
                  ad_tape_error(t));
    /* a channel listing a column twice (or one out of range) is refused */
    for (int bad = 0; bad < 2; bad++) {
        ad_tape_reset(t);
        z = ad_zeros(t, 2, (int[]){4, 5});
        zc = ad_zeros(t, 2, (int[]){4, 3});
        s = ad_zeros(t, 2, (int[]){4, 2});
        int keep = sp.trans[1];
        sp.trans[1] = bad ? 5 : sp.cond[0];
        ck_assert(!flow_affine_couple(t, z, zc, s, s, &sp, 0)->valid);
        sp.trans[1] = keep;
        ck_assert_msg(strstr(ad_tape_error(t), "flow_affine_couple: bad argument #5"), "%s",
                      ad_tape_error(t));
    }
    ad_tape_free(t);
    flow_split_release(&sp);
}
END_TEST

START_TEST(test_affine_errors)
{
    ad_tape *t = ad_tape_new(0);
    ad_tensor *z = ad_zeros(t, 2, (int[]){4, 3}), *s = ad_zeros(t, 2, (int[]){4, 3});
    ad_tensor *sh = ad_zeros(t, 2, (int[]){3, 4});
    ck_assert(!flow_affine_exp(t, z, s, sh)->valid);
    ck_assert_msg(strstr(ad_tape_error(t), "flow_affine_exp: bad argument #3 (shape [3,4], "
                                           "expected the shape of argument #1, [4,3])"),
                  "%s", ad_tape_error(t));
    ad_tape_reset(t);
    z = ad_zeros(t, 2, (int[]){4, 3});
    s = ad_zeros(t, 1, (int[]){12});
    sh = ad_zeros(t, 2, (int[]){4, 3});
    ck_assert(!flow_affine_exp_inv(t, z, s, sh)->valid);
    ck_assert_msg(strstr(ad_tape_error(t), "flow_affine_exp_inv: bad argument #2"), "%s",
                  ad_tape_error(t));
    ad_tape_reset(t);
    z = ad_zeros(t, 2, (int[]){4, 3});
    ck_assert(!flow_affine_exp(t, z, NULL, z)->valid);
    ck_assert_msg(strstr(ad_tape_error(t), "flow_affine_exp: bad argument #2 (NULL tensor)"),
                  "%s", ad_tape_error(t));
    ad_tape_free(t);
}
END_TEST

Suite *flows_affine_suite(void)
{
    Suite *s = suite_create("flows-affine");
    TCase *tc = tcase_create("gradcheck");
    tcase_add_loop_test(tc, test_affine_gradcheck, 0, N_CASES);
    tcase_add_loop_test(tc, test_affine_fresh_gradients, 0, 2 * N_FRESH);
    suite_add_tcase(s, tc);
    tc = tcase_create("forward");
    tcase_add_test(tc, test_affine_matches_composed);
    suite_add_tcase(s, tc);
    tc = tcase_create("coupling update");
    tcase_add_test(tc, test_couple_matches_composed);
    tcase_add_loop_test(tc, test_couple_gradcheck, 0, 2);
    tcase_add_test(tc, test_couple_errors);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_affine_errors);
    suite_add_tcase(s, tc);
    return s;
}
