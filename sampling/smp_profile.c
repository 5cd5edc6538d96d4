/* smp_profile.c - weighted histogram and Gaussian KDE free-energy profiles
 * with bootstrap standard errors, and the cross-validated KDE bandwidth. */
#include "sampling/smp_profile.h"

#include <math.h>
#include <string.h>

#include "autodiff/ad_alloc.h"
#include "autodiff/ad_rng.h"
#include "sampling/smp_analysis_impl.h"

/* Kernels are cut at KDE_CUT bandwidths: exp(-KDE_CUT^2 / 2) = 2.6e-18 is
 * below double rounding relative to the kernel's peak. */
#define KDE_CUT 9.0

static const double SQRT_2PI = 2.5066282746310002;

static int check_config(const smp_profile_config *cfg, const ad_real *r, int n, int kde,
                        smp_profile **out, const char *fn, char *msg, size_t msg_len)
{
    if (!cfg || !r || !out)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: NULL argument", fn);
    *out = NULL;
    if (n <= 0)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: n = %d samples (need n > 0)", fn, n);
    if (cfg->n_bins <= 0)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: n_bins = %d (need n_bins > 0)", fn,
                              cfg->n_bins);
    if (!isfinite(cfg->lo) || !isfinite(cfg->hi) || !(cfg->lo < cfg->hi))
        return ad_status_fail(msg, msg_len, AD_ERR_ARG,
                              "%s: lo = %g, hi = %g (need finite lo < hi)", fn, cfg->lo, cfg->hi);
    if (cfg->boot.n_bootstrap < 0)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: boot.n_bootstrap = %d (need >= 0)",
                              fn, cfg->boot.n_bootstrap);
    if (kde && (!(cfg->bandwidth > 0) || !isfinite(cfg->bandwidth)))
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: bandwidth = %g (need finite > 0)", fn,
                        cfg->bandwidth);
    return AD_OK;
}

/* Shifted weights w[n] (see smp_weights_shifted), with samples whose
 * coordinate is not finite also set to 0.  Returns the total of w in *total. */
static int usable_weights(const ad_real *r, const ad_real *log_w, int n, double *w,
                          int *n_excluded, double *total, const char *fn, char *msg,
                          size_t msg_len)
{
    double shift;
    int rc = smp_weights_shifted(log_w, n, w, n_excluded, &shift, msg, msg_len);
    if (rc != AD_OK)
        return ad_status_fail(msg, msg_len, rc, "%s: no finite log-weight among %d samples", fn, n);
    double t = 0.0;
    for (int i = 0; i < n; i++) {
        if (!isfinite((double)r[i])) {
            if (w[i] > 0) (*n_excluded)++;
            w[i] = 0.0;
        }
        t += w[i];
    }
    if (!(t > 0))
        return ad_status_fail(msg, msg_len, AD_ERR_NUMERIC,
                        "%s: no sample has both a finite coordinate and a finite log-weight", fn);
    *total = t;
    return AD_OK;
}

/* One allocation holds the struct and its four arrays. */
static smp_profile *profile_new(const smp_profile_config *cfg)
{
    size_t nb = (size_t)cfg->n_bins;
    smp_profile *p = ad_malloc(sizeof *p + 4 * nb * sizeof(ad_real));
    if (!p) return NULL;
    memset(p, 0, sizeof *p);
    ad_real *base = (ad_real *)(p + 1);
    p->center = base;
    p->density = base + nb;
    p->F = base + 2 * nb;
    p->se = base + 3 * nb;
    p->n_bins = cfg->n_bins;
    p->lo = cfg->lo;
    p->hi = cfg->hi;
    p->width = (cfg->hi - cfg->lo) / cfg->n_bins;
    for (int j = 0; j < cfg->n_bins; j++) {
        p->center[j] = (ad_real)(cfg->lo + (j + 0.5) * p->width);
        p->se[j] = NAN;
    }
    return p;
}

void smp_profile_free(smp_profile *p) { ad_free(p); }

/* F = -log p shifted to min 0; +inf where p = 0. */
static void profile_finish(smp_profile *p, const double *w, int n)
{
    double fmin = INFINITY, s1 = 0.0, s2 = 0.0;
    for (int j = 0; j < p->n_bins; j++) {
        p->F[j] = p->density[j] > 0 ? (ad_real)-log((double)p->density[j]) : (ad_real)INFINITY;
        if (p->F[j] < fmin) fmin = p->F[j];
    }
    for (int j = 0; j < p->n_bins; j++)
        if (isfinite((double)p->F[j])) p->F[j] -= (ad_real)fmin;
    for (int i = 0; i < n; i++) {
        s1 += w[i];
        s2 += w[i] * w[i];
    }
    p->ess = s1 * s1 / s2;
}

