/* dimer_data.c - the data of a dimer run: Metropolis Monte Carlo in both
 * states (data_closed.csv, data_open.csv) and the umbrella-sampling
 * reference (umbrella_profile.csv), each recorded in the manifest and in
 * cache.json for --resume. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "apps/dimer/dimer_data.h"
#include "apps/dimer/dimer_resume.h"
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

/* Progress of the Metropolis chains on stderr, as training reports (an
 * iteration is one step of every chain). */
static void on_mc_step(long done, long total, void *ctx)
{
    app_progress *pg = ctx;
    if (done == 1) app_progress_stage(pg, 0, 0, "Monte Carlo steps", total);
    app_progress_update(pg, done, NULL, 0);
    if (done == total) app_progress_done(pg);
}

/* The Metropolis data of both states at kT: the rows of the closed state,
 * then those of the open one, into *data (the caller's); state k draws from
 * ad_rng_derive_seed(seed, tag + k). */
typedef struct mc_both_out {
    ad_real *data;
    int n_closed, n_open, transitions;
    double acc[2], u_first[2], u_second[2];
} mc_both_out;

static int mc_both(dimer_run *r, double kT, uint64_t tag, mc_both_out *o, char *msg, size_t len)
{
    const dimer_schedule *s = &r->sc;
    dimer_mc_result res[2];
    const double d_start[2] = {0.93, 2.05}; /* the two bond minima */
    int rc = AD_OK;
    for (int k = 0; k < 2 && rc == AD_OK; k++) {
        dimer_mc_config mc = {.d_start = d_start[k],
                              .n_chains = s->mc_chains,
                              .n_steps = s->mc_steps,
                              .stride = s->mc_stride,
                              .n_discard = s->mc_discard,
                              .sigma = 0.02 * sqrt(kT),
                              .kT = kT,
                              .seed = ad_rng_derive_seed(r->opt.seed, tag + (uint64_t)k)};
        if (kT == r->opt.kT)
            fprintf(stderr, "%s: Monte Carlo in the %s state (%d chains x %ld steps)\n",
                    DIMER_PROGRAM, k ? "open" : "closed", mc.n_chains, mc.n_steps);
        else
            fprintf(stderr, "%s: Monte Carlo in the %s state at kT = %g (%d chains x %ld steps)\n",
                    DIMER_PROGRAM, k ? "open" : "closed", kT, mc.n_chains, mc.n_steps);
        app_progress pg;
        app_progress_init(&pg, stderr, 10.0);
        mc.progress = on_mc_step;
        mc.progress_ctx = &pg;
        rc = dimer_mc_state(&r->ectx, &mc, &res[k], msg, len);
        if (rc != AD_OK) {
            app_progress_done(&pg);
            if (k) ad_free(res[0].x);
            return rc;
        }
        o->acc[k] = res[k].acceptance;
        o->u_first[k] = res[k].mean_u_first;
        o->u_second[k] = res[k].mean_u_second;
    }
    o->transitions = 0;
    for (int k = 0; k < 2; k++)
        o->transitions += count_chain_transitions(res[k].x, res[k].n_frames, s->mc_chains, r->dim);
    o->n_closed = res[0].n;
    o->n_open = res[1].n;
    o->data = ad_malloc((size_t)(o->n_closed + o->n_open) * r->dim * sizeof *o->data);
    if (!o->data) rc = ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    if (rc == AD_OK) {
        memcpy(o->data, res[0].x, (size_t)o->n_closed * r->dim * sizeof *o->data);
        memcpy(o->data + (size_t)o->n_closed * r->dim, res[1].x,
               (size_t)o->n_open * r->dim * sizeof *o->data);
    }
    ad_free(res[0].x);
    ad_free(res[1].x);
    return rc;
}

