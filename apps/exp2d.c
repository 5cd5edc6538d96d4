/* exp2d.c - the 2-D Boltzmann-generator pipeline shared by bg-doublewell and
 * bg-mullerbrown: options, exact references, Monte Carlo data, the four
 * models (each a bg_generator: training, sampling and reweighting, profiles,
 * state free energies), latent interpolation and the CSV files.  Figures, summary.json and
 * report.md are written by exp2d_figures.c. */
#include "apps/exp2d.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apps/app_fs.h"
#include "apps/app_options.h"
#include "apps/app_progress.h"
#include "autodiff/fast/ad_pool.h"
#include "flows/bg_generator.h"
#include "flows/bg_sample.h"
#include "sampling/smp_basins.h"
#include "sampling/smp_data.h"
#include "sampling/smp_mc.h"
#include "sampling/smp_profile.h"

/* Independent seeds for the parts of a run, from the user's seed and a tag
 * (splitmix64 of their combination). */
static uint64_t derive_seed(uint64_t seed, uint64_t tag)
{
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + tag * 0xBF58476D1CE4E5B9ull + 0x94D049BB133111EBull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static const struct {
    const char *name, *slug;
    double w_ml, w_kl, w_rc; /* w_rc is a flag here; the weight is the schedule's */
} MODEL_SPECS[EXP2D_N_MODELS] = {
    {"ML", "ml", 1, 0, 0},
    {"KL", "kl", 0, 1, 0},
    {"ML+KL", "ml_kl", 1, 1, 0},
    {"ML+KL+RC", "ml_kl_rc", 1, 1, 1},
};

void exp2d_pair_name(const exp2d_system *sys, int k, char *buf, size_t len)
{
    snprintf(buf, len, "%s-%s", sys->state_names[k + 1], sys->state_names[0]);
}

/* ---- exact references ------------------------------------------------ */

/* The quadrature box at kT: the kT = 1 box widened by sqrt(kT) about its
 * centre for kT > 1, with the same spacing, and the axis of a coordinate RC
 * aligned with the profile's bin edges. */
static smp_grid2d scaled_grid(const exp2d_system *sys, double kT)
{
    const smp_grid2d *g = &sys->quad_grid;
    double s = kT > 1 ? sqrt(kT) : 1;
    double lo[2] = {g->x_min, g->y_min}, hi[2] = {g->x_max, g->y_max};
    int n[2] = {g->nx, g->ny};
    smp_grid2d out = *g;
    double *omin[2] = {&out.x_min, &out.y_min}, *omax[2] = {&out.x_max, &out.y_max};
    int *on[2] = {&out.nx, &out.ny};
    for (int a = 0; a < 2; a++) {
        double h = (hi[a] - lo[a]) / (n[a] - 1);
        double mid = 0.5 * (lo[a] + hi[a]), half = 0.5 * (hi[a] - lo[a]) * s;
        double anchor = lo[a];
        if (sys->rc.kind == BG_RC_COORDINATE && sys->rc.index == a) anchor = sys->profile_lo;
        double x0 = anchor - ceil((anchor - (mid - half)) / h - 1e-9) * h;
        int nodes = (int)ceil((mid + half - x0) / h - 1e-9) + 1;
        *omin[a] = x0;
        *on[a] = nodes;
        *omax[a] = x0 + (nodes - 1) * h;
    }
    return out;
}

static double rc_coord(void *ctx, const ad_real *x) { return bg_rc_value(ctx, x, 2); }

static int compute_references(exp2d_run *run, ad_tape *scratch, char *msg, size_t len)
{
    const exp2d_system *sys = run->sys;
    smp_potential_ctx pctx = {&sys->potential, scratch};
    smp_grid2d grid = scaled_grid(sys, run->kT);
    int status = smp_quad_basins_compute(smp_potential_energy, &pctx, &grid, run->kT, sys->minima,
                                         sys->n_minima, &run->ref, msg, len);
    if (status != AD_OK) return status;
    int bins = sys->profile_bins;
    run->profile_center = ad_malloc(sizeof(double) * bins);
    run->profile_exact = ad_malloc(sizeof(double) * bins);
    if (!run->profile_center || !run->profile_exact)
        return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    status = smp_quad_profile(smp_potential_energy, &pctx, &grid, run->kT, rc_coord,
                              (void *)&sys->rc, sys->profile_lo, sys->profile_hi, bins,
                              run->profile_exact, msg, len);
    if (status != AD_OK) return status;
    double fmin = INFINITY, w = (sys->profile_hi - sys->profile_lo) / bins;
    for (int j = 0; j < bins; j++) {
        run->profile_center[j] = sys->profile_lo + (j + 0.5) * w;
        if (run->profile_exact[j] < fmin) fmin = run->profile_exact[j];
    }
    for (int j = 0; j < bins; j++) run->profile_exact[j] -= fmin;

    /* the energy map for the contour plots, and the lowest minimum */
    run->map_nx = 101;
    run->map_ny = 101;
    size_t n = (size_t)run->map_nx * run->map_ny;
    ad_real *xy = ad_malloc(sizeof(ad_real) * 2 * n);
    run->map_u = ad_malloc(sizeof *run->map_u * n);
    if (!xy || !run->map_u) {
        ad_free(xy);
        return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    }
    for (int j = 0; j < run->map_ny; j++)
        for (int i = 0; i < run->map_nx; i++) {
            size_t k = (size_t)j * run->map_nx + i;
            xy[2 * k] = sys->plot_x[0] + i * (sys->plot_x[1] - sys->plot_x[0]) / (run->map_nx - 1);
            xy[2 * k + 1] =
                sys->plot_y[0] + j * (sys->plot_y[1] - sys->plot_y[0]) / (run->map_ny - 1);
        }
    status = pot_energy_eval(&sys->potential, scratch, xy, (int)n, run->map_u, msg, len);
    ad_free(xy);
    if (status != AD_OK) return status;
    ad_real umin[EXP2D_MAX_MINIMA];
    status = pot_energy_eval(&sys->potential, scratch, sys->minima, sys->n_minima, umin, msg, len);
    if (status != AD_OK) return status;
    run->u_min = umin[0];
    for (int k = 1; k < sys->n_minima; k++)
        if (umin[k] < run->u_min) run->u_min = umin[k];
    return AD_OK;
}

/* ---- Monte Carlo data -------------------------------------------------- */

static int run_mc(exp2d_run *run, ad_tape *scratch, char *msg, size_t len)
{
    const exp2d_system *sys = run->sys;
    smp_potential_ctx pctx = {&sys->potential, scratch};
    smp_mc_config mc = smp_mc_config_default(2, run->kT);
    mc.n_chains = sys->n_minima;
    mc.sigma = sys->mc_sigma * sqrt(run->kT);
    mc.n_steps = sys->mc_steps;
    mc.stride = sys->mc_stride;
    mc.keep_initial = 1;
    mc.seed = derive_seed(run->opt.seed, 1);
    long frames = smp_mc_n_frames(&mc);
    int n = (int)(frames * sys->n_minima);
    ad_real *out = ad_malloc(sizeof(ad_real) * 2 * (size_t)n);
    ad_real *u = ad_malloc(sizeof(ad_real) * (size_t)n);
    run->data = ad_malloc(sizeof(ad_real) * 2 * (size_t)n);
    run->data_u = ad_malloc(sizeof(ad_real) * (size_t)n);
    run->data_chain = ad_malloc(sizeof(int) * (size_t)n);
    if (!out || !u || !run->data || !run->data_u || !run->data_chain) {
        ad_free(out);
        ad_free(u);
        return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory for %d MC frames", n);
    }
    smp_mc_stats stats;
    int status =
        smp_mc_run(&mc, smp_potential_energy, &pctx, sys->minima, out, u, &stats, msg, len);
    if (status == AD_OK) {
        /* frames come interleaved (all chains of frame 0, ...): store by chain */
        int i = 0;
        for (int c = 0; c < sys->n_minima; c++)
            for (long f = 0; f < frames; f++, i++) {
                size_t src = (size_t)f * sys->n_minima + c;
                run->data[2 * i] = out[2 * src];
                run->data[2 * i + 1] = out[2 * src + 1];
                run->data_u[i] = u[src];
                run->data_chain[i] = c;
            }
        run->n_data = n;
        run->mc_acceptance = stats.acceptance;
    }
    ad_free(out);
    ad_free(u);
    return status;
}

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

static int write_csv(const exp2d_run *run, const char *name, const ad_real *x, int n, int dim,
                     const char *const *cols, char *msg, size_t len);

/* loss_<slug>.csv: iteration, loss and the unweighted J_ML, J_KL, J_RC. */
static int write_loss_csv(const exp2d_run *run, const exp2d_model *m, char *msg, size_t len)
{
    int n = m->n_iterations;
    ad_real *tab = ad_malloc(sizeof(ad_real) * 5 * (size_t)(n > 0 ? n : 1));
    if (!tab) return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        tab[5 * i] = i + 1;
        for (int c = 0; c < 4; c++) tab[5 * i + 1 + c] = m->loss[4 * i + c];
    }
    static const char *const cols[5] = {"iteration", "loss", "ml", "kl", "rc"};
    char name[128];
    snprintf(name, sizeof name, "loss_%s.csv", m->slug);
    int status = write_csv(run, name, tab, n, 5, cols, msg, len);
    ad_free(tab);
    return status;
}

