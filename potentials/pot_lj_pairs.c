/* pot_lj_pairs.c - the fused repulsive pair energy and its composed twin. */
#include "pot_lj_pairs.h"

#include <math.h>
#include <string.h>

int pot_pairs_all(int n_particles, const int *exclude, int n_exclude, int *out)
{
    int n = 0;
    for (int i = 0; i < n_particles; i++)
        for (int j = i + 1; j < n_particles; j++) {
            int skip = 0;
            for (int e = 0; e < n_exclude && !skip; e++)
                skip = (exclude[2 * e] == i && exclude[2 * e + 1] == j) ||
                       (exclude[2 * e] == j && exclude[2 * e + 1] == i);
            if (skip) continue;
            if (out) {
                out[2 * n] = i;
                out[2 * n + 1] = j;
            }
            n++;
        }
    return n;
}

/* Shared argument checks; returns 1 when usable (else the tape holds the error). */
static int check_pairs(ad_tape *t, const char *op, ad_tensor *x, const pot_pairs *pp,
                       double eps, double sigma)
{
    if (!ad_op_begin(t, op, 1, &x)) return 0;
    if (!pp || pp->space_dim < 1 || pp->n_pairs < 0 || (pp->n_pairs > 0 && !pp->pairs)) {
        ad_tape_fail(t, AD_ERR_ARG, "%s: bad argument #3 (pair list NULL or empty fields)", op);
        return 0;
    }
    if (x->n_dims != 2 || x->shape[1] % pp->space_dim != 0) {
        char buf[64];
        ad_shape_str(x->n_dims, x->shape, buf, sizeof buf);
        ad_tape_fail(t, AD_ERR_SHAPE, "%s: bad argument #2 (shape %s, expected [batch, "
                     "n_particles*%d])", op, buf, pp->space_dim);
        return 0;
    }
    if (!(isfinite(eps) && isfinite(sigma) && sigma > 0)) {
        ad_tape_fail(t, AD_ERR_ARG, "%s: bad arguments #4, #5 (eps %g, sigma %g)", op, eps, sigma);
        return 0;
    }
    int n_particles = x->shape[1] / pp->space_dim;
    for (int p = 0; p < 2 * pp->n_pairs; p++)
        if (pp->pairs[p] < 0 || pp->pairs[p] >= n_particles ||
            (p % 2 == 1 && pp->pairs[p] == pp->pairs[p - 1])) {
            ad_tape_fail(t, AD_ERR_ARG, "%s: bad argument #3 (pair %d = (%d,%d), %d particles)",
                         op, p / 2, pp->pairs[p - p % 2], pp->pairs[p - p % 2 + 1], n_particles);
            return 0;
        }
    return 1;
}

/* Saved state of one fused node. */
typedef struct lj_ctx {
    int space_dim, n_pairs;
    int *pairs;
} lj_ctx;

/* Rows per parallel task (fixed: a row is always computed by one task, so
 * the thread count cannot change a result). */
#define LJ_CHUNK 32

/* What one forward or backward task needs. */
typedef struct lj_job {
    const ad_real *x;     /* [batch, cols]                        */
    const ad_real *gy;    /* backward: d loss / d E [batch]        */
    ad_real *out;         /* forward: E [batch]; backward: dx      */
    int batch, cols, space_dim, n_pairs;
    const int *pairs;
    ad_real eps, s2, r2_min;
} lj_job;

/* Far pairs.  A pair whose term q^6 (forward) or force coefficient
 * 12 g q^6 / r^2 = 12 g q^7 / sigma^2 (backward, g = dL/dE eps) falls below
 * the smallest normal ad_real is skipped: its contribution is below
 * anything the sums can hold next to a pair at a physical distance, and
 * computing it in subnormal numbers costs the x86 processors a microcode
 * assist per operation (in float, from q < 2^-21, i.e. r > 1450 sigma, a
 * distance the samples of a flow early in training by energy reach: such
 * pairs made the float dimer_kl workload's energy 5 times slower).  In
 * double the forward bound is q < 2^-170 (r > 10^25 sigma) and the backward
 * one q < 10^-40 (r > 10^20 sigma) for any |g| above 10^-20: never met at
 * physical distances.
 * The bounds carry a factor 16 of margin for the rounding of the products. */
#define LJ_TINY (16 * AD_REAL_MIN)

/* The forward pass's bound on q: q^6 >= LJ_TINY above it. */
static ad_real lj_q_min_forward(void) { return (ad_real)pow(LJ_TINY, 1.0 / 6); }

/* The backward pass's bound on q for a row with g = dL/dE eps: the force
 * coefficient 12 |g| q^7 / s2 >= LJ_TINY above it. */
