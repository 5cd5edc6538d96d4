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
#include "flows/flow_prior.h"
#include "flows/flow_realnvp.h"
#include "flows/flow_sequential.h"
#include "flows/flow_spline.h"
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

/* The op's results do not depend on the thread count (rows are split over
 * the pool; no sum crosses a row): bit-identical values and gradients. */
START_TEST(test_op_threads_same_bits)
{
    op_ctx c = {.s = flow_spline_spec_default()};
    ad_tensor *x, *th;
    op_inputs(&c.s, 1000, 4, 0, 50, &x, &th); /* 1000 4 8 = 32000: above the threshold */
    size_t total = 1000 * 5 + x->size + th->size;
    ad_real *one = malloc(total * sizeof *one), *two = malloc(total * sizeof *two);
    int before = ad_threads_get();
    for (int inverse = 0; inverse < 2; inverse++) {
        c.inverse = inverse;
        ad_threads_set(1);
        op_run(&c, x, th, one, NULL);
        ad_threads_set(3);
        op_run(&c, x, th, two, NULL);
        ck_assert_int_eq(memcmp(one, two, total * sizeof *one), 0);
    }
    ad_threads_set(before);
    ad_threads_shutdown();
    free(one);
    free(two);
    ad_tensor_free(x);
    ad_tensor_free(th);
}
END_TEST

/* ------------------------------------------------------------ the layer */

typedef struct spline_fixture {
    flow_model *m;           /* owns the layer and its parameters */
    const flow_layer *layer;
    nn_mlp net;              /* the conditioner (views)           */
    flow_split split;
    flow_spline_spec spec;
} spline_fixture;

/* One spline coupling (5 bins on [-2, 2], conditioner of two hidden
 * layers of 12 tanh units) in a fresh model; with gain > 0 the parameters
 * are redrawn so that the conditioner's outputs are O(gain). */
static void spline_layer(spline_fixture *f, int dim, flow_split_kind split, int flip,
                         double gain, uint64_t seed)
{
    char msg[256];
    static const int widths[2] = {12, 12};
    f->spec = spec_small();
    f->m = flow_model_new(dim);
    ck_assert_int_eq(flow_split_init(&f->split, dim, split, NULL, flip, msg, sizeof msg), AD_OK);
    flow_coupling_nets_config nets = {.n_hidden = 2, .hidden_widths = widths,
                                      .s_activation = NN_ACT_TANH};
    ck_assert_int_eq(flow_spline_net_init(&f->net, f->m->params, f->split.n_cond,
                                          f->split.n_trans, f->spec.bins, &nets, msg, sizeof msg),
                     AD_OK);
    flow_spline_config sc = {.dim = dim, .split = split, .flip = flip, .net = &f->net,
                             .spec = f->spec};
    flow_layer *l = flow_spline_new(&sc, msg, sizeof msg);
    ck_assert_msg(l != NULL, "%s", msg);
    ck_assert_int_eq(flow_model_append(f->m, l, msg, sizeof msg), AD_OK);
    ck_assert_int_eq(flow_model_finalize(f->m, seed, msg, sizeof msg), AD_OK);
    if (gain > 0) fc_randomize_fanin(f->m->params, seed + 1, gain);
    f->layer = flow_sequential_get(f->m->flow, 0);
    ck_assert_str_eq(flow_layer_name(f->layer), "spline-coupling");
}

static void fixture_free(spline_fixture *f)
{
    flow_split_release(&f->split);
    flow_model_free(f->m);
}

/* The conditioner's spline parameters for one row of the layer's input. */
static void row_theta(const spline_fixture *f, const ad_real *row, ad_real *theta)
{
    ad_tape *t = ad_tape_new(0);
    ad_tape_set_grad_enabled(t, 0);
    ad_real cond[16];
    for (int i = 0; i < f->split.n_cond; i++) cond[i] = row[f->split.cond[i]];
    ad_tensor *th = nn_mlp_forward(t, &f->net, ad_constant(t, 2, (int[]){1, f->split.n_cond},
                                                           cond));
    ck_assert(ad_tape_ok(t));
    memcpy(theta, th->data, th->size * sizeof *theta);
    ad_tape_free(t);
}

