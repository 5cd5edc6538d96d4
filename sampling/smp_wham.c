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
    double *c;     /* [n_windows * n_bins] exp(log_c) (0 if it underflows) */
    double *H;     /* [n_bins] counts over all windows                    */
    double *logN;  /* [n_windows] log N_k (-inf for an empty window)      */
    double *f;     /* [n_windows] window free energies, f_0 = 0           */
    double *logp;  /* [n_bins] log p_j, sum_j p_j = 1                     */
    double *tmp;   /* [2 * n_scratch] scratch                             */
    size_t n_scratch; /* max(n_windows, n_bins)                           */
    double *acc;   /* [(5 + 2 WHAM_DEPTH) n_windows] Anderson history     */
} wham_work;

/* Residuals kept by the Anderson mixing of wham_solve. */
#define WHAM_DEPTH 5

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

/* Terms more than LSE_CUT below the largest are skipped in a log-sum-exp:
 * together they change the sum by less than n e^-50 = n 2e-22 relative,
 * below double rounding, and with harmonic windows only the few windows
 * near a bin (or bins near a window) are within the cut, so most
 * exponentials are avoided. */
#define LSE_CUT 50.0

/* log sum_i exp(a_i + b[i * stride]) over i < n, -inf terms skipped. */
static double lse_pair(const double *a, const double *b, size_t stride, int n)
{
    double mx = -INFINITY, s = 0.0;
    for (int i = 0; i < n; i++) {
        double t = a[i] + b[(size_t)i * stride];
        if (t > mx) mx = t;
    }
    if (mx == -INFINITY) return -INFINITY;
    for (int i = 0; i < n; i++) {
        double t = a[i] + b[(size_t)i * stride];
        if (t > mx - LSE_CUT) s += exp(t - mx);
    }
    return mx + log(s);
}

/* Below this a shifted linear sum may have lost precision to underflow
 * (subnormals start at 2.2e-308); the log-space lse_pair is used instead. */
#define WHAM_TINY 1e-280

/* The same value as lse_pair(a, log_m, stride, n), computed as the linear
 * sum amax + log sum_i e_i m_i with e_i = exp(a_i - amax) and
 * m_i = exp(log_m_i) precomputed, i.e. without exponentials; exact unless
 * the sum underflows, in which case lse_pair is called. */
static double fast_lse(const double *e, const double *m, const double *a, const double *log_m,
                       size_t stride, int n, double amax)
{
    double s = 0.0;
    for (int i = 0; i < n; i++) s += e[i] * m[(size_t)i * stride];
    return s > WHAM_TINY ? amax + log(s) : lse_pair(a, log_m, stride, n);
}

/* One WHAM iteration g = G(f): log p from f, then the new window free
 * energies from log p, shifted so g_0 = 0.  Every quantity is a logarithm
 * and every sum a log-sum-exp (fast_lse), so nothing under- or overflows
 * however large the free-energy range; only O(n_windows + n_bins)
 * exponentials are needed while the shifted linear sums are accurate. */
static void wham_map(wham_work *w, const double *f, double *g)
{
    int K = w->n_windows, nb = w->n_bins;
    double *a = w->tmp, *e = w->tmp + w->n_scratch;
    /* log p_j = log H_j - LSE_k(log N_k + f_k - b_k(x_j)/kT) */
    double amax = -INFINITY;
    for (int k = 0; k < K; k++) {
        a[k] = w->logN[k] + f[k];
        if (a[k] > amax) amax = a[k];
    }
    for (int k = 0; k < K; k++) e[k] = exp(a[k] - amax);
    for (int j = 0; j < nb; j++)
        w->logp[j] = w->H[j] > 0 ? log(w->H[j]) - fast_lse(e, w->c + j, a, w->log_c + j,
                                                           (size_t)nb, K, amax)
                                 : -INFINITY;
    double norm = lse(w->logp, nb);
    for (int j = 0; j < nb; j++) w->logp[j] -= norm;
    /* g_k = -LSE_j(log p_j - b_k(x_j)/kT); max log p_j <= 0 now */
    double pmax = -INFINITY;
    for (int j = 0; j < nb; j++)
        if (w->logp[j] > pmax) pmax = w->logp[j];
    for (int j = 0; j < nb; j++) e[j] = exp(w->logp[j] - pmax);
    for (int k = 0; k < K; k++)
        g[k] = -fast_lse(e, w->c + (size_t)k * nb, w->logp, w->log_c + (size_t)k * nb, 1, nb, pmax);
    double g0 = g[0];
    for (int k = 0; k < K; k++) g[k] -= g0;
}

/* Solves the m x m system A x = b in place (Gaussian elimination with
 * partial pivoting); returns 0 when A is numerically singular. */
