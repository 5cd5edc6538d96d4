/* test_flows_spline.c - the rational-quadratic spline op (flows/flow_spline_op.h)
 * and the spline coupling layer (flows/flow_spline.h), alone and in RealNVP.
 *
 * The op's gradients are checked twice: against central differences
 * (ad_gradcheck, whose tolerance comes from the difference's own error
 * estimate), and against the same spline written with primitive tape ops
 * (rq_composed below), itself checked against central differences.  The
 * inputs of those checks sit at xi in [0.2, 0.8] of a bin or in a tail, so
 * no difference step crosses a knot or the bound, where the second
 * derivative (and so the log-det's derivative) jumps.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/ad.h"
#include "ck_util.h"
#include "flows/flow_check.h"
#include "flows/flow_model.h"
#include "flows/flow_realnvp.h"
#include "flows/flow_sequential.h"
#include "flows/flow_spline_op.h"
#include "nn/nn.h"
#include "test_flows_util.h"

#define EPS AD_REAL_EPS
#define KMAX (FLOW_SPLINE_MAX_BINS + 1)

/* 5 bins (not a power of two) on [-2, 2]: with N(0, 1) inputs, about one in
 * twenty lies in a tail. */
static flow_spline_spec spec_small(void)
{
    flow_spline_spec s = flow_spline_spec_default();
    s.bins = 5;
    s.bound = 2;
    return s;
}

/* ------------------------------------------------------------ reference */

/* The spline op from primitive tape ops: softmax by logsumexp, knots as a
 * product with a triangular matrix of ones, the bin of each element picked
 * by one-hot masks (constants, chosen from the values on the tape), the
 * tails by ad_where.  Same output layout as the op: [batch, n + 1]. */
