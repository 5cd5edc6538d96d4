/* bg_train.c - the training loop: schedule, losses, skipping of non-finite
 * steps, CSV log, checkpoints. */
#include "bg_train.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nn/nn_checkpoint.h"
#include "nn/nn_optim.h"
#include "sampling/smp_data.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int bg_checkpoint_path(const char *prefix, int stage, char *buf, size_t len)
{
    if (!buf || len == 0) return AD_ERR_ARG;
    buf[0] = '\0';
    if (!prefix || !*prefix || stage < 0) return AD_ERR_ARG;
    int n = snprintf(buf, len, "%s-stage%d.ckpt", prefix, stage + 1);
    if (n < 0 || (size_t)n >= len) {
        buf[0] = '\0'; /* never a cut-off name that would still be used */
        return AD_ERR_ARG;
    }
    return AD_OK;
}

char *bg_checkpoint_path_new(const char *prefix, int stage)
{
    if (!prefix || !*prefix || stage < 0) return NULL;
    return ad_path_format("%s-stage%d.ckpt", prefix, stage + 1);
}

bg_stage bg_stage_default(void)
{
    bg_stage st = {.name = "stage", .n_iterations = 1000, .batch_size = 256, .lr = 1e-3,
                   .w_ml = 1, .w_kl = 0, .w_rc = 0, .e_high = 1e4, .e_max = 0};
    return st;
}

bg_stage bg_stage_ml(int n_iterations)
{
    bg_stage st = bg_stage_default();
    st.name = "ML";
    st.n_iterations = n_iterations;
    return st;
}

bg_stage bg_stage_ml_kl(int n_iterations, double e_high)
{
    bg_stage st = bg_stage_default();
    st.name = "ML+KL";
    st.n_iterations = n_iterations;
    st.w_kl = 1;
    st.e_high = e_high;
    return st;
}

bg_train_config bg_train_config_default(void)
{
    bg_train_config c;
    memset(&c, 0, sizeof c);
    c.kT = 1;
    c.prior.kT = 1;
    c.rc_loss.n_kernels = 11;
    c.max_bad_in_a_row = 20;
    return c;
}

int bg_stage_check(const char *who, const bg_stage *st, int index, char *msg, size_t len)
{
    if (!who) who = "bg_stage_check";
    if (!st) return ad_status_fail(msg, len, AD_ERR_ARG, "%s: stage %d is NULL", who, index + 1);
    const char *name = st->name ? st->name : "";
#define STAGE_BAD(field, fmt, value)                                                            \
    ad_status_fail(msg, len, AD_ERR_ARG, "%s: stage %d (%s): " field " = " fmt " (%s)", who, \
                   index + 1, name, value, why)
    const char *why;
    if (st->n_iterations < 0) {
        why = "need >= 0";
        return STAGE_BAD("n_iterations", "%d", st->n_iterations);
    }
    if (st->batch_size <= 0) {
        why = "need > 0";
        return STAGE_BAD("batch_size", "%d", st->batch_size);
    }
    if (!(st->lr > 0) || !isfinite(st->lr)) {
        why = "need finite > 0";
        return STAGE_BAD("lr", "%g", st->lr);
    }
    why = "need finite >= 0";
    if (!(st->w_ml >= 0) || !isfinite(st->w_ml)) return STAGE_BAD("w_ml", "%g", st->w_ml);
    if (!(st->w_kl >= 0) || !isfinite(st->w_kl)) return STAGE_BAD("w_kl", "%g", st->w_kl);
    if (!(st->w_rc >= 0) || !isfinite(st->w_rc)) return STAGE_BAD("w_rc", "%g", st->w_rc);
    if (!(st->w_ml > 0) && !(st->w_kl > 0) && !(st->w_rc > 0)) {
        why = "at least one loss weight must be > 0";
        return STAGE_BAD("w_ml + w_kl + w_rc", "%g", st->w_ml + st->w_kl + st->w_rc);
    }
    if (!isfinite(st->e_high)) {
        why = "need finite";
        return STAGE_BAD("e_high", "%g", st->e_high);
    }
    if (!isfinite(st->e_max) || (st->e_max != 0 && st->e_max < st->e_high)) {
        why = "need finite >= e_high, or 0 for no cap";
        return STAGE_BAD("e_max", "%g", st->e_max);
    }
#undef STAGE_BAD
    return AD_OK;
}

