/* smp_umbrella.c - umbrella sampling driver: biased Metropolis MC per window
 * (smp_mc_run), coordinate collection, WHAM. */
#include "sampling/smp_umbrella.h"

#include <math.h>
#include <string.h>

#include "autodiff/ad_alloc.h"
#include "autodiff/ad_dist.h"
#include "sampling/smp_analysis_impl.h"

/* The biased energy u(x) + k/2 (r(x) - r0)^2 as an smp_energy_fn. */
typedef struct biased_ctx {
    smp_energy_fn energy;
    void *energy_ctx;
    smp_coord_fn coord;
    void *coord_ctx;
    double center, k;
} biased_ctx;

static int biased_energy(void *vctx, const ad_real *x, int n, int dim, ad_real *u, char *msg,
                         size_t msg_len)
{
    const biased_ctx *c = vctx;
    int rc = c->energy(c->energy_ctx, x, n, dim, u, msg, msg_len);
    if (rc != AD_OK) return rc;
    for (int i = 0; i < n; i++) {
        double r = c->coord(c->coord_ctx, x + (size_t)i * dim, dim), d = r - c->center;
        u[i] = isfinite(r) ? u[i] + (ad_real)(0.5 * c->k * d * d) : (ad_real)INFINITY;
    }
    return AD_OK;
}

static int check_config(const smp_umbrella_config *cfg, smp_energy_fn energy,
                        smp_umbrella_result **out, char *msg, size_t msg_len)
{
    static const char fn[] = "smp_umbrella_run";
    if (!cfg || !energy || !out)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: NULL argument", fn);
    *out = NULL;
    if (!cfg->coord)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: coord is NULL (no coordinate)", fn);
    if (!cfg->x0 && !cfg->start)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: x0 and start are both NULL", fn);
    const struct {
        const char *name;
        long value, min;
    } counts[] = {{"dim", cfg->dim, 1},           {"n_windows", cfg->n_windows, 1},
                  {"n_chains", cfg->n_chains, 1}, {"n_repeats", cfg->n_repeats, 1},
                  {"stride", cfg->stride, 1},     {"n_steps", cfg->n_steps, 0},
                  {"n_discard", cfg->n_discard, 0}};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        if (counts[i].value < counts[i].min)
            return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: %s = %ld (need >= %ld)", fn,
                                  counts[i].name, counts[i].value, counts[i].min);
    if (!isfinite(cfg->center_lo) || !isfinite(cfg->center_hi) || cfg->center_hi < cfg->center_lo)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG,
                              "%s: center_lo = %g, center_hi = %g (need finite, lo <= hi)", fn,
                              cfg->center_lo, cfg->center_hi);
    if (!(cfg->k >= 0) || !isfinite(cfg->k))
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: k = %g (need finite >= 0)", fn,
                              cfg->k);
    if (!(cfg->kT > 0) || !isfinite(cfg->kT))
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: kT = %g (need finite > 0)", fn,
                              cfg->kT);
    if (!(cfg->sigma > 0) || !isfinite(cfg->sigma))
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: sigma = %g (need finite > 0)", fn,
                              cfg->sigma);
    return AD_OK;
}

smp_umbrella_config smp_umbrella_config_default(int dim, double kT)
{
    smp_umbrella_config c;
    memset(&c, 0, sizeof c);
    c.dim = dim;
    c.n_windows = 1;
    c.kT = kT;
    c.sigma = 0.1;
    c.n_steps = 10000;
    c.stride = 10;
    c.n_chains = 1;
    c.n_repeats = 1;
    c.seed = 1;
    c.wham.n_bins = 50;
    c.wham.kT = kT;
    return c;
}

static double window_center(const smp_umbrella_config *cfg, int k)
{
    if (cfg->n_windows == 1) return cfg->center_lo;
    return cfg->center_lo + (cfg->center_hi - cfg->center_lo) * k / (cfg->n_windows - 1);
}

