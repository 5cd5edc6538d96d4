/* flow_check.c - contract, round-trip and log-determinant checks of a flow
 * layer, with derived tolerances (flow_check.h gives the formulas). */
#include "flow_check.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define EPS AD_REAL_EPS

flow_check_config flow_check_default(void)
{
    flow_check_config c = {.batch = 8, .z_scale = 1.0, .x_scale = 1.0, .rounding_steps = 64,
                           .seed = 1};
    return c;
}

static double max_abs_of(const ad_real *v, size_t n, double m)
{
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)v[i]));
    return m;
}

static int all_finite(const ad_real *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite((double)v[i])) return 0;
    return 1;
}

static int check_layer_arg(const char *fn, const flow_layer *l, char *msg, size_t len)
{
    if (!l) return ad_status_fail(msg, len, AD_ERR_ARG, "%s: l is NULL", fn);
    if (!l->ops || !l->ops->forward || !l->ops->inverse)
        return ad_status_fail(msg, len, AD_ERR_ARG, "%s: l->ops, forward or inverse is NULL", fn);
    if (l->dim_z <= 0 || l->dim_x <= 0 || l->dim_z > l->dim_x)
        return ad_status_fail(msg, len, AD_ERR_ARG,
                              "%s: dim_z = %d, dim_x = %d (need 0 < dim_z <= dim_x)", fn, l->dim_z,
                              l->dim_x);
    return AD_OK;
}

/* One pass of the layer on in [batch, width] without recording; checks the
 * shapes of the output and the log-det. */
static int layer_pass(const flow_layer *l, ad_tape *t, int inverse, const ad_real *in, int batch,
                      ad_tensor **out, ad_tensor **ld, const char *fn, char *msg, size_t len)
{
    int w_in = inverse ? l->dim_x : l->dim_z, w_out = inverse ? l->dim_z : l->dim_x;
    const char *dir = inverse ? "inverse" : "forward";
    ad_tensor *a = ad_constant(t, 2, (int[]){batch, w_in}, in);
    *ld = NULL;
    *out = inverse ? flow_layer_inverse(l, t, a, ld) : flow_layer_forward(l, t, a, ld);
    if (!ad_tape_ok(t))
        return fn ? ad_status_fail(msg, len, ad_tape_status(t), "%s: %s: %s", fn, dir,
                                   ad_tape_error(t))
                  : ad_status_fail(msg, len, ad_tape_status(t), "%s", ad_tape_error(t));
    const ad_tensor *o = *out, *d = *ld;
    if (!fn) fn = "flow_check_layer";
    if (!o || o->n_dims != 2 || o->shape[0] != batch || o->shape[1] != w_out)
        return ad_status_fail(msg, len, AD_ERR_SHAPE, "%s: %s returned %s (need [%d, %d])", fn, dir,
                              o ? "a tensor of another shape" : "NULL", batch, w_out);
    if (!d || d->n_dims != 1 || d->shape[0] != batch)
        return ad_status_fail(msg, len, AD_ERR_SHAPE, "%s: %s's log-det is %s (need [%d])", fn,
                              dir, d ? "of another shape" : "NULL", batch);
    return AD_OK;
}

