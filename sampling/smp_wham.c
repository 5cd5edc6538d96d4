/* smp_wham.c - WHAM for harmonic umbrella windows along one coordinate, in
 * log space, with block standard errors (equations in smp_wham.h). */
#include "sampling/smp_wham.h"

#include <math.h>
#include <string.h>

#include "autodiff/ad_alloc.h"
#include "sampling/smp_analysis_impl.h"

/* Working arrays of one WHAM solution. */
typedef struct wham_work {
    int n_windows, n_bins;
    double *log_c; /* [n_windows * n_bins] -b_k(x_j) / kT                 */
    double *c;     /* [n_windows * n_bins] exp(log_c) (0 where it underflows) */
    double *H;     /* [n_bins] counts over all windows                    */
    double *logN;  /* [n_windows] log N_k (-inf for an empty window)      */
    double *f;     /* [n_windows] window free energies, f_0 = 0           */
    double *logp;  /* [n_bins] log p_j, sum_j p_j = 1                     */
    double *tmp;   /* [3 * n_scratch] scratch                             */
    size_t n_scratch; /* max(n_windows, n_bins)                           */
} wham_work;

/* log sum exp over the entries of a[n] that are > -inf (-inf if none). */
static double lse(const double *a, int n)
{
    double mx = -INFINITY, s = 0.0;
    for (int i = 0; i < n; i++)
        if (a[i] > mx) mx = a[i];
    if (mx == -INFINITY) return -INFINITY;
    for (int i = 0; i < n; i++)
        if (a[i] > -INFINITY) s += exp(a[i] - mx);
    return mx + log(s);
}

/* Counts H_j and N_k of block `block` of n_blocks (n_blocks = 1: all). */
static void wham_histogram(const smp_wham_config *cfg, const smp_wham_window *win, wham_work *w,
                           int block, int n_blocks, long *used, long *outside)
{
    double h = (cfg->hi - cfg->lo) / cfg->n_bins;
    memset(w->H, 0, (size_t)w->n_bins * sizeof *w->H);
    *used = *outside = 0;
    for (int k = 0; k < w->n_windows; k++) {
        long from = win[k].n * block / n_blocks, to = win[k].n * (block + 1) / n_blocks, nk = 0;
        for (long i = from; i < to; i++) {
            double r = (double)win[k].r[i];
            if (!(r >= cfg->lo && r <= cfg->hi)) { /* also drops NaN */
                (*outside)++;
                continue;
            }
            int j = (int)((r - cfg->lo) / h);
            w->H[j >= cfg->n_bins ? cfg->n_bins - 1 : j] += 1.0;
            nk++;
        }
        w->logN[k] = nk > 0 ? log((double)nk) : -INFINITY;
        *used += nk;
    }
}

/* Below this a shifted linear-space sum may have lost precision to
 * underflow (subnormals start at 2.2e-308); the exact log-space sum is then
 * used instead. */
#define WHAM_TINY 1e-280

/* log sum_i exp(a_i + log_m_i) for one row/column of the bias matrix, given
 * e_i = exp(a_i - amax) and m_i = exp(log_m_i): the fast linear-space form
 * amax + log sum_i e_i m_i, falling back to the exact log-sum-exp when the
 * linear sum is too small to be accurate. */
static double shifted_lse(const double *e, const double *m, const double *a, const double *log_m,
                          size_t stride, int n, double amax, double *tmp)
{
    double s = 0.0;
    for (int i = 0; i < n; i++) s += e[i] * m[(size_t)i * stride];
    if (s > WHAM_TINY) return amax + log(s);
    for (int i = 0; i < n; i++) tmp[i] = a[i] + log_m[(size_t)i * stride];
    return lse(tmp, n);
}

/* Iterates the WHAM equations from the current f until max |delta f| < tol.
 * Every quantity is kept as a logarithm; the sums over windows and bins are
 * evaluated as shifted linear sums (exact fallback in shifted_lse), which
 * needs O(n_windows + n_bins) exponentials per iteration instead of
 * O(n_windows n_bins). */