/* Every check of flows/flow_check.h on random layers, with inputs wide
 * enough (std 1.3 against B = 2) that about one in eight elements lies in
 * a tail. */
START_TEST(test_layer_check)
{
    static const struct {
        int dim, flip;
        flow_split_kind split;
    } cases[] = {{2, 0, FLOW_SPLIT_ALTERNATE}, {5, 1, FLOW_SPLIT_HALF}, {4, 0, FLOW_SPLIT_HALF}};
    for (int i = 0; i < 3; i++) {
        spline_fixture f;
        spline_layer(&f, cases[i].dim, cases[i].split, cases[i].flip, 1.0, 20 + (uint64_t)i);
        flow_check_config cfg = flow_check_default();
        cfg.batch = 16;
        cfg.z_scale = cfg.x_scale = 1.3;
        cfg.seed = 5 + (uint64_t)i;
        flow_check_report rep;
        char msg[512];
        int status = flow_check_layer(f.layer, &cfg, &rep, msg, sizeof msg);
        ck_assert_msg(status == AD_OK && rep.passed, "case %d: %s", i, msg);
        ck_assert_msg(rep.max_abs_logdet > 0.1, "max |logdet| %g", rep.max_abs_logdet);
        if (getenv("BG_TEST_REPORT"))
            fprintf(stderr, "spline layer dim %d: round trip %.2e (tol %.2e), fd log-det %.2e "
                    "(%.2f of tol), max |logdet| %.3g\n", cases[i].dim, rep.roundtrip_z_error,
                    rep.roundtrip_z_tol, rep.logdet_fd_error, rep.logdet_fd_ratio,
                    rep.max_abs_logdet);
        fixture_free(&f);
    }
}
END_TEST

/* Inputs at the special places, in a 3-D layer transforming coordinate 1:
 * far in both tails, just beyond the bound, exactly at -B and B, exactly on
 * every interior knot.  Round trips in both directions (the inverse at the
 * knots of y), and the log-det against the Jacobian from the tape and from
 * finite differences, with the tolerances of tests/test_flows.c and of
 * flow_check.h; the tails are exact, the slopes at +-B exactly 1 (the
 * tails join smoothly) and at a knot the knot's slope. */