/* data_closed<suffix> and data_open<suffix> in --out, recorded. */
static int write_data(dimer_run *r, const ad_real *data, int n_closed, int n_open,
                      const char *closed_name, const char *open_name, char *msg, size_t len)
{
    char path[APP_RUN_PATH_MAX];
    dimer_out_path(r, closed_name, path, sizeof path);
    int rc = smp_csv_write(path, data, n_closed, r->dim, NULL, msg, len);
    if (rc == AD_OK) rc = dimer_record(r, closed_name, DIMER_STAGE_MC, msg, len);
    if (rc == AD_OK) {
        dimer_out_path(r, open_name, path, sizeof path);
        rc = smp_csv_write(path, data + (size_t)n_closed * r->dim, n_open, r->dim, NULL, msg, len);
    }
    if (rc == AD_OK) rc = dimer_record(r, open_name, DIMER_STAGE_MC, msg, len);
    return rc;
}

int dimer_mc(dimer_run *r, char *msg, size_t len)
{
    double t0 = app_clock_seconds();
    mc_both_out o;
    int rc = mc_both(r, r->opt.kT, 1, &o, msg, len);
    if (rc != AD_OK) return rc;
    r->data = o.data;
    r->n_closed = o.n_closed;
    r->n_open = o.n_open;
    r->mc_transitions = o.transitions;
    for (int k = 0; k < 2; k++) {
        r->mc_acc[k] = o.acc[k];
        r->mc_u_first[k] = o.u_first[k];
        r->mc_u_second[k] = o.u_second[k];
    }
    r->mc_seconds = app_clock_seconds() - t0;
    rc = write_data(r, r->data, r->n_closed, r->n_open, "data_closed.csv", "data_open.csv", msg,
                    len);
    /* the data's statistics, so that a run killed during the umbrella
     * sampling can reuse the data */
    if (rc == AD_OK) rc = dimer_cache_write(r, -1, 0, msg, len);
    return rc;
}

/* ---- 2. umbrella reference ---- */

/* Progress of the umbrella windows on stderr, as training reports. */
static void on_umbrella_run(long done, long total, void *ctx)
{
    app_progress *pg = ctx;
    if (done == 1) app_progress_stage(pg, 0, 0, "umbrella windows", total);
    app_progress_update(pg, done, NULL, 0);
    if (done == total) app_progress_done(pg);
}

/* The umbrella reference at kT from start frames data (closed rows first)
 * into *out, its profile into DIR/profile_name (recorded). */
static int umbrella_at(dimer_run *r, double kT, const ad_real *data, int n_closed, int n_open,
                       uint64_t seed, dimer_umbrella_out *out, const char *profile_name,
                       char *msg, size_t len)
{
    const dimer_schedule *s = &r->sc;
    long n_steps, n_discard;
    dimer_umbrella_length(s, kT, &n_steps, &n_discard);
    dimer_umbrella_config uc = {.n_windows = s->us_windows,
                                .lo = 0.5,
                                .hi = 2.5,
                                .k = s->us_k,
                                .kT = kT,
                                .sigma = 0.02 * sqrt(kT),
                                .n_steps = n_steps,
                                .stride = s->us_stride,
                                .n_discard = n_discard,
                                .n_chains = s->us_chains,
                                .n_repeats = s->us_repeats,
                                .n_bins = s->us_bins,
                                .seed = seed,
                                .closed = data,
                                .n_closed = n_closed,
                                .open = data + (size_t)n_closed * r->dim,
                                .n_open = n_open};
    if (kT == r->opt.kT)
        fprintf(stderr,
                "%s: umbrella sampling (%d windows x %d chains x %ld steps x %d repeats)\n",
                DIMER_PROGRAM, uc.n_windows, uc.n_chains, uc.n_steps, uc.n_repeats);
    else
        fprintf(stderr,
                "%s: umbrella sampling at kT = %g (%d windows x %d chains x %ld steps x %d "
                "repeats)\n",
                DIMER_PROGRAM, kT, uc.n_windows, uc.n_chains, uc.n_steps, uc.n_repeats);
    app_progress pg;
    app_progress_init(&pg, stderr, 10.0);
    uc.progress = on_umbrella_run;
    uc.progress_ctx = &pg;
    int rc = dimer_umbrella(&r->ectx, &uc, out, msg, len);
    if (rc != AD_OK) {
        app_progress_done(&pg);
        return rc;
    }
    ad_real *prof = ad_malloc((size_t)3 * out->n_bins * sizeof *prof);
    if (!prof) return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    for (int j = 0; j < out->n_bins; j++) {
        prof[3 * j] = out->center[j];
        prof[3 * j + 1] = out->F[j];
        prof[3 * j + 2] = out->F_se[j];
    }
    char path[APP_RUN_PATH_MAX];
    dimer_out_path(r, profile_name, path, sizeof path);
    const char *names[3] = {"d", "F", "F_se"};
    rc = smp_csv_write(path, prof, out->n_bins, 3, names, msg, len);
    ad_free(prof);
    if (rc == AD_OK) rc = dimer_record(r, profile_name, DIMER_STAGE_UMBRELLA, msg, len);
    return rc;
}