/* One MC run (repeat q, window k); the coordinates of the kept frames go to
 * r_out[n_per_window]. */
static int run_window(const smp_umbrella_config *cfg, smp_energy_fn energy, void *energy_ctx,
                      int q, int k, double center, ad_real *x0, ad_real *frames, ad_real *r_out,
                      double *acceptance, char *msg, size_t msg_len)
{
    int nc = cfg->n_chains, dim = cfg->dim;
    if (cfg->x0) {
        for (int c = 0; c < nc; c++)
            memcpy(x0 + (size_t)c * dim, cfg->x0 + (size_t)k * dim, (size_t)dim * sizeof *x0);
    } else {
        int rc = cfg->start(cfg->start_ctx, k, center, q, nc, dim, x0, msg, msg_len);
        if (rc != AD_OK) return rc;
    }
    smp_mc_config mc = {.dim = dim, .n_chains = nc, .sigma = cfg->sigma, .kT = cfg->kT,
                        .n_steps = cfg->n_steps, .stride = cfg->stride, .keep_initial = 1,
                        .seed = ad_rng_derive_seed(cfg->seed, (uint64_t)q * cfg->n_windows + k)};
    biased_ctx bc = {energy, energy_ctx, cfg->coord, cfg->coord_ctx, center, cfg->k};
    smp_mc_stats stats;
    int rc = smp_mc_run(&mc, biased_energy, &bc, x0, frames, NULL, &stats, msg, msg_len);
    if (rc != AD_OK) return rc;
    long nf = smp_mc_n_frames(&mc), m = 0;
    for (long f = cfg->n_discard; f < nf; f++)
        for (int c = 0; c < nc; c++)
            r_out[m++] =
                (ad_real)cfg->coord(cfg->coord_ctx, frames + ((size_t)f * nc + c) * dim, dim);
    *acceptance += stats.acceptance / cfg->n_repeats;
    return AD_OK;
}

void smp_umbrella_result_free(smp_umbrella_result *res)
{
    if (!res) return;
    smp_wham_result_free(res->wham);
    ad_free(res);
}