static int solve_small(double *A, double *b, int m)
{
    for (int c = 0; c < m; c++) {
        int piv = c;
        for (int r = c + 1; r < m; r++)
            if (fabs(A[r * m + c]) > fabs(A[piv * m + c])) piv = r;
        if (!(fabs(A[piv * m + c]) > 1e-300)) return 0;
        for (int k = 0; k < m; k++) {
            double t = A[c * m + k];
            A[c * m + k] = A[piv * m + k];
            A[piv * m + k] = t;
        }
        double t = b[c];
        b[c] = b[piv];
        b[piv] = t;
        for (int r = c + 1; r < m; r++) {
            double l = A[r * m + c] / A[c * m + c];
            for (int k = c; k < m; k++) A[r * m + k] -= l * A[c * m + k];
            b[r] -= l * b[c];
        }
    }
    for (int c = m - 1; c >= 0; c--) {
        for (int k = c + 1; k < m; k++) b[c] -= A[c * m + k] * b[k];
        b[c] /= A[c * m + c];
    }
    return 1;
}

/* Iterates f <- G(f) until max_k |G(f)_k - f_k| < tol.  The plain WHAM
 * iteration converges linearly and slowly (thousands of iterations for a
 * few dozen well-overlapping windows); Anderson mixing over the last
 * WHAM_DEPTH residuals r = G(f) - f takes
 *     f <- G(f) - sum_i gamma_i dG_i,  gamma = argmin |r - sum_i gamma_i dR_i|
 * (dR, dG: differences of successive residuals and images), which needs tens
 * of iterations.  History slots 0..m-1 are in use (head cycles over them
 * once m = WHAM_DEPTH; a reset sets m = head = 0).  A non-finite step or a residual 1e3 times the
 * best so far resets the history (plain steps again). */
static int wham_solve(wham_work *w, double tol, int max_iter, int *n_iter, double *change)
{
    int K = w->n_windows, m = 0, head = 0;
    double *g = w->acc, *r = g + K, *g_prev = r + K, *r_prev = g_prev + K;
    double *dG = r_prev + K, *dR = dG + (size_t)WHAM_DEPTH * K;
    double A[WHAM_DEPTH * WHAM_DEPTH], gamma[WHAM_DEPTH], best = INFINITY;
    for (int it = 1; it <= max_iter; it++) {
        wham_map(w, w->f, g);
        double delta = 0.0;
        for (int k = 0; k < K; k++) {
            r[k] = g[k] - w->f[k];
            double d = fabs(r[k]);
            if (!(d <= delta)) delta = d; /* NaN propagates into delta */
        }
        *n_iter = it;
        *change = delta;
        if (!isfinite(delta)) return AD_ERR_NUMERIC;
        if (delta < tol) {
            memcpy(w->f, g, (size_t)K * sizeof *g);
            return AD_OK;
        }
        if (delta > 1e3 * best) m = head = 0; /* diverging: restart the history */
        if (delta < best) best = delta;
        if (it > 1) {
            for (int k = 0; k < K; k++) {
                dR[(size_t)head * K + k] = r[k] - r_prev[k];
                dG[(size_t)head * K + k] = g[k] - g_prev[k];
            }
            head = (head + 1) % WHAM_DEPTH;
            if (m < WHAM_DEPTH) m++;
        }
        memcpy(r_prev, r, (size_t)K * sizeof *r);
        memcpy(g_prev, g, (size_t)K * sizeof *g);
        memcpy(w->f, g, (size_t)K * sizeof *g); /* the plain step */
        if (m == 0) continue;
        /* normal equations (dR^T dR + eps) gamma = dR^T r; the history slots
         * in use are 0..m-1 (their order does not matter) */
        double trace = 0.0;
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < m; j++) {
                double s = 0.0;
                for (int k = 0; k < K; k++) s += dR[(size_t)i * K + k] * dR[(size_t)j * K + k];
                A[i * m + j] = s;
            }
            double s = 0.0;
            for (int k = 0; k < K; k++) s += dR[(size_t)i * K + k] * r[k];
            gamma[i] = s;
            trace += A[i * m + i];
        }
        for (int i = 0; i < m; i++) A[i * m + i] += 1e-12 * trace / m + 1e-300;
        if (!solve_small(A, gamma, m)) continue;
        int finite = 1;
        for (int k = 0; k < K; k++) {
            double fk = g[k];
            for (int i = 0; i < m; i++) fk -= gamma[i] * dG[(size_t)i * K + k];
            finite &= isfinite(fk);
            w->acc[(size_t)(4 + 2 * WHAM_DEPTH) * K + k] = fk;
        }
        if (finite)
            memcpy(w->f, w->acc + (size_t)(4 + 2 * WHAM_DEPTH) * K, (size_t)K * sizeof *g);
        else
            m = head = 0;
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
    if (!cfg || !win || !out)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: NULL argument", fn);
    *out = NULL;
    if (K < 1)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: n_windows = %d (need >= 1)", fn, K);
    if (cfg->n_bins <= 0)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: n_bins = %d (need > 0)", fn,
                              cfg->n_bins);
    if (!isfinite(cfg->lo) || !isfinite(cfg->hi) || !(cfg->lo < cfg->hi))
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: lo = %g, hi = %g (need finite lo < hi)",
                              fn, cfg->lo, cfg->hi);
    if (!(cfg->kT > 0) || !isfinite(cfg->kT))
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: kT = %g (need finite > 0)", fn,
                              cfg->kT);
    if (!(cfg->tol >= 0) || !isfinite(cfg->tol))
        return ad_status_fail(msg, msg_len, AD_ERR_ARG,
                              "%s: tol = %g (need finite >= 0; 0: 1e-10)", fn, cfg->tol);
    if (cfg->max_iter < 0)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG,
                              "%s: max_iter = %d (need >= 0; 0: 200000)", fn, cfg->max_iter);
    if (cfg->n_blocks < 0)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: n_blocks = %d (need >= 0)", fn,
                              cfg->n_blocks);
    if (!isfinite(cfg->r_split))
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: r_split = %g (need finite)", fn,
                              cfg->r_split);
    for (int k = 0; k < K; k++) {
        if (win[k].n < 0 || (win[k].n > 0 && !win[k].r))
            return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: window %d: n = %ld with r %s", fn,
                                  k, win[k].n, win[k].r ? "given" : "NULL");
        if (!(win[k].k >= 0) || !isfinite(win[k].k))
            return ad_status_fail(msg, msg_len, AD_ERR_ARG,
                                  "%s: window %d: k = %g (need finite >= 0)", fn, k, win[k].k);
        if (!isfinite(win[k].center))
            return ad_status_fail(msg, msg_len, AD_ERR_ARG,
                                  "%s: window %d: center = %g (need finite)", fn, k,
                                  win[k].center);
        if (cfg->n_blocks >= 2 && win[k].n < cfg->n_blocks)
            return ad_status_fail(msg, msg_len, AD_ERR_ARG,
                                  "%s: window %d has %ld samples for %d blocks", fn, k, win[k].n,
                                  cfg->n_blocks);
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

