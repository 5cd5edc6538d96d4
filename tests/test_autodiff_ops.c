/* test_autodiff_ops.c - every op gradient-checked (one table row per op and
 * shape), broadcasting, forward edge cases, a custom op and a composed
 * energy against its analytic gradient.
 *
 * Tolerances: ad_gradcheck's defaults, which derive the allowed error from
 * the finite-difference truncation and rounding error of each element (see
 * autodiff/ad_gradcheck.h).  Inputs are drawn away from kinks (relu, abs,
 * clamp, min/max ties) by at least 0.1, far more than the 2h ~ 1.2e-5 that
 * the central difference spans, so the derivative is smooth where sampled.
 */
#include <check.h>
#include <math.h>
#include <string.h>

#include "autodiff/ad.h"
#include "ck_util.h"

/* How the values of an input are drawn. */
enum init {
    INIT_NORMAL,   /* uniform on (-2, 2)                                    */
    INIT_POSITIVE, /* uniform on (0.5, 2): log, sqrt, pow, denominators     */
    INIT_GRID,     /* a multiple of 0.5 in [-2, 2]                          */
    INIT_OFFGRID   /* a multiple of 0.5 in [-2, 1.5] plus (0.1, 0.4): never
                      within 0.1 of a GRID value, of 0, or of -0.5 and 1    */
};

typedef struct op_case op_case;
typedef ad_tensor *(*builder)(ad_tape *t, ad_tensor *const *x, const op_case *c);

struct op_case {
    const char *op;              /* what is checked, for the failure message */
    builder build;               /* the function of the inputs               */
    int n_inputs;
    int n_dims[3];               /* rank of each input                       */
    int shape[3][AD_MAX_DIMS];   /* shape of each input                      */
    enum init init[3];           /* how each input is drawn                  */
    int iarg[2];                 /* integer parameters (axis, flags, ...)    */
    double darg[2];              /* real parameters (exponent, bounds, ...)  */
};

/* Builders: one per op, reading their parameters from the case. */
static ad_tensor *b_add(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    (void)c;
    return ad_add(t, x[0], x[1]);
}
static ad_tensor *b_sub(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    (void)c;
    return ad_sub(t, x[0], x[1]);
}
static ad_tensor *b_mul(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    (void)c;
    return ad_mul(t, x[0], x[1]);
}
static ad_tensor *b_div(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    (void)c;
    return ad_div(t, x[0], x[1]);
}
static ad_tensor *b_minimum(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    (void)c;
    return ad_minimum(t, x[0], x[1]);
}
static ad_tensor *b_maximum(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    (void)c;
    return ad_maximum(t, x[0], x[1]);
}
/* The mask has the broadcast shape of x[0] and x[1]; element i is set when
 * i % 3 != 0, so both branches are taken. */
static ad_tensor *b_where(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    (void)c;
    ad_tensor *shape_of = ad_add(t, ad_scale(t, x[0], 0), ad_scale(t, x[1], 0));
    if (!shape_of->valid) return shape_of;
    ad_real m[64];
    for (size_t i = 0; i < shape_of->size && i < 64; i++) m[i] = i % 3 != 0;
    ad_tensor *mask = ad_constant(t, shape_of->n_dims, shape_of->shape, m);
    return ad_where(t, mask, x[0], x[1]);
}
static ad_tensor *b_neg(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    (void)c;
    return ad_neg(t, x[0]);
}
static ad_tensor *b_scale(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    return ad_scale(t, x[0], c->darg[0]);
}
static ad_tensor *b_add_scalar(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    return ad_add_scalar(t, x[0], c->darg[0]);
}
static ad_tensor *b_exp(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    (void)c;
    return ad_exp(t, x[0]);
}
static ad_tensor *b_log(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    (void)c;
    return ad_log(t, x[0]);
}
static ad_tensor *b_tanh(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    (void)c;
    return ad_tanh(t, x[0]);
}
static ad_tensor *b_relu(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    (void)c;
    return ad_relu(t, x[0]);
}
static ad_tensor *b_sigmoid(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    (void)c;
    return ad_sigmoid(t, x[0]);
}
static ad_tensor *b_softplus(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    (void)c;
    return ad_softplus(t, x[0]);
}
static ad_tensor *b_sqrt(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    (void)c;
    return ad_sqrt(t, x[0]);
}
static ad_tensor *b_square(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    (void)c;
    return ad_square(t, x[0]);
}
static ad_tensor *b_pow(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    return ad_pow(t, x[0], c->darg[0]);
}
static ad_tensor *b_abs(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    (void)c;
    return ad_abs(t, x[0]);
}
static ad_tensor *b_clamp(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    return ad_clamp(t, x[0], c->darg[0], c->darg[1]);
}
static ad_tensor *b_sum(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    (void)c;
    return ad_sum(t, x[0]);
}
static ad_tensor *b_mean(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    (void)c;
    return ad_mean(t, x[0]);
}
static ad_tensor *b_sum_axis(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    return ad_sum_axis(t, x[0], c->iarg[0]);
}
static ad_tensor *b_mean_axis(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    return ad_mean_axis(t, x[0], c->iarg[0]);
}
static ad_tensor *b_logsumexp(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    return ad_logsumexp(t, x[0], c->iarg[0]);
}
static ad_tensor *b_matmul(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    return ad_matmul(t, x[0], x[1], c->iarg[0], c->iarg[1]);
}
/* x x^T: both operands are the same tensor, so its gradient gets two terms. */
static ad_tensor *b_gram(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    (void)c;
    return ad_matmul(t, x[0], x[0], 0, 1);
}
static ad_tensor *b_reshape(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    int shape[2] = {c->iarg[0], c->iarg[1]};
    /* square after reshape: the gradient must come back through the view */
    return ad_square(t, ad_reshape(t, x[0], 2, shape));
}
static ad_tensor *b_transpose(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    (void)c;
    return ad_transpose(t, x[0]);
}
static ad_tensor *b_slice(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    return ad_slice_cols(t, x[0], c->iarg[0], c->iarg[1]);
}
static ad_tensor *b_concat(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    (void)c;
    return ad_concat_cols(t, x[0], x[1]);
}
static ad_tensor *b_gather(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    (void)c;
    static const int index[6] = {0, 2, 2, 3, 0, 1}; /* repeats: gradients add up */
    return ad_gather_cols(t, x[0], index, 6);
}

