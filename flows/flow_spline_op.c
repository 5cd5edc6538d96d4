/* flow_spline_op.c - the rational-quadratic spline op (flow_spline_op.h):
 * forward and inverse in one pass over the batch, one tape node, and a
 * backward that applies the chain rule by hand.
 *
 * Within bin k (knots (x_k, y_k), (x_k+1, y_k+1), slopes d0 = d_k,
 * d1 = d_k+1), with w = x_k+1 - x_k, h = y_k+1 - y_k, s = h / w,
 * xi = (x - x_k) / w and t = xi (1 - xi) (Durkan et al. 2019, eqs. 4-5):
 *   g(x)  = y_k + h num / den,   num = s xi^2 + d0 t,  den = s + (d0 + d1 - 2s) t
 *   g'(x) = s^2 dnum / den^2,    dnum = d1 xi^2 + 2 s t + d0 (1 - xi)^2
 * The inverse solves a xi^2 + b xi + c = 0 (eq. 6-8 there) with
 *   a = h (s - d0) + (y - y_k)(d0 + d1 - 2s),  b = h d0 - (y - y_k)(d0 + d1 - 2s),
 *   c = -s (y - y_k),
 * by xi = 2c / (-b - sqrt(b^2 - 4ac)): the root in [0, 1], without the
 * cancellation of (-b + sqrt(.)) / 2a when a is small (a = 0 at the
 * identity).
 *
 * Saved for the backward, in the tape's arena: the bin of each element (-1
 * in the tails), the two softmax vectors and the bin's two slopes with
 * their derivatives (2K + 4 values per element); the knots are recomputed
 * from the softmaxes by the same arithmetic, bit for bit.  The backward
 * calls no exp or log.
 */
#include "flow_spline_op.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define K_MAX FLOW_SPLINE_MAX_BINS

/* Rows per parallel task: a row is always computed by one task, so the
 * thread count cannot change a result. */
#define RQ_CHUNK 32

flow_spline_spec flow_spline_spec_default(void)
{
    flow_spline_spec s;
    memset(&s, 0, sizeof s); /* padding too: configs holding a spec compare with memcmp */
    s.bins = 8;
    s.bound = 5;
    s.min_width = 1e-3;
    s.min_height = 1e-3;
    s.min_slope = 1e-3;
    return s;
}

int flow_spline_n_params(int bins) { return 3 * bins - 1; }

int flow_spline_spec_check(const flow_spline_spec *s, const char *prefix, char *msg,
                           size_t msg_len)
{
    const char *p = prefix ? prefix : "";
    if (!s) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%sspec is NULL", p);
    if (s->bins < 2 || s->bins > K_MAX)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%sbins = %d (need 2 .. %d)", p, s->bins,
                              K_MAX);
    if (!(s->bound > 0) || !isfinite((ad_real)(2 * s->bound)))
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%sbound = %g (need finite, > 0)", p,
                              s->bound);
    /* The knots are cumulative sums of K terms, each rounded: a bin narrower
     * than about (K + 4) eps of the interval could come out empty or
     * reversed.  Twice that is the smallest minimum accepted. */
    double floor = 2.0 * (s->bins + 4) * AD_REAL_EPS;
    const char *names[2] = {"min_width", "min_height"};
    double mins[2] = {s->min_width, s->min_height};
    for (int i = 0; i < 2; i++)
        if (!(mins[i] >= floor) || !(s->bins * mins[i] < 1))
            return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s%s = %g (need >= %.3g and "
                                  "bins * %s < 1 with bins = %d)", p, names[i], mins[i], floor,
                                  names[i], s->bins);
    if (!((ad_real)s->min_slope > 0) || !(s->min_slope < 1))
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%smin_slope = %g (need 0 < min_slope "
                              "< 1)", p, s->min_slope);
    return AD_OK;
}

/* ---- one element ---------------------------------------------------------- */