/* Running mean and variance per bin (Welford), over finite values only. */
typedef struct welford {
    int *count;
    double *mean, *m2;
} welford;

static void welford_add(welford *acc, int j, double x)
{
    int c = ++acc->count[j];
    double d = x - acc->mean[j];
    acc->mean[j] += d / c;
    acc->m2[j] += d * (x - acc->mean[j]);
}

static void welford_se(const welford *acc, smp_profile *p)
{
    for (int j = 0; j < p->n_bins; j++)
        p->se[j] = (p->density[j] > 0 && acc->count[j] >= 2)
                       ? (ad_real)sqrt(acc->m2[j] / (acc->count[j] - 1))
                       : (ad_real)NAN;
}

/* Bin index of r, or -1 outside [lo, hi] (r == hi: last bin). */
static int bin_of(const smp_profile *p, double r)
{
    if (!(r >= p->lo && r <= p->hi)) return -1;
    int j = (int)((r - p->lo) / p->width);
    return j >= p->n_bins ? p->n_bins - 1 : j;
}

int smp_profile_histogram(const smp_profile_config *cfg, const ad_real *r, const ad_real *log_w,
                          int n, smp_profile **out, char *msg, size_t msg_len)
{
    static const char fn[] = "smp_profile_histogram";
    int rc = check_config(cfg, r, n, 0, out, fn, msg, msg_len);
    if (rc != AD_OK) return rc;
    int nb = cfg->n_bins;
    smp_profile *p = profile_new(cfg);
    double *w = ad_malloc((size_t)n * sizeof *w);
    int *bin = ad_malloc((size_t)n * sizeof *bin);
    double *work = ad_calloc((size_t)3 * nb, sizeof *work);
    int *count = ad_calloc((size_t)nb, sizeof *count);
    if (!p || !w || !bin || !work || !count) {
        rc = ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", fn);
        goto done;
    }
    double total;
    rc = usable_weights(r, log_w, n, w, &p->n_excluded, &total, fn, msg, msg_len);
    if (rc != AD_OK) goto done;
    p->n_samples = n;
    double *hist = work;
    for (int i = 0; i < n; i++) {
        bin[i] = w[i] > 0 ? bin_of(p, (double)r[i]) : -1;
        if (w[i] > 0 && bin[i] < 0) p->n_outside++;
        if (bin[i] >= 0) hist[bin[i]] += w[i];
    }
    /* p_j = H_j / (h T): a density of the whole sample, so that bins outside
     * [lo, hi] do not change the normalisation of the ones inside. */
    for (int j = 0; j < nb; j++) p->density[j] = (ad_real)(hist[j] / (p->width * total));
    profile_finish(p, w, n);

    welford acc = {count, work + nb, work + 2 * nb};
    ad_rng rng;
    ad_rng_seed(&rng, cfg->boot.seed, 0);
    for (int b = 0; b < cfg->boot.n_bootstrap; b++) {
        memset(hist, 0, (size_t)nb * sizeof *hist);
        double tb = 0.0;
        for (int k = 0; k < n; k++) {
            int i = (int)ad_rng_below(&rng, (uint64_t)n);
            tb += w[i];
            if (bin[i] >= 0) hist[bin[i]] += w[i];
        }
        for (int j = 0; j < nb; j++)
            if (hist[j] > 0) welford_add(&acc, j, -log(hist[j] / (p->width * tb)));
    }
    welford_se(&acc, p);
done:
    ad_free(w);
    ad_free(bin);
    ad_free(work);
    ad_free(count);
    if (rc != AD_OK) {
        smp_profile_free(p);
        return rc;
    }
    *out = p;
    return AD_OK;
}

/* acc[j] = sum_i v_i exp(-(c_j - r_i)^2 / (2 bw^2)) over the grid points
 * within KDE_CUT bandwidths of r_i (samples with v_i = 0 skipped). */
static void kde_accumulate(const smp_profile *p, double bw, const ad_real *r, const double *v,
                           int n, double *acc)
{
    memset(acc, 0, (size_t)p->n_bins * sizeof *acc);
    for (int i = 0; i < n; i++) {
        if (!(v[i] > 0)) continue;
        double ri = (double)r[i];
        /* grid index range: c_j = lo + (j + 1/2) h within ri -+ KDE_CUT bw;
         * clamped in double before the conversion to int */
        double jlo = ceil((ri - KDE_CUT * bw - p->lo) / p->width - 0.5);
        double jhi = floor((ri + KDE_CUT * bw - p->lo) / p->width - 0.5);
        if (jlo < 0) jlo = 0;
        if (jhi > p->n_bins - 1) jhi = p->n_bins - 1;
        for (int j = (int)jlo; j <= (int)jhi; j++) {
            double d = ((double)p->center[j] - ri) / bw;
            acc[j] += v[i] * exp(-0.5 * d * d);
        }
    }
}