/* A user-written op through ad_op.h: y = x sin x, fused, with its own
 * backward dx += dy (sin x + x cos x).  The same five steps as a built-in. */
static void xsinx_backward(ad_tape *t, ad_node *n)
{
    ad_tensor *x = n->inputs[0], *y = n->output;
    ad_real *gx = ad_node_grad(t, x);
    if (!gx) return;
    for (size_t i = 0; i < x->size; i++)
        gx[i] += y->grad[i] * (sin(x->data[i]) + x->data[i] * cos(x->data[i]));
}
static const ad_op OP_XSINX = {"xsinx", xsinx_backward};

static ad_tensor *xsinx(ad_tape *t, ad_tensor *x)
{
    if (!ad_op_begin(t, "xsinx", 1, &x)) return ad_tape_poison(t);     /* 1 */
    /* 2: any shape is fine */
    ad_tensor *y = ad_tape_tensor(t, x->n_dims, x->shape);              /* 3 */
    if (!y->valid) return y;
    for (size_t i = 0; i < x->size; i++) y->data[i] = x->data[i] * sin(x->data[i]); /* 4 */
    ad_tape_record(t, &OP_XSINX, y, 1, &x);                             /* 5 */
    return y->valid ? y : ad_tape_poison(t);
}
static ad_tensor *b_xsinx(ad_tape *t, ad_tensor *const *x, const op_case *c)
{
    (void)c;
    return xsinx(t, x[0]);
}

#define S0 {0}
#define S1(a) {a}
#define S2(a, b) {a, b}
#define S3(a, b, c) {a, b, c}
#define S4(a, b, c, d) {a, b, c, d}
#define N INIT_NORMAL
#define P INIT_POSITIVE
#define G INIT_GRID
#define OG INIT_OFFGRID