/* The spec in ad_real, with the derived constants. */
typedef struct rq_consts {
    int K, P;
    ad_real B, two_b;
    ad_real mw, sw; /* m_w and 1 - K m_w */
    ad_real mh, sh; /* m_h and 1 - K m_h */
    ad_real md, sd; /* m_d and 1 - m_d   */
    ad_real sp0;    /* softplus(0) as softplus_e() computes it */
} rq_consts;

/* log(1 + e^v) = max(v, 0) + log1p(e^-|v|) with e = e^-|v| given, without
 * overflow */
static ad_real softplus_e(ad_real v, ad_real e)
{
    return (v > 0 ? v : 0) + AD_MATH(log1p)(e);
}

static void consts_init(rq_consts *c, const flow_spline_spec *s)
{
    c->K = s->bins;
    c->P = flow_spline_n_params(s->bins);
    c->B = (ad_real)s->bound;
    c->two_b = 2 * c->B;
    c->mw = (ad_real)s->min_width;
    c->sw = (ad_real)(1 - s->bins * s->min_width);
    c->mh = (ad_real)s->min_height;
    c->sh = (ad_real)(1 - s->bins * s->min_height);
    /* m_d + (1 - m_d) * 1 is exactly 1 when 1 - m_d is rounded in ad_real
     * (the exact sum 1 + e, |e| <= half an ulp below 1, rounds to 1), and
     * softplus(0) / sp0 is exactly 1 when both come from the same code at
     * run time (the volatile keeps the compiler from folding this one with
     * a differently rounded log1p): so theta = 0 gives slopes of exactly 1. */
    c->md = (ad_real)s->min_slope;
    c->sd = 1 - c->md;
    volatile ad_real zero = 0;
    ad_real z = zero;
    c->sp0 = softplus_e(z, AD_MATH(exp)(-AD_MATH(fabs)(z)));
}

/* Interior slope d = m_d + (1 - m_d) softplus(v) / softplus(0) and, when
 * dd is not NULL, dd/dv = (1 - m_d) sigmoid(v) / softplus(0), from one
 * exponential. */
static ad_real slope(const rq_consts *c, ad_real v, ad_real *dd)
{
    ad_real e = AD_MATH(exp)(-AD_MATH(fabs)(v));
    if (dd) *dd = c->sd * (v >= 0 ? 1 / (1 + e) : e / (1 + e)) / c->sp0;
    return c->md + c->sd * (softplus_e(v, e) / c->sp0);
}

/* Softmax of v[0..K-1] (finite) into p. */
static void softmax(const ad_real *v, int K, ad_real *p)
{
    ad_real mx = v[0];
    for (int i = 1; i < K; i++) mx = v[i] > mx ? v[i] : mx;
    ad_real sum = 0;
    for (int i = 0; i < K; i++) {
        p[i] = AD_MATH(exp)(v[i] - mx);
        sum += p[i];
    }
    ad_real inv = 1 / sum;
    for (int i = 0; i < K; i++) p[i] *= inv;
}

/* 1 when the P values are all finite. */
static int all_finite(const ad_real *v, int P)
{
    int ok = 1;
    for (int i = 0; i < P; i++) ok &= isfinite(v[i]) != 0;
    return ok;
}

/* The knot after a cumulative fraction `cum`: -B + 2B cum.  One function for
 * the forward pass and the backward's recomputation, so both round alike. */
static ad_real knot_at(const rq_consts *c, ad_real cum) { return -c->B + c->two_b * cum; }

/* Knots k[0..K] of softmax probabilities p with minimum m and scale sc
 * (fractions m + sc p_i); the last knot is B exactly. */
static void knots(const rq_consts *c, const ad_real *p, ad_real m, ad_real sc, ad_real *k)
{
    ad_real cum = 0;
    k[0] = -c->B;
    for (int i = 0; i + 1 < c->K; i++) {
        cum += m + sc * p[i];
        k[i + 1] = knot_at(c, cum);
    }
    k[c->K] = c->B;
}

