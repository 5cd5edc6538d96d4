/* dimer_run.c - the bg-dimer pipeline (dimer_run.h): the schedule, the
 * Metropolis data in both states, the umbrella-sampling reference, then the
 * flow, its training, the analysis and the outputs in order.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/toolkit/app_fs.h"
#include "apps/toolkit/app_progress.h"
#include "apps/dimer/dimer_run.h"
#include "autodiff/ad_alloc.h"
#include "sampling/smp_data.h"

/* ---- helpers ---- */

int dimer_fail(char *msg, size_t len, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, len, fmt, ap);
    va_end(ap);
    return code;
}

uint64_t dimer_derive_seed(uint64_t seed, uint64_t k)
{
    uint64_t z = seed + 0x9e3779b97f4a7c15ull * (k + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void dimer_out_path(const dimer_run *r, const char *name, char *buf, size_t len)
{
    if (app_fs_join(buf, len, r->opt.out, name) != AD_OK) buf[0] = 0;
}

int dimer_record(dimer_run *r, const char *name, int stage, char *msg, size_t len)
{
    if (!r->run) return AD_OK;
    return app_run_record(r->run, name, name, 0, stage, msg, len);
}

void dimer_ckpt_name(int k, char *buf, size_t len) { snprintf(buf, len, "ckpt/stage-stage%d.ckpt", k); }

/* ---- the schedule ---- */

static void make_schedule(dimer_schedule *s, int quick, double kT)
{
    memset(s, 0, sizeof *s);
    s->ais = bg_ais_config_default();
    s->ais.target_acceptance = 0.65; /* for HMC */
    s->n_blocks = 8;
    s->split = FLOW_SPLIT_ALTERNATE;
    s->us_k = 500;
    if (quick) {
        s->mc_chains = 8;
        s->mc_steps = 1500;
        s->mc_stride = 10;
        s->mc_discard = 50;
        s->us_windows = 11;
        s->us_chains = 8;
        s->us_repeats = 4; /* two from each state: standard errors for both */
        s->us_bins = 100;
        s->us_steps = 300;
        s->us_stride = 5;
        s->us_discard = 20;
        bg_stage st[] = {
            {.name = "ML", .n_iterations = 30, .batch_size = 128, .lr = 1e-3,
             .w_ml = 1, .w_kl = 0, .w_rc = 0, .e_high = 1e4, .e_max = 0},
            {.name = "ML+KL+RC 1", .n_iterations = 10, .batch_size = 128, .lr = 1e-4,
             .w_ml = 100, .w_kl = 1, .w_rc = 1, .e_high = 1e4, .e_max = 0},
            {.name = "ML+KL+RC 2", .n_iterations = 10, .batch_size = 128, .lr = 1e-4,
             .w_ml = 1, .w_kl = 1, .w_rc = 10, .e_high = 1000, .e_max = 0},
        };
        s->n_stages = 3;
        memcpy(s->stages, st, sizeof st);
        s->n_samples = 2000;
        s->sample_batch = 1000;
        s->n_bootstrap = 50;
        s->profile_bins = 20;
        s->timing_repeats = 1;
        s->ais_chains = 200;
        s->ais_batch = 200;
        s->ais.n_temps = 10;
        s->ais.leapfrog = 2;
        s->ais.n_pilot = 64;
    } else {
        /* The solvent around the dimer relaxes over ~10^4 steps: umbrella
         * windows of 6000 steps gave dF -9.4 from closed starts and -4.9
         * from open starts, windows of 48 000 steps -6.9 and -6.6 (within
         * their errors).  Hence long windows (the paper used 50 000 steps)
         * and, for the data, many long chains with few frames each: a flow
         * trained by example on 40 chains' frames fits them 100-200 nats
         * better than fresh chains of the same simulation (it learns the
         * chains, not the state), and even 400 independent chains are
         * overfitted after a few epochs, so the ML stage is short and the
         * energy (which sees fresh samples every step) does the rest. */
        s->mc_chains = 400;
        s->mc_steps = 60000;
        s->mc_stride = 2000;
        s->mc_discard = 10; /* 20 000 steps */
        s->us_windows = 35;
        s->us_chains = 8;
        s->us_repeats = 6;
        s->us_bins = 200;
        s->us_steps = 80000;
        s->us_stride = 10;
        s->us_discard = 2000; /* 20 000 steps */
        /* ML for 250 iterations (the likelihood of 80 held-out chains
         * stopped improving after ~200 in a test), then KL + RC with the
         * weight of the data lowered to near 0 (docs/science.md §3.6).
         * w_RC = 1: this J_RC sums -log h_k over the 11 bins, about ten
         * times the gradient of the paper's histogram entropy. */
        bg_stage st[] = {
            {.name = "ML", .n_iterations = 250, .batch_size = 256, .lr = 1e-3,
             .w_ml = 1, .w_kl = 0, .w_rc = 0, .e_high = 1e4, .e_max = 0},
            {.name = "ML+KL+RC 1", .n_iterations = 200, .batch_size = 500, .lr = 1e-4,
             .w_ml = 10, .w_kl = 1, .w_rc = 1, .e_high = 1e4, .e_max = 0},
            {.name = "ML+KL+RC 2", .n_iterations = 200, .batch_size = 500, .lr = 1e-4,
             .w_ml = 1, .w_kl = 1, .w_rc = 1, .e_high = 2000, .e_max = 0},
            {.name = "ML+KL+RC 3", .n_iterations = 2400, .batch_size = 500, .lr = 1e-4,
             .w_ml = 0.01, .w_kl = 1, .w_rc = 1, .e_high = 1000, .e_max = 0},
        };
        s->n_stages = 4;
        memcpy(s->stages, st, sizeof st);
        s->n_samples = 100000;
        s->sample_batch = 5000;
        s->n_bootstrap = 200;
        s->profile_bins = 40;
        s->timing_repeats = 3;
        /* Reweighting alone leaves log weights spread over ~6 nats (ESS/n
         * ~1e-3, dF 3 kT off).  Annealing each flow sample towards the
         * Boltzmann density with HMC in the latent space (bg_ais.h), every
         * chain kept in its starting state.  On 2000 chains the spread of
         * the log weights in the closed / open state was 3.1 / 3.3 nats
         * after K = 20, 2.1 / 2.5 after K = 200, 1.7 / 2.3 after K = 400 and
         * 1.5 / 2.2 after K = 800 (ESS/n 6 %; 3 leapfrog steps each).  At
         * equal cost more temperatures beat longer moves: K = 100 with 6
         * leapfrog steps gave 3.1 / 2.6 (K = 200 with 3: 2.1 / 2.5), K = 400
         * with two HMC moves each 2.0 / 1.9 and ESS/n 1.6 % (K = 800 with
         * one: 6 %); beta_k = (k/K)^2 or ^0.5 was no better than linear.
         * On 8000 chains ESS/n is lower (Kish's ESS of a heavy-tailed
         * weight falls as the sample grows): 0.3 % at K = 400 (dF -7.16 +-
         * 0.36), 0.73 % at K = 800 (dF -7.00 +- 0.25).  At that same cost,
         * 4000 chains at K = 1600 gave dF -6.68 +- 0.19 at ESS/n 1.9 %: more
         * effective samples (77 against 59) and a smaller error, so the
         * cost goes into temperatures rather than chains. */
        s->ais_chains = 4000;
        s->ais_batch = 1000;
        s->ais.n_temps = 1600;
        s->ais.leapfrog = 3;
        s->ais.n_pilot = 256;
    }
    for (int k = 0; k < s->n_stages; k++) s->stages[k].e_high *= kT;
}

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

static int run_mc(dimer_run *r, char *msg, size_t len)
{
    const dimer_schedule *s = &r->sc;
    double t0 = app_clock_seconds();
    dimer_mc_result res[2];
    const double d_start[2] = {0.93, 2.05}; /* the two bond minima */
    int rc = AD_OK;
    for (int k = 0; k < 2 && rc == AD_OK; k++) {
        dimer_mc_config mc = {d_start[k], s->mc_chains, s->mc_steps, s->mc_stride, s->mc_discard,
                              0.02 * sqrt(r->opt.kT), r->opt.kT,
                              dimer_derive_seed(r->opt.seed, 1 + k)};
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
    if (!r->data) rc = dimer_fail(msg, len, AD_ERR_NOMEM, "out of memory");
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

static int run_umbrella(dimer_run *r, char *msg, size_t len)
{
    const dimer_schedule *s = &r->sc;
    double t0 = app_clock_seconds();
    dimer_umbrella_config uc = {s->us_windows, 0.5, 2.5, s->us_k, r->opt.kT,
                                0.02 * sqrt(r->opt.kT), s->us_steps, s->us_stride, s->us_discard,
                                s->us_chains, s->us_repeats, s->us_bins,
                                dimer_derive_seed(r->opt.seed, 10), r->data, r->n_closed,
                                r->data + (size_t)r->n_closed * r->dim, r->n_open};
    fprintf(stderr, "%s: umbrella sampling (%d windows x %d chains x %ld steps x %d repeats)\n",
            DIMER_PROGRAM, uc.n_windows, uc.n_chains, uc.n_steps, uc.n_repeats);
    int rc = dimer_umbrella(&r->ectx, &uc, &r->us, msg, len);
    if (rc != AD_OK) return rc;
    r->us_seconds = app_clock_seconds() - t0;
    ad_real *prof = ad_malloc((size_t)3 * r->us.n_bins * sizeof *prof);
    if (!prof) return dimer_fail(msg, len, AD_ERR_NOMEM, "out of memory");
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

/* ---- the pipeline ---- */

/* The settings of the manifest: everything the numbers depend on (the
 * thread count is not: results do not depend on it). */
enum { N_SETTINGS = 9 };
typedef struct dimer_settings {
    char seed[32], kT[40], mc[96], us[160], stages[8 * 96], flow[64], analysis[256], ais[128];
    app_run_setting list[N_SETTINGS];
} dimer_settings;

static void make_settings(const dimer_run *r, dimer_settings *d)
{
    const dimer_schedule *s = &r->sc;
    app_run_u64_str(r->opt.seed, d->seed, sizeof d->seed);
    snprintf(d->kT, sizeof d->kT, "%.17g", r->opt.kT);
    snprintf(d->mc, sizeof d->mc, "chains %d steps %ld stride %d discard %ld", s->mc_chains,
             s->mc_steps, s->mc_stride, s->mc_discard);
    snprintf(d->us, sizeof d->us,
             "windows %d k %.17g chains %d steps %ld stride %d discard %ld repeats %d bins %d",
             s->us_windows, s->us_k, s->us_chains, s->us_steps, s->us_stride, s->us_discard,
             s->us_repeats, s->us_bins);
    size_t at = 0;
    d->stages[0] = '\0';
    for (int k = 0; k < s->n_stages; k++) {
        const bg_stage *st = &s->stages[k];
        int n = snprintf(d->stages + at, sizeof d->stages - at,
                         "%s%s: it %d batch %d lr %.17g w %.17g %.17g %.17g e_high %.17g", k ? "; " : "",
                         st->name, st->n_iterations, st->batch_size, st->lr, st->w_ml, st->w_kl,
                         st->w_rc, st->e_high);
        if (n < 0 || (size_t)n >= sizeof d->stages - at) break;
        at += (size_t)n;
    }
    snprintf(d->flow, sizeof d->flow, "blocks %d split %d", s->n_blocks, (int)s->split);
    snprintf(d->analysis, sizeof d->analysis, "samples %d batch %d bootstrap %d bins %d",
             s->n_samples, s->sample_batch, s->n_bootstrap, s->profile_bins);
    snprintf(d->ais, sizeof d->ais, "chains %d batch %d temps %d leapfrog %d pilot %d accept %.17g",
             s->ais_chains, s->ais_batch, s->ais.n_temps, s->ais.leapfrog, s->ais.n_pilot,
             s->ais.target_acceptance);
    const app_run_setting list[N_SETTINGS] = {
        {"seed", d->seed},         {"kT", d->kT},     {"bond", r->opt.bond},
        {"schedule", r->opt.quick ? "quick" : "full"}, {"mc", d->mc},
        {"umbrella", d->us},       {"training", d->stages}, {"flow", d->flow},
        {"analysis", d->analysis},
    };
    memcpy(d->list, list, sizeof list);
}

int dimer_run_open(dimer_run *r, char *msg, size_t len)
{
    make_schedule(&r->sc, r->opt.quick, r->opt.kT);
    if (r->opt.ais_chains >= 0) r->sc.ais_chains = r->opt.ais_chains;
    if (r->opt.ais_temps > 0) r->sc.ais.n_temps = r->opt.ais_temps;
    dimer_settings *d = ad_calloc(1, sizeof *d);
    if (!d) return dimer_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    make_settings(r, d);
    /* the AIS sizes go into the analysis setting */
    size_t n = strlen(d->analysis);
    snprintf(d->analysis + n, sizeof d->analysis - n, "; ais %s", d->ais);
    app_run_config c = {DIMER_PROGRAM, DIMER_FORMAT_VERSION, r->opt.out, d->list, N_SETTINGS,
                        r->opt.resume, r->opt.restart};
    int rc = app_run_open(&r->run, &c, msg, len);
    ad_free(d);
    return rc;
}

int dimer_run_all(dimer_run *r, char *msg, size_t len)
{
    r->start_clock = app_clock_seconds();
    r->params =
        strcmp(r->opt.bond, "seed") == 0 ? pot_dimer_params_seed() : pot_dimer_params_paper();
    r->pot = pot_dimer(&r->params);
    r->dim = r->pot.dim;
    int rc = dimer_energy_ctx_init(&r->ectx, &r->pot);
    if (rc != AD_OK) return dimer_fail(msg, len, rc, "out of memory");
    int cached = r->opt.resume ? dimer_cache_load(r) : 0;
    r->data_reused = cached >= 1;
    r->umbrella_reused = cached == 2;
    if (cached)
        fprintf(stderr, "%s: reusing the MC data%s in %s\n", DIMER_PROGRAM,
                cached == 2 ? " and the umbrella reference" : "", r->opt.out);
    if (!r->data_reused) rc = run_mc(r, msg, len);
    if (rc == AD_OK && !r->umbrella_reused) rc = run_umbrella(r, msg, len);
    if (rc != AD_OK) return rc;
    fprintf(stderr, "%s: umbrella reference dF(closed - open) = %.3f +- %.3f\n", DIMER_PROGRAM,
            r->us.dF, r->us.dF_se);
    rc = dimer_model_build(r, msg, len);
    if (rc == AD_OK) rc = dimer_measure_timing(r, msg, len);
    if (rc == AD_OK)
        fprintf(stderr, "%s: timing at batch 1000: energy+forces %.2f ms, flow fwd+bwd %.1f ms\n",
                DIMER_PROGRAM, r->t_energy_ms, r->t_flow_ms);
    if (rc == AD_OK) rc = dimer_train(r, msg, len);
    if (rc == AD_OK) rc = dimer_analyse(r, msg, len);
    dimer_log_rows lr = {0, NULL};
    if (rc == AD_OK) {
        dimer_log_read(r, &lr);
        r->res.final_loss = dimer_final_loss(&lr, r->sc.n_stages);
    }
    if (rc == AD_OK) rc = dimer_samples_csv_write(r, msg, len);
    if (rc == AD_OK) rc = dimer_figures_write(r, &lr, msg, len);
    ad_free(lr.v);
    r->wall_seconds = app_clock_seconds() - r->start_clock;
    if (rc == AD_OK) rc = dimer_summary_write(r, msg, len);
    if (rc == AD_OK) rc = dimer_report_write(r, msg, len);
    /* the final outputs, for the record (they are never reused) */
    static const char *const outputs[] = {
        "bg_samples.csv", "bg_profile.csv", "fig_energy.svg", "fig_distance.svg",
        "fig_configurations.svg", "fig_free_energy.svg", "fig_loss.svg", "summary.json",
        "report.md", "ais_samples.csv", "ais_profile.csv"};
    int n_out = (int)(sizeof outputs / sizeof *outputs) - (r->ais_samples ? 0 : 2);
    for (int i = 0; rc == AD_OK && r->run && i < n_out; i++) {
        /* a profile is written only when it could be computed */
        if ((!r->profile && strcmp(outputs[i], "bg_profile.csv") == 0) ||
            (!r->ais_profile && strcmp(outputs[i], "ais_profile.csv") == 0))
            continue;
        rc = app_run_note(r->run, outputs[i], outputs[i], 0, DIMER_STAGE_OUTPUTS, msg, len);
    }
    if (rc == AD_OK && r->run) rc = app_run_save(r->run, msg, len);
    return rc;
}

void dimer_run_release(dimer_run *r)
{
    app_run_close(r->run);
    r->run = NULL;
    dimer_energy_ctx_release(&r->ectx);
    dimer_umbrella_out_release(&r->us);
    bg_generator_free(r->gen);
    bg_samples_free(r->samples);
    smp_profile_free(r->profile);
    bg_samples_free(r->ais_samples);
    smp_profile_free(r->ais_profile);
    ad_free(r->d_ais);
    ad_free(r->data);
    ad_free(r->data_u);
    ad_free(r->d_bg);
}