enum { RECORD_COLS = 7 }; /* seed_lo, seed_hi, kT, quick, iterations, final_loss, skipped */

static int model_path(const exp2d_run *run, const exp2d_model *m, const char *what,
                      char *path, size_t size)
{
    char name[128];
    snprintf(name, sizeof name, "%s_%s", what, m->slug);
    return app_fs_join(path, size, run->opt.out, name);
}

static void record_row(const exp2d_run *run, const exp2d_model *m, ad_real row[RECORD_COLS])
{
    row[0] = (double)(run->opt.seed & 0xffffffffu);
    row[1] = (double)(run->opt.seed >> 32);
    row[2] = run->kT;
    row[3] = run->opt.quick;
    row[4] = m->n_iterations;
    row[5] = m->final_loss;
    row[6] = (double)m->skipped;
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
    char path[APP_RUN_PATH_MAX], label[128] = "";
    if (model_path(run, m, "model", path, sizeof path) != AD_OK ||
        strlen(path) + 16 > sizeof path)
        return ad_status_fail(msg, len, AD_ERR_ARG, "output path too long: %s", run->opt.out);
    strcat(path, ".ckpt");
    if (run->run) app_run_label(run->run, k + 1, label, sizeof label);
    int status = bg_generator_save_label(m->gen, path, label, msg, len);
    if (status == AD_OK) status = record_file(run, m, "model", ".ckpt", k, msg, len);
    if (status != AD_OK) return status;
    static const char *const rec_cols[RECORD_COLS] = {"seed_lo", "seed_hi", "kT", "quick",
                                                      "iterations", "final_loss", "skipped"};
    ad_real row[RECORD_COLS];
    record_row(run, m, row);
    status = write_loss_csv(run, m, msg, len);
    if (status == AD_OK) status = record_file(run, m, "loss", ".csv", k, msg, len);
    if (status != AD_OK) return status;
    /* The record goes last: it marks the model as complete. */
    model_path(run, m, "train", path, sizeof path);
    strcat(path, "_record.csv");
    status = smp_csv_write(path, row, 1, RECORD_COLS, rec_cols, msg, len);
    if (status == AD_OK) status = record_file(run, m, "train", "_record.csv", k, msg, len);
    return status;
}