/* Knots bin and bin+1 the way knots() computes them, and sum_{i<bin} p_i. */
static void knot_pair(const rq_consts *c, const ad_real *p, ad_real m, ad_real sc, int bin,
                      ad_real *lo, ad_real *hi, ad_real *p_below)
{
    ad_real cum = 0, below = 0;
    *lo = -c->B;
    for (int i = 0; i < bin; i++) {
        cum += m + sc * p[i];
        below += p[i];
    }
    if (bin > 0) *lo = knot_at(c, cum);
    *hi = bin + 1 < c->K ? knot_at(c, cum + (m + sc * p[bin])) : c->B;
    *p_below = below;
}

/* The bin i in [0, K-1] with k[i] <= v, for k[0] <= v <= k[K]. */
static int bin_of(const ad_real *k, int K, ad_real v)
{
    int lo = 0, hi = K;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (k[mid] <= v)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* The state of one element kept for the backward: the two softmaxes, the
 * slopes at the bin's ends and their derivatives by their theta (0 at the
 * ends of the spline). */
#define SAVED_D0(K) (2 * (K))
#define SAVED_LEN(K) (2 * (K) + 4)

/* One element: the mapped value into *out and log g' (0 in the tails) as
 * the result, the bin (-1: tail) into *bin; sv (SAVED_LEN(K) values)
 * receives the state for the backward.  0 into *finite when theta holds a
 * non-finite value (then the element is left as in a tail). */
static ad_real rq_elem(const rq_consts *c, const ad_real *th, ad_real v, int inverse, ad_real *sv,
                       int *bin, ad_real *out, int *finite)
{
    const int K = c->K;
    *finite = all_finite(th, c->P);
    if (!*finite || !(v >= -c->B && v <= c->B)) { /* a NaN input takes the tail */
        *bin = -1;
        *out = v;
        return 0;
    }
    ad_real *pw = sv, *ph = sv + K, *ds = sv + SAVED_D0(K);
    ad_real xs[K_MAX + 1], ys[K_MAX + 1];
    softmax(th, K, pw);
    softmax(th + K, K, ph);
    knots(c, pw, c->mw, c->sw, xs);
    knots(c, ph, c->mh, c->sh, ys);
    int k = bin_of(inverse ? ys : xs, K, v);
    *bin = k;
    ad_real w = xs[k + 1] - xs[k], h = ys[k + 1] - ys[k], s = h / w;
    ds[2] = ds[3] = 0;
    ad_real d0 = ds[0] = k > 0 ? slope(c, th[2 * K + k - 1], &ds[2]) : 1;
    ad_real d1 = ds[1] = k + 1 < K ? slope(c, th[2 * K + k], &ds[3]) : 1;
    ad_real sum = d0 + d1 - 2 * s, xi;
    if (inverse) {
        ad_real dy = v - ys[k];
        ad_real a = h * (s - d0) + dy * sum, b = h * d0 - dy * sum, cc = -s * dy;
        ad_real disc = b * b - 4 * a * cc;
        xi = 2 * cc / (-b - AD_MATH(sqrt)(disc > 0 ? disc : 0));
        xi = xi < 0 ? 0 : xi > 1 ? 1 : xi;
        *out = xs[k] + xi * w;
    } else {
        xi = (v - xs[k]) / w;
    }
    ad_real omx = 1 - xi, t = xi * omx;
    ad_real den = s + sum * t;
    if (!inverse) *out = ys[k] + h * (s * xi * xi + d0 * t) / den;
    ad_real dnum = d1 * xi * xi + 2 * s * t + d0 * omx * omx;
    return AD_MATH(log)(s * s * dnum / (den * den));
}

