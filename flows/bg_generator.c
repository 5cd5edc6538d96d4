/* bg_generator.c - the Boltzmann-generator object: a flow, its prior, the
 * target and kT, over bg_train, bg_sample and the smp_ estimators. */
#include "bg_generator.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn/nn_checkpoint.h"
#include "sampling/smp_basins.h"
#include "sampling/smp_reweight.h"

bg_generator_config bg_generator_config_default(const pot_potential *u, double kT)
{
    bg_generator_config c;
    memset(&c, 0, sizeof c);
    c.potential = u;
    c.kT = kT;
    c.flow = flow_realnvp_config_default(u ? u->dim : 0);
    c.model = NULL;
    c.sample_batch = 5000;
    return c;
}

bg_generator *bg_generator_new(const bg_generator_config *cfg, char *msg, size_t msg_len)
{
    static const char fn[] = "bg_generator_new";
    if (!cfg) {
        ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: cfg is NULL", fn);
        return NULL;
    }
    flow_model *model = cfg->model;
    const char *why = NULL;
    if (!cfg->potential)
        why = "potential is NULL";
    else if (!cfg->potential->energy || cfg->potential->dim <= 0)
        why = "potential has no energy function or dim <= 0";
    else if (!(cfg->kT > 0) || !isfinite(cfg->kT))
        why = "kT must be finite and > 0";
    else if (cfg->sample_batch <= 0)
        why = "sample_batch must be > 0";
    else if (!model && cfg->flow.dim != cfg->potential->dim)
        why = "flow.dim differs from potential->dim";
    else if (model && model->dim_x != cfg->potential->dim)
        why = "model->dim_x differs from potential->dim";
    if (!why && (cfg->temperatures || cfg->n_temperatures != 0)) {
        int status = bg_temperatures_check(fn, "temperatures", cfg->temperatures,
                                           cfg->n_temperatures, msg, msg_len);
        if (status != AD_OK) {
            flow_model_free(model);
            return NULL;
        }
    }
    if (why) {
        if (!cfg->potential || !cfg->potential->energy)
            ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: %s", fn, why);
        else
            ad_status_fail(msg, msg_len, AD_ERR_ARG,
                           "%s: %s (kT %g, sample_batch %d, potential dim %d, flow.dim %d)", fn,
                           why, cfg->kT, cfg->sample_batch, cfg->potential->dim, cfg->flow.dim);
        flow_model_free(model);
        return NULL;
    }
    if (!model) {
        char why2[512];
        model = flow_realnvp_new(&cfg->flow, why2, sizeof why2);
        if (!model) {
            ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: flow: %s", fn, why2);
            return NULL;
        }
    }
    bg_generator *g = ad_calloc(1, sizeof *g);
    if (!g) {
        flow_model_free(model);
        ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", fn);
        return NULL;
    }
    g->model = model;
    g->prior.dim = model->dim_z;
    g->prior.kT = cfg->kT;
    g->potential = cfg->potential;
    g->kT = cfg->kT;
    g->sample_batch = cfg->sample_batch;
    g->kT_min = g->kT_max = cfg->kT;
    if (cfg->n_temperatures > 0) {
        g->n_temperatures = cfg->n_temperatures;
        memcpy(g->temperatures, cfg->temperatures,
               (size_t)cfg->n_temperatures * sizeof g->temperatures[0]);
        g->kT_min = g->kT_max = cfg->temperatures[0].kT;
        for (int k = 1; k < cfg->n_temperatures; k++) {
            g->kT_min = fmin(g->kT_min, cfg->temperatures[k].kT);
            g->kT_max = fmax(g->kT_max, cfg->temperatures[k].kT);
        }
    }
    return g;
}

void bg_generator_free(bg_generator *g)
{
    if (!g) return;
    flow_model_free(g->model);
    ad_free(g);
}