/* 1 if a complete model matching this run was reloaded, 0 otherwise (with
 * why filled).  Its three files must match the manifest, the checkpoint's
 * label this run's fingerprint and the model's stage, and the record's
 * numbers must be finite and in range. */
static int reload_model(exp2d_run *run, exp2d_model *m, int k, char *why, size_t why_len)
{
    char path[APP_RUN_PATH_MAX], name[128], want[128];
    smp_dataset *rec = NULL, *loss = NULL;
    int ok = 0;
    ad_real wanted[RECORD_COLS];
    m->final_loss = 0;
    m->skipped = 0;
    record_row(run, m, wanted);
    static const char *const parts[3][2] = {
        {"train", "_record.csv"}, {"loss", ".csv"}, {"model", ".ckpt"}};
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "%s_%s%s", parts[i][0], m->slug, parts[i][1]);
        int st = 0;
        if (!run->run || !app_run_reusable(run->run, name, &st, why, why_len)) return 0;
        if (st != k + 1) {
            snprintf(why, why_len, "%s was recorded by stage %d, not %d", name, st, k + 1);
            return 0;
        }
    }
    if (model_path(run, m, "train", path, sizeof path) != AD_OK || strlen(path) + 16 > sizeof path)
        return 0;
    strcat(path, "_record.csv");
    snprintf(why, why_len, "train_%s_record.csv holds unusable values", m->slug);
    if (smp_csv_read(path, 1, &rec, why, why_len) != AD_OK) goto done;
    if (rec->n != 1 || rec->dim != RECORD_COLS) goto done;
    for (int c = 0; c < 5; c++)
        if (rec->x[c] != wanted[c]) goto done;
    long long skipped = 0;
    if (!isfinite(rec->x[5]) ||
        app_run_double_to_long(rec->x[6], 0, m->n_iterations, &skipped) != AD_OK)
        goto done;
    model_path(run, m, "loss", path, sizeof path);
    strcat(path, ".csv");
    if (smp_csv_read(path, 1, &loss, why, why_len) != AD_OK) goto done;
    snprintf(why, why_len, "loss_%s.csv holds unusable values", m->slug);
    if (loss->n != m->n_iterations || loss->dim != 5) goto done;
    model_path(run, m, "model", path, sizeof path);
    strcat(path, ".ckpt");
    /* only a checkpoint labelled with this run's fingerprint and the model's
     * stage is loaded; otherwise the model keeps its parameters */
    app_run_label(run->run, k + 1, want, sizeof want);
    if (bg_generator_load_label(m->gen, path, want, why, why_len) != AD_OK) goto done;
    for (int i = 0; i < m->n_iterations; i++)
        for (int c = 0; c < 4; c++) m->loss[4 * i + c] = loss->x[5 * i + 1 + c];
    m->final_loss = rec->x[5];
    m->skipped = (long)skipped;
    ok = 1;