int smp_profile_kde(const smp_profile_config *cfg, const ad_real *r, const ad_real *log_w, int n,
                    smp_profile **out, char *msg, size_t msg_len)
{
    static const char fn[] = "smp_profile_kde";
    int rc = check_config(cfg, r, n, 1, out, fn, msg, msg_len);
    if (rc != AD_OK) return rc;
    int nb = cfg->n_bins;
    double bw = cfg->bandwidth;
    smp_profile *p = profile_new(cfg);
    double *w = ad_malloc((size_t)n * sizeof *w);
    double *v = ad_malloc((size_t)n * sizeof *v);
    int *hits = ad_malloc((size_t)n * sizeof *hits);
    double *work = ad_calloc((size_t)3 * nb, sizeof *work);
    int *count = ad_calloc((size_t)nb, sizeof *count);
    if (!p || !w || !v || !hits || !work || !count) {
        rc = ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", fn);
        goto done;
    }
    double total;
    rc = usable_weights(r, log_w, n, w, &p->n_excluded, &total, fn, msg, msg_len);
    if (rc != AD_OK) goto done;
    p->n_samples = n;
    double *acc = work;
    double norm = bw * SQRT_2PI;
    kde_accumulate(p, bw, r, w, n, acc);
    for (int j = 0; j < nb; j++) p->density[j] = (ad_real)(acc[j] / (norm * total));
    profile_finish(p, w, n);

    welford wf = {count, work + nb, work + 2 * nb};
    ad_rng rng;
    ad_rng_seed(&rng, cfg->boot.seed, 0);
    for (int b = 0; b < cfg->boot.n_bootstrap; b++) {
        /* a resample is the multiplicity of each sample: v_i = c_i w_i */
        memset(hits, 0, (size_t)n * sizeof *hits);
        for (int k = 0; k < n; k++) hits[ad_rng_below(&rng, (uint64_t)n)]++;
        double tb = 0.0;
        for (int i = 0; i < n; i++) {
            v[i] = hits[i] * w[i];
            tb += v[i];
        }
        if (!(tb > 0)) continue;
        kde_accumulate(p, bw, r, v, n, acc);
        for (int j = 0; j < nb; j++)
            if (acc[j] > 0) welford_add(&wf, j, -log(acc[j] / (norm * tb)));
    }
    welford_se(&wf, p);
done:
    ad_free(w);
    ad_free(v);
    ad_free(hits);
    ad_free(work);
    ad_free(count);
    if (rc != AD_OK) {
        smp_profile_free(p);
        return rc;
    }
    *out = p;
    return AD_OK;
}

/* log p_{-fold}(x) for the weighted KDE of the samples not in `fold`:
 * LSE_j(log w_j - (x - r_j)^2 / (2 h^2)) - log W_train - log(h sqrt(2 pi)). */
static double cv_log_density(double x, const double *rr, const double *logw, const int *fold_of,
                             int m, int fold, double h)
{
    double mx = -INFINITY, s = 0.0, inv = 1.0 / (2.0 * h * h);
    for (int j = 0; j < m; j++) {
        if (fold_of[j] == fold) continue;
        double d = x - rr[j], a = logw[j] - d * d * inv;
        if (a > mx) mx = a;
    }
    for (int j = 0; j < m; j++) {
        if (fold_of[j] == fold) continue;
        double d = x - rr[j];
        s += exp(logw[j] - d * d * inv - mx);
    }
    return mx + log(s);
}