static const op_case cases[] = {
    /* binary, with broadcasting */
    {"add [3,4]+[3,4]", b_add, 2, {2, 2}, {S2(3, 4), S2(3, 4)}, {N, N}, {0}, {0}},
    {"add [3,4]+[4]", b_add, 2, {2, 1}, {S2(3, 4), S1(4)}, {N, N}, {0}, {0}},
    {"add [3,1]+[1,4]", b_add, 2, {2, 2}, {S2(3, 1), S2(1, 4)}, {N, N}, {0}, {0}},
    {"add []+[3,4]", b_add, 2, {0, 2}, {S0, S2(3, 4)}, {N, N}, {0}, {0}},
    {"add [2,1,4]+[3,1]", b_add, 2, {3, 2}, {S3(2, 1, 4), S2(3, 1)}, {N, N}, {0}, {0}},
    {"add [2,1,3,1]+[2,1,4]", b_add, 2, {4, 3}, {S4(2, 1, 3, 1), S3(2, 1, 4)}, {N, N}, {0}, {0}},
    {"sub [3,4]-[4]", b_sub, 2, {2, 1}, {S2(3, 4), S1(4)}, {N, N}, {0}, {0}},
    {"sub [3,1]-[1,4]", b_sub, 2, {2, 2}, {S2(3, 1), S2(1, 4)}, {N, N}, {0}, {0}},
    {"sub []-[2,3]", b_sub, 2, {0, 2}, {S0, S2(2, 3)}, {N, N}, {0}, {0}},
    {"mul [3,4]*[3,4]", b_mul, 2, {2, 2}, {S2(3, 4), S2(3, 4)}, {N, N}, {0}, {0}},
    {"mul [3,1]*[1,4]", b_mul, 2, {2, 2}, {S2(3, 1), S2(1, 4)}, {N, N}, {0}, {0}},
    {"mul []*[3,4]", b_mul, 2, {0, 2}, {S0, S2(3, 4)}, {N, N}, {0}, {0}},
    {"mul [2,3,4]*[3,1]", b_mul, 2, {3, 2}, {S3(2, 3, 4), S2(3, 1)}, {N, N}, {0}, {0}},
    {"mul [2,1,3,1]*[1,2,1,4]",
     b_mul,
     2,
     {4, 4},
     {S4(2, 1, 3, 1), S4(1, 2, 1, 4)},
     {N, N},
     {0},
     {0}},
    {"div [3,4]/[4]", b_div, 2, {2, 1}, {S2(3, 4), S1(4)}, {N, P}, {0}, {0}},
    {"div [3,1]/[1,4]", b_div, 2, {2, 2}, {S2(3, 1), S2(1, 4)}, {N, P}, {0}, {0}},
    {"div [2,3]/[]", b_div, 2, {2, 0}, {S2(2, 3), S0}, {N, P}, {0}, {0}},
    {"minimum [3,4],[4]", b_minimum, 2, {2, 1}, {S2(3, 4), S1(4)}, {OG, G}, {0}, {0}},
    {"minimum [3,1],[1,4]", b_minimum, 2, {2, 2}, {S2(3, 1), S2(1, 4)}, {G, OG}, {0}, {0}},
    {"maximum [3,4],[4]", b_maximum, 2, {2, 1}, {S2(3, 4), S1(4)}, {OG, G}, {0}, {0}},
    {"maximum [],[2,3]", b_maximum, 2, {0, 2}, {S0, S2(2, 3)}, {G, OG}, {0}, {0}},
    {"where [3,4],[3,4]", b_where, 2, {2, 2}, {S2(3, 4), S2(3, 4)}, {N, N}, {0}, {0}},
    {"where [3,4],[4]", b_where, 2, {2, 1}, {S2(3, 4), S1(4)}, {N, N}, {0}, {0}},
    {"where [3,1],[]", b_where, 2, {2, 0}, {S2(3, 1), S0}, {N, N}, {0}, {0}},
    /* unary */
    {"neg", b_neg, 1, {2}, {S2(3, 4)}, {N}, {0}, {0}},
    {"scale", b_scale, 1, {2}, {S2(3, 4)}, {N}, {0}, {-1.7}},
    {"add_scalar", b_add_scalar, 1, {2}, {S2(3, 4)}, {N}, {0}, {0.3}},
    {"exp", b_exp, 1, {2}, {S2(3, 4)}, {N}, {0}, {0}},
    {"exp scalar", b_exp, 1, {0}, {S0}, {N}, {0}, {0}},
    {"log", b_log, 1, {2}, {S2(3, 4)}, {P}, {0}, {0}},
    {"tanh", b_tanh, 1, {2}, {S2(3, 4)}, {N}, {0}, {0}},
    {"relu", b_relu, 1, {2}, {S2(3, 4)}, {OG}, {0}, {0}},
    {"sigmoid", b_sigmoid, 1, {2}, {S2(3, 4)}, {N}, {0}, {0}},
    {"softplus", b_softplus, 1, {2}, {S2(3, 4)}, {N}, {0}, {0}},
    {"sqrt", b_sqrt, 1, {2}, {S2(3, 4)}, {P}, {0}, {0}},
    {"square", b_square, 1, {2}, {S2(3, 4)}, {N}, {0}, {0}},
    {"pow 2.5", b_pow, 1, {2}, {S2(3, 4)}, {P}, {0}, {2.5}},
    {"pow -1.5", b_pow, 1, {2}, {S2(3, 4)}, {P}, {0}, {-1.5}},
    {"pow 3 (negative bases)", b_pow, 1, {2}, {S2(3, 4)}, {N}, {0}, {3}},
    {"abs", b_abs, 1, {2}, {S2(3, 4)}, {OG}, {0}, {0}},
    {"clamp [-0.5, 1]", b_clamp, 1, {2}, {S2(4, 5)}, {OG}, {0}, {-0.5, 1.0}},
    {"custom xsinx", b_xsinx, 1, {2}, {S2(3, 4)}, {N}, {0}, {0}},
    /* reductions */
    {"sum", b_sum, 1, {2}, {S2(3, 4)}, {N}, {0}, {0}},
    {"mean", b_mean, 1, {3}, {S3(2, 3, 4)}, {N}, {0}, {0}},
    {"sum_axis 0 of [3,4]", b_sum_axis, 1, {2}, {S2(3, 4)}, {N}, {0}, {0}},
    {"sum_axis 1 of [3,4]", b_sum_axis, 1, {2}, {S2(3, 4)}, {N}, {1}, {0}},
    {"sum_axis 1 of [2,3,4]", b_sum_axis, 1, {3}, {S3(2, 3, 4)}, {N}, {1}, {0}},
    {"sum_axis -1 of [2,3,4]", b_sum_axis, 1, {3}, {S3(2, 3, 4)}, {N}, {-1}, {0}},
    {"mean_axis 0 of [3,4]", b_mean_axis, 1, {2}, {S2(3, 4)}, {N}, {0}, {0}},
    {"mean_axis 2 of [2,2,3,2]", b_mean_axis, 1, {4}, {S4(2, 2, 3, 2)}, {N}, {2}, {0}},
    {"logsumexp 0 of [3,4]", b_logsumexp, 1, {2}, {S2(3, 4)}, {N}, {0}, {0}},
    {"logsumexp 1 of [3,4]", b_logsumexp, 1, {2}, {S2(3, 4)}, {N}, {1}, {0}},
    {"logsumexp 1 of [2,3,4]", b_logsumexp, 1, {3}, {S3(2, 3, 4)}, {N}, {1}, {0}},
    {"logsumexp 0 of [5]", b_logsumexp, 1, {1}, {S1(5)}, {N}, {0}, {0}},
    /* matrix product, all four transpose combinations */
    {"matmul [3,4]@[4,5]", b_matmul, 2, {2, 2}, {S2(3, 4), S2(4, 5)}, {N, N}, {0, 0}, {0}},
    {"matmul [4,3]^T@[4,5]", b_matmul, 2, {2, 2}, {S2(4, 3), S2(4, 5)}, {N, N}, {1, 0}, {0}},
    {"matmul [3,4]@[5,4]^T", b_matmul, 2, {2, 2}, {S2(3, 4), S2(5, 4)}, {N, N}, {0, 1}, {0}},
    {"matmul [4,3]^T@[5,4]^T", b_matmul, 2, {2, 2}, {S2(4, 3), S2(5, 4)}, {N, N}, {1, 1}, {0}},
    {"matmul x x^T", b_gram, 1, {2}, {S2(3, 4)}, {N}, {0}, {0}},
    /* shapes */
    {"reshape [3,4]->[2,6]", b_reshape, 1, {2}, {S2(3, 4)}, {N}, {2, 6}, {0}},
    {"reshape [12]->[4,3]", b_reshape, 1, {1}, {S1(12)}, {N}, {4, 3}, {0}},
    {"transpose [3,4]", b_transpose, 1, {2}, {S2(3, 4)}, {N}, {0}, {0}},
    {"slice_cols 1:4 of [3,5]", b_slice, 1, {2}, {S2(3, 5)}, {N}, {1, 3}, {0}},
    {"concat_cols [3,2]|[3,4]", b_concat, 2, {2, 2}, {S2(3, 2), S2(3, 4)}, {N, N}, {0}, {0}},
    {"gather_cols {0,2,2,3,0,1} of [3,4]", b_gather, 1, {2}, {S2(3, 4)}, {N}, {0}, {0}},
};
#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