static int wham_solve(wham_work *w, double tol, int max_iter, int *n_iter, double *change)
{
    int K = w->n_windows, nb = w->n_bins;
    double *a = w->tmp, *e = w->tmp + w->n_scratch, *tmp = w->tmp + 2 * w->n_scratch;
    double delta = INFINITY;
    for (int it = 1; it <= max_iter; it++) {
        /* log p_j = log H_j - LSE_k(log N_k + f_k - b_k(x_j)/kT) */
        double amax = -INFINITY;
        for (int k = 0; k < K; k++) {
            a[k] = w->logN[k] + w->f[k];
            if (a[k] > amax) amax = a[k];
        }
        for (int k = 0; k < K; k++) e[k] = exp(a[k] - amax);
        for (int j = 0; j < nb; j++)
            w->logp[j] = w->H[j] > 0 ? log(w->H[j]) - shifted_lse(e, w->c + j, a, w->log_c + j, (size_t)nb,
                                                                  K, amax, tmp)
                                     : -INFINITY;
        double norm = lse(w->logp, nb);
        for (int j = 0; j < nb; j++) w->logp[j] -= norm;
        /* f_k = -LSE_j(log p_j - b_k(x_j)/kT), then shifted so f_0 = 0;
         * max log p_j <= 0 after the normalisation */
        double pmax = -INFINITY;
        for (int j = 0; j < nb; j++)
            if (w->logp[j] > pmax) pmax = w->logp[j];
        for (int j = 0; j < nb; j++) e[j] = exp(w->logp[j] - pmax);
        double f0 = 0.0;
        delta = 0.0;
        for (int k = 0; k < K; k++) {
            double fk = -shifted_lse(e, w->c + (size_t)k * nb, w->logp, w->log_c + (size_t)k * nb, 1,
                                     nb, pmax, tmp);
            if (k == 0) f0 = fk;
            fk -= f0;
            double d = fabs(fk - w->f[k]);
            if (!(d <= delta)) delta = d; /* NaN propagates into delta */
            w->f[k] = fk;
        }
        *n_iter = it;
        *change = delta;
        if (delta < tol) return AD_OK;
        if (!isfinite(delta)) return AD_ERR_NUMERIC;
    }
    return AD_ERR_NUMERIC;
}

/* dF = F_B - F_A = LSE_{A} log p - LSE_{B} log p (A: centres < r_split). */
static double wham_delta_f(const smp_wham_config *cfg, const wham_work *w, const ad_real *center)
{
    double la = -INFINITY, lb = -INFINITY;
    for (int j = 0; j < w->n_bins; j++) {
        double *side = (double)center[j] < cfg->r_split ? &la : &lb;
        double a = *side, b = w->logp[j];
        if (b == -INFINITY) continue;
        *side = a > b ? a + log1p(exp(b - a)) : b + log1p(exp(a - b));
    }
    return la - lb;
}

