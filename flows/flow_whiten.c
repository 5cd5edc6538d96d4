/* flow_whiten.c - PCA whitening and the Jacobi eigensolver it uses. */
#include "flow_whiten.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int flow_eigh(ad_real *a, int n, ad_real *w, ad_real *v)
{
    /* Cyclic Jacobi (Golub & Van Loan 8.5): rotate away each off-diagonal
     * a_pq with tau = (a_qq - a_pp) / (2 a_pq), t = sign(tau) / (|tau| +
     * sqrt(1 + tau^2)), c = 1/sqrt(1+t^2), s = t c; A <- J^T A J, V <- V J.
     * Quadratic convergence: a handful of sweeps reach the rounding level. */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) v[(size_t)i * n + j] = i == j;
    double norm = 0;
    for (size_t i = 0; i < (size_t)n * n; i++) norm += (double)a[i] * a[i];
    if (!isfinite(norm)) return AD_ERR_NUMERIC;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0;
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++)
                off += (double)a[(size_t)p * n + q] * a[(size_t)p * n + q];
        if (off <= 1e-34 * norm || off == 0) break;
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) {
                ad_real apq = a[(size_t)p * n + q];
                if (apq == 0) continue;
                ad_real tau = (a[(size_t)q * n + q] - a[(size_t)p * n + p]) / (2 * apq);
                ad_real t =
                    (tau >= 0 ? 1 : -1) / (AD_MATH(fabs)(tau) + AD_MATH(sqrt)(1 + tau * tau));
                ad_real c = 1 / AD_MATH(sqrt)(1 + t * t), s = t * c;
                for (int k = 0; k < n; k++) { /* columns p, q of A J */
                    ad_real akp = a[(size_t)k * n + p], akq = a[(size_t)k * n + q];
                    a[(size_t)k * n + p] = c * akp - s * akq;
                    a[(size_t)k * n + q] = s * akp + c * akq;
                }
                for (int k = 0; k < n; k++) { /* rows p, q of J^T (A J) */
                    ad_real apk = a[(size_t)p * n + k], aqk = a[(size_t)q * n + k];
                    a[(size_t)p * n + k] = c * apk - s * aqk;
                    a[(size_t)q * n + k] = s * apk + c * aqk;
                }
                for (int k = 0; k < n; k++) {
                    ad_real vkp = v[(size_t)k * n + p], vkq = v[(size_t)k * n + q];
                    v[(size_t)k * n + p] = c * vkp - s * vkq;
                    v[(size_t)k * n + q] = s * vkp + c * vkq;
                }
            }
    }
    for (int i = 0; i < n; i++) w[i] = a[(size_t)i * n + i];
    /* Selection sort, descending, moving eigenvector columns along. */
    for (int i = 0; i < n; i++) {
        int best = i;
        for (int j = i + 1; j < n; j++)
            if (w[j] > w[best]) best = j;
        if (best == i) continue;
        ad_real tmp = w[i];
        w[i] = w[best];
        w[best] = tmp;
        for (int k = 0; k < n; k++) {
            tmp = v[(size_t)k * n + i];
            v[(size_t)k * n + i] = v[(size_t)k * n + best];
            v[(size_t)k * n + best] = tmp;
        }
    }
    return AD_OK;
}

int flow_whiten_fit(const ad_real *data, int n, int dim, int keep, ad_real *mean,
                    ad_real *vectors, ad_real *sqrt_lambda, char *msg, size_t msg_len)
{
    if (!data || !mean || !vectors || !sqrt_lambda || dim < 1 || n < 2 || keep < 0 ||
        keep > dim) {
        if (msg && msg_len)
            snprintf(msg, msg_len, "flow_whiten_fit: bad arguments (n = %d >= 2, dim = %d >= 1, "
                     "0 <= keep = %d <= dim required)", n, dim, keep);
        return AD_ERR_ARG;
    }
    if (keep == 0) keep = dim;
    size_t d = (size_t)dim;
    ad_real *cov = ad_calloc(d * d, sizeof(ad_real));
    ad_real *vec = ad_malloc(d * d * sizeof(ad_real));
    ad_real *w = ad_malloc(d * sizeof(ad_real));
    int status = cov && vec && w ? AD_OK : AD_ERR_NOMEM;
    if (status == AD_OK) {
        for (size_t j = 0; j < d; j++) mean[j] = 0;
        for (int i = 0; i < n; i++)
            for (size_t j = 0; j < d; j++) mean[j] += data[(size_t)i * d + j];
        for (size_t j = 0; j < d; j++) mean[j] /= n;
        for (int i = 0; i < n; i++) {
            const ad_real *row = data + (size_t)i * d;
            for (size_t j = 0; j < d; j++)
                for (size_t k = j; k < d; k++)
                    cov[j * d + k] += (row[j] - mean[j]) * (row[k] - mean[k]);
        }
        for (size_t j = 0; j < d; j++)
            for (size_t k = j; k < d; k++) cov[k * d + j] = cov[j * d + k] /= (n - 1);
        status = flow_eigh(cov, dim, w, vec);
        if (status != AD_OK && msg && msg_len)
            snprintf(msg, msg_len, "flow_whiten_fit: the data contain non-finite values");
    } else if (msg && msg_len) {
        snprintf(msg, msg_len, "flow_whiten_fit: out of memory");
    }
    if (status == AD_OK) {
        ad_real zero_level = (ad_real)dim * (ad_real)AD_REAL_EPS * (w[0] > 0 ? w[0] : 0);
        for (int j = 0; j < keep; j++)
            if (!(w[j] > zero_level)) {
                if (msg && msg_len)
                    snprintf(msg, msg_len, "flow_whiten_fit: eigenvalue %d of the covariance is "
                             "%.3g, not positive (zero to rounding below %.3g); keep at most %d "
                             "components", j, (double)w[j], (double)zero_level, j);
                status = AD_ERR_NUMERIC;
                break;
            }
    }
    if (status == AD_OK) {
        for (size_t i = 0; i < d; i++)
            for (int j = 0; j < keep; j++) vectors[i * keep + j] = vec[i * d + j];
        for (int j = 0; j < keep; j++) sqrt_lambda[j] = AD_MATH(sqrt)(w[j]);
    }
    ad_free(cov);
    ad_free(vec);
    ad_free(w);
    return status;
}