static ad_tensor *run_case(ad_tape *t, ad_tensor *const *in, int n, void *ctx)
{
    (void)n;
    const op_case *c = ctx;
    return c->build(t, in, c);
}

static void draw(ad_rng *r, ad_tensor *x, enum init how)
{
    for (size_t i = 0; i < x->size; i++) {
        double u = ad_rng_uniform(r);
        double grid = -2 + 0.5 * (double)ad_rng_below(r, 8); /* -2 .. 1.5 */
        switch (how) {
        case INIT_NORMAL: x->data[i] = -2 + 4 * u; break;
        case INIT_POSITIVE: x->data[i] = 0.5 + 1.5 * u; break;
        case INIT_GRID: x->data[i] = grid + 0.5 * (double)ad_rng_below(r, 2); break;
        case INIT_OFFGRID: x->data[i] = grid + 0.1 + 0.3 * u; break;
        }
    }
}

START_TEST(test_gradcheck_op)
{
    const op_case *c = &cases[_i];
    ad_rng rng;
    ad_rng_seed(&rng, 2024, (uint64_t)_i);
    ad_tensor *in[3] = {NULL, NULL, NULL};
    for (int k = 0; k < c->n_inputs; k++) {
        in[k] = ad_tensor_new_param(c->n_dims[k], c->shape[k]);
        ck_assert_ptr_nonnull(in[k]);
        draw(&rng, in[k], c->init[k]);
    }
    ad_gradcheck_report rep;
    int rc = ad_gradcheck(run_case, (void *)c, c->n_inputs, in, NULL, &rep);
    ck_assert_msg(rc == AD_OK, "%s: %s", c->op, rep.message);
    ck_assert_msg(rep.ok, "%s: %s", c->op, rep.message);
    ck_assert_msg(rep.n_checked > 0, "%s: nothing checked", c->op);
    for (int k = 0; k < c->n_inputs; k++) ad_tensor_free(in[k]);
}
END_TEST

/* L = sum x^2 over the first input: a scalar with dL/dx = 2x. */
static ad_tensor *sum_of_squares(ad_tape *t, ad_tensor *const *in, int n, void *ctx)
{
    (void)n;
    (void)ctx;
    return ad_sum(t, ad_mul(t, in[0], in[0]));
}

/* A deliberately wrong backward must be caught: the check is not vacuous.
 * 0.1% off; in the float build 1%, since its check resolves differences of
 * about safety * eps^(2/3) ~ 2.4e-4 of the scale (ad_gradcheck.h), several
 * times that for the sums here. */
#define WRONG CK_REAL_TOL(1.001, 1.01)
static void wrong_backward(ad_tape *t, ad_node *n)
{
    ad_real *gx = ad_node_grad(t, n->inputs[0]);
    if (gx)
        for (size_t i = 0; i < n->output->size; i++) gx[i] += WRONG * n->output->grad[i];
}
static const ad_op OP_WRONG = {"wrong", wrong_backward};
static ad_tensor *wrong_identity(ad_tape *t, ad_tensor *const *in, int n, void *ctx)
{
    (void)n;
    (void)ctx;
    ad_tensor *x = in[0];
    if (!ad_op_begin(t, "wrong", 1, &x)) return ad_tape_poison(t);
    ad_tensor *y = ad_tape_tensor(t, x->n_dims, x->shape);
    if (!y->valid) return y;
    memcpy(y->data, x->data, x->size * sizeof(ad_real));
    ad_tape_record(t, &OP_WRONG, y, 1, &x);
    return y;
}

START_TEST(test_gradcheck_catches_errors)
{
    ad_tensor *x = ad_tensor_new_param(1, (int[]){5});
    for (int i = 0; i < 5; i++) x->data[i] = i - 2;
    ad_gradcheck_report rep;
    ck_assert_int_eq(ad_gradcheck(wrong_identity, NULL, 1, &x, NULL, &rep), AD_OK);
    ck_assert_msg(!rep.ok, "a %g%% error passed: %s", 100 * (WRONG - 1), rep.message);
    ck_assert(rep.worst_ratio > 1);
    /* every element is 0.1% off, far beyond its tolerance (~1e-7 relative) */
    ck_assert_uint_eq(rep.n_checked, 5);
    ck_assert_uint_eq(rep.n_failed, 5);
    ck_assert_int_eq(rep.worst_input, 0);
    ck_assert_uint_lt(rep.worst_index, 5);
    /* the plain partial d(sum y)/dx of y = x: 1.001 from the wrong backward,
     * 1 by central difference (rounding error eps |sum y| / h ~ 1e-10; float:
     * 1.001 is rounded to the nearest float, within eps of it, and the
     * difference's rounding error is eps |sum y| / h ~ 2.4e-5 |sum y| with
     * |sum y| <= 6) */
    ck_assert_close(rep.analytic, WRONG, CK_REAL_TOL(1e-15, AD_REAL_EPS), 0, "tape partial", 0);
    ck_assert_close(rep.numeric, 1, CK_REAL_TOL(1e-9, 6 * AD_REAL_EPS / cbrt(AD_REAL_EPS)), 0,
                    "central difference", 0);
    char prefix[96];
    snprintf(prefix, sizeof prefix, "FAILED: 5 of 5 elements failed; worst: input 0 element %zu, "
             "d(sum y)/dx = %.10g (tape), ", rep.worst_index, (double)(ad_real)WRONG);
    ck_assert_msg(strncmp(rep.message, prefix, strlen(prefix)) == 0, "%s", rep.message);
    ad_tensor_free(x);
}
END_TEST