START_TEST(test_layer_edges)
{
    spline_fixture f;
    spline_layer(&f, 3, FLOW_SPLIT_ALTERNATE, 0, 1.0, 31);
    ck_assert_int_eq(f.split.n_trans, 1);
    const int K = f.spec.bins, d = 3, rows = 6 + (K - 1);
    const ad_real B = (ad_real)f.spec.bound;
    ad_real *z = fc_normal(rows, d, 9), theta[3 * KMAX];
    for (int dir = 0; dir < 2; dir++) {
        ad_real xk[KMAX], yk[KMAX], dk[KMAX][KMAX];
        for (int r = 0; r < rows; r++) {
            ad_real *row = z + r * d, kx[KMAX], ky[KMAX];
            row_theta(&f, row, theta);
            ck_assert_int_eq(flow_spline_knots(&f.spec, theta, kx, ky, dk[r]), AD_OK);
            static const double special[6] = {-1e6, 1e6, -1, 1, -1, 1};
            if (r < 2) row[1] = (ad_real)special[r];
            else if (r < 4) row[1] = (ad_real)special[r] * B * (1 + 4 * (ad_real)EPS);
            else if (r < 6) row[1] = (ad_real)special[r] * B;
            else row[1] = dir ? ky[r - 5] : kx[r - 5];
            xk[r] = kx[r < 6 ? 0 : r - 5];
            yk[r] = ky[r < 6 ? 0 : r - 5];
        }
        fc_roundtrip rt;
        fc_roundtrip_run(f.layer, z, rows, dir, &rt);
        /* the amplification A = max(||J||_1, ||J^-1||_1) and the FD log-dets */
        double ld[16], ld_fd[16], tol_fd[16], norm[16], inv_norm[16], ld_jac[16], cond[16];
        char msg[256];
        ck_assert_int_eq(flow_check_jacobian_fd(f.layer, z, rows, 64, ld, ld_fd, tol_fd, norm,
                                                inv_norm, msg, sizeof msg), AD_OK);
        fc_jacobian_logdet(f.layer, z, rows, ld, ld_jac, cond);
        double amp = 1;
        for (int r = 0; r < rows; r++) amp = fmax(amp, fmax(norm[r], inv_norm[r]));
        double tol_rt = 64 * EPS * (1 + amp) * fmax(1, rt.max_abs);
        ck_assert_msg(rt.max_error <= tol_rt, "%s: round trip %.3g > %.3g",
                      dir ? "forward(inverse(x))" : "inverse(forward(z))", rt.max_error, tol_rt);
        ck_assert(rt.max_logdet_sum <= 64 * EPS * (rt.max_abs_logdet + (1 + amp) * rt.max_abs));
        for (int r = 0; r < rows; r++) {
            double tol = 16.0 * d * EPS * (cond[r] + fabs(ld[r]));
            ck_assert_msg(fabs(ld[r] - ld_jac[r]) <= tol, "row %d: logdet %.17g, tape %.17g", r,
                          ld[r], ld_jac[r]);
            ck_assert_msg(fabs(ld[r] - ld_fd[r]) <= tol_fd[r], "row %d: logdet %.17g, fd %.17g "
                          "(tol %.3g)", r, ld[r], ld_fd[r], tol_fd[r]);
        }
        /* the values themselves, forward: tails exact, +-B onto +-B, knots
         * onto knots (the inverse direction maps y-knots onto x-knots) */
        ad_tape *t = ad_tape_new(0);
        ad_tensor *in = ad_constant(t, 2, (int[]){rows, d}, z), *l;
        ad_tensor *out = dir ? flow_layer_inverse(f.layer, t, in, &l)
                             : flow_layer_forward(f.layer, t, in, &l);
        ck_assert(ad_tape_ok(t));
        for (int r = 0; r < rows; r++) {
            ad_real v = z[r * d + 1], o = out->data[r * d + 1];
            ck_assert(out->data[r * d] == z[r * d] && out->data[r * d + 2] == z[r * d + 2]);
            if (r < 4) {
                ck_assert(o == v && l->data[r] == 0);
            } else if (r < 6) {
                ck_assert_close(o, v, 4 * EPS * B, 0, "bound", r);
                ck_assert(l->data[r] == 0); /* g'(+-B) = 1 exactly */
            } else {
                ad_real target = dir ? xk[r] : yk[r];
                ck_assert_close(o, target, 16 * EPS * B * amp, 0, "knot", r);
                double want = (dir ? -1 : 1) * log(dk[r][r - 5]);
                ck_assert_close(l->data[r], want, 16 * EPS * (1 + fabs(want)), 0, "knot slope", r);
            }
        }
        ad_tape_free(t);
    }
    free(z);
    fixture_free(&f);
}
END_TEST

/* A fresh layer (zero output layer) is the identity to rounding (8 eps B
 * per value, 8 eps per element of a log-det, as for the op at theta = 0);
 * in the tails exactly. */
