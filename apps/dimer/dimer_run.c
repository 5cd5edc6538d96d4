/* dimer_run.c - the bg-dimer pipeline (dimer_run.h): the schedule and the
 * settings of --out, then the Metropolis data in both states, the
 * umbrella-sampling reference, the flow, its training, the analysis and the
 * outputs in order. */
#include <stdio.h>
#include <string.h>

#include "apps/toolkit/app_progress.h"
#include "apps/dimer/dimer_analysis.h"
#include "apps/dimer/dimer_data.h"
#include "apps/dimer/dimer_figures.h"
#include "apps/dimer/dimer_report.h"
#include "apps/dimer/dimer_resume.h"
#include "apps/dimer/dimer_run.h"
#include "apps/dimer/dimer_train.h"
#include "autodiff/ad_alloc.h"
#include "autodiff/ad_dist.h"

/* The settings of the manifest: everything the numbers depend on (the
 * thread count is not: results do not depend on it). */
/* and "temperatures", "train_temperatures", "temperature_weights" when given */
enum { N_SETTINGS = 9 };
typedef struct dimer_settings {
    char seed[32], kT[40], mc[96], us[160], stages[8 * 96], flow[160], analysis[256], ais[128];
    char temps[APP_MAX_TEMPERATURES * 26], train_temps[APP_MAX_TEMPERATURES * 26];
    char weights[APP_MAX_TEMPERATURES * 52];
    app_run_setting list[N_SETTINGS + 3];
    int n;
} dimer_settings;