/* y = a + wrong(b): only the second input (input 1, numbered from 0) fails,
 * and the report says so in its fields and its message alike. */
static ad_tensor *right_plus_wrong(ad_tape *t, ad_tensor *const *in, int n, void *ctx)
{
    return ad_add(t, in[0], wrong_identity(t, in + 1, n - 1, ctx));
}

START_TEST(test_gradcheck_report_numbering)
{
    ad_tensor *in[2] = {ad_tensor_new_param(1, (int[]){3}), ad_tensor_new_param(1, (int[]){3})};
    for (int i = 0; i < 3; i++) {
        in[0]->data[i] = 0.5 * i;
        in[1]->data[i] = 1 - i;
    }
    ad_gradcheck_report rep;
    ck_assert_int_eq(ad_gradcheck(right_plus_wrong, NULL, 2, in, NULL, &rep), AD_OK);
    ck_assert(!rep.ok);
    ck_assert_uint_eq(rep.n_checked, 6);
    ck_assert_uint_eq(rep.n_failed, 3);
    ck_assert_int_eq(rep.worst_input, 1);
    ck_assert_close(rep.analytic, WRONG, CK_REAL_TOL(1e-15, AD_REAL_EPS), 0, "tape partial", 0);
    char want[80];
    snprintf(want, sizeof want, "FAILED: 3 of 6 elements failed; worst: input 1 element %zu,",
             rep.worst_index);
    ck_assert_msg(strncmp(rep.message, want, strlen(want)) == 0, "%s", rep.message);
    /* a passing check: "0 of n", and the partial of a scalar is dy/dx */
    ck_assert_int_eq(ad_gradcheck(sum_of_squares, NULL, 1, in, NULL, &rep), AD_OK);
    ck_assert_msg(rep.ok, "%s", rep.message);
    const char *passed = "passed: 0 of 3 elements failed; worst: input 0 element ";
    ck_assert_msg(strncmp(rep.message, passed, strlen(passed)) == 0, "%s", rep.message);
    ck_assert_close(rep.analytic, 2 * in[0]->data[rep.worst_index], 1e-15, 0, "d(x^2)/dx", 0);
    /* float: the difference's rounding error eps |L| / h, |L| <= 5 */
    ck_assert_close(rep.numeric, rep.analytic, CK_REAL_TOL(1e-9, 5 * AD_REAL_EPS / cbrt(AD_REAL_EPS)),
                    0, "central difference", 0);
    ad_tensor_free(in[0]);
    ad_tensor_free(in[1]);
}
END_TEST

/* The custom op on its own: its node is printed under its name and its
 * gradient matches the closed form. */
START_TEST(test_custom_op)
{
    ad_tape *t = ad_tape_new(0);
    ad_real xv[3] = {-1.0, 0.5, 2.0};
    ad_tensor *x = ad_tape_input(t, 1, (int[]){3}, xv);
    ad_tensor *y = ad_sum(t, xsinx(t, x));
    ck_assert(ad_tape_ok(t));
    ck_assert_int_eq(ad_backward(t, y), AD_OK);
    ck_assert_str_eq(ad_tape_first(t)->op->name, "xsinx");
    for (int i = 0; i < 3; i++)
        /* float: four roundings of terms of size <= 2: 4 eps */
        ck_assert_close(x->grad[i], sin(xv[i]) + xv[i] * cos(xv[i]), CK_REAL_TOL(1e-15, 4 * AD_REAL_EPS),
                        CK_REAL_TOL(1e-15, 4 * AD_REAL_EPS), "dx", i);
    ad_tensor *in = ad_tensor_new_param(2, (int[]){4, 3});
    ad_rng rng;
    ad_rng_seed(&rng, 5, 0);
    ad_rng_fill_uniform(&rng, in->data, in->size, -3, 3);
    ad_gradcheck_report rep;
    ck_assert_int_eq(ad_gradcheck(run_case, (void *)&(op_case){"xsinx", b_xsinx, 1, {2}, {S2(4, 3)},
                                                              {N}, {0}, {0}},
                                  1, &in, NULL, &rep),
                     AD_OK);
    ck_assert_msg(rep.ok, "%s", rep.message);
    ad_tensor_free(in);
    ad_tape_free(t);
}
END_TEST

/* u = x1^4 - 6 x1^2 + x1 + x2^2 per row of x [N,2]: the tape's input
 * gradient against du/dx1 = 4 x1^3 - 12 x1 + 1, du/dx2 = 2 x2.  Both are
 * computed in a few flops, so they agree to a few ulps of the largest term. */
START_TEST(test_double_well_gradient)
{
    enum { NPTS = 7 };
    ad_real xv[NPTS * 2];
    ad_rng rng;
    ad_rng_seed(&rng, 11, 0);
    ad_rng_fill_uniform(&rng, xv, NPTS * 2, -2.5, 2.5);
    ad_tape *t = ad_tape_new(0);
    ad_tensor *x = ad_tape_input(t, 2, (int[]){NPTS, 2}, xv);
    ad_tensor *x1 = ad_slice_cols(t, x, 0, 1), *x2 = ad_slice_cols(t, x, 1, 1);
    ad_tensor *u = ad_add(t, ad_sub(t, ad_pow(t, x1, 4), ad_scale(t, ad_square(t, x1), 6)),
                          ad_add(t, x1, ad_square(t, x2)));
    ad_tensor *total = ad_sum(t, u);
    ck_assert_msg(ad_tape_ok(t), "%s", ad_tape_error(t));
    ck_assert_int_eq(u->shape[0], NPTS);
    ck_assert_int_eq(ad_backward(t, total), AD_OK);
    /* float: the largest term is 2.5^4 ~ 39, and a handful of roundings of
     * terms that size: 8 eps * 40 absolute */
    const double atol = CK_REAL_TOL(1e-12, 8 * AD_REAL_EPS * 40);
    for (int i = 0; i < NPTS; i++) {
        double a = xv[2 * i], b = xv[2 * i + 1];
        ck_assert_close(u->data[i], a * a * a * a - 6 * a * a + a + b * b, atol, 1e-13, "u", i);
        ck_assert_close(x->grad[2 * i], 4 * a * a * a - 12 * a + 1, atol, 1e-13, "du/dx1", i);
        ck_assert_close(x->grad[2 * i + 1], 2 * b, 1e-15, 1e-15, "du/dx2", i);
    }
    ad_tape_free(t);
}
END_TEST