int bg_generator_copy_parameters(bg_generator *dst, const bg_generator *src, char *msg,
                                 size_t msg_len)
{
    static const char fn[] = "bg_generator_copy_parameters";
    if (!dst) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: dst is NULL", fn);
    if (!src) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: src is NULL", fn);
    nn_params *a = dst->model->params, *b = src->model->params;
    size_t na = nn_params_size(a), nb = nn_params_size(b);
    if (na != nb || nn_params_count(a) != nn_params_count(b))
        return ad_status_fail(msg, msg_len, AD_ERR_SHAPE,
                              "%s: src has %zu parameters in %d tensors, dst %zu in %d", fn, nb,
                              nn_params_count(b), na, nn_params_count(a));
    memcpy(nn_params_values(a), nn_params_values(b), na * sizeof(ad_real));
    return AD_OK;
}

/* ---- training ---- */

bg_generator_train_config bg_generator_train_default(const ad_real *data, int n_data)
{
    bg_generator_train_config c;
    memset(&c, 0, sizeof c);
    c.data = data;
    c.n_data = n_data;
    c.cut_ref = BG_CUT_KT_ABOVE_REF;
    c.e_ref = NAN;
    c.rc_loss.n_kernels = 11;
    c.seed = 1;
    c.max_bad_in_a_row = 20;
    return c;
}

/* The lowest finite energy of the data (energy units). */
static int data_min_energy(const bg_generator *g, const ad_real *data, int n_data,
                           double *e_min, char *msg, size_t msg_len)
{
    enum { CHUNK = 4096 };
    ad_tape *t = ad_tape_new(0);
    ad_real *u = ad_malloc(CHUNK * sizeof *u);
    int status = AD_OK;
    double best = INFINITY;
    if (!t || !u) status = ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "bg_generator_train: out of memory");
    int dim = g->potential->dim;
    for (int start = 0; status == AD_OK && start < n_data; start += CHUNK) {
        int b = n_data - start < CHUNK ? n_data - start : CHUNK;
        char why[512];
        status = pot_energy_eval(g->potential, t, data + (size_t)start * dim, b, u, why,
                                 sizeof why);
        if (status != AD_OK) {
            ad_status_fail(msg, msg_len, status, "bg_generator_train: energy of the data: %s", why);
            break;
        }
        for (int i = 0; i < b; i++)
            if (isfinite((double)u[i]) && u[i] < best) best = u[i];
    }
    ad_free(u);
    ad_tape_free(t);
    if (status == AD_OK && !isfinite(best))
        status = ad_status_fail(msg, msg_len, AD_ERR_NUMERIC,
                                "bg_generator_train: e_ref: no data configuration has a finite "
                                "energy");
    *e_min = best;
    return status;
}