static ad_tensor *rq_composed(ad_tape *t, ad_tensor *x, ad_tensor *theta,
                              const flow_spline_spec *s, int inverse)
{
    const int batch = x->shape[0], n = x->shape[1], K = s->bins, P = 3 * K - 1, E = batch * n;
    const double B = s->bound;
    ad_tensor *th = ad_reshape(t, theta, 2, (int[]){E, P});
    ad_tensor *v = ad_reshape(t, x, 1, (int[]){E});
    ad_tensor *upper = ad_zeros(t, 2, (int[]){K, K + 1}); /* cumsum: U[i][j] = (i < j) */
    for (int i = 0; i < K; i++)
        for (int j = i + 1; j <= K; j++) upper->data[i * (K + 1) + j] = 1;
    ad_tensor *kn[2];
    for (int q = 0; q < 2; q++) {
        double m = q ? s->min_height : s->min_width;
        ad_tensor *a = ad_slice_cols(t, th, q * K, K);
        ad_tensor *lse = ad_reshape(t, ad_logsumexp(t, a, 1), 2, (int[]){E, 1});
        ad_tensor *f = ad_add_scalar(t, ad_scale(t, ad_exp(t, ad_sub(t, a, lse)),
                                                 (ad_real)(1 - K * m)), (ad_real)m);
        kn[q] = ad_add_scalar(t, ad_scale(t, ad_matmul(t, f, upper, 0, 0), (ad_real)(2 * B)),
                              (ad_real)-B);
    }
    ad_tensor *one = ad_full(t, 2, (int[]){E, 1}, 1);
    ad_tensor *inner = ad_add_scalar(t, ad_scale(t, ad_softplus(t, ad_slice_cols(t, th, 2 * K,
                                                                                 K - 1)),
                                                 (ad_real)((1 - s->min_slope) / log(2.0))),
                                     (ad_real)s->min_slope);
    ad_tensor *slopes = ad_concat_cols(t, ad_concat_cols(t, one, inner), one);
    if (!ad_tape_ok(t)) return ad_tape_poison(t);

    /* bins and tails: piecewise constant, so constants of the tape */
    ad_tensor *lo = ad_zeros(t, 2, (int[]){E, K + 1}), *hi = ad_zeros(t, 2, (int[]){E, K + 1});
    ad_tensor *inside = ad_zeros(t, 1, &E), *zero = ad_zeros(t, 1, &E);
    const ad_real *grid = kn[inverse]->data;
    for (int e = 0; e < E; e++) {
        ad_real val = v->data[e];
        int in = val >= -B && val <= B;
        inside->data[e] = in;
        val = in ? val : 0;
        int k = K - 1;
        while (k > 0 && grid[e * (K + 1) + k] > val) k--;
        lo->data[e * (K + 1) + k] = 1;
        hi->data[e * (K + 1) + k + 1] = 1;
    }
#define PICK(a, mask) ad_sum_axis(t, ad_mul(t, (a), (mask)), 1)
    ad_tensor *xlo = PICK(kn[0], lo), *xhi = PICK(kn[0], hi);
    ad_tensor *ylo = PICK(kn[1], lo), *yhi = PICK(kn[1], hi);
    ad_tensor *d0 = PICK(slopes, lo), *d1 = PICK(slopes, hi);
#undef PICK
    ad_tensor *vs = ad_where(t, inside, v, zero); /* the tails evaluate a safe point */
    ad_tensor *w = ad_sub(t, xhi, xlo), *h = ad_sub(t, yhi, ylo), *sl = ad_div(t, h, w);
    ad_tensor *sum = ad_sub(t, ad_add(t, d0, d1), ad_scale(t, sl, 2));
    ad_tensor *xi;
    if (inverse) {
        ad_tensor *dy = ad_sub(t, vs, ylo);
        ad_tensor *a = ad_add(t, ad_mul(t, h, ad_sub(t, sl, d0)), ad_mul(t, dy, sum));
        ad_tensor *b = ad_sub(t, ad_mul(t, h, d0), ad_mul(t, dy, sum));
        ad_tensor *c = ad_neg(t, ad_mul(t, sl, dy));
        ad_tensor *disc = ad_sub(t, ad_square(t, b), ad_scale(t, ad_mul(t, a, c), 4));
        xi = ad_div(t, ad_scale(t, c, 2), ad_sub(t, ad_neg(t, b), ad_sqrt(t, disc)));
    } else {
        xi = ad_div(t, ad_sub(t, vs, xlo), w);
    }
    ad_tensor *omx = ad_add_scalar(t, ad_neg(t, xi), 1), *tt = ad_mul(t, xi, omx);
    ad_tensor *num = ad_add(t, ad_mul(t, sl, ad_square(t, xi)), ad_mul(t, d0, tt));
    ad_tensor *den = ad_add(t, sl, ad_mul(t, sum, tt));
    ad_tensor *val = inverse ? ad_add(t, xlo, ad_mul(t, xi, w))
                             : ad_add(t, ylo, ad_div(t, ad_mul(t, h, num), den));
    ad_tensor *dnum = ad_add(t, ad_add(t, ad_mul(t, d1, ad_square(t, xi)),
                                       ad_scale(t, ad_mul(t, sl, tt), 2)),
                             ad_mul(t, d0, ad_square(t, omx)));
    ad_tensor *L = ad_sub(t, ad_add(t, ad_scale(t, ad_log(t, sl), 2), ad_log(t, dnum)),
                          ad_scale(t, ad_log(t, den), 2));
    val = ad_where(t, inside, val, v);
    L = ad_where(t, inside, L, zero);
    ad_tensor *ld = ad_sum_axis(t, ad_reshape(t, L, 2, (int[]){batch, n}), 1);
    if (inverse) ld = ad_neg(t, ld);
    return ad_concat_cols(t, ad_reshape(t, val, 2, (int[]){batch, n}),
                          ad_reshape(t, ld, 2, (int[]){batch, 1}));
}

/* ------------------------------------------------------------ op inputs */