START_TEST(test_layer_identity_at_init)
{
    spline_fixture f;
    spline_layer(&f, 4, FLOW_SPLIT_HALF, 0, 0, 3);
    enum { ROWS = 32 };
    ad_real *z = fc_normal(ROWS, 4, 12);
    for (int k = 0; k < ROWS * 4; k++) z[k] *= (ad_real)1.5;
    for (int dir = 0; dir < 2; dir++) {
        ad_tape *t = ad_tape_new(0);
        ad_tensor *l, *in = ad_constant(t, 2, (int[]){ROWS, 4}, z);
        ad_tensor *out = dir ? flow_layer_inverse(f.layer, t, in, &l)
                             : flow_layer_forward(f.layer, t, in, &l);
        ck_assert(ad_tape_ok(t));
        for (int k = 0; k < ROWS * 4; k++) {
            if (fabs(z[k]) > f.spec.bound)
                ck_assert(out->data[k] == z[k]);
            else
                ck_assert_close(out->data[k], z[k], 8 * EPS * f.spec.bound, 0, "identity", k);
        }
        for (int r = 0; r < ROWS; r++) ck_assert_close(l->data[r], 0, 16 * EPS, 0, "log-det", r);
        ad_tape_free(t);
    }
    free(z);
    fixture_free(&f);
}
END_TEST

static flow_realnvp_config spline_realnvp(int dim)
{
    flow_realnvp_config c = flow_realnvp_config_default(dim);
    c.coupling = FLOW_COUPLING_SPLINE;
    return c;
}

/* The builder's spline option: the default stays affine, the spline fields
 * hold the spec's defaults; a spline RealNVP has the right layers and
 * parameters, starts as the identity and passes the layer checks. */
START_TEST(test_realnvp_spline)
{
    char msg[512];
    flow_realnvp_config d = flow_realnvp_config_default(4);
    ck_assert_int_eq(d.coupling, FLOW_COUPLING_AFFINE);
    ck_assert_int_eq(d.spline.bins, 8);
    ck_assert(d.spline.bound == 5 && d.spline.min_width == 1e-3 && d.spline.min_height == 1e-3 &&
              d.spline.min_slope == 1e-3);

    flow_realnvp_config c = spline_realnvp(4);
    flow_model *m = flow_realnvp_new(&c, msg, sizeof msg);
    ck_assert_msg(m != NULL, "%s", msg);
    ck_assert_int_eq(flow_sequential_length(m->flow), 6);
    for (int k = 0; k < 6; k++)
        ck_assert_str_eq(flow_layer_name(flow_sequential_get(m->flow, k)), "spline-coupling");
    /* 6 couplings, each one conditioner 2 -> 100 -> 100 -> 2 (3 8 - 1) */
    ck_assert_uint_eq(nn_params_size(m->params),
                      6 * (2 * 100 + 100 + 100 * 100 + 100 + 100 * 46 + 46));
    /* identity at the start, to rounding: 6 layers of 8 eps B each */
    ad_real *z = fc_normal(8, 4, 2);
    ad_tape *t = ad_tape_new(0);
    ad_tensor *ld, *x = flow_model_forward(m, t, ad_constant(t, 2, (int[]){8, 4}, z), &ld);
    ck_assert(ad_tape_ok(t));
    for (int k = 0; k < 32; k++) ck_assert_close(x->data[k], z[k], 6 * 8 * EPS * 5, 0, "x", k);
    for (int b = 0; b < 8; b++) ck_assert_close(ld->data[b], 0, 6 * 16 * EPS, 0, "log-det", b);
    ad_tape_free(t);
    free(z);
    /* random weights: the whole flow passes the layer checks */
    fc_randomize_fanin(m->params, 3, 1.0);
    flow_check_config cfg = flow_check_default();
    cfg.z_scale = cfg.x_scale = 2;
    flow_check_report rep;
    ck_assert_msg(flow_check_layer(m->flow, &cfg, &rep, msg, sizeof msg) == AD_OK, "%s", msg);
    ck_assert_msg(rep.max_abs_logdet > 0.1, "max |logdet| %g", rep.max_abs_logdet);
    flow_model_free(m);

    /* a whitened spline flow on the dimer's split builds too */
    c = spline_realnvp(6);
    c.split = FLOW_SPLIT_HALF;
    c.spline.bins = 3;
    c.spline.bound = 3;
    c.n_blocks = 1;
    m = flow_realnvp_new(&c, msg, sizeof msg);
    ck_assert_msg(m != NULL, "%s", msg);
    flow_model_free(m);
}
END_TEST