/* ---- broadcasting: forward values, result shapes and the summed backward */

START_TEST(test_broadcast_outer_sum)
{
    ad_tape *t = ad_tape_new(0);
    ad_tensor *a = ad_tape_input(t, 2, (int[]){3, 1}, (ad_real[]){1, 2, 3});
    ad_tensor *b = ad_tape_input(t, 2, (int[]){1, 4}, (ad_real[]){10, 20, 30, 40});
    ad_tensor *y = ad_add(t, a, b);
    ck_assert_int_eq(y->n_dims, 2);
    ck_assert_int_eq(y->shape[0], 3);
    ck_assert_int_eq(y->shape[1], 4);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++) ck_assert_double_eq(y->data[i * 4 + j], (i + 1) + 10 * (j + 1));
    ck_assert_int_eq(ad_backward(t, y), AD_OK); /* d sum(y): counts of each element's uses */
    for (int i = 0; i < 3; i++) ck_assert_double_eq(a->grad[i], 4);
    for (int j = 0; j < 4; j++) ck_assert_double_eq(b->grad[j], 3);
    ad_tape_free(t);
}
END_TEST

START_TEST(test_broadcast_shapes)
{
    static const struct {
        int na, sa[4], nb, sb[4], ny, sy[4];
    } rows[] = {
        {2, {3, 4}, 1, {4}, 2, {3, 4}},
        {0, {0}, 2, {3, 4}, 2, {3, 4}},
        {3, {2, 1, 4}, 2, {3, 1}, 3, {2, 3, 4}},
        {4, {2, 1, 3, 1}, 3, {2, 1, 4}, 4, {2, 2, 3, 4}},
        {2, {0, 4}, 1, {4}, 2, {0, 4}},
        {2, {1, 4}, 2, {0, 1}, 2, {0, 4}},
        {0, {0}, 0, {0}, 0, {0}},
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        ad_tape *t = ad_tape_new(0);
        ad_tensor *a = ad_full(t, rows[r].na, rows[r].sa, 2);
        ad_tensor *b = ad_full(t, rows[r].nb, rows[r].sb, 3);
        ad_tensor *y = ad_mul(t, a, b);
        ck_assert_msg(ad_tape_ok(t), "row %zu: %s", r, ad_tape_error(t));
        ck_assert_int_eq(y->n_dims, rows[r].ny);
        for (int k = 0; k < y->n_dims; k++) ck_assert_int_eq(y->shape[k], rows[r].sy[k]);
        ck_assert_uint_eq(y->size, ad_shape_size(rows[r].ny, rows[r].sy));
        for (size_t i = 0; i < y->size; i++) ck_assert_double_eq(y->data[i], 6);
        ad_tape_free(t);
    }
}
END_TEST

START_TEST(test_broadcast_mismatch)
{
    ad_tape *t = ad_tape_new(0);
    ad_tensor *a = ad_zeros(t, 2, (int[]){3, 4});
    ad_tensor *b = ad_zeros(t, 1, (int[]){3});
    ad_tensor *y = ad_sub(t, a, b);
    ck_assert(!y->valid);
    ck_assert_int_eq(ad_tape_status(t), AD_ERR_SHAPE);
    ck_assert_str_eq(ad_tape_error(t),
                     "ad_sub: bad argument #2 (shape [3], expected broadcastable with [3,4])");
    ad_tape_free(t);
}
END_TEST

/* ---- forward edge cases */

START_TEST(test_size_zero)
{
    ad_tape *t = ad_tape_new(0);
    ad_tensor *x = ad_tape_input(t, 2, (int[]){0, 3}, NULL);
    ad_tensor *s = ad_sum(t, ad_exp(t, x));
    ad_tensor *m = ad_mean(t, x);
    ad_tensor *c = ad_sum_axis(t, x, 0);
    ad_tensor *l = ad_logsumexp(t, x, 0);
    ad_tensor *r = ad_sum_axis(t, x, 1);
    ad_tensor *e = ad_matmul(t, ad_zeros(t, 2, (int[]){2, 0}), ad_zeros(t, 2, (int[]){0, 3}), 0, 0);
    ck_assert_msg(ad_tape_ok(t), "%s", ad_tape_error(t));
    ck_assert_double_eq(s->data[0], 0);
    ck_assert_double_eq(m->data[0], 0); /* documented: the mean of nothing is 0 */
    ck_assert_int_eq(c->shape[0], 3);
    for (int j = 0; j < 3; j++) {
        ck_assert_double_eq(c->data[j], 0);
        ck_assert(l->data[j] == -INFINITY); /* log of an empty sum */
    }
    ck_assert_uint_eq(r->size, 0);
    ck_assert_uint_eq(e->size, 6);
    for (int i = 0; i < 6; i++) ck_assert_double_eq(e->data[i], 0);
    ck_assert_int_eq(ad_backward(t, ad_add(t, s, ad_sum(t, l))), AD_OK);
    ck_assert_ptr_nonnull(x->grad);
    ad_tape_free(t);
}
END_TEST