int flow_check_roundtrip(const flow_layer *l, const ad_real *in, int batch, int inverse_first,
                         flow_roundtrip_stats *r, char *msg, size_t msg_len)
{
    static const char fn[] = "flow_check_roundtrip";
    int status = check_layer_arg(fn, l, msg, msg_len);
    if (status != AD_OK) return status;
    if (!in) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: in is NULL", fn);
    if (!r) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: r is NULL", fn);
    if (batch <= 0)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: batch = %d (need > 0)", fn, batch);
    ad_tape *t = ad_tape_new(0);
    if (!t) return ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", fn);
    ad_tape_set_grad_enabled(t, 0);
    ad_tensor *mid, *out, *lda, *ldb;
    status = layer_pass(l, t, inverse_first, in, batch, &mid, &lda, fn, msg, msg_len);
    if (status == AD_OK)
        status = layer_pass(l, t, !inverse_first, mid->data, batch, &out, &ldb, fn, msg, msg_len);
    if (status == AD_OK) {
        memset(r, 0, sizeof *r);
        for (size_t i = 0; i < out->size; i++)
            r->max_error = fmax(r->max_error, fabs((double)out->data[i] - (double)in[i]));
        for (int b = 0; b < batch; b++) {
            r->max_logdet_sum =
                fmax(r->max_logdet_sum, fabs((double)lda->data[b] + (double)ldb->data[b]));
            r->max_abs_logdet = fmax(r->max_abs_logdet, fabs((double)lda->data[b]));
        }
        r->max_abs = max_abs_of(out->data, out->size, max_abs_of(mid->data, mid->size, 0));
        r->max_abs = max_abs_of(in, out->size, r->max_abs);
        if (!all_finite(mid->data, mid->size) || !all_finite(out->data, out->size) ||
            !all_finite(lda->data, (size_t)batch) || !all_finite(ldb->data, (size_t)batch))
            r->max_error = r->max_logdet_sum = INFINITY;
    }
    ad_tape_free(t);
    return status;
}

double flow_logabsdet(double *a, int n, double *cond)
{
    if (n <= 0) {
        if (cond) *cond = 1;
        return 0;
    }
    if (!a) {
        if (cond) *cond = NAN;
        return NAN;
    }
    double norm = 0; /* 1-norm of a before factorising, for the condition number */
    for (int j = 0; j < n; j++) {
        double c = 0;
        for (int i = 0; i < n; i++) c += fabs(a[i * n + j]);
        norm = fmax(norm, c);
    }
    int *piv = ad_malloc((size_t)n * sizeof *piv);
    double *x = ad_malloc((size_t)n * sizeof *x);
    if (!piv || !x) {
        ad_free(piv);
        ad_free(x);
        if (cond) *cond = NAN;
        return NAN;
    }
    double logdet = 0;
    int singular = 0;
    for (int k = 0; k < n; k++) {
        int p = k;
        for (int i = k + 1; i < n; i++)
            if (fabs(a[i * n + k]) > fabs(a[p * n + k])) p = i;
        piv[k] = p;
        if (p != k)
            for (int j = 0; j < n; j++) {
                double tmp = a[k * n + j];
                a[k * n + j] = a[p * n + j];
                a[p * n + j] = tmp;
            }
        double d = a[k * n + k];
        if (d == 0) {
            singular = 1;
            break;
        }
        logdet += log(fabs(d));
        for (int i = k + 1; i < n; i++) {
            double f = a[i * n + k] /= d;
            for (int j = k + 1; j < n; j++) a[i * n + j] -= f * a[k * n + j];
        }
    }
    if (singular) {
        ad_free(piv);
        ad_free(x);
        if (cond) *cond = INFINITY;
        return -INFINITY;
    }
    /* ||a^-1||_1: column e of a^-1 solves a x = e_e, i.e. L U x = P e_e. */
    double inv_norm = 0;
    for (int e = 0; e < n; e++) {
        for (int i = 0; i < n; i++) x[i] = i == e;
        for (int k = 0; k < n; k++) { /* apply the row swaps, then L */
            double tmp = x[k];
            x[k] = x[piv[k]];
            x[piv[k]] = tmp;
        }
        for (int i = 0; i < n; i++)
            for (int j = 0; j < i; j++) x[i] -= a[i * n + j] * x[j];
        for (int i = n - 1; i >= 0; i--) {
            for (int j = i + 1; j < n; j++) x[i] -= a[i * n + j] * x[j];
            x[i] /= a[i * n + i];
        }
        double c = 0;
        for (int i = 0; i < n; i++) c += fabs(x[i]);
        inv_norm = fmax(inv_norm, c);
    }
    if (cond) *cond = norm * inv_norm;
    ad_free(x);
    ad_free(piv);
    return logdet;
}