int bg_generator_train(bg_generator *g, const bg_generator_train_config *tc,
                       bg_train_result *result, char *msg, size_t msg_len)
{
    static const char fn[] = "bg_generator_train";
    if (!g) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: g is NULL", fn);
    if (!tc) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: tc is NULL", fn);
    if (!tc->stages || tc->n_stages <= 0)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG,
                              "%s: empty schedule (stages %s, n_stages %d)", fn,
                              tc->stages ? "set" : "NULL", tc->n_stages);
    if (tc->n_data < 0 || (tc->n_data > 0 && !tc->data) || (tc->data && tc->n_data == 0))
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: data %s with n_data = %d", fn,
                              tc->data ? "set" : "NULL", tc->n_data);
    if (tc->cut_ref != BG_CUT_ABSOLUTE && tc->cut_ref != BG_CUT_KT_ABOVE_REF)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: cut_ref = %d (need BG_CUT_ABSOLUTE or "
                              "BG_CUT_KT_ABOVE_REF)", fn, (int)tc->cut_ref);
    if (isinf(tc->e_ref))
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: e_ref = %g (need finite, or NAN for "
                              "the lowest data energy)", fn, tc->e_ref);
    if (tc->max_bad_in_a_row < 0)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG,
                              "%s: max_bad_in_a_row = %d (need >= 0; 0 means 20)", fn,
                              tc->max_bad_in_a_row);
    if (tc->rc_loss.n_kernels < 0)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG,
                              "%s: rc_loss.n_kernels = %d (need >= 0; 0 means 11)", fn,
                              tc->rc_loss.n_kernels);
    if (!(tc->clip_norm >= 0) || !isfinite(tc->clip_norm))
        return ad_status_fail(msg, msg_len, AD_ERR_ARG,
                              "%s: clip_norm = %g (need finite >= 0; 0: no clipping)", fn,
                              tc->clip_norm);
    if (tc->first_stage < 0 || tc->first_stage > tc->n_stages)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: first_stage = %d (need 0..%d)", fn,
                              tc->first_stage, tc->n_stages);
    if (tc->resume_in_place != 0 && tc->resume_in_place != 1)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: resume_in_place = %d (need 0 or 1)",
                              fn, tc->resume_in_place);
    if (tc->first_stage > 0 && !tc->checkpoint_prefix && !tc->resume_in_place)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG,
                              "%s: first_stage = %d needs checkpoint_prefix to resume from (or "
                              "resume_in_place = 1)",
                              fn, tc->first_stage);
    if (tc->data_sets || tc->n_data_sets != 0) {
        int status = bg_temperature_data_check(fn, "data_sets", tc->data_sets, tc->n_data_sets,
                                               msg, msg_len);
        if (status != AD_OK) return status;
        if (tc->data)
            return ad_status_fail(msg, msg_len, AD_ERR_ARG,
                                  "%s: data and data_sets are both set (J_ML takes one or the "
                                  "other)",
                                  fn);
    }
    int uses_kl = 0;
    for (int s = 0; s < tc->n_stages; s++) {
        int status = bg_stage_check(fn, &tc->stages[s], s, msg, msg_len);
        if (status != AD_OK) return status;
        if (tc->stages[s].w_kl > 0) uses_kl = 1;
        if (tc->stages[s].w_rc > 0 && (!tc->rc || !(tc->rc_loss.r_min < tc->rc_loss.r_max) ||
                                       !isfinite(tc->rc_loss.r_min) ||
                                       !isfinite(tc->rc_loss.r_max)))
            return ad_status_fail(msg, msg_len, AD_ERR_ARG,
                                  "%s: stage %d uses J_RC: needs rc and finite rc_loss.r_min < "
                                  "r_max (rc %s, [%g, %g])",
                                  fn, s + 1, tc->rc ? "set" : "NULL", tc->rc_loss.r_min,
                                  tc->rc_loss.r_max);
    }
    double e_ref = tc->e_ref;
    if (tc->cut_ref == BG_CUT_KT_ABOVE_REF && uses_kl && isnan(e_ref)) {
        if (!tc->data && !tc->data_sets)
            return ad_status_fail(msg, msg_len, AD_ERR_ARG,
                                  "%s: e_ref is NAN (the lowest data energy) but there is no data",
                                  fn);
        if (tc->data) {
            int status = data_min_energy(g, tc->data, tc->n_data, &e_ref, msg, msg_len);
            if (status != AD_OK) return status;
        } else { /* the lowest energy over every data set */
            for (int k = 0; k < tc->n_data_sets; k++) {
                double e_k;
                int status = data_min_energy(g, tc->data_sets[k].data, tc->data_sets[k].n_data,
                                             &e_k, msg, msg_len);
                if (status != AD_OK) return status;
                if (k == 0 || e_k < e_ref) e_ref = e_k;
            }
        }
    }
    if (tc->first_stage > 0 && !tc->resume_in_place) {
        char path[1024], why[512];
        bg_checkpoint_path(tc->checkpoint_prefix, tc->first_stage - 1, path, sizeof path);
        int status = nn_checkpoint_load(g->model->params, path, why, sizeof why);
        if (status != AD_OK)
            return ad_status_fail(msg, msg_len, status, "%s: resuming at stage %d: %s", fn,
                                  tc->first_stage + 1, why);
    }
    bg_train_config c = bg_train_config_default();
    c.model = g->model;
    c.prior = g->prior;
    c.potential = g->potential;
    c.kT = g->kT;
    c.data = tc->data;
    c.n_data = tc->n_data;
    c.rc = tc->rc;
    c.rc_loss = tc->rc_loss;
    c.stages = tc->stages;
    c.n_stages = tc->n_stages;
    c.seed = tc->seed;
    c.clip_norm = tc->clip_norm;
    c.max_bad_in_a_row = tc->max_bad_in_a_row;
    c.log_path = tc->log_path;
    c.checkpoint_prefix = tc->checkpoint_prefix;
    c.progress = tc->progress;
    c.progress_ctx = tc->progress_ctx;
    c.cut_ref = tc->cut_ref;
    c.e_ref = isnan(e_ref) ? 0 : e_ref; /* NAN only when no stage uses the cut */
    if (g->n_temperatures > 0) {
        c.temperatures = g->temperatures;
        c.n_temperatures = g->n_temperatures;
    }
    c.data_sets = tc->data_sets;
    c.n_data_sets = tc->n_data_sets;
    c.grad_blocks = tc->grad_blocks;
    return bg_train(&c, tc->first_stage, result, msg, msg_len);
}

