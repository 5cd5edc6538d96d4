/* dimer_data.c - the data of a dimer run: Metropolis Monte Carlo in both
 * states (data_closed.csv, data_open.csv) and the umbrella-sampling
 * reference (umbrella_profile.csv), each recorded in the manifest and in
 * cache.json for --resume. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "apps/dimer/dimer_run.h"
#include "apps/toolkit/app_progress.h"
#include "autodiff/ad_alloc.h"
#include "sampling/smp_data.h"

/* ---- 1. Monte Carlo data ---- */

/* Label changes (d < 1.5 vs >= 1.5) along each chain of frame-major data. */
static int count_chain_transitions(const ad_real *x, int n_frames, int n_chains, int dim)
{
    int t = 0;
    for (int c = 0; c < n_chains; c++)
        for (int f = 1; f < n_frames; f++)
            t += pot_dimer_is_closed(x + ((size_t)f * n_chains + c) * dim) !=
                 pot_dimer_is_closed(x + ((size_t)(f - 1) * n_chains + c) * dim);
    return t;
}

int dimer_mc(dimer_run *r, char *msg, size_t len)
{
    const dimer_schedule *s = &r->sc;
    double t0 = app_clock_seconds();
    dimer_mc_result res[2];
    const double d_start[2] = {0.93, 2.05}; /* the two bond minima */
    int rc = AD_OK;
    for (int k = 0; k < 2 && rc == AD_OK; k++) {
        dimer_mc_config mc = {.d_start = d_start[k],
                              .n_chains = s->mc_chains,
                              .n_steps = s->mc_steps,
                              .stride = s->mc_stride,
                              .n_discard = s->mc_discard,
                              .sigma = 0.02 * sqrt(r->opt.kT),
                              .kT = r->opt.kT,
                              .seed = ad_rng_derive_seed(r->opt.seed, 1 + k)};
        fprintf(stderr, "%s: Monte Carlo in the %s state (%d chains x %ld steps)\n", DIMER_PROGRAM,
                k ? "open" : "closed", mc.n_chains, mc.n_steps);
        rc = dimer_mc_state(&r->ectx, &mc, &res[k], msg, len);
        if (rc != AD_OK) {
            if (k) ad_free(res[0].x);
            return rc;
        }
        r->mc_acc[k] = res[k].acceptance;
        r->mc_u_first[k] = res[k].mean_u_first;
        r->mc_u_second[k] = res[k].mean_u_second;
    }
    r->mc_transitions = 0;
    for (int k = 0; k < 2; k++)
        r->mc_transitions +=
            count_chain_transitions(res[k].x, res[k].n_frames, s->mc_chains, r->dim);
    r->n_closed = res[0].n;
    r->n_open = res[1].n;
    r->data = ad_malloc((size_t)(r->n_closed + r->n_open) * r->dim * sizeof *r->data);
    if (!r->data) rc = ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    if (rc == AD_OK) {
        memcpy(r->data, res[0].x, (size_t)r->n_closed * r->dim * sizeof *r->data);
        memcpy(r->data + (size_t)r->n_closed * r->dim, res[1].x,
               (size_t)r->n_open * r->dim * sizeof *r->data);
    }
    ad_free(res[0].x);
    ad_free(res[1].x);
    r->mc_seconds = app_clock_seconds() - t0;
    if (rc != AD_OK) return rc;
    char path[APP_RUN_PATH_MAX];
    dimer_out_path(r, "data_closed.csv", path, sizeof path);
    rc = smp_csv_write(path, r->data, r->n_closed, r->dim, NULL, msg, len);
    if (rc == AD_OK) rc = dimer_record(r, "data_closed.csv", DIMER_STAGE_MC, msg, len);
    if (rc == AD_OK) {
        dimer_out_path(r, "data_open.csv", path, sizeof path);
        rc = smp_csv_write(path, r->data + (size_t)r->n_closed * r->dim, r->n_open, r->dim, NULL,
                           msg, len);
    }
    if (rc == AD_OK) rc = dimer_record(r, "data_open.csv", DIMER_STAGE_MC, msg, len);
    /* the data's statistics, so that a run killed during the umbrella
     * sampling can reuse the data */
    if (rc == AD_OK) rc = dimer_cache_write(r, msg, len);
    if (rc == AD_OK) rc = dimer_record(r, "cache.json", DIMER_STAGE_MC, msg, len);
    return rc;
}

/* ---- 2. umbrella reference ---- */

int dimer_reference(dimer_run *r, char *msg, size_t len)
{
    const dimer_schedule *s = &r->sc;
    double t0 = app_clock_seconds();
    dimer_umbrella_config uc = {.n_windows = s->us_windows,
                                .lo = 0.5,
                                .hi = 2.5,
                                .k = s->us_k,
                                .kT = r->opt.kT,
                                .sigma = 0.02 * sqrt(r->opt.kT),
                                .n_steps = s->us_steps,
                                .stride = s->us_stride,
                                .n_discard = s->us_discard,
                                .n_chains = s->us_chains,
                                .n_repeats = s->us_repeats,
                                .n_bins = s->us_bins,
                                .seed = ad_rng_derive_seed(r->opt.seed, 10),
                                .closed = r->data,
                                .n_closed = r->n_closed,
                                .open = r->data + (size_t)r->n_closed * r->dim,
                                .n_open = r->n_open};
    fprintf(stderr, "%s: umbrella sampling (%d windows x %d chains x %ld steps x %d repeats)\n",
            DIMER_PROGRAM, uc.n_windows, uc.n_chains, uc.n_steps, uc.n_repeats);
    int rc = dimer_umbrella(&r->ectx, &uc, &r->us, msg, len);
    if (rc != AD_OK) return rc;
    r->us_seconds = app_clock_seconds() - t0;
    ad_real *prof = ad_malloc((size_t)3 * r->us.n_bins * sizeof *prof);
    if (!prof) return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    for (int j = 0; j < r->us.n_bins; j++) {
        prof[3 * j] = r->us.center[j];
        prof[3 * j + 1] = r->us.F[j];
        prof[3 * j + 2] = r->us.F_se[j];
    }
    char path[APP_RUN_PATH_MAX];
    dimer_out_path(r, "umbrella_profile.csv", path, sizeof path);
    const char *names[3] = {"d", "F", "F_se"};
    rc = smp_csv_write(path, prof, r->us.n_bins, 3, names, msg, len);
    ad_free(prof);
    if (rc == AD_OK) rc = dimer_record(r, "umbrella_profile.csv", DIMER_STAGE_UMBRELLA, msg, len);
    if (rc == AD_OK) rc = dimer_cache_write(r, msg, len);
    if (rc == AD_OK) rc = dimer_record(r, "cache.json", DIMER_STAGE_UMBRELLA, msg, len);
    return rc;
}
