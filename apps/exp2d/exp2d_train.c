/* exp2d_train.c - training the four models of a 2-D run (the ML model
 * first, the three others from it), each saved with its loss curve and the
 * record of its settings as soon as it is trained, and reloaded by --resume. */
#include "apps/exp2d/exp2d.h"
#include "apps/exp2d/exp2d_impl.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/toolkit/app_fs.h"
#include "apps/toolkit/app_progress.h"
#include "apps/toolkit/app_record.h"
#include "autodiff/ad_alloc.h"
#include "autodiff/ad_dist.h"
#include "flows/bg_generator.h"
#include "nn/nn_params.h"
#include "sampling/smp_data.h"

/* ---- training ------------------------------------------------------- */

typedef struct train_ctx {
    app_progress *progress;
    exp2d_model *model;
} train_ctx;

static void on_progress(const bg_progress *p, void *vctx)
{
    train_ctx *c = vctx;
    exp2d_model *m = c->model;
    if (p->iteration >= 1 && p->iteration <= m->n_iterations) {
        double *row = m->loss + 4 * (p->iteration - 1);
        row[0] = p->loss;
        row[1] = p->ml;
        row[2] = p->kl;
        row[3] = p->rc;
    }
    app_progress_value v[4] = {{"loss", p->loss}};
    int nv = 1;
    if (m->w_ml > 0 && (m->w_kl > 0 || m->w_rc > 0)) v[nv++] = (app_progress_value){"ml", p->ml};
    if (m->w_kl > 0 && (m->w_ml > 0 || m->w_rc > 0)) v[nv++] = (app_progress_value){"kl", p->kl};
    if (m->w_rc > 0) v[nv++] = (app_progress_value){"rc", p->rc};
    app_progress_update(c->progress, p->iteration, v, nv);
    if (p->stage_done) app_progress_done(c->progress);
}

/* ---- crash safety: every trained model is saved as soon as its training
 * ends (DIR/model_<slug>.ckpt, written atomically, plus its loss curve and a
 * record of the settings it was trained with); --resume reloads the models
 * whose record matches this run and trains only the others.  Training draws
 * its random numbers from the seed alone, so a resumed run produces the same
 * numbers as an uninterrupted one. */

/* The label of model k's checkpoint: the run's fingerprint (which covers
 * --train-temperatures) and the stage, and with --temperatures the list. */
static void model_label(const exp2d_run *run, int k, char *buf, size_t len)
{
    buf[0] = '\0';
    if (!run->run) return;
    app_run_label(run->run, k + 1, buf, len);
    app_label_append_settings(&run->opt.temperatures, &run->opt.coupling, buf, len);
}

static int model_path(const exp2d_run *run, const exp2d_model *m, const char *what,
                      char *path, size_t size)
{
    char name[128];
    snprintf(name, sizeof name, "%s_%s", what, m->slug);
    return app_fs_join(path, size, run->opt.out, name);
}

/* Who trained a model: the files' format, the run's seed, kT and schedule. */
static app_record_id record_id(const exp2d_run *run)
{
    app_record_id id = {.version = EXP2D_FORMAT_VERSION, .seed = run->opt.seed, .kT = run->kT,
                        .quick = run->opt.quick};
    return id;
}

/* Record DIR/name<suffix> of model k in the manifest. */
static int record_file(const exp2d_run *run, const exp2d_model *m, const char *what,
                       const char *suffix, int k, char *msg, size_t len)
{
    if (!run->run) return AD_OK;
    char name[128];
    snprintf(name, sizeof name, "%s_%s%s", what, m->slug, suffix);
    return app_run_record(run->run, name, name, 0, k + 1, msg, len);
}