/* ---- sampling ---- */

int bg_generator_sample(const bg_generator *g, int n, uint64_t seed, bg_samples **out, char *msg,
                        size_t msg_len)
{
    static const char fn[] = "bg_generator_sample";
    if (out) *out = NULL;
    if (!g) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: g is NULL", fn);
    if (!out) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: out is NULL", fn);
    if (n <= 0) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: n = %d (need > 0)", fn, n);
    int status = bg_sample(g->model, &g->prior, g->potential, g->kT, n, g->sample_batch, seed, out,
                           msg, msg_len);
    if (status == AD_OK) (*out)->extrapolation = bg_generator_extrapolates(g, g->kT);
    return status;
}

int bg_generator_extrapolates(const bg_generator *g, double kT)
{
    if (!g || !(kT > 0) || !isfinite(kT)) return 0;
    return kT < g->kT_min * (1 - 1e-12) || kT > g->kT_max * (1 + 1e-12);
}

int bg_generator_sample_at(const bg_generator *g, double kT, int n, uint64_t seed,
                           bg_samples **out, char *msg, size_t msg_len)
{
    static const char fn[] = "bg_generator_sample_at";
    if (out) *out = NULL;
    if (!g) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: g is NULL", fn);
    if (!out) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: out is NULL", fn);
    if (!(kT > 0) || !isfinite(kT))
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: kT = %g (need finite > 0)", fn, kT);
    if (n <= 0) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: n = %d (need > 0)", fn, n);
    /* the prior at kT: z ~ N(0, kT I), whose energy |z|^2/(2 kT) enters the
     * weights together with u/kT */
    flow_prior prior = {g->prior.dim, kT};
    int status = bg_sample(g->model, &prior, g->potential, kT, n, g->sample_batch, seed, out, msg,
                           msg_len);
    if (status == AD_OK) (*out)->extrapolation = bg_generator_extrapolates(g, kT);
    return status;
}

/* ---- free energies ---- */

bg_states bg_states_function(int n_states, bg_state_fn state, void *ctx)
{
    bg_states s;
    memset(&s, 0, sizeof s);
    s.n_states = n_states;
    s.state = state;
    s.ctx = ctx;
    s.boot = smp_bootstrap_default();
    return s;
}

bg_states bg_states_basins(const ad_real *minima, int n_minima)
{
    bg_states s = bg_states_function(n_minima, NULL, NULL);
    s.minima = minima;
    return s;
}

/* The checks shared by the estimators of samples. */
static int check_samples(const char *fn, const bg_generator *g, const bg_samples *s, char *msg,
                         size_t msg_len)
{
    if (!g) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: g is NULL", fn);
    if (!s) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: s is NULL", fn);
    if (s->n <= 0 || !s->x || !s->log_w)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: s holds no samples (n = %d)", fn,
                              s->n);
    if (s->dim_x != g->model->dim_x)
        return ad_status_fail(msg, msg_len, AD_ERR_SHAPE,
                              "%s: s->dim_x = %d, the generator's configurations have %d", fn,
                              s->dim_x, g->model->dim_x);
    return AD_OK;
}

