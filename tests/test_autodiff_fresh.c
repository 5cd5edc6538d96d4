/* test_autodiff_fresh.c - the backward passes that write a new gradient
 * buffer instead of zero-filling it and adding (ad_node_grad_fresh): concat
 * and a column permutation (gather_cols), each with
 * an intermediate (tape) input that has another consumer recorded before it
 * (its gradient exists when the op's backward runs: it must add) or after
 * it (the op's backward comes first: it writes), and with the same tensor
 * passed as two arguments (it must add both parts).  Checked against finite
 * differences with ad_gradcheck's tolerances.  The coupling's update, a
 * custom op in flows/, is checked the same way in test_flows_affine.c.
 */
#include <check.h>
#include <stdlib.h>

#include "autodiff/ad.h"
#include "ck_util.h"

enum { M = 4, N = 3 };

typedef enum {
    CONCAT,
    CONCAT_SAME,
    PERMUTE,
    GATHER_PART,
    N_OPS
} fresh_op;

static const char *NAMES[N_OPS] = {"concat", "concat(h, h)", "permutation", "partial gather"};

/* case = op * 2 + order; order 0: the other consumer (sum h^2) recorded
 * before the op, 1: after. */
static ad_tensor *build(ad_tape *t, ad_tensor *const *in, int n_inputs, void *ctx)
{
    (void)n_inputs;
    const int c = *(const int *)ctx, op = c / 2, order = c % 2;
    static const int perm[N] = {2, 0, 1}, part[2] = {2, 2};
    ad_tensor *h = ad_tanh(t, in[0]); /* on the tape: its gradient is made in backward */
    ad_tensor *k = ad_sigmoid(t, in[1]);
    ad_tensor *other = order == 0 ? ad_sum(t, ad_square(t, h)) : NULL;
    ad_tensor *y = NULL;
    switch ((fresh_op)op) {
    case CONCAT: y = ad_concat_cols(t, h, k); break;
    case CONCAT_SAME: y = ad_concat_cols(t, h, h); break;
    case PERMUTE: y = ad_gather_cols(t, h, perm, N); break;
    case GATHER_PART: y = ad_gather_cols(t, h, part, 2); break;
    default: break;
    }
    if (order == 1) other = ad_sum(t, ad_square(t, h));
    /* weight each output element differently */
    ad_tensor *w = ad_tanh(t, ad_scale(t, y, 0.7));
    return ad_add(t, ad_sum(t, ad_mul(t, y, w)), other);
}

START_TEST(test_fresh_gradients)
{
    int c = _i;
    ad_tensor *in[2];
    ad_rng r;
    ad_rng_seed(&r, 77 + (uint64_t)c, 0);
    for (int i = 0; i < 2; i++) {
        in[i] = ad_tensor_new(2, (int[]){M, N});
        ad_rng_fill_uniform(&r, in[i]->data, in[i]->size, -1, 1);
        ad_tensor_require_grad(in[i]);
    }
    ad_gradcheck_report rep;
    ck_assert_int_eq(ad_gradcheck(build, &c, 2, in, NULL, &rep), AD_OK);
    ck_assert_msg(rep.ok, "%s, other consumer %s: %s", NAMES[c / 2], c % 2 ? "after" : "before",
                  rep.message);
    for (int i = 0; i < 2; i++) ad_tensor_free(in[i]);
}
END_TEST

Suite *ad_fresh_suite(void)
{
    Suite *s = suite_create("autodiff-fresh");
    TCase *tc = tcase_create("gradcheck");
    tcase_add_loop_test(tc, test_fresh_gradients, 0, 2 * N_OPS);
    suite_add_tcase(s, tc);
    return s;
}