static int check_square(const char *fn, const flow_layer *l, const ad_real *z, int batch,
                        double *ld_layer, double *ld_jac, char *msg, size_t len)
{
    int status = check_layer_arg(fn, l, msg, len);
    if (status != AD_OK) return status;
    if (l->dim_z != l->dim_x)
        return ad_status_fail(msg, len, AD_ERR_SHAPE,
                              "%s: dim_z = %d, dim_x = %d: the Jacobian is not square", fn,
                              l->dim_z, l->dim_x);
    if (!z || !ld_layer || !ld_jac)
        return ad_status_fail(msg, len, AD_ERR_ARG, "%s: %s is NULL", fn,
                              !z ? "z" : !ld_layer ? "ld_layer" : "ld_jac");
    if (batch <= 0)
        return ad_status_fail(msg, len, AD_ERR_ARG, "%s: batch = %d (need > 0)", fn, batch);
    return AD_OK;
}

int flow_check_jacobian_tape(const flow_layer *l, const ad_real *z, int batch, double *ld_layer,
                             double *ld_jac, double *cond, char *msg, size_t msg_len)
{
    static const char fn[] = "flow_check_jacobian_tape";
    int status = check_square(fn, l, z, batch, ld_layer, ld_jac, msg, msg_len);
    if (status != AD_OK) return status;
    int d = l->dim_z;
    ad_tape *t = ad_tape_new(0);
    double *jac = ad_malloc((size_t)batch * d * d * sizeof *jac);
    if (!t || !jac) {
        ad_tape_free(t);
        ad_free(jac);
        return ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", fn);
    }
    ad_tensor *zt = ad_tape_input(t, 2, (int[]){batch, d}, z), *ld = NULL;
    ad_tensor *x = flow_layer_forward(l, t, zt, &ld);
    /* Row i of every sample's Jacobian: backward from x[:, i] (the samples
     * are independent, so row b of z->grad is d x_bi / d z_b). */
    for (int i = 0; i < d && ad_tape_ok(t); i++) {
        ad_tensor *xi = ad_slice_cols(t, x, i, 1);
        if (!ad_tape_ok(t) || ad_backward(t, xi) != AD_OK) break;
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < d; j++)
                jac[((size_t)b * d + i) * d + j] = zt->grad[(size_t)b * d + j];
    }
    if (!ad_tape_ok(t)) {
        status = ad_status_fail(msg, msg_len, ad_tape_status(t), "%s: %s", fn, ad_tape_error(t));
    } else {
        for (int b = 0; b < batch; b++) {
            double c;
            ld_layer[b] = ld->data[b];
            ld_jac[b] = flow_logabsdet(jac + (size_t)b * d * d, d, &c);
            if (cond) cond[b] = c;
        }
    }
    ad_free(jac);
    ad_tape_free(t);
    return status;
}

