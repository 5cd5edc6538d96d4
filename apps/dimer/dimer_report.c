/* dimer_report.c - the summary.json and report.md of bg-dimer
 * (dimer_report.h), both written atomically.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "apps/toolkit/app_buf.h"
#include "apps/toolkit/app_fs.h"
#include "apps/toolkit/app_json.h"
#include "apps/toolkit/app_report.h"
#include "apps/dimer/dimer_figures.h"
#include "apps/dimer/dimer_report.h"

static void json_dict1(app_json *w, const char *key, const char *name, double v)
{
    app_json_key(w, key);
    app_json_object_begin(w);
    app_json_key_number(w, name, v);
    app_json_object_end(w);
}

/* Opens a model's object and writes the entries every model has. */
static void json_model(app_json *w, double mc_median, const char *name,
                       const dimer_model_result *m)
{
    app_json_object_begin(w);
    app_json_key_string(w, "name", name);
    json_dict1(w, "delta_f", "closed-open", m->dF);
    json_dict1(w, "delta_f_stderr", "closed-open", m->dF_se);
    app_json_key_number(w, "ess_fraction", m->ess_fraction);
    app_json_key_number(w, "ess", m->ess);
    app_json_key_int(w, "n_samples", m->n_samples);
    app_json_key_int(w, "n_nonfinite", m->n_nonfinite);
    app_json_key_number(w, "median_energy", m->median_energy);
    app_json_key_number(w, "mc_median_energy", mc_median);
    app_json_key_number(w, "transitions_per_1000", m->transitions_per_1000);
    app_json_key_number(w, "closed_fraction_unweighted", m->closed_fraction_raw);
}

/* "trained_range", "kT_extrapolation" and "temperatures": the umbrella
 * reference and the generator's plain and annealed estimates at every
 * temperature of --temperatures. */
static void json_temperatures(app_json *w, const dimer_run *r)
{
    double range[2] = {r->gen->kT_min, r->gen->kT_max};
    app_json_key(w, "trained_range");
    app_json_number_array(w, range, 2);
    if (r->opt.train_temperatures.n) { /* by energy alone (--train-temperatures) */
        app_json_key(w, "train_temperatures");
        app_json_number_array(w, r->opt.train_temperatures.kT,
                              (size_t)r->opt.train_temperatures.n);
    }
    app_temperature_weights_json(w, &r->opt.temperature_weights);
    app_json_key_bool(w, "kT_extrapolation", bg_generator_extrapolates(r->gen, r->opt.kT));
    app_json_key(w, "temperatures");
    app_json_array_begin(w);
    for (int j = 0; j < r->n_temps; j++) {
        const dimer_temperature *t = &r->temps[j];
        const dimer_umbrella_out *us = t->is_main ? &r->us : &t->us;
        app_json_object_begin(w);
        app_json_key_number(w, "kT", t->kT);
        app_json_key(w, "reference");
        app_json_object_begin(w);
        json_dict1(w, "delta_f", "closed-open", us->dF);
        json_dict1(w, "delta_f_stderr", "closed-open", us->dF_se);
        app_json_key(w, "delta_f_repeats");
        app_json_number_array(w, us->dF_repeat, (size_t)us->n_repeats);
        dimer_umbrella_hysteresis h;
        dimer_umbrella_starts(us, &h);
        app_json_key_number(w, "start_state_difference", h.difference);
        app_json_key_number(w, "start_state_difference_stderr", h.difference_se);
        app_json_key_string(w, "method", "umbrella+WHAM");
        app_json_key_number(w, "acceptance", us->acceptance);
        app_json_key_number(w, "seconds", t->is_main ? r->us_seconds : t->us_seconds);
        app_json_object_end(w);
        double paper = strcmp(r->opt.bond, "paper") == 0 ? dimer_paper_umbrella(t->kT) : NAN;
        if (isfinite(paper)) app_json_key_number(w, "paper_umbrella_mean", paper);
        app_json_key(w, "mc");
        app_json_object_begin(w);
        app_json_key_int(w, "n_closed", t->is_main ? r->n_closed : t->n_closed);
        app_json_key_int(w, "n_open", t->is_main ? r->n_open : t->n_open);
        app_json_key(w, "acceptance");
        app_json_number_array(w, t->is_main ? r->mc_acc : t->mc_acc, 2);
        app_json_object_end(w);
        app_json_key(w, "models");
        app_json_array_begin(w);
        double mc_median = t->is_main ? r->mc_median : t->mc_median;
        json_model(w, mc_median, "ML+KL+RC", t->is_main ? &r->res : &t->res);
        app_json_key_bool(w, "extrapolation", t->extrapolation);
        app_json_object_end(w);
        if (t->has_ais) {
            json_model(w, mc_median, "ML+KL+RC, latent AIS",
                       t->is_main ? &r->ais_res : &t->ais_res);
            app_json_key_bool(w, "extrapolation", t->extrapolation);
            app_json_key_number(w, "seconds", t->is_main ? r->ais_seconds : t->ais_seconds);
            app_json_object_end(w);
        }
        app_json_array_end(w);
        app_json_object_end(w);
    }
    app_json_array_end(w);
}