/* theta ~ N(0, 1) [batch, n P] and x [batch, n]: every fifth element in a
 * tail (0.3 to 1.3 beyond the bound, alternating sides), the others in bin
 * (3 e) mod K at xi in [0.2, 0.8] of the knots the op searches (those of x
 * forward, of y inverse). */
static void op_inputs(const flow_spline_spec *s, int batch, int n, int inverse, uint64_t seed,
                      ad_tensor **x_out, ad_tensor **theta_out)
{
    const int K = s->bins, P = 3 * K - 1;
    ad_tensor *th = ad_tensor_new(2, (int[]){batch, n * P});
    ad_tensor *x = ad_tensor_new(2, (int[]){batch, n});
    ad_rng r;
    ad_rng_seed(&r, seed, 0);
    ad_rng_fill_normal(&r, th->data, th->size, 0, 1);
    for (int e = 0; e < batch * n; e++) {
        ad_real xk[KMAX], yk[KMAX], d[KMAX];
        ck_assert_int_eq(flow_spline_knots(s, th->data + (size_t)e * P, xk, yk, d), AD_OK);
        const ad_real *kn = inverse ? yk : xk;
        double u = ad_rng_uniform(&r);
        if (e % 5 == 4) {
            x->data[e] = (ad_real)((e % 2 ? 1 : -1) * (s->bound + 0.3 + u));
        } else {
            int k = (3 * e) % K;
            x->data[e] = (ad_real)(kn[k] + (0.2 + 0.6 * u) * (kn[k + 1] - kn[k]));
        }
    }
    *x_out = x;
    *theta_out = th;
}

typedef struct op_ctx {
    flow_spline_spec s;
    int inverse, composed;
} op_ctx;

static ad_tensor *op_fn(ad_tape *t, ad_tensor *const *in, int n_in, void *ctx)
{
    (void)n_in;
    const op_ctx *c = ctx;
    if (c->composed) return rq_composed(t, in[0], in[1], &c->s, c->inverse);
    return c->inverse ? flow_spline_rq_inv(t, in[0], in[1], &c->s)
                      : flow_spline_rq(t, in[0], in[1], &c->s);
}

/* ------------------------------------------------------------ the op */

/* Gradients with respect to the input and every conditioner output, by
 * central differences: the op and its composed reference, both directions,
 * 5 and 8 bins. */
START_TEST(test_op_gradcheck)
{
    for (int variant = 0; variant < 8; variant++) {
        op_ctx c = {.s = spec_small(), .inverse = variant & 1, .composed = (variant >> 1) & 1};
        if (variant & 4) c.s = flow_spline_spec_default();
        ad_tensor *x, *th;
        op_inputs(&c.s, 3, 4, c.inverse, 10 + (uint64_t)variant, &x, &th);
        ad_tensor *in[2] = {x, th};
        ad_gradcheck_report rep;
        ck_assert_int_eq(ad_gradcheck(op_fn, &c, 2, in, NULL, &rep), AD_OK);
        ck_assert_msg(rep.ok, "%s %s, %d bins: %s", c.composed ? "composed" : "op",
                      c.inverse ? "inverse" : "forward", c.s.bins, rep.message);
        ck_assert_uint_eq(rep.n_checked, x->size + th->size);
        if (getenv("BG_TEST_REPORT"))
            fprintf(stderr, "spline gradcheck %-8s %-7s K=%d: worst error/tol %.3g\n",
                    c.composed ? "composed" : "op", c.inverse ? "inverse" : "forward",
                    c.s.bins, rep.worst_ratio);
        ad_tensor_free(x);
        ad_tensor_free(th);
    }
}
END_TEST

/* Values and gradients of L = sum(out * wts) from the op or the reference,
 * into out[]: the output, then d/dx, then d/dtheta. */