int smp_umbrella_run(const smp_umbrella_config *cfg, smp_energy_fn energy, void *energy_ctx,
                     smp_umbrella_result **out, char *msg, size_t msg_len)
{
    static const char fn[] = "smp_umbrella_run";
    int rc = check_config(cfg, energy, out, msg, msg_len);
    if (rc != AD_OK) return rc;
    int K = cfg->n_windows, R = cfg->n_repeats, nc = cfg->n_chains, dim = cfg->dim;
    smp_mc_config probe = {.dim = dim, .n_chains = nc, .sigma = cfg->sigma, .kT = cfg->kT,
                           .n_steps = cfg->n_steps, .stride = cfg->stride, .keep_initial = 1};
    long nf = smp_mc_n_frames(&probe);
    if (nf <= cfg->n_discard)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG,
                              "%s: %ld frames per chain, %ld discarded: none left", fn, nf,
                              cfg->n_discard);
    long m = (nf - cfg->n_discard) * nc;
    size_t n_r = (size_t)K * R * (size_t)m;
    smp_umbrella_result *res = ad_malloc(
        sizeof *res + ((size_t)R + 2 * (size_t)K) * sizeof(double) + n_r * sizeof(ad_real));
    ad_real *frames = ad_malloc(((size_t)nf * nc + nc) * dim * sizeof *frames);
    smp_wham_window *win = ad_malloc((size_t)K * sizeof *win);
    double *acc_run = ad_malloc((size_t)K * R * sizeof *acc_run);
    rc = !res || !frames || !win || !acc_run
             ? ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", fn)
             : AD_OK;
    rc = ad_dist_agree(rc, msg, msg_len);
    if (rc != AD_OK) {
        ad_free(res);
        ad_free(frames);
        ad_free(win);
        ad_free(acc_run);
        return rc;
    }
    memset(res, 0, sizeof *res);
    res->dF_repeat = (double *)(res + 1);
    res->center = res->dF_repeat + R;
    res->acceptance = res->center + K;
    res->r = (ad_real *)(res->acceptance + K);
    res->n_repeats = R;
    res->n_windows = K;
    res->n_per_window = m;
    ad_real *x0 = frames + (size_t)nf * nc * dim;
    char sub[256] = "";
    for (int k = 0; k < K; k++) res->center[k] = window_center(cfg, k);
    /* The runs j = k R + q (window k, repeat q) are independent: under MPI
     * each rank does its share of them alone (a local region, ad_dist.h:
     * their Monte Carlo is not split further), then every rank receives
     * all coordinates and acceptances.  The first failing run is the one
     * the serial loop would report. */
    long lo, hi;
    ad_dist_share((long)K * R, &lo, &hi);
    ad_dist_local_begin();
    for (long j = lo; j < hi && rc == AD_OK; j++) {
        int k = (int)(j / R), q = (int)(j % R);
        acc_run[j] = 0.0;
        rc = run_window(cfg, energy, energy_ctx, q, k, res->center[k], x0, frames,
                        res->r + (size_t)j * m, &acc_run[j], sub, sizeof sub);
        if (rc != AD_OK)
            ad_status_fail(msg, msg_len, rc, "%s: window %d (r0 = %g), repeat %d: %s", fn, k,
                           res->center[k], q, sub);
        else if (cfg->progress) /* this rank's runs (all of them when serial) */
            cfg->progress(j - lo + 1, hi - lo, cfg->progress_ctx);
    }
    ad_dist_local_end();
    rc = ad_dist_gather(rc, res->r, (size_t)m * sizeof *res->r, (long)K * R, msg, msg_len);
    rc = ad_dist_gather(rc, acc_run, sizeof *acc_run, (long)K * R, msg, msg_len);
    /* each window's mean acceptance, summed over its repeats in order */
    for (int k = 0; k < K && rc == AD_OK; k++) {
        res->acceptance[k] = 0.0;
        for (int q = 0; q < R; q++) res->acceptance[k] += acc_run[(size_t)k * R + q];
    }
    smp_wham_config wc = cfg->wham;
    wc.kT = cfg->kT;
    /* pooled: window k is the concatenation of its repeats */
    for (int k = 0; k < K; k++)
        win[k] = (smp_wham_window){.r = res->r + (size_t)k * R * m, .n = (long)R * m,
                                   .center = res->center[k], .k = cfg->k};
    if (rc == AD_OK) {
        rc = smp_wham_run(&wc, win, K, &res->wham, sub, sizeof sub);
        if (rc != AD_OK) ad_status_fail(msg, msg_len, rc, "%s: pooled data: %s", fn, sub);
    }
    if (rc == AD_OK) {
        res->dF = res->wham->dF;
        res->dF_se = res->wham->dF_se;
        res->dF_repeat[0] = res->dF;
    }
    if (rc == AD_OK && R >= 2) {
        wc.n_blocks = 0;
        for (int q = 0; q < R && rc == AD_OK; q++) {
            smp_wham_result *one = NULL;
            for (int k = 0; k < K; k++) {
                win[k].r = res->r + ((size_t)k * R + q) * m;
                win[k].n = m;
            }
            rc = smp_wham_run(&wc, win, K, &one, sub, sizeof sub);
            if (rc != AD_OK)
                ad_status_fail(msg, msg_len, rc, "%s: repeat %d: %s", fn, q, sub);
            else
                res->dF_repeat[q] = one->dF;
            smp_wham_result_free(one);
        }
        /* repeats are independent: SE of their mean */
        if (rc == AD_OK) res->dF_se = smp_std_finite(res->dF_repeat, R, NULL) / sqrt((double)R);
    }
    ad_free(frames);
    ad_free(win);
    ad_free(acc_run);
    if (rc != AD_OK) {
        smp_umbrella_result_free(res);
        return rc;
    }
    *out = res;
    return AD_OK;
}