/* The backward of one spline element at the point x where g was evaluated
 * (the input of the forward op, the output of the inverse), for upstream
 * gradients g on the mapped value and gl on the row's log-det.  Writes
 * the P gradients of theta into gth and returns the input's gradient.
 *
 * Partials of F = g(x) and L = log g'(x) with respect to the bin's
 * xi, s, d0, d1 (h fixed; F also has dF/dh = num/den, dF/dy_k = 1):
 *   F_xi = w g',  F_s = h (xi^2 den - num (1 - 2t)) / den^2,
 *   F_d0 = h t (den - num) / den^2,  F_d1 = -h t num / den^2,
 *   L_xi = dnum_xi / dnum - 2 den_xi / den,  L_s = 2/s + 2t/dnum - 2 (1 - 2t)/den,
 *   L_d0 = (1 - xi)^2 / dnum - 2t/den,  L_d1 = xi^2 / dnum - 2t/den.
 * A loss with coefficients alpha on F and beta on L then has, through
 * xi = (x - x_k)/w and s = h/w (A_xi = alpha F_xi + beta L_xi, likewise A_s):
 *   dx_k = -A_xi / w,  dw = -(xi A_xi + s A_s) / w,  dy_k = alpha,
 *   dh = alpha num/den + A_s / w,  dd0 = alpha F_d0 + beta L_d0,  dd1 likewise.
 * Forward: alpha = g, beta = gl, and dx = A_xi / w.  Inverse (x = g^-1(y),
 * log-det -L): dy = q = (g - gl L_xi / w) / g', and by the implicit
 * function theorem alpha = -q, beta = -gl.
 * Knots to theta: x_k = -B + 2B sum_{i<k} f_i and w = 2B f_k with
 * f_i = m_w + (1 - K m_w) p_i, p = softmax(theta[0..K-1]), so with
 * G_i = 2B (dx_k [i < k] + dw [i = k]):
 *   dtheta_i = (1 - K m_w) p_i (G_i - sum_j p_j G_j);  heights alike. */
static ad_real rq_elem_backward(const rq_consts *c, const ad_real *sv, int k, ad_real x,
                                ad_real g, ad_real gl, int inverse, ad_real *gth)
{
    const int K = c->K;
    const ad_real *pw = sv, *ph = sv + K, *ds = sv + SAVED_D0(K);
    ad_real xk, xk1, yk, yk1, pw_below, ph_below;
    knot_pair(c, pw, c->mw, c->sw, k, &xk, &xk1, &pw_below);
    knot_pair(c, ph, c->mh, c->sh, k, &yk, &yk1, &ph_below);
    ad_real w = xk1 - xk, h = yk1 - yk, s = h / w, iw = 1 / w;
    ad_real d0 = ds[0], d1 = ds[1];
    ad_real sum = d0 + d1 - 2 * s;
    ad_real xi = (x - xk) * iw, omx = 1 - xi, t = xi * omx;
    ad_real num = s * xi * xi + d0 * t, den = s + sum * t;
    ad_real dnum = d1 * xi * xi + 2 * s * t + d0 * omx * omx;
    ad_real iden = 1 / den, idnum = 1 / dnum, iden2 = iden * iden;
    ad_real gprime = s * s * dnum * iden2;
    ad_real F_xi = w * gprime;
    ad_real F_s = h * (xi * xi * den - num * (1 - 2 * t)) * iden2;
    ad_real F_d0 = h * t * (den - num) * iden2, F_d1 = -h * t * num * iden2;
    ad_real L_xi = (2 * d1 * xi + 2 * s * (1 - 2 * xi) - 2 * d0 * omx) * idnum -
                   2 * sum * (1 - 2 * xi) * iden;
    ad_real L_s = 2 / s + 2 * t * idnum - 2 * (1 - 2 * t) * iden;
    ad_real L_d0 = omx * omx * idnum - 2 * t * iden, L_d1 = xi * xi * idnum - 2 * t * iden;
    ad_real alpha, beta, gx;
    if (inverse) {
        gx = (g - gl * L_xi * iw) / gprime;
        alpha = -gx;
        beta = -gl;
    } else {
        alpha = g;
        beta = gl;
        gx = (alpha * F_xi + beta * L_xi) * iw;
    }
    ad_real A_xi = alpha * F_xi + beta * L_xi, A_s = alpha * F_s + beta * L_s;
    ad_real g_xk = -A_xi * iw, g_w = -(xi * A_xi + s * A_s) * iw;
    ad_real g_yk = alpha, g_h = alpha * num * iden + A_s * iw;
    /* widths: G_i = 2B g_xk for i < k, 2B g_w at k, 0 above */
    ad_real Gl = c->two_b * g_xk, Gk = c->two_b * g_w;
    ad_real mean = Gl * pw_below + Gk * pw[k];
    for (int i = 0; i < K; i++)
        gth[i] = c->sw * pw[i] * ((i < k ? Gl : i == k ? Gk : 0) - mean);
    Gl = c->two_b * g_yk;
    Gk = c->two_b * g_h;
    mean = Gl * ph_below + Gk * ph[k];
    for (int i = 0; i < K; i++)
        gth[K + i] = c->sh * ph[i] * ((i < k ? Gl : i == k ? Gk : 0) - mean);
    for (int i = 2 * K; i < c->P; i++) gth[i] = 0;
    if (k > 0) gth[2 * K + k - 1] = (alpha * F_d0 + beta * L_d0) * ds[2];
    if (k + 1 < K) gth[2 * K + k] = (alpha * F_d1 + beta * L_d1) * ds[3];
    return gx;
}