static void op_run(const op_ctx *c, ad_tensor *x, ad_tensor *th, ad_real *out, int *n_nodes)
{
    ad_tape *t = ad_tape_new(0);
    ad_tensor *xi = ad_tape_input(t, 2, x->shape, x->data);
    ad_tensor *ti = ad_tape_input(t, 2, th->shape, th->data);
    ad_tensor *y = op_fn(t, (ad_tensor *[]){xi, ti}, 2, (void *)c);
    ck_assert_msg(ad_tape_ok(t), "%s", ad_tape_error(t));
    ad_tensor *wts = ad_tensor_new(2, y->shape);
    ad_rng r;
    ad_rng_seed(&r, 77, 0);
    ad_rng_fill_uniform(&r, wts->data, wts->size, (ad_real)0.5, (ad_real)1.5);
    if (n_nodes) *n_nodes = ad_tape_n_nodes(t);
    ck_assert_int_eq(ad_backward(t, ad_sum(t, ad_mul(t, y, wts))), AD_OK);
    memcpy(out, y->data, y->size * sizeof *out);
    memcpy(out + y->size, xi->grad, x->size * sizeof *out);
    memcpy(out + y->size + x->size, ti->grad, th->size * sizeof *out);
    ad_tensor_free(wts);
    ad_tape_free(t);
}

/* The op agrees with its composed reference.  Both compute the same
 * formulas from knots that differ by the rounding of the softmax and the
 * cumulative sums, about (K + 8) eps of 2B; an output is the knots' and
 * slopes' image through a map whose derivatives are bounded by the
 * gradients themselves, so each value and gradient element may differ by
 * (K + 8) eps times the scale G of its kind (max |value| or max |gradient|
 * over the batch), times 64 for the chains of dependent roundings in the
 * formulas (several tens of operations each). */
START_TEST(test_op_matches_composed)
{
    enum { BATCH = 6, N = 3 };
    for (int variant = 0; variant < 4; variant++) {
        op_ctx c = {.s = spec_small(), .inverse = variant & 1};
        if (variant & 2) c.s = flow_spline_spec_default();
        const int K = c.s.bins, P = 3 * K - 1;
        ad_tensor *x, *th;
        op_inputs(&c.s, BATCH, N, c.inverse, 30 + (uint64_t)variant, &x, &th);
        size_t sizes[3] = {BATCH * (N + 1), BATCH * N, (size_t)BATCH * N * P};
        size_t total = sizes[0] + sizes[1] + sizes[2];
        ad_real *fused = malloc(total * sizeof *fused), *ref = malloc(total * sizeof *ref);
        int nodes;
        op_run(&c, x, th, fused, &nodes);
        ck_assert_int_eq(nodes, 1); /* the whole batch in one node */
        c.composed = 1;
        op_run(&c, x, th, ref, NULL);
        static const char *what[3] = {"value", "d/dx", "d/dtheta"};
        size_t off = 0;
        double worst = 0;
        for (int q = 0; q < 3; q++) {
            double scale = 1;
            for (size_t i = 0; i < sizes[q]; i++) scale = fmax(scale, fabs(ref[off + i]));
            double tol = 64.0 * (K + 8) * EPS * scale;
            for (size_t i = 0; i < sizes[q]; i++) {
                worst = fmax(worst, fabs(fused[off + i] - ref[off + i]) / tol);
                ck_assert_close(fused[off + i], ref[off + i], tol, 0, what[q], i);
            }
            off += sizes[q];
        }
        if (getenv("BG_TEST_REPORT"))
            fprintf(stderr, "spline op vs composed %s K=%d: worst |diff|/tol %.3g\n",
                    c.inverse ? "inverse" : "forward", K, worst);
        free(fused);
        free(ref);
        ad_tensor_free(x);
        ad_tensor_free(th);
    }
}
END_TEST

/* Far outside the bound, at the bound and just beyond: the tails are the
 * identity exactly, add exactly 0 to the log-det and pass gradient 1 to
 * the input and 0 to theta. */