static int save_model(const exp2d_run *run, const exp2d_model *m, int k, char *msg, size_t len)
{
    char path[APP_RUN_PATH_MAX], label[1024] = "";
    if (model_path(run, m, "model", path, sizeof path) != AD_OK ||
        strlen(path) + 16 > sizeof path)
        return ad_status_fail(msg, len, AD_ERR_ARG, "output path too long: %s", run->opt.out);
    strcat(path, ".ckpt");
    model_label(run, k, label, sizeof label);
    int status = bg_generator_save_label(m->gen, path, label, msg, len);
    if (status == AD_OK) status = record_file(run, m, "model", ".ckpt", k, msg, len);
    if (status != AD_OK) return status;
    status = exp2d_write_loss_csv(run, m, msg, len);
    if (status == AD_OK) status = record_file(run, m, "loss", ".csv", k, msg, len);
    if (status != AD_OK) return status;
    /* The record goes last: it marks the model as complete. */
    char name[128];
    snprintf(name, sizeof name, "train_%s_record.json", m->slug);
    app_record_id id = record_id(run);
    app_json w;
    app_json_init(&w, 1);
    app_record_begin(&w, &id);
    app_json_key_int(&w, "iterations", m->n_iterations);
    app_json_key_number(&w, "final_loss", m->final_loss);
    app_json_key_int(&w, "skipped", m->skipped);
    if (run->n_temps) {
        double kT[APP_MAX_TEMPERATURES];
        for (int j = 0; j < run->n_temps; j++) kT[j] = run->temps[j].kT;
        app_json_key(&w, "temperatures");
        app_json_number_array(&w, kT, (size_t)run->n_temps);
    }
    status = app_record_finish(run->run, run->opt.out, &w, name, k + 1, msg, len);
    app_json_free(&w);
    return status;
}

/* 1 if a complete model matching this run was reloaded, 0 otherwise (with
 * why filled).  Its three files must match the manifest, the checkpoint's
 * label this run's fingerprint and the model's stage, and the record's
 * numbers must be finite and in range. */
static int reload_model(exp2d_run *run, exp2d_model *m, int k, char *why, size_t why_len)
{
    char path[APP_RUN_PATH_MAX], name[128], want[1024];
    smp_dataset *loss = NULL;
    app_json_value *rec = NULL;
    int ok = 0;
    m->final_loss = 0;
    m->skipped = 0;
    static const char *const parts[2][2] = {{"loss", ".csv"}, {"model", ".ckpt"}};
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof name, "%s_%s%s", parts[i][0], m->slug, parts[i][1]);
        int st = 0;
        if (!run->run || !app_run_reusable(run->run, name, &st, why, why_len)) return 0;
        if (st != k + 1) {
            snprintf(why, why_len, "%s was recorded by stage %d, not %d", name, st, k + 1);
            return 0;
        }
    }
    snprintf(name, sizeof name, "train_%s_record.json", m->slug);
    app_record_id id = record_id(run);
    int st = 0;
    if (app_record_read(run->run, name, &id, &rec, &st, why, why_len) != AD_OK) return 0;
    snprintf(why, why_len, "%s holds unusable values", name);
    double final_loss = 0, temps[APP_MAX_TEMPERATURES], *tp = temps;
    long long iterations = 0, skipped = 0;
    size_t n_temps = 0;
    if (st != k + 1 ||
        !app_record_int(rec, "iterations", m->n_iterations, m->n_iterations, &iterations) ||
        !app_record_real(rec, "final_loss", -DBL_MAX, DBL_MAX, &final_loss) ||
        !app_record_int(rec, "skipped", 0, m->n_iterations, &skipped))
        goto done;
    /* the temperature list the model was trained at: none, or this run's */
    if (run->n_temps ? !app_record_reals(rec, "temperatures", run->n_temps, &tp, &n_temps)
                     : app_json_member(rec, "temperatures") != NULL)
        goto done;
    for (size_t j = 0; j < n_temps; j++)
        if (temps[j] != run->temps[j].kT) goto done;
    model_path(run, m, "loss", path, sizeof path);
    strcat(path, ".csv");
    if (smp_csv_read(path, 1, &loss, why, why_len) != AD_OK) goto done;
    snprintf(why, why_len, "loss_%s.csv holds unusable values", m->slug);
    if (loss->n != m->n_iterations || loss->dim != 5) goto done;
    model_path(run, m, "model", path, sizeof path);
    strcat(path, ".ckpt");
    /* only a checkpoint labelled with this run's fingerprint and the model's
     * stage is loaded; otherwise the model keeps its parameters */
    model_label(run, k, want, sizeof want);
    if (bg_generator_load_label(m->gen, path, want, why, why_len) != AD_OK) goto done;
    for (int i = 0; i < m->n_iterations; i++)
        for (int c = 0; c < 4; c++) m->loss[4 * i + c] = loss->x[5 * i + 1 + c];
    m->final_loss = final_loss;
    m->skipped = (long)skipped;
    ok = 1;
done:
    app_json_value_free(rec);
    smp_dataset_free(loss);
    return ok;
}

/* The stage of model k, its loss curve and, with --resume, its reload:
 * *done = 1 when a model saved by an earlier run was reloaded. */