int flow_spline_knots(const flow_spline_spec *s, const ad_real *theta, ad_real *xk,
                      ad_real *yk, ad_real *d)
{
    if (flow_spline_spec_check(s, NULL, NULL, 0) != AD_OK || !theta || !xk || !yk || !d)
        return AD_ERR_ARG;
    rq_consts c;
    consts_init(&c, s);
    ad_real pw[K_MAX], ph[K_MAX];
    if (!all_finite(theta, c.P)) return AD_ERR_NUMERIC;
    softmax(theta, c.K, pw);
    softmax(theta + c.K, c.K, ph);
    knots(&c, pw, c.mw, c.sw, xk);
    knots(&c, ph, c.mh, c.sh, yk);
    d[0] = d[c.K] = 1;
    for (int i = 1; i < c.K; i++) d[i] = slope(&c, theta[2 * c.K + i - 1], NULL);
    return AD_OK;
}

/* ---- the batch ------------------------------------------------------------ */

/* What one forward or backward task needs. */
typedef struct rq_job {
    const rq_consts *c;
    int batch, n, inverse;
    const ad_real *in;    /* [batch, n]: the op's input                        */
    const ad_real *theta; /* [batch, n * P]                                    */
    ad_real *out;         /* forward: [batch, n + 1], the op's output          */
    ad_real *saved;       /* [batch * n * SAVED_LEN(K)] for the backward, or NULL */
    int *bins;            /* [batch * n] saved bins (-1: tail), or NULL        */
    long *bad;            /* forward: per task, first non-finite element or -1 */
    /* backward */
    const ad_real *at;    /* where g was evaluated: the input (forward op,     */
    int at_stride;        /* stride n) or the output (inverse, stride n + 1)   */
    const ad_real *gout;  /* [batch, n + 1] the output's gradient              */
    ad_real *gin;         /* d/d input, or NULL                                */
    ad_real *gtheta;      /* d/d theta, or NULL                                */
    int fresh_in, fresh_theta; /* write (1) or add (0)                         */
} rq_job;