START_TEST(test_op_tails_exact)
{
    flow_spline_spec s = spec_small();
    const int K = s.bins, P = 3 * K - 1;
    const ad_real B = (ad_real)s.bound;
    ad_real tails[6] = {(ad_real)-1e6, (ad_real)1e6, (ad_real)1e30, -B * (1 + 4 * (ad_real)EPS),
                        B * (1 + 4 * (ad_real)EPS), -(ad_real)AD_REAL_MAX};
    ad_real th[6 * 3 * 5 - 6];
    ck_assert_int_eq(P, 14);
    ad_rng r;
    ad_rng_seed(&r, 4, 0);
    for (int inverse = 0; inverse < 2; inverse++) {
        ad_rng_fill_normal(&r, th, 6 * P, 0, 2);
        ad_tape *t = ad_tape_new(0);
        ad_tensor *x = ad_tape_input(t, 2, (int[]){1, 6}, tails);
        ad_tensor *tt = ad_tape_input(t, 2, (int[]){1, 6 * P}, th);
        ad_tensor *y = inverse ? flow_spline_rq_inv(t, x, tt, &s) : flow_spline_rq(t, x, tt, &s);
        ck_assert_msg(ad_tape_ok(t), "%s", ad_tape_error(t));
        for (int e = 0; e < 6; e++) ck_assert(y->data[e] == tails[e]);
        ck_assert(y->data[6] == 0);
        ck_assert_int_eq(ad_backward(t, ad_sum(t, y)), AD_OK);
        for (int e = 0; e < 6; e++) ck_assert(x->grad[e] == 1);
        for (int i = 0; i < 6 * P; i++) ck_assert(tt->grad[i] == 0);
        ad_tape_free(t);
    }
}
END_TEST

/* theta = 0: equal bins, knots of x and y the same numbers, slopes exactly
 * 1, and the op the identity to rounding.  Tolerance: with s = 1 and
 * d0 = d1 = 1 exactly, den = 1 exactly and y = y_k + h (xi^2 + xi (1 -
 * xi)) carries ~6 roundings of values up to B; g' = dnum = 1 + ~6 u, so
 * each log g' is ~6 u and a row of n sums to n times that. */
START_TEST(test_op_identity_at_zero)
{
    for (int variant = 0; variant < 2; variant++) {
        flow_spline_spec s = variant ? flow_spline_spec_default() : spec_small();
        const int K = s.bins, P = 3 * K - 1, n = K + 3;
        ad_real th[KMAX * 3] = {0}, xk[KMAX], yk[KMAX], d[KMAX];
        ck_assert_int_eq(flow_spline_knots(&s, th, xk, yk, d), AD_OK);
        ck_assert(xk[0] == -s.bound && xk[K] == s.bound);
        for (int k = 0; k <= K; k++) {
            ck_assert(d[k] == 1);
            ck_assert(xk[k] == yk[k]);
            ck_assert_close(xk[k], -s.bound + 2 * s.bound * k / K, 4 * K * EPS * s.bound, 0,
                            "uniform knot", k);
        }
        /* one row: every knot, a point inside each of three bins */
        ad_real *zeros = calloc((size_t)n * P, sizeof *zeros), row[KMAX + 3];
        for (int k = 0; k <= K; k++) row[k] = xk[k];
        for (int k = 0; k < 2; k++) row[K + 1 + k] = (ad_real)(0.37 * (k ? 1 : -1) * s.bound);
        for (int inverse = 0; inverse < 2; inverse++) {
            ad_tape *t = ad_tape_new(0);
            ad_tensor *x = ad_constant(t, 2, (int[]){1, n}, row);
            ad_tensor *tt = ad_constant(t, 2, (int[]){1, n * P}, zeros);
            ad_tensor *y = inverse ? flow_spline_rq_inv(t, x, tt, &s) : flow_spline_rq(t, x, tt, &s);
            ck_assert_msg(ad_tape_ok(t), "%s", ad_tape_error(t));
            for (int e = 0; e < n; e++)
                ck_assert_close(y->data[e], row[e], 8 * EPS * s.bound, 0, "identity", e);
            ck_assert_close(y->data[n], 0, 8 * n * EPS, 0, "identity log-det", 0);
            ad_tape_free(t);
        }
        free(zeros);
    }
}
END_TEST