static int check_input(const smp_wham_config *cfg, const smp_wham_window *win, int K,
                       smp_wham_result **out, char *msg, size_t msg_len)
{
    static const char fn[] = "smp_wham_run";
    if (!cfg || !win || !out) return smp_fail(msg, msg_len, AD_ERR_ARG, "%s: NULL argument", fn);
    *out = NULL;
    if (K < 1) return smp_fail(msg, msg_len, AD_ERR_ARG, "%s: n_windows = %d (need >= 1)", fn, K);
    if (cfg->n_bins <= 0)
        return smp_fail(msg, msg_len, AD_ERR_ARG, "%s: n_bins = %d (need > 0)", fn, cfg->n_bins);
    if (!isfinite(cfg->lo) || !isfinite(cfg->hi) || !(cfg->lo < cfg->hi))
        return smp_fail(msg, msg_len, AD_ERR_ARG, "%s: range [%g, %g] (need finite lo < hi)", fn,
                        cfg->lo, cfg->hi);
    if (!(cfg->kT > 0) || !isfinite(cfg->kT))
        return smp_fail(msg, msg_len, AD_ERR_ARG, "%s: kT = %g (need finite > 0)", fn, cfg->kT);
    if (cfg->tol < 0 || cfg->max_iter < 0 || cfg->n_blocks < 0)
        return smp_fail(msg, msg_len, AD_ERR_ARG, "%s: tol %g, max_iter %d, n_blocks %d (need >= 0)",
                        fn, cfg->tol, cfg->max_iter, cfg->n_blocks);
    if (!isfinite(cfg->r_split))
        return smp_fail(msg, msg_len, AD_ERR_ARG, "%s: r_split = %g (need finite)", fn, cfg->r_split);
    for (int k = 0; k < K; k++) {
        if (win[k].n < 0 || (win[k].n > 0 && !win[k].r))
            return smp_fail(msg, msg_len, AD_ERR_ARG, "%s: window %d: n = %ld with r %s", fn, k,
                            win[k].n, win[k].r ? "given" : "NULL");
        if (!(win[k].k >= 0) || !isfinite(win[k].k) || !isfinite(win[k].center))
            return smp_fail(msg, msg_len, AD_ERR_ARG, "%s: window %d: k = %g, center = %g", fn, k,
                            win[k].k, win[k].center);
        if (cfg->n_blocks >= 2 && win[k].n < cfg->n_blocks)
            return smp_fail(msg, msg_len, AD_ERR_ARG, "%s: window %d has %ld samples for %d blocks",
                            fn, k, win[k].n, cfg->n_blocks);
    }
    return AD_OK;
}

static smp_wham_result *result_new(const smp_wham_config *cfg, int K)
{
    size_t nb = (size_t)cfg->n_bins;
    smp_wham_result *res = ad_malloc(sizeof *res + (3 * nb + (size_t)K) * sizeof(ad_real));
    if (!res) return NULL;
    memset(res, 0, sizeof *res);
    ad_real *base = (ad_real *)(res + 1);
    res->center = base;
    res->F = base + nb;
    res->F_se = base + 2 * nb;
    res->f_window = base + 3 * nb;
    res->n_bins = cfg->n_bins;
    res->n_windows = K;
    double h = (cfg->hi - cfg->lo) / cfg->n_bins;
    for (size_t j = 0; j < nb; j++) {
        res->center[j] = (ad_real)(cfg->lo + (j + 0.5) * h);
        res->F_se[j] = NAN;
    }
    res->dF_se = NAN;
    return res;
}

void smp_wham_result_free(smp_wham_result *res) { ad_free(res); }