START_TEST(test_scalars)
{
    ad_tape *t = ad_tape_new(0);
    ad_tensor *x = ad_tape_input(t, 0, NULL, (ad_real[]){0.5});
    ad_tensor *y = ad_mul(t, ad_exp(t, x), x); /* x e^x */
    ck_assert_int_eq(y->n_dims, 0);
    ck_assert_uint_eq(y->size, 1);
    ad_tensor *r = ad_reshape(t, y, 2, (int[]){1, 1});
    ck_assert_int_eq(r->n_dims, 2);
    ck_assert_int_eq(ad_backward(t, ad_sum(t, r)), AD_OK);
    /* float: expf, a product and a sum: 4 eps relative */
    ck_assert_close(x->grad[0], exp(0.5) * 1.5, CK_REAL_TOL(1e-15, 4 * AD_REAL_EPS),
                    CK_REAL_TOL(1e-15, 4 * AD_REAL_EPS), "d(x e^x)", 0);
    ck_assert(!ad_sum_axis(t, x, 0)->valid); /* a scalar has no axis */
    ad_tape_free(t);
}
END_TEST

START_TEST(test_logsumexp_extremes)
{
    ad_tape *t = ad_tape_new(0);
    /* rows: all -inf, one -inf, huge values (overflow without the shift) */
    ad_real v[9] = {-INFINITY, -INFINITY, -INFINITY, 0, -INFINITY, 0, 1000, 1000, 999};
    ad_tensor *x = ad_tape_input(t, 2, (int[]){3, 3}, v);
    ad_tensor *y = ad_logsumexp(t, x, 1);
    ck_assert(ad_tape_ok(t));
    ck_assert(y->data[0] == -INFINITY);
    /* float: a few eps of the result (1 and 1000) */
    ck_assert_close(y->data[1], log(2.0), CK_REAL_TOL(1e-15, 4 * AD_REAL_EPS), 1e-15, "lse", 1);
    ck_assert_close(y->data[2], 1000 + log(2 + exp(-1.0)), CK_REAL_TOL(1e-12, 4 * AD_REAL_EPS * 1000),
                    1e-15, "lse", 2);
    ad_tensor *g = ad_sum(t, ad_mul(t, y, ad_constant(t, 1, (int[]){3}, (ad_real[]){0, 1, 1})));
    ck_assert_int_eq(ad_backward(t, g), AD_OK);
    for (int i = 0; i < 9; i++) ck_assert_msg(isfinite(x->grad[i]), "grad[%d] = %g", i, x->grad[i]);
    for (int i = 0; i < 3; i++) ck_assert_double_eq(x->grad[i], 0);
    ck_assert_close(x->grad[3], 0.5, 1e-15, 0, "softmax", 3);
    ck_assert_double_eq(x->grad[4], 0);
    ad_tape_free(t);
}
END_TEST

START_TEST(test_stable_unary)
{
    ad_tape *t = ad_tape_new(0);
    ad_tensor *x = ad_tape_input(t, 1, (int[]){4}, (ad_real[]){-1000, -40, 40, 1000});
    ad_tensor *sp = ad_softplus(t, x), *sg = ad_sigmoid(t, x);
    ck_assert(ad_tape_ok(t));
    ck_assert_double_eq(sp->data[0], 0);
    /* float: exp(-40) ~ 4e-18 is a normal float; expf and log1pf: 4 eps relative */
    ck_assert_close(sp->data[1], exp(-40.0), 0, CK_REAL_TOL(1e-12, 4 * AD_REAL_EPS), "softplus", 1);
    ck_assert_double_eq(sp->data[3], 1000);
    ck_assert_double_eq(sg->data[0], 0);
    ck_assert_double_eq(sg->data[3], 1);
    ck_assert_int_eq(ad_backward(t, ad_add(t, ad_sum(t, sp), ad_sum(t, sg))), AD_OK);
    for (int i = 0; i < 4; i++) ck_assert(isfinite(x->grad[i]));
    ad_tape_free(t);
}
END_TEST

START_TEST(test_where_forward)
{
    ad_tape *t = ad_tape_new(0);
    ad_tensor *m = ad_constant(t, 2, (int[]){2, 2}, (ad_real[]){1, 0, 0, 1});
    ad_tensor *a = ad_tape_input(t, 2, (int[]){2, 2}, (ad_real[]){1, 2, 3, 4});
    ad_tensor *b = ad_tape_input(t, 0, NULL, (ad_real[]){-1});
    ad_tensor *y = ad_where(t, m, a, b);
    ck_assert(ad_tape_ok(t));
    ad_real want[4] = {1, -1, -1, 4};
    for (int i = 0; i < 4; i++) ck_assert_double_eq(y->data[i], want[i]);
    ck_assert_int_eq(ad_backward(t, y), AD_OK);
    ad_real ga[4] = {1, 0, 0, 1};
    for (int i = 0; i < 4; i++) ck_assert_double_eq(a->grad[i], ga[i]);
    ck_assert_double_eq(b->grad[0], 2);
    ck_assert_ptr_null(m->grad); /* the mask is never differentiated */
    ad_tape_free(t);
}
END_TEST