/* The knots of random splines: ordered, at least the minimum apart, from
 * -B to B exactly; slopes >= m_d, 1 at both ends. */
START_TEST(test_knots)
{
    flow_spline_spec s = flow_spline_spec_default();
    s.min_width = 0.02;
    s.min_height = 0.05;
    s.min_slope = 0.1;
    const int K = s.bins, P = 3 * K - 1;
    ad_rng r;
    ad_rng_seed(&r, 8, 0);
    for (int rep = 0; rep < 20; rep++) {
        ad_real th[3 * KMAX], xk[KMAX], yk[KMAX], d[KMAX];
        ad_rng_fill_normal(&r, th, (size_t)P, 0, 4); /* wide: some bins at the minimum */
        ck_assert_int_eq(flow_spline_knots(&s, th, xk, yk, d), AD_OK);
        ck_assert(xk[0] == -s.bound && xk[K] == s.bound && yk[0] == -s.bound &&
                  yk[K] == s.bound && d[0] == 1 && d[K] == 1);
        for (int k = 0; k < K; k++) {
            /* the minimum, less the rounding of a knot (~(K + 4) eps of 2B) */
            double slack = 2 * (K + 4) * EPS * 2 * s.bound;
            ck_assert_msg(xk[k + 1] - xk[k] >= 2 * s.bound * s.min_width - slack, "width %d", k);
            ck_assert_msg(yk[k + 1] - yk[k] >= 2 * s.bound * s.min_height - slack, "height %d", k);
            if (k > 0) ck_assert_msg(d[k] >= (ad_real)s.min_slope, "slope %d", k);
        }
    }
}
END_TEST

/* Bad specs, shapes and conditioner outputs: a tape error naming the
 * argument, the field or the element. */