smp_wham_config smp_wham_config_default(double lo, double hi, double kT)
{
    smp_wham_config c = {.n_bins = 50, .lo = lo, .hi = hi, .kT = kT, .tol = 1e-10,
                         .max_iter = 200000, .r_split = (lo + hi) / 2, .n_blocks = 0};
    return c;
}

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
    /* log_c, c, H, logN, f, logp, tmp, f_full, blk_F, blk_dF, col, acc */
    size_t n_doubles = 2 * (size_t)K * nb + 2 * (size_t)nb + 3 * (size_t)K + 2 * scratch +
                       (5 + 2 * (size_t)WHAM_DEPTH) * K +
                       (size_t)nblk * ((size_t)nb + 2);
    double *mem = ad_malloc(n_doubles * sizeof *mem);
    smp_wham_result *res = result_new(cfg, K);
    if (!mem || !res) {
        rc = ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", fn);
        goto done;
    }
    wham_work w = {K, nb, mem, mem + (size_t)K * nb, NULL, NULL, NULL, NULL, NULL, scratch, NULL};
    w.H = w.c + (size_t)K * nb;
    w.logN = w.H + nb;
    w.f = w.logN + K;
    w.logp = w.f + K;
    w.tmp = w.logp + nb;
    double *f_full = w.tmp + 2 * scratch;             /* [K]                   */
    double *blk_F = f_full + K;                       /* [nblk * nb]           */
    double *blk_dF = blk_F + (size_t)nblk * nb;       /* [nblk]                */
    double *col = blk_dF + nblk;                      /* [nblk]                */
    w.acc = col + nblk;                               /* Anderson history      */
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
        rc = ad_status_fail(msg, msg_len, AD_ERR_NUMERIC, "%s: no sample inside [%g, %g]", fn,
                            cfg->lo, cfg->hi);
        goto done;
    }
    rc = wham_solve(&w, tol, max_iter, &res->n_iter, &res->max_change);
    if (rc != AD_OK) {
        rc = ad_status_fail(msg, msg_len, AD_ERR_NUMERIC,
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
        rc = ad_status_fail(msg, msg_len, AD_ERR_NUMERIC,
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
            rc = ad_status_fail(msg, msg_len, AD_ERR_NUMERIC,
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