typedef struct flow_whiten {
    flow_layer base;         /* dim_x = dim, dim_z = keep          */
    ad_tensor *mean;         /* [dim], fixed                       */
    ad_tensor *vectors;      /* [dim, keep], fixed                 */
    ad_tensor *sqrt_lambda;  /* [keep], fixed                      */
} flow_whiten;

/* 1/2 sum log lambda_j = sum log sqrt(lambda_j), from the current values
 * (which a checkpoint may have replaced). */
static ad_real half_log_det(const flow_whiten *w)
{
    double s = 0; /* in double whatever ad_real is */
    for (size_t j = 0; j < w->sqrt_lambda->size; j++) s += AD_MATH(log)(w->sqrt_lambda->data[j]);
    return (ad_real)s;
}

/* x = (z * lambda^1/2) V^T + mu;  log|det dx/dz| = +1/2 sum log lambda */
static ad_tensor *whiten_forward(const flow_layer *l, ad_tape *t, ad_tensor *z, ad_tensor **logdet)
{
    const flow_whiten *w = (const flow_whiten *)l;
    *logdet = flow_logdet_constant(t, z->shape[0], half_log_det(w));
    ad_tensor *scaled = ad_mul(t, z, w->sqrt_lambda);
    return ad_add(t, ad_matmul(t, scaled, w->vectors, 0, 1), w->mean);
}

/* z = ((x - mu) V) / lambda^1/2;  log|det dz/dx| = -1/2 sum log lambda */
static ad_tensor *whiten_inverse(const flow_layer *l, ad_tape *t, ad_tensor *x, ad_tensor **logdet)
{
    const flow_whiten *w = (const flow_whiten *)l;
    *logdet = flow_logdet_constant(t, x->shape[0], -half_log_det(w));
    ad_tensor *proj = ad_matmul(t, ad_sub(t, x, w->mean), w->vectors, 0, 0);
    return ad_div(t, proj, w->sqrt_lambda);
}

static void whiten_free(flow_layer *l) { ad_free(l); }

static const flow_layer_ops WHITEN_OPS = {"whitening", whiten_forward, whiten_inverse, NULL,
                                          whiten_free};

flow_layer *flow_whiten_new(nn_params *p, const flow_whiten_config *cfg, char *msg,
                            size_t msg_len)
{
    if (!p || !cfg) {
        if (msg && msg_len) snprintf(msg, msg_len, "flow_whiten_new: bad arguments (NULL)");
        return NULL;
    }
    if (cfg->dim < 1 || cfg->keep < 0 || cfg->keep > cfg->dim) {
        if (msg && msg_len)
            snprintf(msg, msg_len, "flow_whiten_new: %s (dim = %d, keep = %d; need dim >= 1, "
                     "0 <= keep <= dim)", cfg->dim < 1 ? "dim" : "keep", cfg->dim, cfg->keep);
        return NULL;
    }
    int dim = cfg->dim, keep = cfg->keep ? cfg->keep : cfg->dim;
    size_t d = (size_t)dim, k = (size_t)keep;
    ad_real *mean = ad_calloc(d, sizeof(ad_real));
    ad_real *vectors = ad_calloc(d * k, sizeof(ad_real));
    ad_real *sqrt_lambda = ad_calloc(k, sizeof(ad_real));
    flow_whiten *w = ad_calloc(1, sizeof *w);
    int status = mean && vectors && sqrt_lambda && w ? AD_OK : AD_ERR_NOMEM;
    if (status != AD_OK) {
        if (msg && msg_len) snprintf(msg, msg_len, "flow_whiten_new: out of memory");
    } else if (cfg->data) {
        status = flow_whiten_fit(cfg->data, cfg->n_samples, dim, keep, mean, vectors, sqrt_lambda,
                                 msg, msg_len);
    } else { /* placeholder: mu = 0, V = first `keep` unit vectors, lambda = 1 */
        for (size_t j = 0; j < k; j++) {
            vectors[j * k + j] = 1;
            sqrt_lambda[j] = 1;
        }
    }
    if (status == AD_OK) {
        w->mean = nn_params_add_fixed(p, "whiten.mean", 1, (int[]){dim}, mean);
        w->vectors = nn_params_add_fixed(p, "whiten.vectors", 2, (int[]){dim, keep}, vectors);
        w->sqrt_lambda = nn_params_add_fixed(p, "whiten.sqrt_lambda", 1, (int[]){keep},
                                             sqrt_lambda);
        if (!w->mean || !w->vectors || !w->sqrt_lambda) {
            status = AD_ERR_NOMEM;
            if (msg && msg_len) snprintf(msg, msg_len, "flow_whiten_new: out of memory");
        }
    }
    ad_free(mean);
    ad_free(vectors);
    ad_free(sqrt_lambda);
    if (status != AD_OK) {
        ad_free(w);
        return NULL;
    }
    w->base.ops = &WHITEN_OPS;
    w->base.dim_x = dim;
    w->base.dim_z = keep;
    return &w->base;
}