START_TEST(test_min_max_ties_and_clamp)
{
    ad_tape *t = ad_tape_new(0);
    ad_tensor *a = ad_tape_input(t, 1, (int[]){3}, (ad_real[]){1, 2, 3});
    ad_tensor *b = ad_tape_input(t, 1, (int[]){3}, (ad_real[]){2, 2, 2});
    ad_tensor *lo = ad_minimum(t, a, b), *hi = ad_maximum(t, a, b);
    ad_tensor *c = ad_clamp(t, a, 1.5, 2.5);
    ck_assert(ad_tape_ok(t));
    ad_real wl[3] = {1, 2, 2}, wh[3] = {2, 2, 3}, wc[3] = {1.5, 2, 2.5};
    for (int i = 0; i < 3; i++) {
        ck_assert_double_eq(lo->data[i], wl[i]);
        ck_assert_double_eq(hi->data[i], wh[i]);
        ck_assert_double_eq(c->data[i], wc[i]);
    }
    ck_assert_int_eq(ad_backward(t, ad_sum(t, lo)), AD_OK);
    /* at the tie (index 1) the gradient goes to a, as documented */
    ad_real ga[3] = {1, 1, 0}, gb[3] = {0, 0, 1};
    for (int i = 0; i < 3; i++) {
        ck_assert_double_eq(a->grad[i], ga[i]);
        ck_assert_double_eq(b->grad[i], gb[i]);
    }
    ad_tape_free(t);
}
END_TEST

/* ad_backward twice on one recording gives the same tape gradients, and a
 * second output's backward does not run nodes that do not lead to it (log
 * at 0 would turn their zero gradient into NaN). */
START_TEST(test_backward_twice)
{
    ad_tape *t = ad_tape_new(0);
    ad_tensor *x = ad_tape_input(t, 1, (int[]){2}, (ad_real[]){0, 2});
    ad_tensor *p = ad_tensor_new_param(1, (int[]){2});
    p->data[0] = p->data[1] = 1;
    ad_tensor *y1 = ad_sum(t, ad_mul(t, ad_log(t, x), p));
    ad_tensor *y2 = ad_sum(t, ad_mul(t, ad_square(t, x), p));
    ck_assert(ad_tape_ok(t));
    ck_assert_int_eq(ad_backward(t, y2), AD_OK);
    ck_assert_int_eq(ad_backward(t, y2), AD_OK);
    ck_assert_double_eq(x->grad[0], 0);
    ck_assert_double_eq(x->grad[1], 4);         /* tape gradients restart */
    ck_assert_double_eq(p->grad[1], 2 * 4);     /* parameters accumulate  */
    ck_assert_int_eq(ad_backward(t, y1), AD_OK); /* d log x at 0 is inf     */
    ck_assert(isinf(x->grad[0]));
    ck_assert_int_eq(ad_backward(t, y2), AD_OK);
    ck_assert_msg(x->grad[0] == 0 && x->grad[1] == 4, "%g %g", x->grad[0], x->grad[1]);
    ad_tensor_free(p);
    ad_tape_free(t);
}
END_TEST

/* A parameter view into a caller-owned block accumulates like a heap
 * parameter: backward never zeroes it. */
START_TEST(test_view_accumulates)
{
    ad_real block[4] = {1, 2, 3, 4}, grads[4] = {0};
    ad_tensor w;
    ck_assert_int_eq(ad_tensor_init_view(&w, 1, (int[]){4}, block, grads), AD_OK);
    ad_tape *t = ad_tape_new(0);
    for (int it = 0; it < 2; it++) {
        ad_tape_reset(t);
        ck_assert_int_eq(ad_backward(t, ad_sum(t, ad_square(t, &w))), AD_OK);
    }
    for (int i = 0; i < 4; i++) ck_assert_double_eq(grads[i], 2 * 2 * block[i]);
    ad_tensor nograd; /* a view without a buffer cannot take a gradient */
    ad_tensor_init_view(&nograd, 1, (int[]){4}, block, NULL);
    nograd.requires_grad = 1;
    ad_tape_reset(t);
    ck_assert_int_eq(ad_backward(t, ad_sum(t, &nograd)), AD_ERR_ARG);
    ad_tape_free(t);
}
END_TEST

START_TEST(test_no_grad_records_nothing)
{
    ad_tape *t = ad_tape_new(0);
    ad_tensor *p = ad_tensor_new_param(1, (int[]){3});
    ck_assert_int_eq(ad_tape_set_grad_enabled(t, 0), 1);
    ad_tensor *y = ad_sum(t, ad_tanh(t, p));
    ck_assert(ad_tape_ok(t));
    ck_assert_int_eq(ad_tape_n_nodes(t), 0);
    ck_assert(!y->requires_grad);
    ad_tape_set_grad_enabled(t, 1);
    y = ad_sum(t, ad_tanh(t, p));
    ck_assert_int_eq(ad_tape_n_nodes(t), 2);
    ad_tensor_free(p);
    ad_tape_free(t);
}
END_TEST

Suite *ad_ops_suite(void)
{
    Suite *s = suite_create("autodiff-ops");
    TCase *tc = tcase_create("gradcheck");
    tcase_add_loop_test(tc, test_gradcheck_op, 0, N_CASES);
    tcase_add_test(tc, test_gradcheck_catches_errors);
    tcase_add_test(tc, test_gradcheck_report_numbering);
    tcase_add_test(tc, test_custom_op);
    tcase_add_test(tc, test_double_well_gradient);
    suite_add_tcase(s, tc);
    tc = tcase_create("broadcast");
    tcase_add_test(tc, test_broadcast_outer_sum);
    tcase_add_test(tc, test_broadcast_shapes);
    tcase_add_test(tc, test_broadcast_mismatch);
    suite_add_tcase(s, tc);
    tc = tcase_create("forward");
    tcase_add_test(tc, test_size_zero);
    tcase_add_test(tc, test_scalars);
    tcase_add_test(tc, test_logsumexp_extremes);
    tcase_add_test(tc, test_stable_unary);
    tcase_add_test(tc, test_where_forward);
    tcase_add_test(tc, test_min_max_ties_and_clamp);
    tcase_add_test(tc, test_backward_twice);
    tcase_add_test(tc, test_view_accumulates);
    tcase_add_test(tc, test_no_grad_records_nothing);
    suite_add_tcase(s, tc);
    return s;
}