int flow_check_jacobian_fd(const flow_layer *l, const ad_real *z, int batch, int rounding_steps,
                           double *ld_layer, double *ld_fd, double *tol, double *norm,
                           double *inv_norm, char *msg, size_t msg_len)
{
    static const char fn[] = "flow_check_jacobian_fd";
    int status = check_square(fn, l, z, batch, ld_layer, ld_fd, msg, msg_len);
    if (status != AD_OK) return status;
    if (rounding_steps <= 0)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: rounding_steps = %d (need > 0)", fn,
                              rounding_steps);
    int d = l->dim_z;
    /* Rows: the batch itself, then for every (b, j) z_b + s h_j e_j with
     * s = +1, -1, +2, -2, all in one pass. */
    size_t n_rows = (size_t)batch * (1 + 4 * (size_t)d);
    if (n_rows > (size_t)1 << 30)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: batch * dim too large", fn);
    ad_real *in = ad_malloc(n_rows * d * sizeof *in);
    double *jac = ad_malloc((size_t)d * d * sizeof *jac);
    double *err = ad_malloc((size_t)d * d * sizeof *err);
    ad_tape *t = ad_tape_new(0);
    if (!in || !jac || !err || !t) {
        status = ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", fn);
        goto done;
    }
    ad_tape_set_grad_enabled(t, 0);
    const double h0 = cbrt(EPS);
    static const double steps[4] = {1, -1, 2, -2};
    memcpy(in, z, (size_t)batch * d * sizeof *in);
    for (int b = 0; b < batch; b++)
        for (int j = 0; j < d; j++)
            for (int s = 0; s < 4; s++) {
                size_t row = (size_t)batch + ((size_t)b * d + j) * 4 + s;
                ad_real *r = in + row * d;
                memcpy(r, z + (size_t)b * d, (size_t)d * sizeof *r);
                double h = h0 * fmax(1, fabs((double)z[(size_t)b * d + j]));
                r[j] = (ad_real)((double)r[j] + steps[s] * h);
            }
    ad_tensor *x, *ld;
    status = layer_pass(l, t, 0, in, (int)n_rows, &x, &ld, fn, msg, msg_len);
    if (status != AD_OK) goto done;
    double k_eps = rounding_steps * EPS;
    for (int b = 0; b < batch; b++) {
        const ad_real *x0 = x->data + (size_t)b * d;
        for (int j = 0; j < d; j++) {
            /* the step actually taken (z_j + h rounded) */
            size_t base = (size_t)batch + ((size_t)b * d + j) * 4;
            double zp = in[(base + 0) * d + j], zm = in[(base + 1) * d + j];
            double zp2 = in[(base + 2) * d + j], zm2 = in[(base + 3) * d + j];
            for (int i = 0; i < d; i++) {
                const ad_real *xr = x->data + base * d + i;
                double xp = xr[0], xm = xr[d], xp2 = xr[2 * d], xm2 = xr[3 * d];
                double dh = (xp - xm) / (zp - zm), d2h = (xp2 - xm2) / (zp2 - zm2);
                jac[i * d + j] = dh;
                err[i * d + j] = fabs(dh - d2h) / 3 +
                                 k_eps * fmax(1, fabs((double)x0[i])) / (0.5 * (zp - zm));
            }
        }
        double e_norm = 0, j_norm = 0;
        for (int j = 0; j < d; j++) {
            double ce = 0, cj = 0;
            for (int i = 0; i < d; i++) {
                ce += err[i * d + j];
                cj += fabs(jac[i * d + j]);
            }
            e_norm = fmax(e_norm, ce);
            j_norm = fmax(j_norm, cj);
        }
        double cond;
        ld_layer[b] = ld->data[b];
        ld_fd[b] = flow_logabsdet(jac, d, &cond);
        double jinv = j_norm > 0 ? cond / j_norm : INFINITY;
        if (tol) tol[b] = 2 * d * jinv * e_norm + 16.0 * d * EPS * (cond + fabs(ld_fd[b]));
        if (norm) norm[b] = j_norm;
        if (inv_norm) inv_norm[b] = jinv;
    }
done:
    ad_tape_free(t);
    ad_free(in);
    ad_free(jac);
    ad_free(err);
    return status;
}

/* ---- flow_check_layer ---- */

typedef struct checker {
    flow_check_report *rep;
    char *msg;
    size_t len;
    const char *name;
} checker;

static void fail_check(checker *c, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    c->rep->n_failed++;
    c->rep->passed = 0;
    if (!c->rep->first_failure[0]) {
        snprintf(c->rep->first_failure, sizeof c->rep->first_failure, "%s", buf);
        ad_status_fail(c->msg, c->len, AD_ERR_NUMERIC, "flow_check_layer: %s: %s", c->name, buf);
    }
}