done:
    smp_dataset_free(rec);
    smp_dataset_free(loss);
    return ok;
}

static int train_model(exp2d_run *run, int k, app_progress *pg, char *msg, size_t len)
{
    const exp2d_system *sys = run->sys;
    const exp2d_schedule *sc = &run->sched;
    exp2d_model *m = &run->models[k];
    int is_ml = k == 0;
    bg_stage st = bg_stage_default();
    st.name = m->name;
    st.n_iterations = is_ml ? sc->ml_iterations : sc->iterations;
    st.batch_size = is_ml ? sc->ml_batch : sc->batch;
    st.lr = is_ml ? sc->ml_lr : sc->lr;
    st.w_ml = m->w_ml;
    st.w_kl = m->w_kl;
    st.w_rc = m->w_rc;
    st.e_high = sc->e_high; /* kT above the lowest minimum (tc.e_ref) */
    m->n_iterations = st.n_iterations;
    m->loss = ad_calloc((size_t)(st.n_iterations > 0 ? st.n_iterations : 1) * 4, sizeof(double));
    if (!m->loss) return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    if (run->opt.resume && run->run) {
        char why[512] = "";
        if (reload_model(run, m, k, why, sizeof why)) {
            fprintf(stderr, "%s: %s model reloaded from %s\n", sys->program, m->name,
                    run->opt.out);
            m->train_seconds = 0;
            return AD_OK;
        }
        /* this model and every later one (they start from the ML model) are
         * trained again */
        fprintf(stderr, "%s: --resume: %s; training the %s model%s again\n", sys->program, why,
                m->name, k + 1 < EXP2D_N_MODELS ? " and the later ones" : "");
        app_run_forget_from(run->run, k + 1);
        run->opt.resume = 0;
    }
    train_ctx ctx = {pg, m};
    app_progress_stage(pg, k + 1, EXP2D_N_MODELS, m->name, st.n_iterations);
    bg_generator_train_config tc = bg_generator_train_default(run->data, run->n_data);
    tc.cut_ref = BG_CUT_KT_ABOVE_REF;
    tc.e_ref = run->u_min;
    tc.rc = &sys->rc;
    tc.rc_loss = sys->rc_loss;
    tc.stages = &st;
    tc.n_stages = 1;
    tc.seed = derive_seed(run->opt.seed, 20 + (uint64_t)k);
    tc.progress = on_progress;
    tc.progress_ctx = &ctx;
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
    return save_model(run, m, k, msg, len);
}

static int train_all(exp2d_run *run, char *msg, size_t len)
{
    const exp2d_system *sys = run->sys;
    bg_generator_config gc = bg_generator_config_default(&sys->potential, run->kT);
    gc.flow = flow_realnvp_preset_config(sys->preset);
    gc.flow.seed = derive_seed(run->opt.seed, 2);
    app_progress pg;
    app_progress_init(&pg, stderr, 2.0);
    for (int k = 0; k < EXP2D_N_MODELS; k++) {
        exp2d_model *m = &run->models[k];
        m->gen = bg_generator_new(&gc, msg, len);
        if (!m->gen) return AD_ERR_NOMEM;
        int status = AD_OK;
        if (k > 0) /* start from the trained ML model */
            status = bg_generator_copy_parameters(m->gen, run->models[0].gen, msg, len);
        if (status == AD_OK) status = train_model(run, k, &pg, msg, len);
        if (status != AD_OK) return status;
    }
    return AD_OK;
}

/* ---- analysis of one model ------------------------------------------ */