static ad_real lj_q_min_backward(ad_real g, ad_real s2)
{
    return (ad_real)pow(LJ_TINY * (double)s2 / (12 * fabs((double)g)), 1.0 / 7);
}

/* Split the rows of a job over the pool when there is enough work. */
static void lj_run(lj_job *job, ad_task_fn fn)
{
    int tasks = (job->batch + LJ_CHUNK - 1) / LJ_CHUNK;
    if (ad_threads_get() == 1 || (double)job->batch * job->n_pairs < 20000) {
        for (int task = 0; task < tasks; task++) fn(job, task, 0);
        return;
    }
    ad_parallel_for(tasks, fn, job);
}

/* E_b = eps sum_p q_p^6 with q_p = sigma^2 / max(r_p^2, floor sigma^2).
 * dE_b/dr_i = eps sum_p dq^6/dr^2 * 2 (r_i - r_j) = -12 eps sum_p q_p^6 / r_p^2 (r_i - r_j),
 * and the opposite for r_j; 0 for pairs at the floor (the clamp is flat).
 * dx += dy_b * dE_b/dx   (recomputes r^2 from x; nothing per pair is stored) */
static void lj_backward_rows(void *ctx, int task, int worker)
{
    (void)worker;
    const lj_job *c = ctx;
    const ad_real s2 = c->s2, r2_min = c->r2_min;
    const int cols = c->cols, sd = c->space_dim;
    const ad_real *gy = c->gy;
    int b1 = (task + 1) * LJ_CHUNK < c->batch ? (task + 1) * LJ_CHUNK : c->batch;
    for (int b = task * LJ_CHUNK; b < b1; b++) {
        const ad_real *row = c->x + (size_t)b * cols;
        ad_real *grow = c->out + (size_t)b * cols;
        ad_real g = gy[b] * c->eps;
        if (g == 0) continue;
        const ad_real q_min = lj_q_min_backward(g, s2);
        if (sd == 2) {
            /* The common 2-D case, unrolled.  The gradient of particle i is
             * summed in registers over consecutive pairs sharing i (lists
             * from pot_pairs_all are grouped so), which removes the
             * load-add-store chain on one address from the inner loop. */
            int cur = -1;
            ad_real fx = 0, fy = 0;
            for (int p = 0; p < c->n_pairs; p++) {
                int i = 2 * c->pairs[2 * p], j = 2 * c->pairs[2 * p + 1];
                if (i != cur) {
                    if (cur >= 0) {
                        grow[cur] += fx;
                        grow[cur + 1] += fy;
                    }
                    cur = i;
                    fx = fy = 0;
                }
                ad_real dx = row[i] - row[j], dy = row[i + 1] - row[j + 1];
                ad_real r2 = dx * dx + dy * dy;
                if (r2 < r2_min) continue;
                ad_real inv = 1 / r2, q = s2 * inv;
                if (q < q_min) continue; /* a far pair (above); NaN goes on */
                ad_real q3 = q * q * q;
                ad_real coef = -12 * g * q3 * q3 * inv;
                fx += coef * dx;
                fy += coef * dy;
                grow[j] -= coef * dx;
                grow[j + 1] -= coef * dy;
            }
            if (cur >= 0) {
                grow[cur] += fx;
                grow[cur + 1] += fy;
            }
            continue;
        }
        for (int p = 0; p < c->n_pairs; p++) {
            int i = c->pairs[2 * p] * sd, j = c->pairs[2 * p + 1] * sd;
            ad_real r2 = 0;
            for (int k = 0; k < sd; k++) {
                ad_real d = row[i + k] - row[j + k];
                r2 += d * d;
            }
            if (r2 < r2_min) continue;
            ad_real q = s2 / r2;
            if (q < q_min) continue;
            ad_real q3 = q * q * q;
            ad_real coef = -12 * g * q3 * q3 / r2;
            for (int k = 0; k < sd; k++) {
                ad_real f = coef * (row[i + k] - row[j + k]);
                grow[i + k] += f;
                grow[j + k] -= f;
            }
        }
    }
}

static void lj_backward(ad_tape *t, ad_node *n)
{
    ad_tensor *x = n->inputs[0];
    ad_real *gx = ad_node_grad(t, x);
    if (!gx) return;
    const lj_ctx *c = n->ctx;
    const ad_real s2 = n->saved[1] * n->saved[1];
    lj_job job = {x->data, n->output->grad, gx, x->shape[0], x->shape[1], c->space_dim,
                  c->n_pairs, c->pairs, n->saved[0], s2, (ad_real)POT_LJ_R2_FLOOR * s2};
    lj_run(&job, lj_backward_rows);
}
static const ad_op OP_LJ_PAIRS = {"lj_pairs", lj_backward};