START_TEST(test_op_errors)
{
    char msg[256];
    static const struct {
        int field;
        const char *expect;
    } cases[] = {
        {0, "bins = 1 (need 2 .. 64)"},
        {1, "bins = 65 (need 2 .. 64)"},
        {2, "bound = 0 (need finite, > 0)"},
        {3, "bound = inf (need finite, > 0)"},
        {4, "bound = nan (need finite, > 0)"},
        {5, "min_width = 0.125 (need >= "},
        {6, "min_width = 0 (need >= "},
        {7, "min_height = 0.2 (need >= "},
        {8, "min_slope = 0 (need 0 < min_slope < 1)"},
        {9, "min_slope = 1 (need 0 < min_slope < 1)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        flow_spline_spec s = flow_spline_spec_default();
        switch (cases[i].field) {
        case 0: s.bins = 1; break;
        case 1: s.bins = 65; break;
        case 2: s.bound = 0; break;
        case 3: s.bound = INFINITY; break;
        case 4: s.bound = NAN; break;
        case 5: s.min_width = 0.125; break;
        case 6: s.min_width = 0; break;
        case 7: s.min_height = 0.2; break;
        case 8: s.min_slope = 0; break;
        default: s.min_slope = 1; break;
        }
        ck_assert_int_eq(flow_spline_spec_check(&s, "spline.", msg, sizeof msg), AD_ERR_ARG);
        ck_assert_msg(strncmp(msg, "spline.", 7) == 0 && strstr(msg, cases[i].expect) == msg + 7,
                      "case %zu: %s", i, msg);
        ad_tape *t = ad_tape_new(0);
        ad_tensor *x = ad_zeros(t, 2, (int[]){2, 1});
        ad_tensor *th = ad_zeros(t, 2, (int[]){2, 23});
        ck_assert(!flow_spline_rq(t, x, th, &s)->valid);
        ck_assert_int_eq(ad_tape_status(t), AD_ERR_ARG);
        ck_assert_msg(strstr(ad_tape_error(t), "flow_spline_rq: bad argument #3 (") &&
                      strstr(ad_tape_error(t), cases[i].expect), "%s", ad_tape_error(t));
        ad_tape_free(t);
    }
    /* the smallest minimum comes from the rounding of the knots */
    flow_spline_spec s = flow_spline_spec_default();
    s.min_width = 1e-20;
    ck_assert_int_eq(flow_spline_spec_check(&s, NULL, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_msg(strstr(msg, "min_width = 1e-20 (need >= ") == msg, "%s", msg);
    ck_assert_int_eq(flow_spline_spec_check(NULL, NULL, msg, sizeof msg), AD_ERR_ARG);

    s = spec_small(); /* P = 14 */
    ad_tape *t = ad_tape_new(0);
    ck_assert(!flow_spline_rq_inv(t, ad_zeros(t, 2, (int[]){2, 3}), ad_zeros(t, 2, (int[]){2, 41}),
                                  &s)->valid);
    ck_assert_str_eq(ad_tape_error(t), "flow_spline_rq_inv: bad argument #2 (shape [2,41], "
                     "expected [2,42]: 14 spline parameters per element of argument #1)");
    ad_tape_reset(t);
    ck_assert(!flow_spline_rq(t, ad_zeros(t, 1, (int[]){3}), ad_zeros(t, 2, (int[]){1, 42}),
                              &s)->valid);
    ck_assert_str_eq(ad_tape_error(t), "flow_spline_rq: bad argument #1 (shape [3], expected "
                     "[batch, n])");
    /* non-finite conditioner outputs, wherever they are (here in an element
     * whose input is in a tail, and in a slope the element does not use) */
    for (int kind = 0; kind < 3; kind++) {
        ad_tape_reset(t);
        ad_tensor *x = ad_zeros(t, 2, (int[]){2, 3});
        ad_tensor *th = ad_zeros(t, 2, (int[]){2, 42});
        x->data[4] = 100;
        ad_real bad = kind == 0 ? (ad_real)NAN : kind == 1 ? (ad_real)INFINITY : -(ad_real)INFINITY;
        int col = kind == 0 ? 14 + 3 : kind == 1 ? 14 + 12 : 14 + 6;
        th->data[42 + col] = bad;
        ck_assert(!(kind ? flow_spline_rq_inv(t, x, th, &s) : flow_spline_rq(t, x, th, &s))->valid);
        ck_assert_int_eq(ad_tape_status(t), AD_ERR_NUMERIC);
        char expect[200];
        snprintf(expect, sizeof expect, "%s: bad argument #2 (non-finite value %g at row 1, "
                 "column %d: the conditioner's output)",
                 kind ? "flow_spline_rq_inv" : "flow_spline_rq", (double)bad, col);
        ck_assert_str_eq(ad_tape_error(t), expect);
    }
    ad_tape_free(t);
    ad_real th[14] = {0}, xk[6], yk[6], d[6];
    th[13] = (ad_real)NAN;
    ck_assert_int_eq(flow_spline_knots(&s, th, xk, yk, d), AD_ERR_NUMERIC);
    s.bins = 0;
    ck_assert_int_eq(flow_spline_knots(&s, th, xk, yk, d), AD_ERR_ARG);
}
END_TEST

Suite *flows_spline_suite(void)
{
    Suite *s = suite_create("flows-spline");
    TCase *tc = tcase_create("op");
    tcase_add_test(tc, test_op_gradcheck);
    tcase_add_test(tc, test_op_matches_composed);
    tcase_add_test(tc, test_op_tails_exact);
    tcase_add_test(tc, test_op_identity_at_zero);
    tcase_add_test(tc, test_knots);
    tcase_add_test(tc, test_op_errors);
    suite_add_tcase(s, tc);
    return s;
}