int dimer_summary_write(dimer_run *r, char *msg, size_t len)
{
    app_json w;
    app_json_init(&w, 1);
    app_json_object_begin(&w);
    app_json_key_string(&w, "system", "dimer");
    app_json_key_string(&w, "bond", r->opt.bond);
    app_json_key_number(&w, "kT", r->opt.kT);
    char seed[32]; /* a string: a uint64 does not fit a JSON number exactly */
    app_run_u64_str(r->opt.seed, seed, sizeof seed);
    app_json_key_string(&w, "seed", seed);
    app_json_key_bool(&w, "quick", r->opt.quick);
    char coupling[96]; /* only for a spline run: an affine run's summary stays as it was */
    if (app_coupling_text(&r->opt.coupling, coupling, sizeof coupling) > 0)
        app_json_key_string(&w, "coupling", coupling);
    app_json_key_int(&w, "dim", r->dim);
    app_json_key(&w, "reference");
    app_json_object_begin(&w);
    json_dict1(&w, "delta_f", "closed-open", r->us.dF);
    json_dict1(&w, "delta_f_stderr", "closed-open", r->us.dF_se);
    app_json_key(&w, "delta_f_repeats");
    app_json_number_array(&w, r->us.dF_repeat, (size_t)r->us.n_repeats);
    dimer_umbrella_hysteresis h;
    dimer_umbrella_starts(&r->us, &h);
    app_json_key(&w, "start_state");
    app_json_object_begin(&w);
    app_json_key_number(&w, "closed_starts", h.closed_starts);
    app_json_key_number(&w, "closed_starts_stderr", h.closed_starts_se);
    app_json_key_number(&w, "open_starts", h.open_starts);
    app_json_key_number(&w, "open_starts_stderr", h.open_starts_se);
    app_json_key_number(&w, "difference", h.difference);
    app_json_key_number(&w, "difference_stderr", h.difference_se);
    app_json_object_end(&w);
    app_json_key_string(&w, "method", "umbrella+WHAM");
    app_json_key_int(&w, "n_windows", r->sc.us_windows);
    app_json_key_number(&w, "force_constant", r->sc.us_k);
    app_json_key_int(&w, "n_chains", r->sc.us_chains);
    long us_steps, us_discard;
    dimer_umbrella_length(&r->sc, r->opt.kT, &us_steps, &us_discard);
    app_json_key_int(&w, "steps_per_chain", (long long)us_steps);
    app_json_key_int(&w, "n_repeats", r->sc.us_repeats);
    app_json_key_number(&w, "acceptance", r->us.acceptance);
    app_json_key_number(&w, "seconds", r->us_seconds);
    app_json_object_end(&w);
    app_json_key(&w, "mc");
    app_json_object_begin(&w);
    app_json_key_int(&w, "n_closed", r->n_closed);
    app_json_key_int(&w, "n_open", r->n_open);
    app_json_key(&w, "acceptance");
    app_json_number_array(&w, r->mc_acc, 2);
    app_json_key_int(&w, "transitions", r->mc_transitions);
    app_json_key_number(&w, "seconds", r->mc_seconds);
    app_json_object_end(&w);
    app_json_key(&w, "models");
    app_json_array_begin(&w);
    json_model(&w, r->mc_median, "ML+KL+RC", &r->res);
    app_json_key_number(&w, "final_loss", r->res.final_loss);
    app_json_key_number(&w, "train_seconds", r->res.train_seconds);
    app_json_key_int(&w, "skipped_steps", r->res.skipped);
    app_json_key_int(&w, "stages", r->sc.n_stages);
    app_json_key_int(&w, "resumed_after_stage", r->train_reused_stages);
    app_json_object_end(&w);
    if (r->ais_samples) {
        const bg_ais_config *c = &r->sc.ais;
        json_model(&w, r->mc_median, "ML+KL+RC, latent AIS", &r->ais_res);
        app_json_key(&w, "ais");
        app_json_object_begin(&w);
        app_json_key_int(&w, "temperatures", c->n_temps);
        app_json_key_int(&w, "hmc_steps_per_temperature", c->mcmc_steps);
        app_json_key_int(&w, "leapfrog_steps", c->leapfrog);
        app_json_key_number(&w, "beta_power", c->beta_power);
        app_json_key_number(&w, "start_scale", c->start_scale);
        app_json_key_int(&w, "pilot_chains", c->n_pilot);
        app_json_key_number(&w, "target_acceptance", c->target_acceptance);
        app_json_key_number(&w, "acceptance", r->ais_stats.acceptance);
        app_json_key_number(&w, "step_min", r->ais_stats.step_min);
        app_json_key_number(&w, "step_max", r->ais_stats.step_max);
        app_json_key_int(&w, "evaluations", r->ais_stats.evaluations);
        app_json_key_bool(&w, "chains_kept_in_start_state", 1);
        app_json_key_number(&w, "seconds", r->ais_seconds);
        app_json_object_end(&w);
        app_json_object_end(&w);
    }
    app_json_array_end(&w);
    if (r->n_temps) json_temperatures(&w, r);
    app_json_key(&w, "timing");
    app_json_object_begin(&w);
    app_json_key_number(&w, "energy_forces_ms_batch1000", r->t_energy_ms);
    app_json_key_number(&w, "flow_fwd_bwd_ms_batch1000", r->t_flow_ms);
    app_json_key_int(&w, "threads", ad_threads_get());
    app_json_object_end(&w);
    app_json_key_number(&w, "wall_seconds", r->wall_seconds);
    app_json_object_end(&w);
    int rc = app_json_finish(&w, msg, len);
    char path[1024];
    dimer_out_path(r, "summary.json", path, sizeof path);
    if (rc == AD_OK) rc = app_fs_write_atomic(path, w.out.data, w.out.len, msg, len);
    app_json_free(&w);
    return rc;
}