int smp_wham_run(const smp_wham_config *cfg, const smp_wham_window *windows, int n_windows,
                 smp_wham_result **out, char *msg, size_t msg_len)
{
    static const char fn[] = "smp_wham_run";
    int rc = check_input(cfg, windows, n_windows, out, msg, msg_len);
    if (rc != AD_OK) return rc;
    int K = n_windows, nb = cfg->n_bins, nblk = cfg->n_blocks >= 2 ? cfg->n_blocks : 0;
    double tol = cfg->tol > 0 ? cfg->tol : 1e-10;
    int max_iter = cfg->max_iter > 0 ? cfg->max_iter : 200000;
    double h = (cfg->hi - cfg->lo) / nb;
    size_t scratch = (size_t)(K > nb ? K : nb);
    /* log_c, c, H, logN, f, logp, tmp, f_full, blk_F, blk_dF, col */
    size_t n_doubles = 2 * (size_t)K * nb + 2 * (size_t)nb + 3 * (size_t)K + 3 * scratch +
                       (size_t)nblk * ((size_t)nb + 2);
    double *mem = ad_malloc(n_doubles * sizeof *mem);
    smp_wham_result *res = result_new(cfg, K);
    if (!mem || !res) {
        rc = smp_fail(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", fn);
        goto done;
    }
    wham_work w = {K, nb, mem, mem + (size_t)K * nb, NULL, NULL, NULL, NULL, NULL, scratch};
    w.H = w.c + (size_t)K * nb;
    w.logN = w.H + nb;
    w.f = w.logN + K;
    w.logp = w.f + K;
    w.tmp = w.logp + nb;
    double *f_full = w.tmp + 3 * scratch;             /* [K]                   */
    double *blk_F = f_full + K;                       /* [nblk * nb]           */
    double *blk_dF = blk_F + (size_t)nblk * nb;       /* [nblk]                */
    double *col = blk_dF + nblk;                      /* [nblk]                */
    for (int k = 0; k < K; k++) {
        for (int j = 0; j < nb; j++) {
            double d = (double)res->center[j] - windows[k].center;
            w.log_c[(size_t)k * nb + j] = -0.5 * windows[k].k * d * d / cfg->kT;
            w.c[(size_t)k * nb + j] = exp(w.log_c[(size_t)k * nb + j]);
        }
        w.f[k] = 0.0;
    }
    wham_histogram(cfg, windows, &w, 0, 1, &res->n_used, &res->n_outside);
    if (res->n_used == 0) {
        rc = smp_fail(msg, msg_len, AD_ERR_NUMERIC, "%s: no sample inside [%g, %g]", fn, cfg->lo,
                      cfg->hi);
        goto done;
    }
    rc = wham_solve(&w, tol, max_iter, &res->n_iter, &res->max_change);
    if (rc != AD_OK) {
        rc = smp_fail(msg, msg_len, AD_ERR_NUMERIC,
                      "%s: not converged after %d iterations (max |delta f| %.3g, tol %.3g)", fn,
                      res->n_iter, res->max_change, tol);
        goto done;
    }
    double fmin = INFINITY;
    for (int j = 0; j < nb; j++) {
        res->F[j] = (ad_real)(-(w.logp[j] - log(h)));
        if (res->F[j] < fmin) fmin = res->F[j];
    }
    for (int j = 0; j < nb; j++) res->F[j] -= (ad_real)fmin; /* inf stays inf */
    for (int k = 0; k < K; k++) res->f_window[k] = (ad_real)(f_full[k] = w.f[k]);
    res->dF = wham_delta_f(cfg, &w, res->center);
    if (!isfinite(res->dF)) {
        rc = smp_fail(msg, msg_len, AD_ERR_NUMERIC,
                      "%s: a state has no weight (no sample with r %s r_split = %g)", fn,
                      res->dF > 0 ? ">=" : "<", cfg->r_split);
        goto done;
    }
    /* Blocks: WHAM on block b of every window, started from the full f. */
    for (int b = 0; b < nblk; b++) {
        long used, outside;
        int iters;
        double change;
        wham_histogram(cfg, windows, &w, b, nblk, &used, &outside);
        memcpy(w.f, f_full, (size_t)K * sizeof *w.f);
        if (used == 0 || wham_solve(&w, tol, max_iter, &iters, &change) != AD_OK) {
            rc = smp_fail(msg, msg_len, AD_ERR_NUMERIC,
                          "%s: block %d of %d: %s", fn, b, nblk,
                          used == 0 ? "no sample in range" : "WHAM did not converge");
            goto done;
        }
        for (int j = 0; j < nb; j++) blk_F[(size_t)b * nb + j] = -(w.logp[j] - log(h));
        blk_dF[b] = wham_delta_f(cfg, &w, res->center);
    }
    if (nblk) {
        /* blocks are (nearly) independent estimates of the same quantity:
         * SE of their mean, which the full-data estimate approximates */
        int used;
        double sd = smp_std_finite(blk_dF, nblk, &used);
        res->dF_se = used >= 2 ? sd / sqrt((double)used) : NAN;
        for (int j = 0; j < nb; j++) {
            for (int b = 0; b < nblk; b++) col[b] = blk_F[(size_t)b * nb + j];
            sd = smp_std_finite(col, nblk, &used);
            res->F_se[j] = (isfinite((double)res->F[j]) && used >= 2)
                               ? (ad_real)(sd / sqrt((double)used))
                               : (ad_real)NAN;
        }
    }
done:
    ad_free(mem);
    if (rc != AD_OK) {
        smp_wham_result_free(res);
        return rc;
    }
    *out = res;
    return AD_OK;
}