static void make_settings(const dimer_run *r, dimer_settings *d)
{
    const dimer_schedule *s = &r->sc;
    long us_steps, us_discard;
    dimer_umbrella_length(s, r->opt.kT, &us_steps, &us_discard);
    app_run_u64_str(r->opt.seed, d->seed, sizeof d->seed);
    snprintf(d->kT, sizeof d->kT, "%.17g", r->opt.kT);
    snprintf(d->mc, sizeof d->mc, "chains %d steps %ld stride %d discard %ld", s->mc_chains,
             s->mc_steps, s->mc_stride, s->mc_discard);
    snprintf(d->us, sizeof d->us,
             "windows %d k %.17g chains %d steps %ld stride %d discard %ld repeats %d bins %d",
             s->us_windows, s->us_k, s->us_chains, us_steps, s->us_stride, us_discard,
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
    if (r->opt.grad_blocks > 1 && at < sizeof d->stages) /* only when it changes the numbers */
        snprintf(d->stages + at, sizeof d->stages - at, "; grad_blocks %d", r->opt.grad_blocks);
    snprintf(d->flow, sizeof d->flow, "blocks %d split %d", s->n_blocks, (int)s->split);
    if (r->opt.coupling.kind != APP_COUPLING_AFFINE) { /* an affine run keeps its fingerprint */
        size_t n = strlen(d->flow);
        snprintf(d->flow + n, sizeof d->flow - n, " coupling ");
        n = strlen(d->flow);
        app_coupling_text(&r->opt.coupling, d->flow + n, sizeof d->flow - n);
    }
    snprintf(d->analysis, sizeof d->analysis, "samples %d batch %d bootstrap %d bins %d",
             s->n_samples, s->sample_batch, s->n_bootstrap, s->profile_bins);
    snprintf(d->ais, sizeof d->ais, "chains %d batch %d temps %d leapfrog %d pilot %d accept %.17g",
             s->ais_chains, s->ais_batch, s->ais.n_temps, s->ais.leapfrog, s->ais.n_pilot,
             s->ais.target_acceptance);
    if (s->ais.start_scale != 1.0) { /* only when set: a run without it keeps its fingerprint */
        size_t n = strlen(d->ais);
        snprintf(d->ais + n, sizeof d->ais - n, " start %.17g", s->ais.start_scale);
    }
    const app_run_setting list[N_SETTINGS] = {
        {"seed", d->seed},         {"kT", d->kT},     {"bond", r->opt.bond},
        {"schedule", r->opt.quick ? "quick" : "full"}, {"mc", d->mc},
        {"umbrella", d->us},       {"training", d->stages}, {"flow", d->flow},
        {"analysis", d->analysis},
    };
    memcpy(d->list, list, sizeof list);
    /* only when given, so that a run without them keeps its fingerprint */
    d->n = N_SETTINGS;
    if (r->opt.temperatures.n) {
        app_temperatures_text(&r->opt.temperatures, 1, d->temps, sizeof d->temps);
        d->list[d->n++] = (app_run_setting){"temperatures", d->temps};
    }
    if (r->opt.train_temperatures.n) {
        app_temperatures_text(&r->opt.train_temperatures, 1, d->train_temps,
                              sizeof d->train_temps);
        d->list[d->n++] = (app_run_setting){"train_temperatures", d->train_temps};
    }
    if (r->opt.temperature_weights.n) {
        app_temperature_weights_text(&r->opt.temperature_weights, 1, d->weights,
                                     sizeof d->weights);
        d->list[d->n++] = (app_run_setting){"temperature_weights", d->weights};
    }
}

int dimer_run_open(dimer_run *r, char *msg, size_t len)
{
    dimer_schedule_make(&r->sc, r->opt.quick, r->opt.kT);
    r->n_temps = r->opt.temperatures.n;
    for (int j = 0; j < r->n_temps; j++) {
        r->temps[j].kT = r->opt.temperatures.kT[j];
        r->temps[j].is_main = r->temps[j].kT == r->opt.kT;
    }
    if (r->opt.ais_chains >= 0)
        r->sc.ais_chains = r->opt.ais_chains;
    else if (r->n_temps > 1) /* annealing at every temperature: half the chains at each */
        r->sc.ais_chains /= 2; /* (docs/experiments.md, "Several temperatures")        */
    if (r->opt.ais_temps > 0) r->sc.ais.n_temps = r->opt.ais_temps;
    r->sc.ais.start_scale = r->opt.ais_start_scale > 0 ? r->opt.ais_start_scale : 1.0;
    dimer_settings *d = ad_calloc(1, sizeof *d);
    if (!d) return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    make_settings(r, d);
    /* the AIS sizes go into the analysis setting, which governs only the
     * sampling, reweighting and annealing after training: every run does
     * them again, so --resume may change it and keep the data, the
     * reference and the checkpoints (app_run_config.redo) */
    static const char *const redo[] = {"analysis", NULL};
    size_t n = strlen(d->analysis);
    snprintf(d->analysis + n, sizeof d->analysis - n, "; ais %s", d->ais);
    app_run_config c = {.program = DIMER_PROGRAM,
                        .format_version = DIMER_FORMAT_VERSION,
                        .out = r->opt.out,
                        .settings = d->list,
                        .n_settings = d->n,
                        .resume = r->opt.resume,
                        .restart = r->opt.restart,
                        .redo = redo};
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
    if (rc != AD_OK) return ad_status_fail(msg, len, rc, "out of memory");
    int cached = r->opt.resume ? dimer_cache_load(r, -1) : 0;
    r->data_reused = cached >= 1;
    r->umbrella_reused = cached == 2;
    if (cached)
        fprintf(stderr, "%s: reusing the MC data%s in %s\n", DIMER_PROGRAM,
                cached == 2 ? " and the umbrella reference" : "", r->opt.out);
    if (!r->data_reused) rc = dimer_mc(r, msg, len);
    if (rc == AD_OK && !r->umbrella_reused) rc = dimer_reference(r, msg, len);
    if (rc != AD_OK) return rc;
    fprintf(stderr, "%s: umbrella reference dF(closed - open) = %.3f +- %.3f\n", DIMER_PROGRAM,
            r->us.dF, r->us.dF_se);
    if (r->n_temps) rc = dimer_temperature_data(r, msg, len);
    if (rc == AD_OK) rc = dimer_model_build(r, msg, len);
    if (rc == AD_OK) { /* timings only: rank 0 measures them (autodiff/ad_dist.h) */
        if (ad_dist_root_begin()) rc = dimer_measure_timing(r, msg, len);
        rc = ad_dist_root_end(rc, msg, len);
    }
    if (rc == AD_OK)
        fprintf(stderr, "%s: timing at batch 1000: energy+forces %.2f ms, flow fwd+bwd %.1f ms\n",
                DIMER_PROGRAM, r->t_energy_ms, r->t_flow_ms);
    if (rc == AD_OK) rc = dimer_train(r, msg, len);
    if (rc == AD_OK) rc = dimer_analyse(r, msg, len);
    if (rc == AD_OK && r->n_temps) rc = dimer_analyse_temperatures(r, msg, len);
    dimer_log_rows lr = {0, NULL};
    if (rc == AD_OK) {
        dimer_log_read(r, &lr);
        r->res.final_loss = dimer_final_loss(&lr, r->sc.n_stages);
    }
    if (rc == AD_OK) rc = dimer_samples_csv_write(r, msg, len);
    if (rc == AD_OK && r->n_temps) rc = dimer_temperature_csvs_write(r, msg, len);
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
    if (r->n_temps) {
        static const char *const more[] = {"temperatures.csv", "fig_temperatures.svg",
                                           "fig_temperature_profiles.svg"};
        for (size_t i = 0; rc == AD_OK && r->run && i < sizeof more / sizeof *more; i++)
            rc = app_run_note(r->run, more[i], more[i], 0, DIMER_STAGE_OUTPUTS, msg, len);
        for (int j = 0; rc == AD_OK && r->run && j < r->n_temps; j++) {
            const dimer_temperature *t = &r->temps[j];
            static const char *const stems[2] = {"bg_profile", "ais_profile"};
            const smp_profile *have[2] = {t->profile, t->ais_profile};
            for (int w = 0; rc == AD_OK && w < 2 && !t->is_main; w++) {
                if (!have[w]) continue;
                char name[96];
                dimer_temp_file(t->kT, stems[w], ".csv", name, sizeof name);
                rc = app_run_note(r->run, name, name, 0, DIMER_STAGE_OUTPUTS, msg, len);
            }
        }
    }
    if (rc == AD_OK && r->run) rc = app_run_save(r->run, msg, len);
    return rc;
}