int bg_generator_free_energies(const bg_generator *g, const bg_samples *s, const bg_states *states,
                               bg_free_energies *out, int *labels, char *msg, size_t msg_len)
{
    static const char fn[] = "bg_generator_free_energies";
    int status = check_samples(fn, g, s, msg, msg_len);
    if (status != AD_OK) return status;
    if (!states) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: states is NULL", fn);
    if (!out) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: out is NULL", fn);
    int ns = states->n_states, dim = s->dim_x;
    if (ns < 2 || ns > BG_MAX_STATES)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: states->n_states = %d (need 2..%d)",
                              fn, ns, BG_MAX_STATES);
    if (!states->state && !states->minima)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG,
                              "%s: states has neither a state function nor minima", fn);
    if (states->reference < 0 || states->reference >= ns)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: states->reference = %d (need 0..%d)",
                              fn, states->reference, ns - 1);
    if (states->boot.n_bootstrap < 0)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG,
                              "%s: states->boot.n_bootstrap = %d (need >= 0)", fn,
                              states->boot.n_bootstrap);
    if (states->minima)
        for (int k = 0; k < ns * dim; k++)
            if (!isfinite((double)states->minima[k]))
                return ad_status_fail(msg, msg_len, AD_ERR_ARG,
                                      "%s: states->minima[%d] = %g (need finite)", fn, k,
                                      (double)states->minima[k]);
    int *lab = labels ? labels : ad_malloc((size_t)s->n * sizeof *lab);
    if (!lab) return ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", fn);
    for (int i = 0; i < s->n; i++) {
        const ad_real *x = s->x + (size_t)i * dim;
        int k = -1;
        if (isfinite((double)s->log_w[i]))
            k = states->state ? states->state(x, states->ctx)
                              : smp_nearest_minimum_nd(x, states->minima, ns, dim);
        lab[i] = k >= 0 && k < ns ? k : -1;
    }
    memset(out, 0, sizeof *out);
    smp_states_config sc = {.n_states = ns, .reference = states->reference, .boot = states->boot};
    double dF[BG_MAX_STATES], se[BG_MAX_STATES], pop[BG_MAX_STATES];
    char why[512];
    status = smp_state_free_energies(&sc, lab, s->log_w, s->n, dF, se, pop, why, sizeof why);
    if (status != AD_OK) {
        ad_status_fail(msg, msg_len, status, "%s: %s", fn, why);
    } else {
        smp_weight_stats ws;
        status = smp_weights_stats(s->log_w, s->n, &ws, msg, msg_len);
        if (status == AD_OK) {
            out->n_states = ns;
            for (int k = 0; k < ns; k++) {
                out->dF[k] = dF[k];
                out->se[k] = se[k];
                out->population[k] = pop[k];
            }
            out->ess = ws.ess;
            out->ess_fraction = ws.ess_fraction;
            out->n_samples = s->n;
            out->n_nonfinite = ws.n_excluded;
            out->kT = s->kT;
            out->extrapolation = s->extrapolation;
        }
    }
    if (!labels) ad_free(lab);
    return status;
}

/* ---- profiles ---- */

