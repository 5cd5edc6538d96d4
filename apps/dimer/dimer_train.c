/* dimer_train.c - the Boltzmann generator of bg-dimer (dimer_train.h): a
 * whitened RealNVP built from the MC data, its training in stages (by
 * example, then by energy) with a progress line and a labelled checkpoint
 * after each stage, and the timing of the energy and of the flow.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "apps/toolkit/app_fs.h"
#include "apps/toolkit/app_progress.h"
#include "apps/dimer/dimer_resume.h"
#include "apps/dimer/dimer_train.h"
#include "autodiff/ad_alloc.h"
#include "nn/nn_params.h"

/* ---- 3. the Boltzmann generator ---- */

int dimer_model_build(dimer_run *r, char *msg, size_t len)
{
    static const int widths[2] = {200, 200};
    flow_realnvp_config c = flow_realnvp_preset_config(FLOW_REALNVP_DIMER);
    c.dim = r->dim;
    c.n_blocks = r->sc.n_blocks;
    c.hidden_widths = widths;
    c.split = r->sc.split;
    c.whiten = 1;
    c.whiten_data = r->data;
    c.whiten_n = r->n_closed + r->n_open;
    c.seed = ad_rng_derive_seed(r->opt.seed, 30);
    if (r->opt.coupling.kind == APP_COUPLING_SPLINE) {
        c.coupling = FLOW_COUPLING_SPLINE;
        c.spline.bins = r->opt.coupling.bins;
        c.spline.bound = r->opt.coupling.bound;
    }
    bg_generator_config gc = bg_generator_config_default(&r->pot, r->opt.kT);
    gc.flow = c;
    gc.sample_batch = r->sc.sample_batch;
    bg_temperature temps[2 * APP_MAX_TEMPERATURES];
    if (r->n_temps) { /* one generator for every temperature (--temperature-weights) */
        int n = app_training_temperatures(&r->opt.temperatures, &r->opt.train_temperatures,
                                          &r->opt.temperature_weights, temps);
        gc.temperatures = temps;
        gc.n_temperatures = n;
    }
    r->gen = bg_generator_new(&gc, msg, len);
    return r->gen ? AD_OK : AD_ERR_ARG;
}

typedef struct progress_ctx {
    app_progress *pg;
    dimer_run *r;
} progress_ctx;

static void on_progress(const bg_progress *p, void *vctx)
{
    progress_ctx *c = vctx;
    if (p->iteration <= 1 && !p->stage_done)
        app_progress_stage(c->pg, p->stage + 1, c->r->sc.n_stages, p->stage_name,
                           p->n_iterations);
    app_progress_value v[4] = {{"loss", p->loss}, {"ml", p->ml}, {"kl", p->kl}, {"rc", p->rc}};
    app_progress_update(c->pg, p->iteration, v, 4);
    if (p->stage_done) {
        app_progress_done(c->pg);
        if (p->stage < DIMER_N_STAGES_MAX) c->r->stage_seconds[p->stage] = p->seconds;
    }
}