static int prepare_model(exp2d_run *run, int k, bg_stage *st, int *done, char *msg, size_t len)
{
    const exp2d_system *sys = run->sys;
    const exp2d_schedule *sc = &run->sched;
    exp2d_model *m = &run->models[k];
    int is_ml = k == 0;
    *done = 0;
    *st = bg_stage_default();
    st->name = m->name;
    st->n_iterations = is_ml ? sc->ml_iterations : sc->iterations;
    st->batch_size = is_ml ? sc->ml_batch : sc->batch;
    st->lr = is_ml ? sc->ml_lr : sc->lr;
    st->w_ml = m->w_ml;
    st->w_kl = m->w_kl;
    st->w_rc = m->w_rc;
    st->e_high = sc->e_high; /* kT above the lowest minimum (tc.e_ref) */
    m->n_iterations = st->n_iterations;
    m->loss = ad_calloc((size_t)(st->n_iterations > 0 ? st->n_iterations : 1) * 4, sizeof(double));
    if (ad_dist_agree(m->loss ? AD_OK : AD_ERR_NOMEM, msg, len) != AD_OK)
        return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    if (run->opt.resume && run->run) {
        char why[512] = "";
        if (reload_model(run, m, k, why, sizeof why)) {
            fprintf(stderr, "%s: %s model reloaded from %s\n", sys->program, m->name,
                    run->opt.out);
            m->train_seconds = 0;
            *done = 1;
            return AD_OK;
        }
        /* this model and every later one (they start from the ML model) are
         * trained again */
        fprintf(stderr, "%s: --resume: %s; training the %s model%s again\n", sys->program, why,
                m->name, k + 1 < EXP2D_N_MODELS ? " and the later ones" : "");
        app_run_forget_from(run->run, k + 1);
        run->opt.resume = 0;
    }
    return AD_OK;
}

/* Train model k (prepared) from the parameters its generator holds. */
static int fit_model(exp2d_run *run, int k, const bg_stage *stage, app_progress *pg, char *msg,
                     size_t len)
{
    const exp2d_system *sys = run->sys;
    exp2d_model *m = &run->models[k];
    int is_ml = k == 0;
    bg_stage st = *stage;
    train_ctx ctx = {pg, m};
    app_progress_stage(pg, k + 1, EXP2D_N_MODELS, m->name, st.n_iterations);
    bg_generator_train_config tc = bg_generator_train_default(run->data, run->n_data);
    bg_temperature_data sets[APP_MAX_TEMPERATURES];
    if (run->n_temps) { /* J_ML on the MC data of every temperature */
        for (int j = 0; j < run->n_temps; j++)
            sets[j] = (bg_temperature_data){.kT = run->temps[j].kT,
                                            .weight = app_temperature_weight(
                                                &run->opt.temperature_weights, run->temps[j].kT),
                                            .data = run->temps[j].data,
                                            .n_data = run->temps[j].n_data};
        tc.data = NULL;
        tc.n_data = 0;
        tc.data_sets = sets;
        tc.n_data_sets = run->n_temps;
    }
    tc.cut_ref = BG_CUT_KT_ABOVE_REF;
    tc.e_ref = run->u_min;
    tc.rc = &sys->rc;
    tc.rc_loss = sys->rc_loss;
    tc.stages = &st;
    tc.n_stages = 1;
    tc.seed = exp2d_seed(run->opt.seed, 20 + (uint64_t)k);
    tc.progress = on_progress;
    tc.progress_ctx = &ctx;
    tc.grad_blocks = run->opt.grad_blocks;
    bg_train_result res;
    char why[512];
    int status = bg_generator_train(m->gen, &tc, &res, why, sizeof why);
    if (status != AD_OK) return ad_status_fail(msg, len, status, "training %s: %s", m->name, why);
    /* as the record stores it (an ad_real), so that a resumed run reports
     * the same number */
    m->final_loss = (ad_real)res.final_loss;
    m->skipped = res.skipped;
    m->train_seconds = res.seconds + (is_ml ? 0 : run->ml_seconds);
    if (is_ml) run->ml_seconds = res.seconds;
    return AD_OK;
}

static int train_model(exp2d_run *run, int k, app_progress *pg, char *msg, size_t len)
{
    bg_stage st;
    int done = 0;
    int status = prepare_model(run, k, &st, &done, msg, len);
    if (status != AD_OK || done) return status;
    status = fit_model(run, k, &st, pg, msg, len);
    if (status != AD_OK) return status;
    return save_model(run, &run->models[k], k, msg, len);
}

/* Under MPI (ad_dist.h): the models after the ML one start from it and do
 * not depend on each other, so each rank trains some of them alone (model k
 * on rank (k - 1) mod N, in a local region), every rank then receives each
 * model from the rank that trained it, and they are saved in order.  The
 * numbers are those of a serial run; a failure is the first model's that
 * failed, on every rank. */