/* The batch against the rows one at a time (forward), within tol. */
static int check_rows(const flow_layer *l, const ad_real *z, int batch, const ad_tensor *x,
                      const ad_tensor *ld, double tol, checker *c)
{
    ad_tape *t = ad_tape_new(0);
    if (!t) return ad_status_fail(c->msg, c->len, AD_ERR_NOMEM, "flow_check_layer: out of memory");
    ad_tape_set_grad_enabled(t, 0);
    int status = AD_OK;
    for (int b = 0; b < batch; b++) {
        ad_tape_reset(t);
        ad_tensor *xb, *ldb;
        status = layer_pass(l, t, 0, z + (size_t)b * l->dim_z, 1, &xb, &ldb, "flow_check_layer",
                            c->msg, c->len);
        if (status != AD_OK) break;
        double e = fabs((double)ldb->data[0] - (double)ld->data[b]);
        for (int i = 0; i < l->dim_x; i++)
            e = fmax(e, fabs((double)xb->data[i] - (double)x->data[(size_t)b * l->dim_x + i]));
        if (!(e <= tol)) {
            fail_check(c, "contract: row %d alone differs from the batch by %.3g (tol %.3g): "
                          "rows must not interact", b, e, tol);
            c->rep->contract_ok = 0;
            break;
        }
    }
    ad_tape_free(t);
    return status;
}