static int check_config(const bg_train_config *c, int first_stage, char *msg, size_t len)
{
    if (!c->model) return ad_status_fail(msg, len, AD_ERR_ARG, "bg_train: model is NULL");
    if (!c->stages) return ad_status_fail(msg, len, AD_ERR_ARG, "bg_train: stages is NULL");
    if (c->n_stages <= 0)
        return ad_status_fail(msg, len, AD_ERR_ARG, "bg_train: n_stages = %d (need > 0)",
                              c->n_stages);
    /* NULL means none; "" would put "-stage1.ckpt" in the current directory
     * after a whole stage of training */
    if (c->checkpoint_prefix && !*c->checkpoint_prefix)
        return ad_status_fail(msg, len, AD_ERR_ARG,
                              "bg_train: checkpoint_prefix is an empty string (NULL: none)");
    if (c->log_path && !*c->log_path)
        return ad_status_fail(msg, len, AD_ERR_ARG,
                              "bg_train: log_path is an empty string (NULL: none)");
    if (first_stage < 0 || first_stage > c->n_stages)
        return ad_status_fail(msg, len, AD_ERR_ARG, "bg_train: first stage %d of %d", first_stage,
                              c->n_stages);
    if (c->prior.dim != c->model->dim_z)
        return ad_status_fail(msg, len, AD_ERR_ARG,
                              "bg_train: prior.dim = %d differs from model->dim_z = %d",
                              c->prior.dim, c->model->dim_z);
    if (!(c->prior.kT > 0) || !isfinite(c->prior.kT))
        return ad_status_fail(msg, len, AD_ERR_ARG, "bg_train: prior.kT = %g (need finite > 0)",
                              c->prior.kT);
    if (!(c->clip_norm >= 0) || !isfinite(c->clip_norm))
        return ad_status_fail(msg, len, AD_ERR_ARG, "bg_train: clip_norm = %g (need finite >= 0)",
                              c->clip_norm);
    if (c->max_bad_in_a_row < 0)
        return ad_status_fail(msg, len, AD_ERR_ARG,
                              "bg_train: max_bad_in_a_row = %d (need >= 0; 0: 20)",
                              c->max_bad_in_a_row);
    if (c->cut_ref != BG_CUT_ABSOLUTE && c->cut_ref != BG_CUT_KT_ABOVE_REF)
        return ad_status_fail(msg, len, AD_ERR_ARG,
                              "bg_train: cut_ref = %d (need BG_CUT_ABSOLUTE or "
                              "BG_CUT_KT_ABOVE_REF)",
                              (int)c->cut_ref);
    for (int s = 0; s < c->n_stages; s++) {
        const bg_stage *st = &c->stages[s];
        int status = bg_stage_check("bg_train", st, s, msg, len);
        if (status != AD_OK) return status;
        if (st->w_ml > 0 && (!c->data || c->n_data <= 0))
            return ad_status_fail(msg, len, AD_ERR_ARG,
                                  "bg_train: stage %d uses J_ML but there is no "
                                  "data",
                                  s + 1);
        if (st->w_kl > 0 && !c->potential)
            return ad_status_fail(msg, len, AD_ERR_ARG,
                                  "bg_train: stage %d uses J_KL but potential is NULL", s + 1);
        if (st->w_kl > 0 && (!(c->kT > 0) || !isfinite(c->kT)))
            return ad_status_fail(msg, len, AD_ERR_ARG,
                                  "bg_train: stage %d uses J_KL but kT = %g (need finite > 0)",
                                  s + 1, c->kT);
        if (st->w_kl > 0 && c->potential->dim != c->model->dim_x)
            return ad_status_fail(msg, len, AD_ERR_SHAPE,
                                  "bg_train: potential dimension %d, model %d", c->potential->dim,
                                  c->model->dim_x);
        if (st->w_kl > 0 && c->cut_ref == BG_CUT_KT_ABOVE_REF && !isfinite(c->e_ref))
            return ad_status_fail(msg, len, AD_ERR_ARG,
                                  "bg_train: stage %d measures its cut from e_ref = %g "
                                  "(need finite)",
                                  s + 1, c->e_ref);
        if (st->w_rc > 0 && !c->rc)
            return ad_status_fail(msg, len, AD_ERR_ARG,
                                  "bg_train: stage %d uses J_RC but there is no "
                                  "reaction coordinate",
                                  s + 1);
        if (st->w_rc > 0) {
            int status = bg_rc_loss_config_check("bg_train", &c->rc_loss, msg, len);
            if (status != AD_OK) return status;
        }
    }
    return AD_OK;
}

/* The cut of a stage as absolute energies (energy units). */
static void stage_cut(const bg_train_config *c, const bg_stage *st, double *e_high, double *e_max)
{
    if (c->cut_ref == BG_CUT_KT_ABOVE_REF) {
        *e_high = c->e_ref + st->e_high * c->kT;
        *e_max = c->e_ref + (st->e_max != 0 ? st->e_max : BG_E_MAX_NONE) * c->kT;
    } else {
        *e_high = st->e_high;
        *e_max = st->e_max != 0 ? st->e_max : BG_E_MAX_NONE;
    }
}

