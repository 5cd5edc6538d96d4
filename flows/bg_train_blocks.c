/* bg_train_blocks.c - one training iteration with the batch cut into a
 * fixed number G of blocks of rows (bg_train_config.grad_blocks), each
 * block's loss and gradient computed alone, the gradients summed in block
 * order (bg_train_impl.h).
 *
 * Block g holds rows [B g / G, B (g + 1) / G) of the batch of B rows and
 * weighs n_g / B, so that the block losses add up to the batch's mean
 * losses:
 *   J_ML = sum_g (n_g / B) J_ML(block g),   J_KL likewise;
 *   J_RC = -sum_k log(S_k / B),  S_k = sum_g S_gk,  S_gk the block's sum of
 *          the soft-histogram memberships (bg_loss_rc_sums): the histogram
 *          is the whole batch's, as in bg_loss_rc, and block g's share of
 *          its gradient is that of sum_k (-1 / S_k) S_gk.
 * The gradient is sum_g grad(block g), added in block order.  Under MPI
 * (autodiff/ad_dist.h) rank r owns the blocks of ad_dist_share(G): it
 * computes theirs alone, and ad_dist_sum_blocks adds the block gradients
 * (and the membership sums) in block order whichever rank made them, so
 * the numbers are the same for any number of ranks (up to G working);
 * every rank then takes the same optimizer step.  The random numbers are
 * drawn for the whole batch on every rank (bg_train.c), never per rank.
 * With one block this is the plain loss of bg_train.c, up to rounding.
 *
 * With a temperature per row (bg_block_rows) the rows carry their shares of
 * the batch's losses already (bg_loss_ml_rows, bg_loss_kl_rows), so the
 * block losses add up without a block weight, and J_RC is the groups'
 * (bg_loss_rc_groups): each block returns its membership sums per group
 * (bg_loss_rc_group_sums), S_gk their ordered sum, and
 *   J_RC = -sum_g w_g sum_k log(S_gk / n_g),
 * block g's part of its gradient being that of sum_gk (-w_g / S_gk) S_b,gk. */
#include "bg_train_impl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "autodiff/ad_dist.h"
#include "nn/nn_params.h"

struct bg_blocks {
    const bg_train_config *cfg;
    int n_blocks, n_groups; /* n_groups: histograms of J_RC (temperatures)  */
    long lo, hi;          /* the blocks of this rank                        */
    ad_tape **tapes;      /* [hi - lo]                                       */
    ad_tensor **part;     /* [hi - lo] the block's J_ML, J_KL part           */
    ad_tensor **sums;     /* [hi - lo] the block's membership sums [G, K]    */
    size_t n_params;
    ad_real *mine;        /* [hi - lo][n_params], two blocks or more here    */
    ad_real *loss_mine;   /* [hi - lo][2] the blocks' J_ML, J_KL parts       */
    ad_real loss_total[2];
    ad_real *sums_mine;   /* [hi - lo][G K]                                  */
    ad_real *sums_total;  /* [G K]                                           */
    ad_real *coef;        /* [G K] d J_RC / d S, times w_rc                  */
};

static int n_kernels(const bg_train_config *c)
{
    return c->rc_loss.n_kernels > 0 ? c->rc_loss.n_kernels : 11;
}

void bg_blocks_free(bg_blocks *b)
{
    if (!b) return;
    for (long i = 0; b->tapes && i < b->hi - b->lo; i++) ad_tape_free(b->tapes[i]);
    ad_free(b->tapes);
    ad_free(b->part);
    ad_free(b->sums);
    ad_free(b->mine);
    ad_free(b->loss_mine);
    ad_free(b->sums_mine);
    ad_free(b->sums_total);
    ad_free(b->coef);
    ad_free(b);
}