int flow_check_layer(const flow_layer *l, const flow_check_config *cfg, flow_check_report *report,
                     char *msg, size_t msg_len)
{
    static const char fn[] = "flow_check_layer";
    flow_check_report local;
    flow_check_report *rep = report ? report : &local;
    memset(rep, 0, sizeof *rep);
    rep->passed = 0;
    rep->roundtrip_x_error = rep->logdet_fd_error = rep->logdet_fd_tol = NAN;
    rep->roundtrip_x_tol = rep->logdet_fd_ratio = NAN;
    if (!cfg) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: cfg is NULL", fn);
    if (cfg->batch <= 0)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: cfg->batch = %d (need > 0)", fn,
                              cfg->batch);
    if (!(cfg->z_scale > 0) || !isfinite(cfg->z_scale))
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: cfg->z_scale = %g (need finite > 0)",
                              fn, cfg->z_scale);
    if (!(cfg->x_scale >= 0) || !isfinite(cfg->x_scale))
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: cfg->x_scale = %g (need finite >= 0)",
                              fn, cfg->x_scale);
    if (cfg->rounding_steps <= 0)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG,
                              "%s: cfg->rounding_steps = %d (need > 0)", fn, cfg->rounding_steps);
    int status = check_layer_arg(fn, l, msg, msg_len);
    if (status != AD_OK) return status;
    rep->passed = 1;
    rep->contract_ok = 1;
    checker c = {rep, msg, msg_len, flow_layer_name(l) ? flow_layer_name(l) : "layer"};
    int batch = cfg->batch, dz = l->dim_z, dx = l->dim_x, square = dz == dx;
    ad_real *z = ad_malloc((size_t)batch * dz * sizeof *z);
    ad_real *xin = ad_malloc((size_t)batch * dx * sizeof *xin);
    double *ld = ad_malloc((size_t)batch * 5 * sizeof *ld);
    ad_tape *t = ad_tape_new(0);
    if (!z || !xin || !ld || !t) {
        status = ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", fn);
        goto done;
    }
    double *ld_fd = ld + batch, *tol = ld + 2 * batch, *nrm = ld + 3 * batch,
           *inv = ld + 4 * batch;
    ad_rng rng;
    ad_rng_seed(&rng, cfg->seed, 11);
    ad_rng_fill_normal(&rng, z, (size_t)batch * dz, 0, (ad_real)cfg->z_scale);
    ad_rng_fill_normal(&rng, xin, (size_t)batch * dx, 0, (ad_real)fmax(cfg->x_scale, 1e-300));

    /* 1. contract: shapes, finite values, rows independent */
    ad_tape_set_grad_enabled(t, 0);
    ad_tensor *x, *ldf, *zback, *ldi;
    char why[200];
    if (layer_pass(l, t, 0, z, batch, &x, &ldf, NULL, why, sizeof why) != AD_OK ||
        layer_pass(l, t, 1, x->data, batch, &zback, &ldi, NULL, why, sizeof why) != AD_OK) {
        rep->contract_ok = 0;
        fail_check(&c, "contract: %s", why);
        goto finish;
    }
    if (!all_finite(x->data, x->size) || !all_finite(ldf->data, ldf->size)) {
        rep->contract_ok = 0;
        fail_check(&c, "contract: forward gave a non-finite value for finite z");
        goto finish;
    }
    for (int b = 0; b < batch; b++)
        rep->max_abs_logdet = fmax(rep->max_abs_logdet, fabs((double)ldf->data[b]));

    /* the amplification A: from the FD Jacobian for a square layer */
    double A = 1;
    if (square) {
        status = flow_check_jacobian_fd(l, z, batch, cfg->rounding_steps, ld, ld_fd, tol, nrm, inv,
                                        msg, msg_len);
        if (status != AD_OK) goto done;
        for (int b = 0; b < batch; b++) A = fmax(A, fmax(nrm[b], inv[b]));
    } else {
        A = fmax(A, exp(rep->max_abs_logdet));
    }
    if (!isfinite(A)) A = 1 / EPS; /* a singular Jacobian fails the log-det check below */
    rep->amplification = A;
    double k_eps = cfg->rounding_steps * EPS;

    /* 2-3. round trips and the log-det sum */
    flow_roundtrip_stats rz, rx;
    status = flow_check_roundtrip(l, z, batch, 0, &rz, msg, msg_len);
    if (status != AD_OK) goto done;
    rep->roundtrip_z_error = rz.max_error;
    rep->roundtrip_z_tol = k_eps * (1 + A) * fmax(1, rz.max_abs);
    rep->logdet_sum_error = rz.max_logdet_sum;
    rep->logdet_sum_tol = k_eps * (rz.max_abs_logdet + (1 + A) * fmax(1, rz.max_abs));
    status = check_rows(l, z, batch, x, ldf, rep->roundtrip_z_tol, &c);
    if (status != AD_OK) goto done;
    if (!(rz.max_error <= rep->roundtrip_z_tol))
        fail_check(&c, "inverse(forward(z)) differs from z by %.3g (tol %.3g)", rz.max_error,
                   rep->roundtrip_z_tol);
    if (!(rz.max_logdet_sum <= rep->logdet_sum_tol))
        fail_check(&c, "logdet_forward(z) + logdet_inverse(forward(z)) = %.3g (tol %.3g): the "
                       "inverse's log-det must be minus the forward's",
                   rz.max_logdet_sum, rep->logdet_sum_tol);
    if (square && cfg->x_scale > 0) {
        status = flow_check_roundtrip(l, xin, batch, 1, &rx, msg, msg_len);
        if (status != AD_OK) goto done;
        rep->roundtrip_x_error = rx.max_error;
        rep->roundtrip_x_tol = k_eps * (1 + A) * fmax(1, rx.max_abs);
        if (!(rx.max_error <= rep->roundtrip_x_tol))
            fail_check(&c, "forward(inverse(x)) differs from x by %.3g (tol %.3g)", rx.max_error,
                       rep->roundtrip_x_tol);
    }

    /* 4. the log-det against the finite-difference Jacobian */
    if (square) {
        rep->logdet_fd_ratio = 0;
        rep->logdet_fd_error = 0;
        int worst = 0;
        for (int b = 0; b < batch; b++) {
            double e = fabs(ld[b] - ld_fd[b]);
            double r = e / tol[b];
            if (!(r <= rep->logdet_fd_ratio)) {
                rep->logdet_fd_ratio = r;
                worst = b;
            }
            rep->logdet_fd_error = fmax(rep->logdet_fd_error, e);
        }
        rep->logdet_fd_tol = tol[worst];
        if (!(rep->logdet_fd_ratio <= 1))
            fail_check(&c, "row %d: forward log-det %.10g, log|det J| by finite differences "
                           "%.10g (|diff| %.3g > tol %.3g)",
                       worst, ld[worst], ld_fd[worst], fabs(ld[worst] - ld_fd[worst]),
                       tol[worst]);
    }
finish:
    status = rep->passed ? AD_OK : AD_ERR_NUMERIC;
done:
    if (status != AD_OK && status != AD_ERR_NUMERIC) rep->passed = 0;
    ad_tape_free(t);
    ad_free(z);
    ad_free(xin);
    ad_free(ld);
    return status;
}