static int analyse_model(exp2d_run *run, int k, char *msg, size_t len)
{
    const exp2d_system *sys = run->sys;
    const exp2d_schedule *sc = &run->sched;
    exp2d_model *m = &run->models[k];
    bg_samples *s = NULL;
    char why[512];
    int status = bg_generator_sample(m->gen, sc->n_samples,
                                     derive_seed(run->opt.seed, 40 + (uint64_t)k), &s, why,
                                     sizeof why);
    if (status != AD_OK) return ad_status_fail(msg, len, status, "sampling %s: %s", m->name, why);
    int n = s->n, bins = sys->profile_bins;
    int *labels = ad_malloc(sizeof(int) * (size_t)n);
    m->profile = ad_malloc(sizeof(double) * 4 * (size_t)bins);
    m->n_plot = n < 1500 ? n : 1500;
    m->plot_x = ad_malloc(sizeof(double) * 2 * (size_t)m->n_plot);
    m->plot_z = ad_malloc(sizeof(double) * 2 * (size_t)m->n_plot);
    m->plot_state = ad_malloc(sizeof(int) * (size_t)m->n_plot);
    smp_profile *hist = NULL, *kde = NULL;
    if (!labels || !m->profile || !m->plot_x || !m->plot_z || !m->plot_state) {
        status = ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory analysing %s", m->name);
        goto done;
    }
    m->n_samples = n;
    m->n_nonfinite = s->n_nonfinite;
    bg_states states = bg_states_basins(sys->minima, sys->n_minima);
    states.boot = (smp_bootstrap_config){sc->n_bootstrap,
                                         derive_seed(run->opt.seed, 60 + (uint64_t)k)};
    bg_free_energies fe;
    status = bg_generator_free_energies(m->gen, s, &states, &fe, labels, why, sizeof why);
    if (status != AD_OK) {
        status = ad_status_fail(msg, len, status, "%s: state free energies: %s", m->name, why);
        goto done;
    }
    m->ess_fraction = fe.ess_fraction;
    for (int st = 0; st < sys->n_minima; st++) {
        m->delta_f[st] = fe.dF[st];
        m->delta_f_se[st] = fe.se[st];
        m->population[st] = fe.population[st];
    }
    /* the histogram and the KDE share the bins and the bootstrap seed */
    smp_profile_config pc = smp_profile_config_default(sys->profile_lo, sys->profile_hi);
    pc.n_bins = bins;
    pc.bandwidth = 0; /* the histogram first; the KDE's is set below */
    pc.boot = (smp_bootstrap_config){.n_bootstrap = sc->n_bootstrap,
                                     .seed = derive_seed(run->opt.seed, 80 + (uint64_t)k)};
    status = bg_generator_profile(m->gen, s, &sys->rc, &pc, &hist, NULL, why, sizeof why);
    if (status == AD_OK) {
        pc.bandwidth = sys->kde_bandwidth * sqrt(run->kT);
        pc.boot.n_bootstrap = sc->n_bootstrap_kde;
        status = bg_generator_profile(m->gen, s, &sys->rc, &pc, NULL, &kde, why, sizeof why);
    }
    if (status != AD_OK) {
        status = ad_status_fail(msg, len, status, "%s: profile: %s", m->name, why);
        goto done;
    }
    double sum2 = 0;
    int used = 0, relevant = 0;
    for (int j = 0; j < bins; j++) {
        m->profile[4 * j] = hist->F[j];
        m->profile[4 * j + 1] = hist->se[j];
        m->profile[4 * j + 2] = kde->F[j];
        m->profile[4 * j + 3] = kde->se[j];
        double e = run->profile_exact[j];
        relevant += e <= 10;
        if (e <= 10 && isfinite(hist->F[j])) {
            sum2 += (hist->F[j] - e) * (hist->F[j] - e);
            used++;
        }
    }
    m->profile_rmse = used ? sqrt(sum2 / used) : NAN;
    m->profile_coverage = relevant ? (double)used / relevant : 0;
    for (int i = 0; i < m->n_plot; i++) { /* labels are -1 where log_w is not finite */
        m->plot_x[2 * i] = s->x[2 * i];
        m->plot_x[2 * i + 1] = s->x[2 * i + 1];
        m->plot_z[2 * i] = s->z[2 * i];
        m->plot_z[2 * i + 1] = s->z[2 * i + 1];
        m->plot_state[i] = labels[i];
    }
done:
    smp_profile_free(hist);
    smp_profile_free(kde);
    ad_free(labels);
    bg_samples_free(s);
    return status;
}

/* End points of the interpolation paths: the first pair of each pair of
 * states is the two minima, the others are random MC frames of the two
 * basins. */
static void choose_interp_ends(exp2d_run *run)
{
    const exp2d_system *sys = run->sys;
    int pairs[EXP2D_MAX_MINIMA * EXP2D_MAX_MINIMA][2], n_pairs = 0;
    for (int a = 0; a < sys->n_minima; a++)
        for (int b = a + 1; b < sys->n_minima; b++) {
            pairs[n_pairs][0] = a;
            pairs[n_pairs][1] = b;
            n_pairs++;
        }
    ad_rng rng;
    ad_rng_seed(&rng, derive_seed(run->opt.seed, 3), 0);
    for (int p = 0; p < EXP2D_N_INTERP; p++) {
        for (int e = 0; e < 2; e++) {
            int state = pairs[p % n_pairs][e];
            const ad_real *x = sys->minima + 2 * state;
            if (p >= n_pairs) { /* a random frame of that basin (up to 1000 tries) */
                for (int tries = 0; tries < 1000; tries++) {
                    int i = (int)(ad_rng_uniform(&rng) * run->n_data);
                    if (i >= run->n_data) i = run->n_data - 1;
                    if (smp_nearest_minimum(run->data + 2 * i, sys->minima, sys->n_minima) ==
                        state) {
                        x = run->data + 2 * i;
                        break;
                    }
                }
            }
            run->interp_ends[4 * p + 2 * e] = x[0];
            run->interp_ends[4 * p + 2 * e + 1] = x[1];
        }
    }
}