static int train_spread(exp2d_run *run, const bg_stage *stages, const int *done, app_progress *pg,
                        char *msg, size_t len)
{
    const int ranks = ad_dist_size(), me = ad_dist_rank();
    int status[EXP2D_N_MODELS];
    char why[EXP2D_N_MODELS][512];
    for (int k = 1; k < EXP2D_N_MODELS; k++) {
        status[k] = AD_OK;
        why[k][0] = '\0';
        if (done[k] || (k - 1) % ranks != me) continue;
        ad_dist_local_begin();
        status[k] = fit_model(run, k, &stages[k], pg, why[k], sizeof why[k]);
        ad_dist_local_end();
    }
    for (int k = 1; k < EXP2D_N_MODELS; k++) {
        if (done[k]) continue;
        exp2d_model *m = &run->models[k];
        nn_params *p = m->gen->model->params;
        int from = (k - 1) % ranks;
        double stats[3] = {m->final_loss, (double)m->skipped, m->train_seconds};
        int st = ad_dist_bcast(status[k], nn_params_values(p), nn_params_size(p) * sizeof(ad_real),
                               from, why[k], sizeof why[k]);
        st = ad_dist_bcast(st, m->loss, (size_t)m->n_iterations * 4 * sizeof *m->loss, from,
                           why[k], sizeof why[k]);
        st = ad_dist_bcast(st, stats, sizeof stats, from, why[k], sizeof why[k]);
        if (st != AD_OK) return ad_status_fail(msg, len, st, "%s", why[k]);
        m->final_loss = stats[0];
        m->skipped = (long)stats[1];
        m->train_seconds = stats[2];
        if (from != 0)
            fprintf(stderr, "%s: %s model trained on rank %d\n", run->sys->program, m->name, from);
        st = save_model(run, m, k, msg, len);
        if (st != AD_OK) return st;
    }
    return AD_OK;
}

int exp2d_train_all(exp2d_run *run, char *msg, size_t len)
{
    const exp2d_system *sys = run->sys;
    bg_generator_config gc = bg_generator_config_default(&sys->potential, run->kT);
    gc.flow = flow_realnvp_preset_config(sys->preset);
    gc.flow.seed = exp2d_seed(run->opt.seed, 2);
    if (run->opt.coupling.kind == APP_COUPLING_SPLINE) {
        gc.flow.coupling = FLOW_COUPLING_SPLINE;
        gc.flow.spline.bins = run->opt.coupling.bins;
        gc.flow.spline.bound = run->opt.coupling.bound;
    }
    bg_temperature temps[2 * APP_MAX_TEMPERATURES];
    if (run->n_temps) { /* one generator for every temperature (--temperature-weights) */
        int n = app_training_temperatures(&run->opt.temperatures, &run->opt.train_temperatures,
                                          &run->opt.temperature_weights, temps);
        gc.temperatures = temps;
        gc.n_temperatures = n;
    }
    app_progress pg;
    app_progress_init(&pg, stderr, 2.0);
    const int ranks = ad_dist_size();
    bg_stage stages[EXP2D_N_MODELS];
    int done[EXP2D_N_MODELS] = {0};
    for (int k = 0; k < EXP2D_N_MODELS; k++) {
        exp2d_model *m = &run->models[k];
        /* a model without energy terms (ML) is trained at --temperatures
         * only: the added temperatures of --train-temperatures carry none of
         * its rows, and its trained range says so */
        if (run->n_temps)
            gc.n_temperatures = m->w_kl > 0 || m->w_rc > 0
                                    ? run->n_temps + run->opt.train_temperatures.n
                                    : run->n_temps;
        m->gen = bg_generator_new(&gc, msg, len);
        int status = ad_dist_agree(m->gen ? AD_OK : AD_ERR_NOMEM, msg, len);
        if (status != AD_OK) return status;
        if (k > 0) /* start from the trained ML model */
            status = bg_generator_copy_parameters(m->gen, run->models[0].gen, msg, len);
        /* one rank: each model is trained and saved in turn */
        if (status == AD_OK && (k == 0 || ranks == 1)) status = train_model(run, k, &pg, msg, len);
        else if (status == AD_OK) status = prepare_model(run, k, &stages[k], &done[k], msg, len);
        if (status != AD_OK) return status;
    }
    return ranks == 1 ? AD_OK : train_spread(run, stages, done, &pg, msg, len);
}