int bg_generator_profile(const bg_generator *g, const bg_samples *s, const bg_rc *rc,
                         const smp_profile_config *pc, smp_profile **hist, smp_profile **kde,
                         char *msg, size_t msg_len)
{
    static const char fn[] = "bg_generator_profile";
    if (hist) *hist = NULL;
    if (kde) *kde = NULL;
    int status = check_samples(fn, g, s, msg, msg_len);
    if (status != AD_OK) return status;
    if (!rc) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: rc is NULL", fn);
    if (!pc) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: pc is NULL", fn);
    if (!hist && !kde)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: hist and kde are both NULL", fn);
    if (rc->kind == BG_RC_CUSTOM && !rc->value_fn)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: rc is custom without a value_fn", fn);
    if ((rc->kind == BG_RC_COORDINATE && (rc->index < 0 || rc->index >= s->dim_x)) ||
        (rc->kind == BG_RC_PROJECTION && !rc->vector) ||
        (rc->kind == BG_RC_DISTANCE &&
         (rc->particle_i < 0 || rc->particle_j < 0 || 2 * rc->particle_i + 1 >= s->dim_x ||
          2 * rc->particle_j + 1 >= s->dim_x)))
        return ad_status_fail(msg, msg_len, AD_ERR_ARG,
                              "%s: rc does not fit configurations of dimension %d", fn, s->dim_x);
    ad_real *r = ad_malloc((size_t)s->n * sizeof *r);
    if (!r) return ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", fn);
    bg_rc_values(rc, s->x, s->n, s->dim_x, r);
    char why[512];
    if (hist) status = smp_profile_histogram(pc, r, s->log_w, s->n, hist, why, sizeof why);
    if (status == AD_OK && kde) status = smp_profile_kde(pc, r, s->log_w, s->n, kde, why, sizeof why);
    if (status != AD_OK) {
        ad_status_fail(msg, msg_len, status, "%s: %s", fn, why);
        if (hist) {
            smp_profile_free(*hist);
            *hist = NULL;
        }
    }
    ad_free(r);
    return status;
}

/* ---- files ---- */

int bg_generator_save(const bg_generator *g, const char *path, char *msg, size_t msg_len)
{
    if (!g) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "bg_generator_save: g is NULL");
    if (!path) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "bg_generator_save: path is NULL");
    return nn_checkpoint_save(g->model->params, path, msg, msg_len);
}

int bg_generator_load(bg_generator *g, const char *path, char *msg, size_t msg_len)
{
    if (!g) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "bg_generator_load: g is NULL");
    if (!path) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "bg_generator_load: path is NULL");
    return nn_checkpoint_load(g->model->params, path, msg, msg_len);
}

int bg_generator_save_label(const bg_generator *g, const char *path, const char *label, char *msg,
                            size_t msg_len)
{
    static const char fn[] = "bg_generator_save_label";
    if (!g) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: g is NULL", fn);
    if (!path) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: path is NULL", fn);
    if (label && strlen(label) > NN_CHECKPOINT_LABEL_MAX)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: label of %zu bytes (at most %u)", fn,
                              strlen(label), NN_CHECKPOINT_LABEL_MAX);
    return nn_checkpoint_save_label(g->model->params, path, label, msg, msg_len);
}

int bg_generator_load_label(bg_generator *g, const char *path, const char *label, char *msg,
                            size_t msg_len)
{
    static const char fn[] = "bg_generator_load_label";
    if (!g) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: g is NULL", fn);
    if (!path) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: path is NULL", fn);
    if (!label) label = "";
    /* the parameters before loading, put back when the label differs */
    nn_params *p = g->model->params;
    size_t n = nn_params_size(p);
    ad_real *keep = ad_malloc((n ? n : 1) * sizeof *keep);
    char *found = ad_malloc(NN_CHECKPOINT_LABEL_MAX + 1);
    int status = AD_OK;
    if (!keep || !found) status = ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", fn);
    if (status == AD_OK) {
        memcpy(keep, nn_params_values(p), n * sizeof *keep);
        status = nn_checkpoint_load_label(p, path, found, NN_CHECKPOINT_LABEL_MAX + 1, msg, msg_len);
    }
    if (status == AD_OK && strcmp(found, label) != 0) {
        memcpy(nn_params_values(p), keep, n * sizeof *keep);
        status = ad_status_fail(msg, msg_len, AD_ERR_FORMAT,
                                "%s: %s carries the label '%.100s', not '%.100s'", fn, path, found,
                                label);
    }
    ad_free(keep);
    ad_free(found);
    return status;
}