/* Invalid spline fields are named when the spline family is chosen, and
 * ignored otherwise. */
START_TEST(test_realnvp_spline_fields)
{
    char msg[300];
    static const struct {
        int field;
        const char *expect;
    } cases[] = {
        {0, "flow_realnvp_new: bad config: coupling = 2 (need FLOW_COUPLING_AFFINE or "
            "FLOW_COUPLING_SPLINE)"},
        {1, "flow_realnvp_new: bad config: spline.bins = 1 (need 2 .. 64)"},
        {2, "flow_realnvp_new: bad config: spline.bins = 100 (need 2 .. 64)"},
        {3, "flow_realnvp_new: bad config: spline.bound = -1 (need finite, > 0)"},
        {4, "flow_realnvp_new: bad config: spline.min_width = 0.2 (need >= "},
        {5, "flow_realnvp_new: bad config: spline.min_height = 0.5 (need >= "},
        {6, "flow_realnvp_new: bad config: spline.min_slope = 1.5 (need 0 < min_slope < 1)"},
        {7, "flow_realnvp_new: bad config: spline.bins = 0 (need 2 .. 64)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        flow_realnvp_config c = spline_realnvp(2);
        switch (cases[i].field) {
        case 0: c.coupling = (flow_coupling_kind)2; break;
        case 1: c.spline.bins = 1; break;
        case 2: c.spline.bins = 100; break;
        case 3: c.spline.bound = -1; break;
        case 4: c.spline.min_width = 0.2; break;
        case 5: c.spline.min_height = 0.5; break;
        case 6: c.spline.min_slope = 1.5; break;
        default: /* designated initializers without the spline fields */
            c = (flow_realnvp_config){.dim = 2, .n_blocks = 1, .coupling = FLOW_COUPLING_SPLINE};
            break;
        }
        ck_assert_ptr_null(flow_realnvp_new(&c, msg, sizeof msg));
        ck_assert_msg(strstr(msg, cases[i].expect) == msg, "case %zu: %s", i, msg);
        if (cases[i].field >= 1 && cases[i].field <= 6) {
            /* the same fields are not looked at for affine couplings */
            c.coupling = FLOW_COUPLING_AFFINE;
            flow_model *m = flow_realnvp_new(&c, msg, sizeof msg);
            ck_assert_msg(m != NULL, "%s", msg);
            flow_model_free(m);
        }
    }
}
END_TEST

/* Gradients with respect to every parameter and the input through a small
 * spline RealNVP (tanh conditioners), both directions. */
START_TEST(test_realnvp_spline_gradcheck)
{
    char msg[200];
    int widths[1] = {6};
    flow_realnvp_config rc = spline_realnvp(3);
    rc.n_blocks = 2;
    rc.n_hidden = 1;
    rc.hidden_widths = widths;
    rc.s_activation = NN_ACT_TANH;
    rc.spline = spec_small();
    rc.seed = 3;
    flow_model *m = flow_realnvp_new(&rc, msg, sizeof msg);
    ck_assert_msg(m != NULL, "%s", msg);
    fc_randomize(m->params, 5, 0.4);
    ad_tensor *z = ad_tensor_new(2, (int[]){3, 3});
    ad_rng rng;
    ad_rng_seed(&rng, 4, 0);
    ad_rng_fill_normal(&rng, z->data, z->size, 0, 1);
    z->data[4] = 2.7; /* one input in a tail */
    fc_assert_flow_gradcheck(m, z);
    ad_tensor_free(z);
    flow_model_free(m);
}
END_TEST

/* A training step of a spline flow mallocs nothing after the first one:
 * the op's saved state lives in the tape's arena. */
START_TEST(test_spline_training_no_malloc)
{
    char msg[200];
    flow_realnvp_config rc = spline_realnvp(2);
    flow_model *m = flow_realnvp_new(&rc, msg, sizeof msg);
    ck_assert_msg(m != NULL, "%s", msg);
    fc_assert_step_no_malloc(m);
    flow_model_free(m);
}
END_TEST

/* Building a spline RealNVP with every allocation failing in turn: NULL
 * and a message, no crash, no leak (ASan); then success. */
START_TEST(test_spline_builder_alloc_failures)
{
    char msg[256];
    static const int widths[2] = {8, 8};
    flow_realnvp_config rc = spline_realnvp(4);
    rc.n_blocks = 2;
    rc.hidden_widths = widths;
    rc.split = FLOW_SPLIT_HALF;
    flow_model *m = NULL;
    long n;
    for (n = 0; n < 2000 && !m; n++) {
        msg[0] = 0;
        ad_alloc_fail_after(n);
        m = flow_realnvp_new(&rc, msg, sizeof msg);
        ad_alloc_fail_after(-1);
        if (!m) ck_assert_msg(strstr(msg, "out of memory") != NULL, "n = %ld: %s", n, msg);
    }
    ck_assert_ptr_nonnull(m);
    ck_assert_int_gt(n, 10);
    flow_model_free(m);
}
END_TEST

/* Layer constructor errors. */
START_TEST(test_layer_errors)
{
    char msg[256];
    nn_params *p = nn_params_new();
    nn_mlp net;
    static const int widths[1] = {4};
    flow_coupling_nets_config nets = {.n_hidden = 1, .hidden_widths = widths};
    ck_assert_int_eq(flow_spline_net_init(&net, p, 2, 2, 1, &nets, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_str_eq(msg, "flow_spline_net_init: bins = 1 (need 2 .. 64)");
    ck_assert_int_eq(flow_spline_net_init(&net, p, 2, 2, 4, &nets, msg, sizeof msg), AD_OK);
    flow_spline_config sc = {.dim = 5, .split = FLOW_SPLIT_HALF, .net = &net,
                             .spec = flow_spline_spec_default()};
    sc.spec.bins = 4;
    ck_assert_ptr_null(flow_spline_new(&sc, msg, sizeof msg));
    ck_assert_str_eq(msg, "flow_spline_new: the net maps 2 -> 22; the split and 4 bins need "
                     "2 -> 33");
    sc.dim = 4;
    sc.spec.bound = 0;
    ck_assert_ptr_null(flow_spline_new(&sc, msg, sizeof msg));
    ck_assert_str_eq(msg, "flow_spline_new: bad config: spec.bound = 0 (need finite, > 0)");
    sc.spec.bound = 1;
    sc.net = NULL;
    ck_assert_ptr_null(flow_spline_new(&sc, msg, sizeof msg));
    ck_assert_str_eq(msg, "flow_spline_new: net is NULL");
    sc.net = &net;
    flow_layer *l = flow_spline_new(&sc, msg, sizeof msg);
    ck_assert_msg(l != NULL, "%s", msg);
    flow_layer_free(l);
    nn_params_free(p);
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
    tcase_add_test(tc, test_op_threads_same_bits);
    suite_add_tcase(s, tc);
    tc = tcase_create("layer");
    tcase_add_test(tc, test_layer_check);
    tcase_add_test(tc, test_layer_edges);
    tcase_add_test(tc, test_layer_identity_at_init);
    tcase_add_test(tc, test_layer_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("realnvp");
    tcase_add_test(tc, test_realnvp_spline);
    tcase_add_test(tc, test_realnvp_spline_fields);
    tcase_add_test(tc, test_realnvp_spline_gradcheck);
    tcase_add_test(tc, test_spline_training_no_malloc);
    tcase_add_test(tc, test_spline_builder_alloc_failures);
    suite_add_tcase(s, tc);
    return s;
}