bg_blocks *bg_blocks_new(const bg_train_config *c, int n_blocks, int n_groups)
{
    bg_blocks *b = ad_calloc(1, sizeof *b);
    if (!b) return NULL;
    b->cfg = c;
    b->n_blocks = n_blocks;
    b->n_groups = n_groups;
    ad_dist_share(n_blocks, &b->lo, &b->hi);
    long own = b->hi - b->lo, n = own > 0 ? own : 1;
    size_t GK = (size_t)n_groups * n_kernels(c);
    b->n_params = nn_params_size(c->model->params);
    b->tapes = ad_calloc((size_t)n, sizeof *b->tapes);
    b->part = ad_calloc((size_t)n, sizeof *b->part);
    b->sums = ad_calloc((size_t)n, sizeof *b->sums);
    /* one block here is summed in place, in the parameters' gradient */
    b->mine = own > 1 ? ad_malloc((size_t)own * b->n_params * sizeof *b->mine) : NULL;
    b->loss_mine = ad_malloc((size_t)n * 2 * sizeof *b->loss_mine);
    b->sums_mine = ad_malloc((size_t)n * GK * sizeof *b->sums_mine);
    b->sums_total = ad_malloc(GK * sizeof *b->sums_total);
    b->coef = ad_malloc(GK * sizeof *b->coef);
    int ok = b->tapes && b->part && b->sums && (own <= 1 || b->mine) && b->loss_mine &&
             b->sums_mine && b->sums_total && b->coef;
    for (long i = 0; ok && i < own; i++) ok = (b->tapes[i] = ad_tape_new(0)) != NULL;
    if (!ok) {
        bg_blocks_free(b);
        return NULL;
    }
    return b;
}

/* The forward pass of block g on its tape: b->part (the weighted J_ML and
 * J_KL of its rows) and, with J_RC, b->sums (its membership sums). */
static int block_forward(bg_blocks *b, long g, const bg_stage *st, double e_high, double e_max,
                         const ad_real *x_batch, const ad_real *z_batch,
                         const bg_block_rows *rows, ad_real *extra, char *why, size_t why_len)
{
    const bg_train_config *c = b->cfg;
    const flow_model *m = c->model;
    const long i = g - b->lo;
    const int B = st->batch_size;
    const int r0 = (int)((long)B * g / b->n_blocks), r1 = (int)((long)B * (g + 1) / b->n_blocks);
    const int n = r1 - r0;
    /* one temperature: the block's mean losses weigh its share of the rows;
     * several: the rows carry their shares */
    const double share = rows ? 1.0 : (double)n / B;
    ad_tape *t = b->tapes[i];
    ad_tape_reset(t);
    ad_tensor *total = NULL;
    extra[0] = extra[1] = 0;
    b->sums[i] = NULL;
    if (st->w_ml > 0) {
        int shape[2] = {n, m->dim_x};
        ad_tensor *x = ad_constant(t, 2, shape, x_batch + (size_t)r0 * m->dim_x);
        ad_tensor *j = rows ? bg_loss_ml_rows(t, m, &c->prior, x, rows->ml_kT + r0,
                                              rows->ml_w + r0)
                            : bg_loss_ml(t, m, &c->prior, x);
        if (ad_tape_ok(t)) extra[0] = (ad_real)(share * j->data[0]);
        total = ad_scale(t, j, st->w_ml * share);
    }
    if (st->w_kl > 0 || st->w_rc > 0) {
        int shape[2] = {n, m->dim_z};
        ad_tensor *z = ad_constant(t, 2, shape, z_batch + (size_t)r0 * m->dim_z);
        ad_tensor *x = NULL;
        if (st->w_kl > 0) {
            bg_kl_terms terms = {0};
            ad_tensor *j =
                rows ? bg_loss_kl_rows(t, m, c->potential, rows->kT + r0, rows->w + r0,
                                       rows->e_high + r0, rows->e_max + r0, z, &terms)
                     : bg_loss_kl(t, m, c->potential, c->kT, e_high, e_max, z, &terms);
            if (ad_tape_ok(t)) extra[1] = (ad_real)(share * j->data[0]);
            ad_tensor *w = ad_scale(t, j, st->w_kl * share);
            total = total ? ad_add(t, total, w) : w;
            x = terms.x;
        } else {
            x = flow_model_forward(m, t, z, NULL);
        }
        if (st->w_rc > 0) {
            ad_tensor *r = bg_rc_eval(t, c->rc, x);
            b->sums[i] = rows ? bg_loss_rc_group_sums(t, r, &c->rc_loss, rows->group + r0,
                                                      rows->n_groups)
                              : bg_loss_rc_sums(t, r, &c->rc_loss);
        }
    }
    b->part[i] = total;
    if (!ad_tape_ok(t))
        return ad_status_fail(why, why_len, ad_tape_status(t), "block %ld: %s", g,
                              ad_tape_error(t));
    return AD_OK;
}