static int interpolate_model(exp2d_run *run, int k, char *msg, size_t len)
{
    exp2d_model *m = &run->models[k];
    int np = run->sched.interp_points;
    m->interp = ad_malloc(sizeof(double) * 3 * (size_t)EXP2D_N_INTERP * np);
    ad_real *px = ad_malloc(sizeof(ad_real) * 2 * (size_t)np);
    ad_real *pu = ad_malloc(sizeof(ad_real) * (size_t)np);
    int status = AD_OK;
    if (!m->interp || !px || !pu) status = ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    for (int p = 0; p < EXP2D_N_INTERP && status == AD_OK; p++) {
        char why[512];
        status = bg_interpolate(m->gen->model, &run->sys->potential, run->interp_ends + 4 * p,
                                run->interp_ends + 4 * p + 2, np, px, pu, why, sizeof why);
        if (status != AD_OK) {
            ad_status_fail(msg, len, status, "interpolation with %s: %s", m->name, why);
            break;
        }
        for (int i = 0; i < np; i++) {
            double *row = m->interp + 3 * ((size_t)p * np + i);
            row[0] = px[2 * i];
            row[1] = px[2 * i + 1];
            row[2] = pu[i];
        }
    }
    ad_free(px);
    ad_free(pu);
    return status;
}

/* ---- CSV files ------------------------------------------------------- */

static int write_csv(const exp2d_run *run, const char *name, const ad_real *x, int n, int dim,
                     const char *const *cols, char *msg, size_t len)
{
    char path[1024];
    if (app_fs_join(path, sizeof path, run->opt.out, name) != AD_OK)
        return ad_status_fail(msg, len, AD_ERR_ARG, "output path too long: %s/%s", run->opt.out,
                              name);
    return smp_csv_write(path, x, n, dim, cols, msg, len);
}

static int write_csvs(const exp2d_run *run, char *msg, size_t len)
{
    const exp2d_system *sys = run->sys;
    int status;
    int n = run->n_data;
    ad_real *tab = ad_malloc(sizeof(ad_real) * 4 * (size_t)(n > 1 ? n : 1));
    if (!tab) return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        tab[4 * i] = run->data[2 * i];
        tab[4 * i + 1] = run->data[2 * i + 1];
        tab[4 * i + 2] = run->data_u[i];
        tab[4 * i + 3] = run->data_chain[i];
    }
    const char *mc_cols[4] = {sys->coord_names[0], sys->coord_names[1], "u", "chain"};
    status = write_csv(run, "mc_data.csv", tab, n, 4, mc_cols, msg, len);
    ad_free(tab);
    if (status != AD_OK) return status;

    int bins = sys->profile_bins, np = run->sched.interp_points;
    size_t cap = (size_t)bins * 6;
    if ((size_t)EXP2D_N_INTERP * np * 5 > cap) cap = (size_t)EXP2D_N_INTERP * np * 5;
    tab = ad_malloc(sizeof(ad_real) * cap);
    if (!tab) return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    for (int k = 0; k < EXP2D_N_MODELS && status == AD_OK; k++) {
        const exp2d_model *m = &run->models[k];
        char name[128];
        status = write_loss_csv(run, m, msg, len);
        if (status != AD_OK) break;

        for (int j = 0; j < bins; j++) {
            tab[6 * j] = run->profile_center[j];
            for (int c = 0; c < 4; c++) tab[6 * j + 1 + c] = m->profile[4 * j + c];
            tab[6 * j + 5] = run->profile_exact[j];
        }
        const char *prof_cols[6] = {sys->rc_name, "F_hist", "se_hist", "F_kde", "se_kde",
                                    "F_exact"};
        snprintf(name, sizeof name, "profile_%s.csv", m->slug);
        status = write_csv(run, name, tab, bins, 6, prof_cols, msg, len);
        if (status != AD_OK) break;

        for (int p = 0; p < EXP2D_N_INTERP; p++)
            for (int i = 0; i < np; i++) {
                size_t row = (size_t)p * np + i;
                tab[5 * row] = p;
                tab[5 * row + 1] = (double)i / (np - 1);
                for (int c = 0; c < 3; c++) tab[5 * row + 2 + c] = m->interp[3 * row + c];
            }
        const char *int_cols[5] = {"pair", "lambda", sys->coord_names[0], sys->coord_names[1],
                                   "u"};
        snprintf(name, sizeof name, "interpolation_%s.csv", m->slug);
        status = write_csv(run, name, tab, EXP2D_N_INTERP * np, 5, int_cols, msg, len);
    }
    ad_free(tab);
    return status;
}