/* "Several temperatures": the reference and the estimates at each. */
static void report_temperatures(app_buf *b, const dimer_run *r)
{
    char t[3072], list[APP_MAX_TEMPERATURES * 16], train[APP_MAX_TEMPERATURES * 16];
    char extra[APP_MAX_TEMPERATURES * 16 + 256] = "";
    app_temperatures_text(&r->opt.temperatures, 0, list, sizeof list);
    if (r->opt.train_temperatures.n) {
        app_temperatures_text(&r->opt.train_temperatures, 0, train, sizeof train);
        snprintf(extra, sizeof extra,
                 " and, by energy alone (J_KL and J_RC, no data), at kT = %s "
                 "(--train-temperatures), so that the trained range is [%g, %g]",
                 train, r->gen->kT_min, r->gen->kT_max);
    }
    char split[APP_MAX_TEMPERATURES * 40 + 128];
    app_temperature_weights_phrase(&r->opt.temperature_weights, split, sizeof split);
    app_report_heading(b, 2, "Several temperatures");
    snprintf(t, sizeof t,
             "One generator trained at kT = %s (--temperatures)%s: every batch %s, a row at kT "
             "drawing its latent point from N(0, kT I) and its J_ML data from the MC frames of "
             "that kT (sigma 0.02 sqrt(kT)), the energy cut the same absolute energy at every kT. "
             "At each temperature of --temperatures: MC data in both states and the umbrella + "
             "WHAM reference with the schedule above, %d generated samples and, with latent AIS, "
             "%d annealed chains. Every dF in units of its own kT.",
             list, extra, split, r->sc.n_samples, r->sc.ais_chains);
    app_report_paragraph(b, t);
    int paper = strcmp(r->opt.bond, "paper") == 0;
    const char *hdr[8] = {"kT", "umbrella + WHAM", "BG reweighted", "ESS / n",
                          "BG + latent AIS", "ESS / n, AIS", "paper's umbrella"};
    int n_cols = paper ? 7 : 6;
    char cells[APP_MAX_TEMPERATURES][7][64];
    const char *cp[APP_MAX_TEMPERATURES * 7];
    for (int j = 0; j < r->n_temps; j++) {
        const dimer_temperature *tp = &r->temps[j];
        const dimer_umbrella_out *us = tp->is_main ? &r->us : &tp->us;
        const dimer_model_result *bg = tp->is_main ? &r->res : &tp->res;
        const dimer_model_result *ais = tp->is_main ? &r->ais_res : &tp->ais_res;
        snprintf(cells[j][0], 64, "%g", tp->kT);
        snprintf(cells[j][1], 64, "%.3f ± %.3f", us->dF, us->dF_se);
        snprintf(cells[j][2], 64, "%.3f ± %.3f", bg->dF, bg->dF_se);
        snprintf(cells[j][3], 64, "%.4f", bg->ess_fraction);
        if (tp->has_ais) {
            snprintf(cells[j][4], 64, "%.3f ± %.3f", ais->dF, ais->dF_se);
            snprintf(cells[j][5], 64, "%.4f", ais->ess_fraction);
        } else {
            snprintf(cells[j][4], 64, "-");
            snprintf(cells[j][5], 64, "-");
        }
        double pv = dimer_paper_umbrella(tp->kT);
        if (isfinite(pv)) snprintf(cells[j][6], 64, "%.2f", pv);
        else snprintf(cells[j][6], 64, "-");
        for (int c = 0; c < n_cols; c++) cp[j * n_cols + c] = cells[j][c];
    }
    app_report_table(b, n_cols, hdr, cp, r->n_temps);
    app_buf low;
    app_buf_init(&low);
    for (int j = 0; j < r->n_temps; j++) {
        const dimer_temperature *tp = &r->temps[j];
        const dimer_model_result *bg = tp->is_main ? &r->res : &tp->res;
        const dimer_model_result *ais = tp->is_main ? &r->ais_res : &tp->ais_res;
        if (!(bg->ess_fraction >= 0.01))
            app_buf_printf(&low, "%sBG at kT = %g", low.len ? ", " : "", tp->kT);
        if (tp->has_ais && !(ais->ess_fraction >= 0.01))
            app_buf_printf(&low, "%sBG + latent AIS at kT = %g", low.len ? ", " : "", tp->kT);
    }
    snprintf(t, sizeof t,
             "ESS / n below 1 %%: %s. Where it is, a few samples carry the estimate and its "
             "bootstrap SE understates its error.%s",
             low.err ? "?" : low.len ? low.data : "none",
             paper ? " The paper's column: the mean of its three umbrella runs for this energy "
                     "(spread about +-0.5 kT)." : "");
    app_buf_free(&low);
    app_report_paragraph(b, t);
    app_report_image(b, "dF(closed - open) against temperature", "fig_temperatures.svg");
    app_report_image(b, "F(d) at each temperature", "fig_temperature_profiles.svg");
    app_report_paragraph(b, "Files: temperatures.csv (kT, umbrella dF and SE, the BG's and the "
                            "annealed dF, SE and ESS / n); at each other temperature "
                            "data_closed_kT<kT>.csv, data_open_kT<kT>.csv, "
                            "umbrella_profile_kT<kT>.csv, bg_profile_kT<kT>.csv, "
                            "ais_profile_kT<kT>.csv, cache_kT<kT>.json (for --resume).");
}