/* Per-run scratch: the tape, the batch buffers and the optimizer. */
typedef struct trainer {
    const bg_train_config *cfg;
    ad_tape *tape;
    ad_real *x_batch; /* [max batch * dim_x] */
    ad_real *z_batch; /* [max batch * dim_z] */
    FILE *log;
} trainer;

/* One loss evaluation and backward pass; components are written out. */
static int step_loss(trainer *tr, const bg_stage *st, ad_rng *rng, double *loss, double *ml,
                     double *kl, double *rc)
{
    const bg_train_config *c = tr->cfg;
    const flow_model *m = c->model;
    ad_tape *t = tr->tape;
    ad_tape_reset(t);
    ad_tensor *total = NULL;
    *ml = *kl = *rc = 0;
    if (st->w_ml > 0) {
        smp_sample_rows(c->data, c->n_data, m->dim_x, rng, st->batch_size, tr->x_batch, NULL);
        int shape[2] = {st->batch_size, m->dim_x};
        ad_tensor *x = ad_constant(t, 2, shape, tr->x_batch);
        ad_tensor *j = bg_loss_ml(t, m, &c->prior, x);
        if (ad_tape_ok(t)) *ml = j->data[0];
        total = ad_scale(t, j, st->w_ml);
    }
    if (st->w_kl > 0 || st->w_rc > 0) {
        flow_prior_sample(&c->prior, rng, tr->z_batch, st->batch_size);
        int shape[2] = {st->batch_size, m->dim_z};
        ad_tensor *z = ad_constant(t, 2, shape, tr->z_batch);
        ad_tensor *x = NULL;
        if (st->w_kl > 0) {
            bg_kl_terms terms = {0};
            double e_high, e_max;
            stage_cut(c, st, &e_high, &e_max);
            ad_tensor *j = bg_loss_kl(t, m, c->potential, c->kT, e_high, e_max, z, &terms);
            if (ad_tape_ok(t)) *kl = j->data[0];
            ad_tensor *w = ad_scale(t, j, st->w_kl);
            total = total ? ad_add(t, total, w) : w;
            x = terms.x;
        } else {
            x = flow_model_forward(m, t, z, NULL);
        }
        if (st->w_rc > 0) {
            ad_tensor *j = bg_loss_rc(t, bg_rc_eval(t, c->rc, x), &c->rc_loss);
            if (ad_tape_ok(t)) *rc = j->data[0];
            ad_tensor *w = ad_scale(t, j, st->w_rc);
            total = total ? ad_add(t, total, w) : w;
        }
    }
    if (!total) return AD_ERR_ARG;
    if (!ad_tape_ok(t)) return ad_tape_status(t);
    *loss = total->data[0];
    if (!isfinite(*loss)) return AD_ERR_NUMERIC;
    return ad_backward(t, total);
}