/* ---- the whole run ----------------------------------------------------- */

int exp2d_run_all(exp2d_run *run, char *msg, size_t len)
{
    run->start_clock = app_clock_seconds();
    run->kT = run->opt.kT;
    run->sched = run->opt.quick ? run->sys->quick : run->sys->full;
    for (int k = 0; k < EXP2D_N_MODELS; k++) {
        exp2d_model *m = &run->models[k];
        m->name = MODEL_SPECS[k].name;
        m->slug = MODEL_SPECS[k].slug;
        m->w_ml = MODEL_SPECS[k].w_ml;
        m->w_kl = MODEL_SPECS[k].w_kl;
        m->w_rc = MODEL_SPECS[k].w_rc > 0 ? run->sched.w_rc : 0;
    }
    ad_tape *scratch = ad_tape_new(0);
    if (!scratch) return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    int status = compute_references(run, scratch, msg, len);
    if (status == AD_OK) status = run_mc(run, scratch, msg, len);
    ad_tape_free(scratch);
    if (status == AD_OK) status = train_all(run, msg, len);
    if (status == AD_OK) choose_interp_ends(run);
    for (int k = 0; k < EXP2D_N_MODELS && status == AD_OK; k++) {
        status = analyse_model(run, k, msg, len);
        if (status == AD_OK) status = interpolate_model(run, k, msg, len);
    }
    if (status == AD_OK) status = write_csvs(run, msg, len);
    if (status == AD_OK) status = exp2d_write_figures(run, msg, len);
    run->wall_seconds = app_clock_seconds() - run->start_clock;
    if (status == AD_OK) status = exp2d_write_summary(run, msg, len);
    if (status == AD_OK) status = exp2d_write_report(run, msg, len);
    /* the final outputs, for the record (they are never reused) */
    static const char *const outputs[] = {"mc_data.csv", "mc_data.svg", "samples.svg",
                                          "profiles.svg", "interpolation.svg", "loss.svg",
                                          "summary.json", "report.md"};
    for (size_t i = 0; status == AD_OK && run->run && i < sizeof outputs / sizeof *outputs; i++)
        status = app_run_note(run->run, outputs[i], outputs[i], 0, EXP2D_STAGE_OUTPUTS, msg, len);
    for (int k = 0; status == AD_OK && run->run && k < EXP2D_N_MODELS; k++) {
        static const char *const what[2] = {"profile", "interpolation"};
        for (int w = 0; status == AD_OK && w < 2; w++) {
            char name[128];
            snprintf(name, sizeof name, "%s_%s.csv", what[w], run->models[k].slug);
            status = app_run_note(run->run, name, name, 0, EXP2D_STAGE_OUTPUTS, msg, len);
        }
    }
    if (status == AD_OK && run->run) status = app_run_save(run->run, msg, len);
    return status;
}

void exp2d_run_release(exp2d_run *run)
{
    app_run_close(run->run);
    ad_free(run->profile_center);
    ad_free(run->profile_exact);
    ad_free(run->map_u);
    ad_free(run->data);
    ad_free(run->data_u);
    ad_free(run->data_chain);
    for (int k = 0; k < EXP2D_N_MODELS; k++) {
        exp2d_model *m = &run->models[k];
        bg_generator_free(m->gen);
        ad_free(m->loss);
        ad_free(m->profile);
        ad_free(m->plot_x);
        ad_free(m->plot_z);
        ad_free(m->plot_state);
        ad_free(m->interp);
    }
    memset(run, 0, sizeof *run);
}

static int default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > 4) n = 4;
    return (int)n;
}

/* The settings of the manifest: everything the numbers depend on (not the
 * thread count: results do not depend on it). */