/* J_RC of the summed histograms S (sums_total) and, into b->coef, its
 * derivatives in S times w_rc: one temperature, J = -sum_k log(S_k / B);
 * several, J = -sum_g w_g sum_k log(S_gk / n_g). */
static double rc_of_sums(bg_blocks *b, const bg_stage *st, const bg_block_rows *rows)
{
    const int K = n_kernels(b->cfg), G = rows ? rows->n_groups : 1, B = st->batch_size;
    int count[BG_MAX_TEMPERATURES];
    for (int g = 0; g < G; g++) count[g] = rows ? 0 : B;
    for (int r = 0; rows && r < B; r++) count[rows->group[r]]++;
    double j = 0;
    for (int g = 0; g < G; g++) {
        double wg = rows ? (double)rows->group_w[g] : 1.0, jg = 0;
        for (int k = 0; k < K; k++) {
            double s = b->sums_total[(size_t)g * K + k];
            jg -= log(s / count[g]);
            b->coef[(size_t)g * K + k] = (ad_real)(-st->w_rc * wg / s);
        }
        j += wg * jg;
    }
    return j;
}

int bg_blocks_step(bg_blocks *b, const bg_stage *st, double e_high, double e_max,
                   const ad_real *x_batch, const ad_real *z_batch, const bg_block_rows *rows,
                   double *loss, double *ml, double *kl, double *rc, char *why, size_t why_len)
{
    const bg_train_config *c = b->cfg;
    nn_params *params = c->model->params;
    const long own = b->hi - b->lo;
    const size_t GK = (size_t)(rows ? rows->n_groups : 1) * n_kernels(c);
    int status = rows && rows->n_groups > b->n_groups
                     ? ad_status_fail(why, why_len, AD_ERR_ARG, "%d temperatures (room for %d)",
                                      rows->n_groups, b->n_groups)
                     : AD_OK;
    *ml = *kl = *rc = 0;
    for (long g = b->lo; g < b->hi && status == AD_OK; g++)
        status = block_forward(b, g, st, e_high, e_max, x_batch, z_batch, rows,
                               b->loss_mine + (size_t)(g - b->lo) * 2, why, why_len);
    /* J_RC: the batch's histograms, then each block's linear share of them */
    if (st->w_rc > 0) {
        for (long i = 0; i < own && status == AD_OK; i++)
            memcpy(b->sums_mine + (size_t)i * GK, b->sums[i]->data, GK * sizeof(ad_real));
        status = ad_dist_sum_blocks(status, b->sums_mine, b->n_blocks, GK, b->sums_total, why,
                                    why_len);
        if (status == AD_OK) *rc = rc_of_sums(b, st, rows);
    }
    for (long i = 0; i < own && status == AD_OK; i++) {
        ad_tape *t = b->tapes[i];
        ad_tensor *total = b->part[i];
        if (st->w_rc > 0) {
            ad_tensor *s = b->sums[i];
            ad_tensor *share =
                ad_sum(t, ad_mul(t, s, ad_constant(t, s->n_dims, s->shape, b->coef)));
            total = total ? ad_add(t, total, share) : share;
        }
        nn_params_zero_grad(params);
        status = ad_tape_ok(t) ? ad_backward(t, total) : ad_tape_status(t);
        if (status != AD_OK)
            ad_status_fail(why, why_len, status, "block %ld: %s", b->lo + i, ad_tape_error(t));
        else if (own > 1)
            memcpy(b->mine + (size_t)i * b->n_params, nn_params_grads(params),
                   b->n_params * sizeof(ad_real));
    }
    /* the block gradients and losses, added in block order on every rank,
     * into the parameters' gradient (in place when it holds this rank's
     * one block) */
    ad_real *grads = nn_params_grads(params);
    status = ad_dist_sum_blocks(status, own > 1 ? b->mine : own == 1 ? grads : NULL,
                                b->n_blocks, b->n_params, grads, why, why_len);
    status = ad_dist_sum_blocks(status, b->loss_mine, b->n_blocks, 2, b->loss_total, why,
                                why_len);
    if (status != AD_OK) return status;
    *ml = b->loss_total[0];
    *kl = b->loss_total[1];
    *loss = 0;
    if (st->w_ml > 0) *loss += st->w_ml * *ml;
    if (st->w_kl > 0) *loss += st->w_kl * *kl;
    if (st->w_rc > 0) *loss += st->w_rc * *rc;
    return isfinite(*loss) ? AD_OK : AD_ERR_NUMERIC;
}