static int run_stage(trainer *tr, int s, nn_optim *opt, bg_train_result *res, char *msg, size_t len)
{
    const bg_train_config *c = tr->cfg;
    const bg_stage *st = &c->stages[s];
    nn_params *params = c->model->params;
    ad_rng rng;
    ad_rng_seed(&rng, c->seed, (uint64_t)s + 1);
    nn_optim_reset(opt);
    nn_optim_set_lr(opt, st->lr);
    double t0 = now_seconds();
    int bad_in_a_row = 0;
    long tail_start = st->n_iterations - (st->n_iterations + 9) / 10;
    double tail_sum = 0;
    long tail_n = 0;
    bg_progress p = {s, c->n_stages, st->name, 0, st->n_iterations, 0, 0, 0, 0, 0, 0, 0};
    for (long it = 0; it < st->n_iterations; it++) {
        double loss = NAN, ml = 0, kl = 0, rc = 0, gnorm = NAN;
        nn_params_zero_grad(params);
        int status = step_loss(tr, st, &rng, &loss, &ml, &kl, &rc);
        int skipped = 0;
        if (status == AD_OK) {
            status = nn_optim_step(opt, &gnorm); /* refuses a non-finite gradient */
            if (status == AD_ERR_NUMERIC) skipped = 1;
        } else if (status == AD_ERR_NUMERIC) {
            skipped = 1;
        }
        if (status != AD_OK && !skipped)
            return ad_status_fail(msg, len, status, "bg_train: stage %d (%s), iteration %ld: %s",
                                  s + 1, st->name ? st->name : "", it + 1,
                                  ad_tape_ok(tr->tape) ? "loss evaluation failed"
                                                       : ad_tape_error(tr->tape));
        if (skipped) {
            res->skipped++;
            if (++bad_in_a_row > c->max_bad_in_a_row)
                return ad_status_fail(
                    msg, len, AD_ERR_NUMERIC,
                    "bg_train: stage %d (%s), iteration %ld: %d non-finite losses or "
                    "gradients in a row; stopping (lower the learning rate or E_high)",
                    s + 1, st->name ? st->name : "", it + 1, bad_in_a_row);
        } else {
            bad_in_a_row = 0;
            if (it >= tail_start) {
                tail_sum += loss;
                tail_n++;
            }
        }
        res->iterations++;
        if (tr->log)
            fprintf(tr->log, "%d,%ld,%.10g,%.10g,%.10g,%.10g,%.6g,%d\n", s + 1, it + 1, loss, ml,
                    kl, rc, gnorm, skipped);
        p.iteration = it + 1;
        p.loss = loss;
        p.ml = ml;
        p.kl = kl;
        p.rc = rc;
        p.seconds = now_seconds() - t0;
        p.skipped = res->skipped;
        p.stage_done = it + 1 == st->n_iterations;
        if (c->progress) c->progress(&p, c->progress_ctx);
    }
    if (st->n_iterations == 0 && c->progress) {
        p.stage_done = 1;
        c->progress(&p, c->progress_ctx);
    }
    res->final_loss = tail_n ? tail_sum / (double)tail_n : NAN;
    if (tr->log && fflush(tr->log) != 0)
        return ad_status_fail(msg, len, AD_ERR_IO, "bg_train: cannot write the log %s",
                              c->log_path);
    if (c->checkpoint_prefix) {
        char *path = bg_checkpoint_path_new(c->checkpoint_prefix, s);
        if (!path) return ad_status_fail(msg, len, AD_ERR_NOMEM, "bg_train: out of memory");
        int status = nn_checkpoint_save(params, path, msg, len);
        ad_free(path);
        if (status != AD_OK) return status;
    }
    return AD_OK;
}

int bg_train(const bg_train_config *cfg, int first_stage, bg_train_result *result, char *msg,
             size_t msg_len)
{
    bg_train_result res = {0};
    res.final_loss = NAN;
    int status = check_config(cfg, first_stage, msg, msg_len);
    if (status != AD_OK) return status;
    bg_train_config c = *cfg;
    if (c.max_bad_in_a_row <= 0) c.max_bad_in_a_row = 20;
    int max_batch = 1;
    for (int s = 0; s < c.n_stages; s++)
        if (c.stages[s].batch_size > max_batch) max_batch = c.stages[s].batch_size;
    trainer tr = {&c, NULL, NULL, NULL, NULL};
    nn_optim_config oc = nn_optim_config_default(c.stages[0].lr);
    oc.clip_norm = c.clip_norm;
    nn_optim *opt = nn_optim_new(c.model->params, &oc, msg, msg_len);
    tr.tape = ad_tape_new(0);
    tr.x_batch = ad_malloc((size_t)max_batch * c.model->dim_x * sizeof(ad_real));
    tr.z_batch = ad_malloc((size_t)max_batch * c.model->dim_z * sizeof(ad_real));
    if (!opt || !tr.tape || !tr.x_batch || !tr.z_batch) {
        /* the configuration was checked above, so only memory can be short */
        status = ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "bg_train: out of memory");
        goto done;
    }
    if (c.log_path) {
        tr.log = fopen(c.log_path, first_stage > 0 ? "a" : "w");
        if (!tr.log) {
            status = ad_status_fail(msg, msg_len, AD_ERR_IO, "bg_train: cannot open the log %s",
                                    c.log_path);
            goto done;
        }
        if (first_stage == 0) fprintf(tr.log, "stage,iteration,loss,ml,kl,rc,grad_norm,skipped\n");
    }
    double t0 = now_seconds();
    res.stages_done = first_stage;
    for (int s = first_stage; s < c.n_stages; s++) {
        status = run_stage(&tr, s, opt, &res, msg, msg_len);
        if (status != AD_OK) break;
        res.stages_done = s + 1;
    }
    res.seconds = now_seconds() - t0;
done:
    if (tr.log && fclose(tr.log) != 0 && status == AD_OK)
        status = ad_status_fail(msg, msg_len, AD_ERR_IO, "bg_train: cannot write the log %s",
                                c.log_path);
    ad_free(tr.x_batch);
    ad_free(tr.z_batch);
    ad_tape_free(tr.tape);
    nn_optim_free(opt);
    if (result) *result = res;
    return status;
}