/* E_b for the rows of one task. */
static void lj_forward_rows(void *ctx, int task, int worker)
{
    (void)worker;
    const lj_job *c = ctx;
    const ad_real s2 = c->s2, r2_min = c->r2_min;
    const int cols = c->cols, sd = c->space_dim;
    const ad_real q_min = lj_q_min_forward();
    ad_real *y = c->out;
    int b1 = (task + 1) * LJ_CHUNK < c->batch ? (task + 1) * LJ_CHUNK : c->batch;
    for (int b = task * LJ_CHUNK; b < b1; b++) {
        const ad_real *row = c->x + (size_t)b * cols;
        /* the sum over pairs in double whatever ad_real is: hundreds of
         * positive terms of very different sizes */
        double e = 0;
        for (int p = 0; p < c->n_pairs; p++) {
            int i = c->pairs[2 * p] * sd, j = c->pairs[2 * p + 1] * sd;
            ad_real r2;
            if (sd == 2) {
                ad_real dx = row[i] - row[j], dy = row[i + 1] - row[j + 1];
                r2 = dx * dx + dy * dy;
            } else {
                r2 = 0;
                for (int k = 0; k < sd; k++) {
                    ad_real d = row[i + k] - row[j + k];
                    r2 += d * d;
                }
            }
            if (r2 < r2_min) r2 = r2_min; /* NaN passes through unchanged */
            ad_real q = s2 / r2;
            if (q < q_min) continue; /* a far pair (above) */
            ad_real q3 = q * q * q;
            e += q3 * q3;
        }
        y[b] = (ad_real)(c->eps * e);
    }
}

ad_tensor *pot_lj_pairs(ad_tape *t, ad_tensor *x, const pot_pairs *pp, double eps, double sigma)
{
    if (!check_pairs(t, "pot_lj_pairs", x, pp, eps, sigma)) return ad_tape_poison(t);
    int batch = x->shape[0], cols = x->shape[1], sd = pp->space_dim;
    ad_tensor *y = ad_tape_tensor(t, 1, &batch);
    if (!y->valid) return y;
    const ad_real s2 = (ad_real)(sigma * sigma);
    lj_job job = {x->data, NULL, y->data, batch, cols, sd, pp->n_pairs, pp->pairs,
                  (ad_real)eps, s2, (ad_real)POT_LJ_R2_FLOOR * s2};
    lj_run(&job, lj_forward_rows);
    ad_node *n = ad_tape_record(t, &OP_LJ_PAIRS, y, 1, &x);
    if (n) {
        lj_ctx *c = ad_tape_alloc(t, sizeof *c);
        int *copy = ad_tape_alloc(t, (size_t)pp->n_pairs * 2 * sizeof(int) + 1);
        if (!c || !copy) return ad_tape_poison(t);
        if (pp->n_pairs) memcpy(copy, pp->pairs, (size_t)pp->n_pairs * 2 * sizeof(int));
        c->space_dim = sd;
        c->n_pairs = pp->n_pairs;
        c->pairs = copy;
        n->ctx = c;
        n->saved[0] = (ad_real)eps;
        n->saved[1] = (ad_real)sigma;
    }
    return y;
}

ad_tensor *pot_lj_pairs_composed(ad_tape *t, ad_tensor *x, const pot_pairs *pp, double eps,
                                 double sigma)
{
    if (!check_pairs(t, "pot_lj_pairs_composed", x, pp, eps, sigma)) return ad_tape_poison(t);
    int batch = x->shape[0], np = pp->n_pairs, sd = pp->space_dim;
    if (np == 0) return ad_zeros(t, 1, &batch);
    int *ci = ad_tape_alloc(t, (size_t)np * sizeof(int));
    int *cj = ad_tape_alloc(t, (size_t)np * sizeof(int));
    if (!ci || !cj) return ad_tape_poison(t);
    ad_tensor *r2 = NULL;
    for (int k = 0; k < sd; k++) {
        for (int p = 0; p < np; p++) {
            ci[p] = pp->pairs[2 * p] * sd + k;
            cj[p] = pp->pairs[2 * p + 1] * sd + k;
        }
        ad_tensor *d = ad_sub(t, ad_gather_cols(t, x, ci, np), ad_gather_cols(t, x, cj, np));
        ad_tensor *d2 = ad_square(t, d);
        r2 = r2 ? ad_add(t, r2, d2) : d2;
    }
    /* (r^2 / sigma^2)^-6 with r^2 floored as in the fused op */
    ad_tensor *rho = ad_clamp(t, ad_scale(t, r2, (ad_real)(1 / (sigma * sigma))),
                              (ad_real)POT_LJ_R2_FLOOR, (ad_real)INFINITY);
    return ad_scale(t, ad_sum_axis(t, ad_pow(t, rho, -6), 1), (ad_real)eps);
}
