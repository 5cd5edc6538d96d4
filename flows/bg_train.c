/* bg_train.c - the training loop: schedule, losses, skipping of non-finite
 * steps, CSV log, checkpoints. */
#include "bg_train.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "autodiff/ad_dist.h"
#include "bg_train_impl.h"
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

/* The checks shared by the temperature and data-set lists: the list and its
 * length, then each entry's kT and weight (finite > 0). */
static int list_check(const char *who, const char *field, const void *list, int n, char *msg,
                      size_t len)
{
    if (!list)
        return ad_status_fail(msg, len, AD_ERR_ARG, "%s: %s is NULL (n_%s = %d)", who, field,
                              field, n);
    if (n < 1 || n > BG_MAX_TEMPERATURES)
        return ad_status_fail(msg, len, AD_ERR_ARG, "%s: n_%s = %d (%s; need 1 .. %d)", who, field,
                              n, n < 1 ? "an empty list" : "too many", BG_MAX_TEMPERATURES);
    return AD_OK;
}

static int entry_check(const char *who, const char *field, int k, double kT, double weight,
                       char *msg, size_t len)
{
    if (!(kT > 0) || !isfinite(kT))
        return ad_status_fail(msg, len, AD_ERR_ARG, "%s: %s[%d].kT = %g (need finite > 0)", who,
                              field, k, kT);
    if (!(weight > 0) || !isfinite(weight))
        return ad_status_fail(msg, len, AD_ERR_ARG, "%s: %s[%d].weight = %g (need finite > 0)",
                              who, field, k, weight);
    return AD_OK;
}

/* The weights of a list whose entries passed entry_check, as the shares
 * the training uses (weight / sum): the sum must be finite and no share
 * may round to 0 (1e308 twice, or 5e-324 beside 1, would give the batch
 * split no usable share). */
static int shares_check(const char *who, const char *field, const double *weight, int n,
                        char *msg, size_t len)
{
    double sum = 0;
    for (int k = 0; k < n; k++) sum += weight[k];
    if (!isfinite(sum))
        return ad_status_fail(msg, len, AD_ERR_ARG, "%s: the weights of %s sum to %g (need a "
                              "finite sum)", who, field, sum);
    for (int k = 0; k < n; k++)
        if (!(weight[k] / sum > 0))
            return ad_status_fail(msg, len, AD_ERR_ARG, "%s: %s[%d].weight = %g is 0 beside the "
                                  "others' sum %g (its share rounds to 0)", who, field, k,
                                  weight[k], sum);
    return AD_OK;
}

int bg_temperatures_check(const char *who, const char *field, const bg_temperature *temps, int n,
                          char *msg, size_t len)
{
    if (!who) who = "bg_temperatures_check";
    if (!field) field = "temperatures";
    int rc = list_check(who, field, temps, n, msg, len);
    for (int k = 0; rc == AD_OK && k < n; k++) {
        rc = entry_check(who, field, k, temps[k].kT, temps[k].weight, msg, len);
        for (int j = 0; rc == AD_OK && j < k; j++)
            if (temps[j].kT == temps[k].kT)
                rc = ad_status_fail(msg, len, AD_ERR_ARG,
                                    "%s: %s[%d].kT = %g repeats %s[%d].kT (need distinct)", who,
                                    field, k, temps[k].kT, field, j);
    }
    if (rc == AD_OK) {
        double w[BG_MAX_TEMPERATURES];
        for (int k = 0; k < n; k++) w[k] = temps[k].weight;
        rc = shares_check(who, field, w, n, msg, len);
    }
    return rc;
}

int bg_temperature_data_check(const char *who, const char *field, const bg_temperature_data *sets,
                              int n, char *msg, size_t len)
{
    if (!who) who = "bg_temperature_data_check";
    if (!field) field = "data_sets";
    int rc = list_check(who, field, sets, n, msg, len);
    for (int k = 0; rc == AD_OK && k < n; k++) {
        rc = entry_check(who, field, k, sets[k].kT, sets[k].weight, msg, len);
        if (rc == AD_OK && (!sets[k].data || sets[k].n_data < 1))
            rc = ad_status_fail(msg, len, AD_ERR_ARG,
                                "%s: %s[%d].data is %s with n_data = %d (need data and "
                                "n_data > 0)",
                                who, field, k, sets[k].data ? "set" : "NULL", sets[k].n_data);
    }
    if (rc == AD_OK) {
        double w[BG_MAX_TEMPERATURES];
        for (int k = 0; k < n; k++) w[k] = sets[k].weight;
        rc = shares_check(who, field, w, n, msg, len);
    }
    return rc;
}