int dimer_reference(dimer_run *r, char *msg, size_t len)
{
    double t0 = app_clock_seconds();
    int rc = umbrella_at(r, r->opt.kT, r->data, r->n_closed, r->n_open,
                         ad_rng_derive_seed(r->opt.seed, 10), &r->us, "umbrella_profile.csv", msg,
                         len);
    r->us_seconds = app_clock_seconds() - t0;
    if (rc == AD_OK) rc = dimer_cache_write(r, -1, 1, msg, len);
    return rc;
}

/* ---- 3. several temperatures ---- */

int dimer_temperature_data(dimer_run *r, char *msg, size_t len)
{
    int rc = AD_OK;
    for (int j = 0; j < r->n_temps && rc == AD_OK; j++) {
        dimer_temperature *t = &r->temps[j];
        if (t->is_main) continue; /* the run's own data and reference */
        char closed[96], open[96], prof[96];
        dimer_temp_file(t->kT, "data_closed", ".csv", closed, sizeof closed);
        dimer_temp_file(t->kT, "data_open", ".csv", open, sizeof open);
        dimer_temp_file(t->kT, "umbrella_profile", ".csv", prof, sizeof prof);
        /* --resume: this temperature's files, when the manifest verifies them
         * (they are reused only with the run's own data) */
        int cached = r->opt.resume && r->data_reused ? dimer_cache_load(r, j) : 0;
        if (cached)
            fprintf(stderr, "%s: reusing the MC data%s at kT = %g\n", DIMER_PROGRAM,
                    cached == 2 ? " and the umbrella reference" : "", t->kT);
        if (cached < 1) {
            double t0 = app_clock_seconds();
            mc_both_out o;
            rc = mc_both(r, t->kT, 200 + 2 * (uint64_t)j, &o, msg, len);
            if (rc != AD_OK) return rc;
            t->data = o.data;
            t->n_closed = o.n_closed;
            t->n_open = o.n_open;
            t->mc_acc[0] = o.acc[0];
            t->mc_acc[1] = o.acc[1];
            t->mc_seconds = app_clock_seconds() - t0;
            rc = write_data(r, t->data, t->n_closed, t->n_open, closed, open, msg, len);
            if (rc == AD_OK) rc = dimer_cache_write(r, j, 0, msg, len);
            if (rc != AD_OK) return rc;
        }
        if (cached < 2) {
            double t0 = app_clock_seconds();
            rc = umbrella_at(r, t->kT, t->data, t->n_closed, t->n_open,
                             ad_rng_derive_seed(r->opt.seed, 300 + (uint64_t)j), &t->us, prof,
                             msg, len);
            t->us_seconds = app_clock_seconds() - t0;
            if (rc == AD_OK) rc = dimer_cache_write(r, j, 1, msg, len);
        }
        if (rc == AD_OK)
            fprintf(stderr, "%s: umbrella reference at kT = %g: dF(closed - open) = %.3f +- %.3f\n",
                    DIMER_PROGRAM, t->kT, t->us.dF, t->us.dF_se);
    }
    return rc;
}