static void rq_forward_rows(void *ctx, int task, int worker)
{
    (void)worker;
    const rq_job *j = ctx;
    const rq_consts *c = j->c;
    const int n = j->n, K = c->K;
    int b1 = (task + 1) * RQ_CHUNK < j->batch ? (task + 1) * RQ_CHUNK : j->batch;
    ad_real sv_local[SAVED_LEN(K_MAX)];
    j->bad[task] = -1;
    for (int b = task * RQ_CHUNK; b < b1; b++) {
        double ld = 0; /* the row's log-det is summed in double in either build */
        for (int e = 0; e < n; e++) {
            size_t el = (size_t)b * n + e;
            ad_real *sv = j->saved ? j->saved + el * SAVED_LEN(K) : sv_local;
            int bin, finite;
            ld += rq_elem(c, j->theta + el * c->P, j->in[el], j->inverse, sv, &bin,
                          &j->out[(size_t)b * (n + 1) + e], &finite);
            if (j->bins) j->bins[el] = bin;
            if (!finite && j->bad[task] < 0) j->bad[task] = (long)el;
        }
        j->out[(size_t)b * (n + 1) + n] = (ad_real)(j->inverse ? -ld : ld);
    }
}

static void rq_backward_rows(void *ctx, int task, int worker)
{
    (void)worker;
    const rq_job *j = ctx;
    const rq_consts *c = j->c;
    const int n = j->n, K = c->K, P = c->P;
    int b1 = (task + 1) * RQ_CHUNK < j->batch ? (task + 1) * RQ_CHUNK : j->batch;
    ad_real gth_local[3 * K_MAX];
    for (int b = task * RQ_CHUNK; b < b1; b++) {
        const ad_real *grow = j->gout + (size_t)b * (n + 1);
        for (int e = 0; e < n; e++) {
            size_t el = (size_t)b * n + e;
            ad_real gx = grow[e];
            int k = j->bins[el];
            ad_real *gth = j->gtheta && j->fresh_theta ? j->gtheta + el * P : gth_local;
            if (k < 0) {
                if (j->gtheta && j->fresh_theta)
                    for (int i = 0; i < P; i++) gth[i] = 0;
            } else {
                gx = rq_elem_backward(c, j->saved + el * SAVED_LEN(K), k,
                                      j->at[(size_t)b * j->at_stride + e], grow[e], grow[n],
                                      j->inverse, gth);
                if (j->gtheta && !j->fresh_theta)
                    for (int i = 0; i < P; i++) j->gtheta[el * P + i] += gth[i];
            }
            if (j->gin) {
                if (j->fresh_in)
                    j->gin[el] = gx;
                else
                    j->gin[el] += gx;
            }
        }
    }
}

/* Split the rows over the pool when there is enough work. */
static void rq_run(rq_job *job, ad_task_fn fn)
{
    int tasks = (job->batch + RQ_CHUNK - 1) / RQ_CHUNK;
    if (ad_threads_get() == 1 || (double)job->batch * job->n * job->c->K < 20000) {
        for (int task = 0; task < tasks; task++) fn(job, task, 0);
        return;
    }
    ad_parallel_for(tasks, fn, job);
}

/* Saved state of one node. */
typedef struct rq_saved {
    rq_consts c;
    ad_real *saved;
    int *bins;
} rq_saved;

static void rq_backward(ad_tape *t, ad_node *nd)
{
    ad_tensor *x = nd->inputs[0], *theta = nd->inputs[1], *y = nd->output;
    const rq_saved *sv = nd->ctx;
    int inverse = nd->saved_int[0];
    /* x and theta differ in width (n vs n (3K - 1)), so never the same tensor */
    rq_job job = {.c = &sv->c, .batch = x->shape[0], .n = x->shape[1], .inverse = inverse,
                  .in = x->data, .theta = theta->data, .saved = sv->saved, .bins = sv->bins,
                  .at = inverse ? y->data : x->data, .at_stride = inverse ? x->shape[1] + 1
                                                                          : x->shape[1],
                  .gout = y->grad};
    job.gin = ad_node_grad_fresh(t, x, &job.fresh_in);
    job.gtheta = ad_node_grad_fresh(t, theta, &job.fresh_theta);
    if (!ad_tape_ok(t) || (!job.gin && !job.gtheta)) return;
    rq_run(&job, rq_backward_rows);
}