static int open_out(exp2d_run *run, char *msg, size_t len)
{
    const exp2d_system *sys = run->sys;
    const exp2d_schedule *s = run->opt.quick ? &sys->quick : &sys->full;
    char seed[32], kT[40], mc[128], train[256], analysis[160];
    app_run_u64_str(run->opt.seed, seed, sizeof seed);
    snprintf(kT, sizeof kT, "%.17g", run->opt.kT);
    snprintf(mc, sizeof mc, "steps %ld stride %d sigma %.17g", sys->mc_steps, sys->mc_stride,
             sys->mc_sigma);
    snprintf(train, sizeof train,
             "ml: it %d batch %d lr %.17g; others: it %d batch %d lr %.17g w_rc %.17g "
             "e_high %.17g",
             s->ml_iterations, s->ml_batch, s->ml_lr, s->iterations, s->batch, s->lr, s->w_rc,
             s->e_high);
    snprintf(analysis, sizeof analysis, "samples %d bootstrap %d bootstrap_kde %d interp %d",
             s->n_samples, s->n_bootstrap, s->n_bootstrap_kde, s->interp_points);
    const app_run_setting set[] = {
        {"system", sys->name}, {"seed", seed},   {"kT", kT},
        {"schedule", run->opt.quick ? "quick" : "full"}, {"mc", mc},
        {"training", train},   {"analysis", analysis},
    };
    app_run_config c = {sys->program, EXP2D_FORMAT_VERSION, run->opt.out, set,
                        (int)(sizeof set / sizeof *set), run->opt.resume, run->opt.restart};
    return app_run_open(&run->run, &c, msg, len);
}

int exp2d_main(const exp2d_system *sys, int argc, char **argv)
{
    char default_out[256];
    snprintf(default_out, sizeof default_out, "out/%s", sys->name);
    exp2d_options o = {default_out, 1, 1.0, 0, default_threads(), 0, 0};
    const app_option opts[] = {
        {"out", APP_OPT_STRING, &o.out,
         "output directory, with manifest.json and a lock (at most " APP_RUN_STR(
             APP_RUN_OUT_MAX) " characters)",
         "DIR", 0, 0, 0,
         0, 0},
        {"seed", APP_OPT_UINT64, &o.seed, "random seed", "N", 0, 0, 0, 0, 0},
        {"kT", APP_OPT_DOUBLE, &o.kT, "temperature in energy units, 0.1 to 10", "X", 1,
         1, 0.1, 10, 0},
        {"quick", APP_OPT_FLAG, &o.quick, "a reduced schedule that finishes in seconds", NULL, 0, 0,
         0, 0, 0},
        {"threads", APP_OPT_INT, &o.threads,
         "threads for the linear algebra (by default the cores, at most 4)", "N", 1, 1, 1, AD_THREADS_MAX,
         0},
        {"resume", APP_OPT_FLAG, &o.resume,
         "reuse the models already trained in DIR by an interrupted run with the same settings "
         "(each only when manifest.json verifies its files)",
         NULL, 0, 0, 0, 0, 0},
        {"restart", APP_OPT_FLAG, &o.restart,
         "discard the files of an earlier run with other settings in DIR (without it such a "
         "directory is refused)",
         NULL, 0, 0, 0, 0, 0},
    };
    const app_cli cli = {sys->program, sys->description, opts, (int)(sizeof opts / sizeof *opts)};
    int code = app_options_handle(&cli, argc, argv);
    if (code >= 0) return code;
    char msg[1024];
    exp2d_run *run = ad_calloc(1, sizeof *run);
    if (!run) {
        fprintf(stderr, "%s: out of memory\n", sys->program);
        return 1;
    }
    run->sys = sys;
    run->opt = o;
    /* --out: its name, the lock, the manifest; before any work */
    int status = open_out(run, msg, sizeof msg);
    if (status != AD_OK) {
        fprintf(stderr, "%s: %s\n", sys->program, msg);
        exp2d_run_release(run);
        ad_free(run);
        return status == AD_ERR_ARG ? 2 : 1;
    }
    ad_threads_set(o.threads);
    status = exp2d_run_all(run, msg, sizeof msg);
    if (status == AD_OK) {
        fprintf(stderr, "%s: done in %.1f s; results in %s (summary.json, report.md)\n",
                sys->program, run->wall_seconds, o.out);
        for (int k = 0; k < EXP2D_N_MODELS; k++) {
            const exp2d_model *m = &run->models[k];
            fprintf(stderr, "  %-9s", m->name);
            for (int p = 0; p + 1 < sys->n_minima; p++) {
                char pair[64];
                exp2d_pair_name(sys, p, pair, sizeof pair);
                fprintf(stderr, "  dF(%s) %6.3f +- %.3f (exact %.3f)", pair, m->delta_f[p + 1],
                        m->delta_f_se[p + 1], run->ref.delta_f[p + 1]);
            }
            fprintf(stderr, "  ESS/n %.3f\n", m->ess_fraction);
        }
    } else {
        fprintf(stderr, "%s: %s\n", sys->program, msg);
    }
    exp2d_run_release(run);
    ad_free(run);
    ad_threads_shutdown();
    return status == AD_OK ? 0 : 1;
}