int dimer_report_write(dimer_run *r, char *msg, size_t len)
{
    app_buf b;
    app_buf_init(&b);
    char t[1024];
    const dimer_model_result *m = &r->res;
    snprintf(t, sizeof t, "Dimer in a repulsive LJ bath (%s bond%s), kT = %g", r->opt.bond,
             r->opt.quick ? ", --quick" : "", r->opt.kT);
    app_coupling_append_title(&r->opt.coupling, t, sizeof t);
    app_report_heading(&b, 1, t);
    snprintf(t, sizeof t,
             "76 coordinates (2 dimer + 36 solvent particles). Seed %llu, %d thread(s), wall time "
             "%.1f s. A --quick run uses a tiny schedule; its numbers are not meant to meet the "
             "targets.",
             (unsigned long long)r->opt.seed, ad_threads_get(), r->wall_seconds);
    app_report_paragraph(&b, t);
    app_report_heading(&b, 2, "Results");
    char c[20][96];
    snprintf(c[0], 96, "%.3f +- %.3f", r->us.dF, r->us.dF_se);
    snprintf(c[1], 96, "%.3f +- %.3f", m->dF, m->dF_se);
    snprintf(c[2], 96, "%.4f (ESS %.1f of %d)", m->ess_fraction, m->ess, m->n_samples);
    snprintf(c[3], 96, "%.2f", m->median_energy);
    snprintf(c[4], 96, "%.2f", r->mc_median);
    snprintf(c[5], 96, "%.1f", m->transitions_per_1000);
    snprintf(c[6], 96, "%d in %d frames", r->mc_transitions, r->n_closed + r->n_open);
    snprintf(c[7], 96, "%d", m->n_nonfinite);
    snprintf(c[8], 96, "%.3f", m->closed_fraction_raw);
    snprintf(c[9], 96, "%.3f", m->final_loss);
    snprintf(c[10], 96, "%.1f", m->train_seconds);
    snprintf(c[11], 96, "%.2f", r->t_energy_ms);
    snprintf(c[12], 96, "%.1f", r->t_flow_ms);
    const char *hdr[2] = {"quantity", "value"};
    const dimer_model_result *a = &r->ais_res;
    snprintf(c[13], 96, "%.3f +- %.3f", a->dF, a->dF_se);
    snprintf(c[14], 96, "%.4f (ESS %.1f of %d)", a->ess_fraction, a->ess, a->n_samples);
    snprintf(c[15], 96, "%.2f", a->median_energy);
    snprintf(c[16], 96, "%.1f", r->ais_seconds);
    const char *cells[] = {
        "dF(closed - open), umbrella + WHAM (kT)", c[0],
        "dF(closed - open), BG reweighted (kT, bootstrap SE)", c[1],
        "ESS / n", c[2],
        "median energy, BG samples", c[3],
        "median energy, MC data (both states)", c[4],
        "closed-open transitions per 1000 BG samples", c[5],
        "closed-open transitions in the MC chains", c[6],
        "non-finite samples", c[7],
        "fraction closed, unweighted BG samples", c[8],
        "final loss (last 10 % of the last stage)", c[9],
        "training time (s)", c[10],
        "energy + forces, batch 1000 (ms)", c[11],
        "flow forward + backward, batch 1000 (ms)", c[12],
        "dF(closed - open), BG + latent AIS (kT, bootstrap SE)", c[13],
        "ESS / n, BG + latent AIS", c[14],
        "median energy, BG + latent AIS samples", c[15],
        "latent AIS time (s)", c[16],
    };
    app_report_table(&b, 2, hdr, cells, r->ais_samples ? 17 : 13);
    snprintf(t, sizeof t,
             "Umbrella repeats (dF closed - open):");
    app_buf_puts(&b, t);
    for (int q = 0; q < r->us.n_repeats; q++) app_buf_printf(&b, " %.3f", r->us.dF_repeat[q]);
    dimer_umbrella_hysteresis h;
    dimer_umbrella_starts(&r->us, &h);
    app_buf_printf(&b,
                   ". Repeats started from closed frames give %.3f +- %.3f, those started from "
                   "open frames %.3f +- %.3f (difference %.3f +- %.3f; windows that forgot their "
                   "start agree within the errors). The paper's three umbrella runs for its "
                   "energy (paper bond, kT = 1) gave -6.63, -7.12 and -7.55.\n\n",
                   h.closed_starts, h.closed_starts_se, h.open_starts, h.open_starts_se,
                   h.difference, h.difference_se);
    if (r->n_temps) report_temperatures(&b, r);
    app_report_heading(&b, 2, "Setup");
    snprintf(t, sizeof t,
             "Monte Carlo: %d chains per state x %ld steps (sigma = 0.02 sqrt(kT), every "
             "coordinate moved), first %ld frames of stride %d dropped; %d closed and %d open "
             "frames, solvent relabelled against the lattice. Acceptance %.3f / %.3f; mean "
             "energy first/second half: closed %.2f / %.2f, open %.2f / %.2f.",
             r->sc.mc_chains, r->sc.mc_steps, r->sc.mc_discard, r->sc.mc_stride, r->n_closed,
             r->n_open, r->mc_acc[0], r->mc_acc[1], r->mc_u_first[0], r->mc_u_second[0],
             r->mc_u_first[1], r->mc_u_second[1]);
    app_report_paragraph(&b, t);
    long us_steps, us_discard;
    dimer_umbrella_length(&r->sc, r->opt.kT, &us_steps, &us_discard);
    snprintf(t, sizeof t,
             "Umbrella sampling: %d windows over d in [0.5, 2.5], k = %g, %d chains x %ld steps "
             "per window and repeat (first %ld frames of stride %d dropped; 1/kT times longer "
             "below kT 1), %d independent repeats, every window of a repeat started from "
             "closed (even repeats) or open (odd repeats) MC frames, WHAM on %d bins; SE = std "
             "of the repeats / sqrt(repeats). Mean acceptance %.3f; %.1f s.",
             r->sc.us_windows, r->sc.us_k, r->sc.us_chains, us_steps, us_discard,
             r->sc.us_stride, r->sc.us_repeats, r->sc.us_bins, r->us.acceptance, r->us_seconds);
    app_report_paragraph(&b, t);
    snprintf(t, sizeof t,
             "Flow: whitening (PCA of the MC data, all 76 components) + RealNVP of %d blocks x 2 "
             "affine couplings, S/T nets 38 -> 200 -> 200 -> 38 (ReLU, tanh-bounded scale), "
             "%s channel split. Prior N(0, kT I).",
             r->sc.n_blocks, flow_split_kind_name(r->sc.split));
    app_report_paragraph(&b, t);
    const char *sh[8] = {"stage", "iterations", "batch", "lr", "w_ML", "w_KL", "w_RC", "E_high"};
    char sc[DIMER_N_STAGES_MAX * 8][32];
    const char *scp[DIMER_N_STAGES_MAX * 8];
    for (int k = 0; k < r->sc.n_stages; k++) {
        const bg_stage *st = &r->sc.stages[k];
        snprintf(sc[8 * k], 32, "%s", st->name);
        snprintf(sc[8 * k + 1], 32, "%d", st->n_iterations);
        snprintf(sc[8 * k + 2], 32, "%d", st->batch_size);
        snprintf(sc[8 * k + 3], 32, "%g", st->lr);
        snprintf(sc[8 * k + 4], 32, "%g", st->w_ml);
        snprintf(sc[8 * k + 5], 32, "%g", st->w_kl);
        snprintf(sc[8 * k + 6], 32, "%g", st->w_rc);
        snprintf(sc[8 * k + 7], 32, st->w_kl > 0 ? "%g" : "-", st->e_high);
        for (int j = 0; j < 8; j++) scp[8 * k + j] = sc[8 * k + j];
    }
    app_report_table(&b, 8, sh, scp, r->sc.n_stages);
    if (r->ais_samples) {
        const bg_ais_config *ac = &r->sc.ais;
        char scale[32] = ""; /* the start's variance in units of kT, when not 1 */
        if (ac->start_scale != 1.0) snprintf(scale, sizeof scale, "%g ", ac->start_scale);
        snprintf(t, sizeof t,
                 "Latent annealed importance sampling: %d chains, each from z ~ N(0, %skT I) through "
                 "%d temperatures pi_k(z) ~ N(z) w(z)^beta_k (beta linear from 0 to 1, w the "
                 "flow's importance weight), at each one %d HMC step(s) of %d leapfrog steps "
                 "(widths %.3f to %.3f sqrt(kT), tuned on %d pilot chains towards %.0f %% "
                 "acceptance; %.3f reached), every chain kept in the state (closed or open) it "
                 "started in. The annealed log weights are exact importance weights of the "
                 "Boltzmann density, so dF, F(d) and ESS use the same estimators as the plain "
                 "samples. %ld flow evaluations, %.1f s.",
                 r->sc.ais_chains, scale, ac->n_temps, ac->mcmc_steps, ac->leapfrog,
                 r->ais_stats.step_min,
                 r->ais_stats.step_max, ac->n_pilot, 100 * ac->target_acceptance,
                 r->ais_stats.acceptance, r->ais_stats.evaluations, r->ais_seconds);
        app_report_paragraph(&b, t);
    }
    app_report_heading(&b, 2, "Figures");
    app_report_image(&b, "free energy profiles", "fig_free_energy.svg");
    app_report_image(&b, "energy distributions", "fig_energy.svg");
    app_report_image(&b, "dimer distance distributions", "fig_distance.svg");
    app_report_image(&b, "configurations", "fig_configurations.svg");
    app_report_image(&b, "training losses", "fig_loss.svg");
    app_report_paragraph(&b, "Files: summary.json; data_closed.csv, data_open.csv (MC, "
                             "relabelled); umbrella_profile.csv; bg_samples.csv (d, energy, "
                             "log_w); bg_profile.csv; ais_samples.csv and ais_profile.csv (the "
                             "same after latent AIS); train_log.csv; ckpt/ (stage "
                             "checkpoints); cache.json (for --resume).");
    int rc = b.err ? ad_status_fail(msg, len, b.err, "out of memory") : AD_OK;
    char path[1024];
    dimer_out_path(r, "report.md", path, sizeof path);
    if (rc == AD_OK) rc = app_fs_write_atomic(path, b.data, b.len, msg, len);
    app_buf_free(&b);
    return rc;
}