static const ad_op OP_RQ = {"spline_rq", rq_backward};
static const ad_op OP_RQ_INV = {"spline_rq_inv", rq_backward};

static ad_tensor *rq_op(ad_tape *t, const char *name, ad_tensor *x, ad_tensor *theta,
                        const flow_spline_spec *s, int inverse)
{
    ad_tensor *in[2] = {x, theta};
    if (!ad_op_begin(t, name, 2, in)) return ad_tape_poison(t);
    char why[160], got[64];
    if (flow_spline_spec_check(s, NULL, why, sizeof why) != AD_OK)
        return ad_tape_fail(t, AD_ERR_ARG, "%s: bad argument #3 (%s)", name, why);
    if (x->n_dims != 2)
        return ad_tape_fail(t, AD_ERR_SHAPE, "%s: bad argument #1 (shape %s, expected [batch, n])",
                            name, ad_shape_str(x->n_dims, x->shape, got, sizeof got));
    const int batch = x->shape[0], n = x->shape[1], P = flow_spline_n_params(s->bins);
    if (theta->n_dims != 2 || theta->shape[0] != batch || theta->shape[1] != n * P)
        return ad_tape_fail(t, AD_ERR_SHAPE, "%s: bad argument #2 (shape %s, expected [%d,%d]: "
                            "%d spline parameters per element of argument #1)", name,
                            ad_shape_str(theta->n_dims, theta->shape, got, sizeof got), batch,
                            n * P, P);
    ad_tensor *y = ad_tape_tensor(t, 2, (int[]){batch, n + 1});
    int tasks = (batch + RQ_CHUNK - 1) / RQ_CHUNK;
    long *bad = ad_tape_alloc(t, (size_t)(tasks > 0 ? tasks : 1) * sizeof *bad);
    rq_saved *sv = ad_tape_alloc(t, sizeof *sv);
    if (!y->valid || !bad || !sv) return ad_tape_poison(t);
    consts_init(&sv->c, s);
    ad_node *nd = ad_tape_record(t, inverse ? &OP_RQ_INV : &OP_RQ, y, 2, in);
    if (!y->valid) return ad_tape_poison(t); /* recording ran out of memory */
    rq_job job = {.c = &sv->c, .batch = batch, .n = n, .inverse = inverse, .in = x->data,
                  .theta = theta->data, .out = y->data, .bad = bad};
    if (nd) {
        /* what the backward needs, only when there will be one */
        size_t els = (size_t)batch * n;
        job.saved = ad_tape_alloc(t, (els * SAVED_LEN(s->bins) + 1) * sizeof(ad_real));
        job.bins = ad_tape_alloc(t, (els + 1) * sizeof(int));
        if (!job.saved || !job.bins) return ad_tape_poison(t);
        sv->saved = job.saved;
        sv->bins = job.bins;
        nd->ctx = sv;
        nd->saved_int[0] = inverse;
    }
    rq_run(&job, rq_forward_rows);
    for (int k = 0; k < tasks; k++)
        if (bad[k] >= 0) {
            long el = bad[k];
            const ad_real *th = theta->data + (size_t)el * P;
            int i = 0;
            while (i < P && isfinite(th[i])) i++;
            return ad_tape_fail(t, AD_ERR_NUMERIC, "%s: bad argument #2 (non-finite value %g at "
                                "row %ld, column %ld: the conditioner's output)", name,
                                (double)th[i], el / n, (el % n) * P + i);
        }
    return y;
}

ad_tensor *flow_spline_rq(ad_tape *t, ad_tensor *x, ad_tensor *theta, const flow_spline_spec *s)
{
    return rq_op(t, "flow_spline_rq", x, theta, s, 0);
}

ad_tensor *flow_spline_rq_inv(ad_tape *t, ad_tensor *y, ad_tensor *theta,
                              const flow_spline_spec *s)
{
    return rq_op(t, "flow_spline_rq_inv", y, theta, s, 1);
}