int bg_split_batch(const double *weight, int n, int batch, int *counts)
{
    if (!weight || !counts || n < 1 || batch < n) return AD_ERR_ARG;
    double total = 0;
    for (int k = 0; k < n; k++) {
        if (!(weight[k] > 0) || !isfinite(weight[k])) return AD_ERR_ARG;
        total += weight[k];
    }
    /* one row each, the other batch - n rows in proportion to the weights */
    int rest = batch - n, given = 0;
    double frac[BG_MAX_TEMPERATURES > 64 ? BG_MAX_TEMPERATURES : 64];
    if (n > (int)(sizeof frac / sizeof frac[0])) return AD_ERR_ARG;
    for (int k = 0; k < n; k++) {
        double share = rest * (weight[k] / total);
        int whole = (int)floor(share);
        if (whole > rest) whole = rest;
        counts[k] = 1 + whole;
        frac[k] = share - whole;
        given += whole;
    }
    while (given < rest) { /* largest remainder first, ties to the lower index */
        int best = 0;
        for (int k = 1; k < n; k++)
            if (frac[k] > frac[best]) best = k;
        counts[best]++;
        frac[best] = -1;
        given++;
    }
    return AD_OK;
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

/* Whether the run uses per-row temperatures (either list set). */
static int uses_temperatures(const bg_train_config *c)
{
    return c->temperatures || c->n_temperatures != 0 || c->data_sets || c->n_data_sets != 0;
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
    int multi = uses_temperatures(c);
    int n_kl = 1, n_ml = 1;
    if (c->grad_blocks < 0)
        return ad_status_fail(msg, len, AD_ERR_ARG, "bg_train: grad_blocks = %d (need >= 0)",
                              c->grad_blocks);
    if (multi) {
        if (c->temperatures || c->n_temperatures != 0) {
            int status = bg_temperatures_check("bg_train", "temperatures", c->temperatures,
                                               c->n_temperatures, msg, len);
            if (status != AD_OK) return status;
            n_kl = c->n_temperatures;
        } else if (!(c->kT > 0) || !isfinite(c->kT)) {
            return ad_status_fail(msg, len, AD_ERR_ARG,
                                  "bg_train: kT = %g (need finite > 0: the temperature of J_KL "
                                  "without a temperatures list)",
                                  c->kT);
        }
        if (c->data_sets || c->n_data_sets != 0) {
            int status = bg_temperature_data_check("bg_train", "data_sets", c->data_sets,
                                                   c->n_data_sets, msg, len);
            if (status != AD_OK) return status;
            if (c->data)
                return ad_status_fail(msg, len, AD_ERR_ARG,
                                      "bg_train: data and data_sets are both set (J_ML takes "
                                      "one or the other)");
            n_ml = c->n_data_sets;
        }
    }
    for (int s = 0; s < c->n_stages; s++) {
        const bg_stage *st = &c->stages[s];
        int status = bg_stage_check("bg_train", st, s, msg, len);
        if (status != AD_OK) return status;
        if (multi && (st->w_kl > 0 || st->w_rc > 0) && st->batch_size < n_kl)
            return ad_status_fail(msg, len, AD_ERR_ARG,
                                  "bg_train: stage %d: batch_size = %d is less than the %d "
                                  "temperatures (each needs a row)",
                                  s + 1, st->batch_size, n_kl);
        if (multi && st->w_ml > 0 && st->batch_size < n_ml)
            return ad_status_fail(msg, len, AD_ERR_ARG,
                                  "bg_train: stage %d: batch_size = %d is less than the %d "
                                  "data_sets (each needs a row)",
                                  s + 1, st->batch_size, n_ml);
        if (st->w_ml > 0 && !c->data_sets && (!c->data || c->n_data <= 0))
            return ad_status_fail(msg, len, AD_ERR_ARG,
                                  "bg_train: stage %d uses J_ML but there is no "
                                  "data",
                                  s + 1);
        if (st->w_kl > 0 && !c->potential)
            return ad_status_fail(msg, len, AD_ERR_ARG,
                                  "bg_train: stage %d uses J_KL but potential is NULL", s + 1);
        if (st->w_kl > 0 && !multi && (!(c->kT > 0) || !isfinite(c->kT)))
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
        if (c->grad_blocks > st->batch_size)
            return ad_status_fail(msg, len, AD_ERR_ARG,
                                  "bg_train: stage %d: batch_size = %d is less than grad_blocks "
                                  "= %d (each block needs a row)",
                                  s + 1, st->batch_size, c->grad_blocks);
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

/* The cut of a stage for a row at temperature kT (multi-temperature runs):
 * e_ref + e_high kT with BG_CUT_KT_ABOVE_REF, so every temperature is cut at
 * the same reduced energy above the reference. */
static void stage_cut_at(const bg_train_config *c, const bg_stage *st, double kT, double *e_high,
                         double *e_max)
{
    if (c->cut_ref == BG_CUT_KT_ABOVE_REF) {
        *e_high = c->e_ref + st->e_high * kT;
        *e_max = c->e_ref + (st->e_max != 0 ? st->e_max : BG_E_MAX_NONE) * kT;
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
    /* per-row temperatures (multi-temperature runs only) */
    int multi;
    int n_kl, n_ml;                     /* temperatures of J_KL / J_RC, data sets */
    bg_temperature kl[BG_MAX_TEMPERATURES];
    bg_temperature_data ml[BG_MAX_TEMPERATURES];
    double kl_share[BG_MAX_TEMPERATURES]; /* normalised weights                  */
    double ml_share[BG_MAX_TEMPERATURES];
    ad_real *row_kT, *row_w, *row_eh, *row_em; /* [max batch] prior rows         */
    int *row_group;                     /* [max batch]                           */
    ad_real *ml_kT, *ml_w;              /* [max batch] data rows                 */
    bg_blocks *blocks;                  /* grad_blocks > 1 only                  */
    char why[256];                      /* a step's error, when it has one       */
} trainer;

/* The rows of each group: kT and loss share (into row_kT, row_w) and group
 * index for a batch split by bg_split_batch over n groups of normalised
 * shares. */
static void fill_rows(trainer *tr, int batch, int n, const double *kT, const double *share,
                      ad_real *row_kT, ad_real *row_w)
{
    int counts[BG_MAX_TEMPERATURES];
    /* cannot fail: batch >= n (checked with the stages) and every share
     * finite > 0 (shares_check, through the list checks) */
    bg_split_batch(share, n, batch, counts);
    int b = 0;
    for (int k = 0; k < n; k++)
        for (int i = 0; i < counts[k]; i++, b++) {
            row_kT[b] = (ad_real)kT[k];
            row_w[b] = (ad_real)(share[k] / counts[k]);
            tr->row_group[b] = k;
        }
}

/* The random draws of a step with a temperature per row, in the order of
 * step_loss: the data rows of every temperature (x_batch, with ml_kT and
 * ml_w) when the stage uses J_ML, then the prior rows (z_batch, with row_kT,
 * row_w, row_group and, with J_KL, the rows' energy cut) when it uses J_KL
 * or J_RC. */
static void draw_rows(trainer *tr, const bg_stage *st, ad_rng *rng)
{
    const bg_train_config *c = tr->cfg;
    const flow_model *m = c->model;
    int batch = st->batch_size;
    double kT[BG_MAX_TEMPERATURES];
    if (st->w_ml > 0) {
        int counts[BG_MAX_TEMPERATURES];
        bg_split_batch(tr->ml_share, tr->n_ml, batch, counts);
        int b = 0;
        for (int k = 0; k < tr->n_ml; k++) {
            const bg_temperature_data *d = &tr->ml[k];
            smp_sample_rows(d->data, d->n_data, m->dim_x, rng, counts[k],
                            tr->x_batch + (size_t)b * m->dim_x, NULL);
            b += counts[k];
            kT[k] = d->kT;
        }
        fill_rows(tr, batch, tr->n_ml, kT, tr->ml_share, tr->ml_kT, tr->ml_w);
    }
    if (st->w_kl > 0 || st->w_rc > 0) {
        for (int k = 0; k < tr->n_kl; k++) kT[k] = tr->kl[k].kT;
        fill_rows(tr, batch, tr->n_kl, kT, tr->kl_share, tr->row_kT, tr->row_w);
        flow_prior_sample_rows(&c->prior, rng, tr->row_kT, tr->z_batch, batch);
        for (int b = 0; st->w_kl > 0 && b < batch; b++) {
            double e_high, e_max;
            stage_cut_at(c, st, tr->row_kT[b], &e_high, &e_max);
            tr->row_eh[b] = (ad_real)e_high;
            tr->row_em[b] = (ad_real)e_max;
        }
    }
}

/* total + weight * j (j alone when total is NULL), with j's value into
 * *value: one term of a stage's loss. */
static ad_tensor *add_term(ad_tape *t, ad_tensor *total, ad_tensor *j, double weight,
                           double *value)
{
    if (ad_tape_ok(t)) *value = j->data[0];
    ad_tensor *w = ad_scale(t, j, weight);
    return total ? ad_add(t, total, w) : w;
}

/* The loss's value into *loss and its backward pass; AD_ERR_NUMERIC when it
 * is not finite. */
static int finish_loss(ad_tape *t, ad_tensor *total, double *loss)
{
    if (!total) return AD_ERR_ARG;
    if (!ad_tape_ok(t)) return ad_tape_status(t);
    *loss = total->data[0];
    if (!isfinite(*loss)) return AD_ERR_NUMERIC;
    return ad_backward(t, total);
}

/* One loss evaluation with a temperature per row (see bg_train.h); the same
 * order of random draws as step_loss: the data batch, then the prior. */
static int step_loss_rows(trainer *tr, const bg_stage *st, ad_rng *rng, double *loss, double *ml,
                          double *kl, double *rc)
{
    const bg_train_config *c = tr->cfg;
    const flow_model *m = c->model;
    ad_tape *t = tr->tape;
    ad_tape_reset(t);
    ad_tensor *total = NULL;
    *ml = *kl = *rc = 0;
    int batch = st->batch_size;
    draw_rows(tr, st, rng);
    if (st->w_ml > 0) {
        int shape[2] = {batch, m->dim_x};
        ad_tensor *x = ad_constant(t, 2, shape, tr->x_batch);
        ad_tensor *j = bg_loss_ml_rows(t, m, &c->prior, x, tr->ml_kT, tr->ml_w);
        total = add_term(t, total, j, st->w_ml, ml);
    }
    if (st->w_kl > 0 || st->w_rc > 0) {
        int shape[2] = {batch, m->dim_z};
        ad_tensor *z = ad_constant(t, 2, shape, tr->z_batch);
        ad_tensor *x = NULL;
        if (st->w_kl > 0) {
            bg_kl_terms terms = {0};
            ad_tensor *j = bg_loss_kl_rows(t, m, c->potential, tr->row_kT, tr->row_w, tr->row_eh,
                                           tr->row_em, z, &terms);
            total = add_term(t, total, j, st->w_kl, kl);
            x = terms.x;
        } else {
            x = flow_model_forward(m, t, z, NULL);
        }
        if (st->w_rc > 0) {
            ad_real gw[BG_MAX_TEMPERATURES];
            for (int k = 0; k < tr->n_kl; k++) gw[k] = (ad_real)tr->kl_share[k];
            ad_tensor *j = bg_loss_rc_groups(t, bg_rc_eval(t, c->rc, x), &c->rc_loss,
                                             tr->row_group, tr->n_kl, gw);
            total = add_term(t, total, j, st->w_rc, rc);
        }
    }
    return finish_loss(t, total, loss);
}

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
        total = add_term(t, total, j, st->w_ml, ml);
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
            total = add_term(t, total, j, st->w_kl, kl);
            x = terms.x;
        } else {
            x = flow_model_forward(m, t, z, NULL);
        }
        if (st->w_rc > 0) {
            ad_tensor *j = bg_loss_rc(t, bg_rc_eval(t, c->rc, x), &c->rc_loss);
            total = add_term(t, total, j, st->w_rc, rc);
        }
    }
    return finish_loss(t, total, loss);
}

/* One loss evaluation with the batch cut into blocks (bg_train_impl.h):
 * the same draws as step_loss (the data batch, then the prior) or, with a
 * temperature per row, as step_loss_rows; every row on every rank. */
static int step_blocks(trainer *tr, const bg_stage *st, ad_rng *rng, double *loss, double *ml,
                       double *kl, double *rc)
{
    const bg_train_config *c = tr->cfg;
    const flow_model *m = c->model;
    *ml = *kl = *rc = 0;
    int status = AD_OK;
    double e_high = 0, e_max = 0;
    bg_block_rows rows = {0};
    ad_real gw[BG_MAX_TEMPERATURES];
    if (tr->multi) {
        draw_rows(tr, st, rng);
        for (int k = 0; k < tr->n_kl; k++) gw[k] = (ad_real)tr->kl_share[k];
        rows = (bg_block_rows){tr->ml_kT, tr->ml_w,     tr->row_kT, tr->row_w, tr->row_eh,
                               tr->row_em, tr->row_group, tr->n_kl,  gw};
    } else {
        if (st->w_ml > 0)
            status = smp_sample_rows(c->data, c->n_data, m->dim_x, rng, st->batch_size,
                                     tr->x_batch, NULL);
        if (status == AD_OK && (st->w_kl > 0 || st->w_rc > 0))
            status = flow_prior_sample(&c->prior, rng, tr->z_batch, st->batch_size);
        stage_cut(c, st, &e_high, &e_max);
    }
    if (status != AD_OK) snprintf(tr->why, sizeof tr->why, "cannot draw the batch");
    return bg_blocks_step(tr->blocks, st, e_high, e_max, tr->x_batch, tr->z_batch,
                          tr->multi ? &rows : NULL, loss, ml, kl, rc, tr->why, sizeof tr->why);
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
        tr->why[0] = '\0';
        int status = tr->blocks  ? step_blocks(tr, st, &rng, &loss, &ml, &kl, &rc)
                     : tr->multi ? step_loss_rows(tr, st, &rng, &loss, &ml, &kl, &rc)
                                 : step_loss(tr, st, &rng, &loss, &ml, &kl, &rc);
        /* Under MPI every rank takes the same step: one that any rank
         * cannot take is skipped (or fails) on all, with that rank's reason
         * (BG_DIST_FAULT=nan-loss@R tests it, ad_dist.h). */
        if (status == AD_OK && ad_dist_fault("nan-loss")) {
            loss = NAN;
            status = AD_ERR_NUMERIC;
        }
        char why[256] = "";
        if (status != AD_OK && status != AD_ERR_NUMERIC)
            snprintf(why, sizeof why, "%s",
                     tr->why[0]             ? tr->why
                     : ad_tape_ok(tr->tape) ? "loss evaluation failed"
                                            : ad_tape_error(tr->tape));
        int mine = status;
        status = ad_dist_agree(status, why, sizeof why);
        if (status == AD_ERR_NUMERIC && mine != AD_ERR_NUMERIC) loss = NAN;
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
                                  why[0] ? why
                                  : ad_tape_ok(tr->tape) ? "loss evaluation failed"
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
    int flushed = AD_OK; /* rank 0 alone holds the log under MPI */
    if (tr->log && fflush(tr->log) != 0)
        flushed = ad_status_fail(msg, len, AD_ERR_IO, "bg_train: cannot write the log %s",
                                 c->log_path);
    flushed = ad_dist_agree(flushed, msg, len);
    if (flushed != AD_OK) return flushed;
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
    trainer tr;
    memset(&tr, 0, sizeof tr);
    tr.cfg = &c;
    tr.multi = uses_temperatures(&c);
    if (tr.multi) {
        if (c.temperatures) {
            tr.n_kl = c.n_temperatures;
            memcpy(tr.kl, c.temperatures, (size_t)tr.n_kl * sizeof tr.kl[0]);
        } else {
            tr.n_kl = 1;
            tr.kl[0] = (bg_temperature){.kT = c.kT, .weight = 1};
        }
        if (c.data_sets) {
            tr.n_ml = c.n_data_sets;
            memcpy(tr.ml, c.data_sets, (size_t)tr.n_ml * sizeof tr.ml[0]);
        } else {
            tr.n_ml = 1;
            tr.ml[0] = (bg_temperature_data){.kT = c.prior.kT, .weight = 1, .data = c.data,
                                             .n_data = c.n_data};
        }
        double sum_kl = 0, sum_ml = 0;
        for (int k = 0; k < tr.n_kl; k++) sum_kl += tr.kl[k].weight;
        for (int k = 0; k < tr.n_ml; k++) sum_ml += tr.ml[k].weight;
        for (int k = 0; k < tr.n_kl; k++) tr.kl_share[k] = tr.kl[k].weight / sum_kl;
        for (int k = 0; k < tr.n_ml; k++) tr.ml_share[k] = tr.ml[k].weight / sum_ml;
        size_t rows = (size_t)max_batch * sizeof(ad_real);
        tr.row_kT = ad_malloc(rows);
        tr.row_w = ad_malloc(rows);
        tr.row_eh = ad_malloc(rows);
        tr.row_em = ad_malloc(rows);
        tr.row_group = ad_malloc((size_t)max_batch * sizeof(int));
        tr.ml_kT = ad_malloc(rows);
        tr.ml_w = ad_malloc(rows);
    }
    nn_optim_config oc = nn_optim_config_default(c.stages[0].lr);
    oc.clip_norm = c.clip_norm;
    nn_optim *opt = nn_optim_new(c.model->params, &oc, msg, msg_len);
    tr.tape = ad_tape_new(0);
    tr.x_batch = ad_malloc((size_t)max_batch * c.model->dim_x * sizeof(ad_real));
    tr.z_batch = ad_malloc((size_t)max_batch * c.model->dim_z * sizeof(ad_real));
    int blocks_ok = c.grad_blocks <= 1 ||
                    (tr.blocks = bg_blocks_new(&c, c.grad_blocks, tr.multi ? tr.n_kl : 1)) != NULL;
    if (!opt || !tr.tape || !tr.x_batch || !tr.z_batch || !blocks_ok ||
        (tr.multi && (!tr.row_kT || !tr.row_w || !tr.row_eh || !tr.row_em || !tr.row_group ||
                      !tr.ml_kT || !tr.ml_w))) {
        /* the configuration was checked above, so only memory can be short */
        status = ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "bg_train: out of memory");
    }
    status = ad_dist_agree(status, msg, msg_len);
    if (status != AD_OK) goto done;
    if (c.log_path) {
        /* under MPI rank 0 writes the log (ad_dist.h) */
        if (ad_dist_root_begin()) {
            tr.log = fopen(c.log_path, first_stage > 0 ? "a" : "w");
            if (!tr.log)
                status = ad_status_fail(msg, msg_len, AD_ERR_IO,
                                        "bg_train: cannot open the log %s", c.log_path);
            else if (first_stage == 0)
                fprintf(tr.log, "stage,iteration,loss,ml,kl,rc,grad_norm,skipped\n");
        }
        status = ad_dist_root_end(status, msg, msg_len);
        if (status != AD_OK) goto done;
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
    if (c.log_path) status = ad_dist_agree(status, msg, msg_len);
    ad_free(tr.x_batch);
    ad_free(tr.z_batch);
    ad_free(tr.row_kT);
    ad_free(tr.row_w);
    ad_free(tr.row_eh);
    ad_free(tr.row_em);
    ad_free(tr.row_group);
    ad_free(tr.ml_kT);
    ad_free(tr.ml_w);
    bg_blocks_free(tr.blocks);
    ad_tape_free(tr.tape);
    nn_optim_free(opt);
    if (result) *result = res;
    return status;
}