int smp_kde_select_bandwidth(const smp_bandwidth_config *cfg, const ad_real *r,
                             const ad_real *log_w, int n, double *best, ad_real *scores,
                             char *msg, size_t msg_len)
{
    static const char fn[] = "smp_kde_select_bandwidth";
    if (!cfg || !r || !best)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: NULL argument", fn);
    if (!cfg->candidates)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: candidates is NULL", fn);
    if (n <= 0)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: n = %d samples (need n > 0)", fn, n);
    if (cfg->n_candidates <= 0)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: n_candidates = %d (need > 0)", fn,
                        cfg->n_candidates);
    for (int c = 0; c < cfg->n_candidates; c++)
        if (!(cfg->candidates[c] > 0) || !isfinite((double)cfg->candidates[c]))
            return ad_status_fail(msg, msg_len, AD_ERR_ARG,
                                  "%s: candidates[%d] = %g (need finite > 0)", fn, c,
                                  (double)cfg->candidates[c]);
    if (cfg->n_folds < 2)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: n_folds = %d (need >= 2)", fn,
                              cfg->n_folds);
    double *w = ad_malloc((size_t)n * sizeof *w);
    double *rr = ad_malloc((size_t)n * sizeof *rr);
    double *logw = ad_malloc((size_t)n * sizeof *logw);
    int *perm = ad_malloc((size_t)n * sizeof *perm);
    int *fold_of = ad_malloc((size_t)n * sizeof *fold_of);
    int rc = AD_OK, m = 0, excluded;
    double total;
    if (!w || !rr || !logw || !perm || !fold_of) {
        rc = ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", fn);
        goto done;
    }
    rc = usable_weights(r, log_w, n, w, &excluded, &total, fn, msg, msg_len);
    if (rc != AD_OK) goto done;
    for (int i = 0; i < n; i++) /* compact to the usable samples */
        if (w[i] > 0) {
            rr[m] = (double)r[i];
            logw[m] = log(w[i]);
            w[m++] = w[i];
        }
    if (m < cfg->n_folds) {
        rc = ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: %d usable samples for %d folds", fn, m,
                      cfg->n_folds);
        goto done;
    }
    ad_rng rng;
    ad_rng_seed(&rng, cfg->seed, 0);
    ad_rng_permutation(&rng, perm, m);
    for (int k = 0; k < m; k++) fold_of[perm[k]] = k % cfg->n_folds;
    double best_score = -INFINITY;
    *best = (double)cfg->candidates[0];
    for (int c = 0; c < cfg->n_candidates; c++) {
        double h = (double)cfg->candidates[c], score = 0.0;
        for (int f = 0; f < cfg->n_folds; f++) {
            double wtrain = 0.0;
            for (int j = 0; j < m; j++)
                if (fold_of[j] != f) wtrain += w[j];
            double lnorm = log(wtrain) + log(h * SQRT_2PI);
            for (int i = 0; i < m; i++)
                if (fold_of[i] == f)
                    score += w[i] * (cv_log_density(rr[i], rr, logw, fold_of, m, f, h) - lnorm);
        }
        score /= total;
        if (scores) scores[c] = (ad_real)score;
        if (score > best_score) {
            best_score = score;
            *best = h;
        }
    }
done:
    ad_free(w);
    ad_free(rr);
    ad_free(logw);
    ad_free(perm);
    ad_free(fold_of);
    return rc;
}

smp_bootstrap_config smp_bootstrap_default(void)
{
    smp_bootstrap_config b = {.n_bootstrap = 200, .seed = 1};
    return b;
}

smp_bandwidth_config smp_bandwidth_config_default(const ad_real *candidates, int n_candidates)
{
    smp_bandwidth_config c = {.candidates = candidates, .n_candidates = n_candidates,
                              .n_folds = 5, .seed = 1};
    return c;
}

smp_states_config smp_states_config_default(int n_states)
{
    smp_states_config c = {.n_states = n_states, .reference = 0, .boot = smp_bootstrap_default()};
    return c;
}

smp_profile_config smp_profile_config_default(double lo, double hi)
{
    smp_profile_config c;
    c.n_bins = 50;
    c.lo = lo;
    c.hi = hi;
    c.bandwidth = 2 * (hi - lo) / 50;
    c.boot = smp_bootstrap_default();
    return c;
}

/* The strided profiles gather the column into a contiguous scratch copy and
 * run the contiguous estimator, so both give identical results. */
static int profile_strided(int kde, const smp_profile_config *cfg, const ad_real *r, int stride,
                           const ad_real *log_w, int n, smp_profile **out, char *msg,
                           size_t msg_len)
{
    const char *fn = kde ? "smp_profile_kde" : "smp_profile_histogram";
    if (out) *out = NULL;
    if (!r) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: r is NULL", fn);
    if (stride < 1)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: stride = %d (need >= 1)", fn, stride);
    if (n <= 0)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: n = %d samples (need n > 0)", fn, n);
    ad_real *col = ad_malloc((size_t)n * sizeof *col);
    if (!col) return ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", fn);
    for (int i = 0; i < n; i++) col[i] = r[(size_t)i * stride];
    int rc = kde ? smp_profile_kde(cfg, col, log_w, n, out, msg, msg_len)
                 : smp_profile_histogram(cfg, col, log_w, n, out, msg, msg_len);
    ad_free(col);
    return rc;
}

int smp_profile_histogram_strided(const smp_profile_config *cfg, const ad_real *r, int stride,
                                  const ad_real *log_w, int n, smp_profile **out, char *msg,
                                  size_t msg_len)
{
    return profile_strided(0, cfg, r, stride, log_w, n, out, msg, msg_len);
}

int smp_profile_kde_strided(const smp_profile_config *cfg, const ad_real *r, int stride,
                            const ad_real *log_w, int n, smp_profile **out, char *msg,
                            size_t msg_len)
{
    return profile_strided(1, cfg, r, stride, log_w, n, out, msg, msg_len);
}