int dimer_train(dimer_run *r, char *msg, size_t len)
{
    char path[APP_RUN_PATH_MAX], log_path[APP_RUN_PATH_MAX], why[512];
    dimer_out_path(r, "ckpt", path, sizeof path);
    int rc = app_fs_mkdir_p(path, msg, len);
    if (rc != AD_OK) return rc;
    dimer_out_path(r, "train_log.csv", log_path, sizeof log_path);
    dimer_resume_stages(r);
    r->train_reused_stages = r->first_stage;
    r->res.skipped = 0;
    if (r->first_stage < r->sc.n_stages) {
        app_progress pg;
        app_progress_init(&pg, stderr, 10.0);
        progress_ctx pc = {&pg, r};
        bg_rc rc_d = bg_rc_distance(0, 1);
        bg_generator_train_config tc = bg_generator_train_default(r->data, r->n_closed + r->n_open);
        bg_temperature_data sets[APP_MAX_TEMPERATURES];
        if (r->n_temps) { /* J_ML on the MC data of every temperature */
            for (int j = 0; j < r->n_temps; j++) {
                const dimer_temperature *t = &r->temps[j];
                double weight = app_temperature_weight(&r->opt.temperature_weights, t->kT);
                sets[j] = (bg_temperature_data){
                    .kT = t->kT, .weight = weight,
                    .data = t->is_main ? r->data : t->data,
                    .n_data = t->is_main ? r->n_closed + r->n_open : t->n_closed + t->n_open};
            }
            tc.data = NULL;
            tc.n_data = 0;
            tc.data_sets = sets;
            tc.n_data_sets = r->n_temps;
        }
        tc.cut_ref = BG_CUT_ABSOLUTE; /* make_schedule gives e_high as energies, the same */
                                      /* cut for every temperature of --temperatures  */
        tc.rc = &rc_d;
        tc.rc_loss = bg_rc_loss_config_default(0.5, 2.5);
        tc.stages = r->sc.stages;
        tc.seed = ad_rng_derive_seed(r->opt.seed, 40);
        tc.log_path = log_path;
        tc.progress = on_progress;
        tc.progress_ctx = &pc;
        tc.grad_blocks = r->opt.grad_blocks;
        /* One stage per call, on the parameters the generator holds (stage k
         * draws from (seed, k) and starts Adam afresh, so this equals one
         * call over all stages), each followed by its checkpoint, labelled
         * with the settings fingerprint and the stage, and its record in the
         * manifest. */
        tc.resume_in_place = 1;
        for (int k = r->first_stage; k < r->sc.n_stages; k++) {
            tc.n_stages = k + 1;
            tc.first_stage = k;
            bg_train_result res;
            rc = bg_generator_train(r->gen, &tc, &res, why, sizeof why);
            if (rc != AD_OK) return ad_status_fail(msg, len, rc, "training: %s", why);
            r->res.skipped += res.skipped;
            char name[64], label[1024], log_name[64];
            dimer_ckpt_name(k + 1, name, sizeof name);
            dimer_out_path(r, name, path, sizeof path);
            int stage = DIMER_STAGE_TRAIN + k + 1;
            dimer_ckpt_label(r, stage, label, sizeof label);
            /* the stage times (only timings; they go with the stage) */
            dimer_stage_seconds_io(r, 1);
            if (r->run)
                app_run_note(r->run, "ckpt/stage_seconds.csv", "ckpt/stage_seconds.csv", 0, stage,
                             why, sizeof why);
            rc = bg_generator_save_label(r->gen, path, label, msg, len);
            snprintf(log_name, sizeof log_name, "train_log.csv@%d", k + 1);
            if (rc == AD_OK && r->run)
                rc = app_run_note(r->run, log_name, "train_log.csv", 1, stage, msg, len);
            if (rc == AD_OK) rc = dimer_record(r, name, stage, msg, len);
            if (rc != AD_OK) return rc;
        }
    }
    r->res.train_seconds = 0;
    for (int k = 0; k < r->sc.n_stages; k++) r->res.train_seconds += r->stage_seconds[k];
    return AD_OK;
}

/* ---- timing ---- */

int dimer_measure_timing(dimer_run *r, char *msg, size_t len)
{
    enum { B = 1000 };
    flow_model *model = r->gen->model;
    int dim = r->dim, n_data = r->n_closed + r->n_open;
    ad_real *x = ad_malloc((size_t)B * dim * sizeof *x), *u = ad_malloc(B * sizeof *u);
    ad_real *f = ad_malloc((size_t)B * dim * sizeof *f);
    ad_real *z = ad_malloc((size_t)B * model->dim_z * sizeof *z);
    ad_tape *t = ad_tape_new(0);
    int rc = (x && u && f && z && t) ? AD_OK : ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    for (int i = 0; rc == AD_OK && i < B; i++)
        memcpy(x + (size_t)i * dim, r->data + (size_t)(i % n_data) * dim, (size_t)dim * sizeof *x);
    double best_e = INFINITY, best_f = INFINITY;
    for (int k = 0; rc == AD_OK && k < r->sc.timing_repeats; k++) {
        double t0 = app_clock_seconds();
        rc = pot_forces(&r->pot, t, x, B, u, f, msg, len);
        double dt = app_clock_seconds() - t0;
        if (dt < best_e) best_e = dt;
    }
    ad_rng rng;
    ad_rng_seed(&rng, 12345, 0);
    flow_prior prior = {model->dim_z, 1.0};
    if (rc == AD_OK) rc = flow_prior_sample(&prior, &rng, z, B);
    for (int k = 0; rc == AD_OK && k < r->sc.timing_repeats; k++) {
        double t0 = app_clock_seconds();
        ad_tape_reset(t);
        int shape[2] = {B, model->dim_z};
        ad_tensor *zt = ad_constant(t, 2, shape, z), *ld = NULL;
        ad_tensor *xt = flow_model_forward(model, t, zt, &ld);
        ad_tensor *loss = ad_add(t, ad_sum(t, xt), ad_sum(t, ld));
        if (!ad_tape_ok(t)) rc = ad_status_fail(msg, len, ad_tape_status(t), "%s", ad_tape_error(t));
        if (rc == AD_OK) rc = ad_backward(t, loss);
        double dt = app_clock_seconds() - t0;
        if (dt < best_f) best_f = dt;
    }
    nn_params_zero_grad(model->params);
    r->t_energy_ms = 1e3 * best_e;
    r->t_flow_ms = 1e3 * best_f;
    ad_tape_free(t);
    ad_free(x);
    ad_free(u);
    ad_free(f);
    ad_free(z);
    return rc;
}
