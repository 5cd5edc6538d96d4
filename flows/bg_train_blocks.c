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
 * With one block this is the plain loss of bg_train.c, up to rounding. */
#include "bg_train_impl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "autodiff/ad_dist.h"
#include "nn/nn_params.h"

struct bg_blocks {
    const bg_train_config *cfg;
    int n_blocks;
    long lo, hi;          /* the blocks of this rank                        */
    ad_tape **tapes;      /* [hi - lo]                                       */
    ad_tensor **part;     /* [hi - lo] the block's J_ML, J_KL part           */
    ad_tensor **sums;     /* [hi - lo] the block's membership sums [K]       */
    size_t n_params, len; /* len = n_params + 2 (the block's J_ML, J_KL)     */
    ad_real *mine;        /* [hi - lo][len]                                  */
    ad_real *total;       /* [len]                                           */
    ad_real *sums_mine;   /* [hi - lo][K]                                    */
    ad_real *sums_total;  /* [K]                                             */
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
    ad_free(b->total);
    ad_free(b->sums_mine);
    ad_free(b->sums_total);
    ad_free(b);
}

bg_blocks *bg_blocks_new(const bg_train_config *c, int n_blocks)
{
    bg_blocks *b = ad_calloc(1, sizeof *b);
    if (!b) return NULL;
    b->cfg = c;
    b->n_blocks = n_blocks;
    ad_dist_share(n_blocks, &b->lo, &b->hi);
    long own = b->hi - b->lo, n = own > 0 ? own : 1;
    int K = n_kernels(c);
    b->n_params = nn_params_size(c->model->params);
    b->len = b->n_params + 2;
    b->tapes = ad_calloc((size_t)n, sizeof *b->tapes);
    b->part = ad_calloc((size_t)n, sizeof *b->part);
    b->sums = ad_calloc((size_t)n, sizeof *b->sums);
    b->mine = ad_malloc((size_t)n * b->len * sizeof *b->mine);
    b->total = ad_malloc(b->len * sizeof *b->total);
    b->sums_mine = ad_malloc((size_t)n * K * sizeof *b->sums_mine);
    b->sums_total = ad_malloc((size_t)K * sizeof *b->sums_total);
    int ok = b->tapes && b->part && b->sums && b->mine && b->total && b->sums_mine &&
             b->sums_total;
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
                         const ad_real *x_batch, const ad_real *z_batch, ad_real *extra,
                         char *why, size_t why_len)
{
    const bg_train_config *c = b->cfg;
    const flow_model *m = c->model;
    const long i = g - b->lo;
    const int B = st->batch_size;
    const int r0 = (int)((long)B * g / b->n_blocks), r1 = (int)((long)B * (g + 1) / b->n_blocks);
    const int rows = r1 - r0;
    const double share = (double)rows / B;
    ad_tape *t = b->tapes[i];
    ad_tape_reset(t);
    ad_tensor *total = NULL;
    extra[0] = extra[1] = 0;
    b->sums[i] = NULL;
    if (st->w_ml > 0) {
        int shape[2] = {rows, m->dim_x};
        ad_tensor *x = ad_constant(t, 2, shape, x_batch + (size_t)r0 * m->dim_x);
        ad_tensor *j = bg_loss_ml(t, m, &c->prior, x);
        if (ad_tape_ok(t)) extra[0] = (ad_real)(share * j->data[0]);
        total = ad_scale(t, j, st->w_ml * share);
    }
    if (st->w_kl > 0 || st->w_rc > 0) {
        int shape[2] = {rows, m->dim_z};
        ad_tensor *z = ad_constant(t, 2, shape, z_batch + (size_t)r0 * m->dim_z);
        ad_tensor *x = NULL;
        if (st->w_kl > 0) {
            bg_kl_terms terms = {0};
            ad_tensor *j = bg_loss_kl(t, m, c->potential, c->kT, e_high, e_max, z, &terms);
            if (ad_tape_ok(t)) extra[1] = (ad_real)(share * j->data[0]);
            ad_tensor *w = ad_scale(t, j, st->w_kl * share);
            total = total ? ad_add(t, total, w) : w;
            x = terms.x;
        } else {
            x = flow_model_forward(m, t, z, NULL);
        }
        if (st->w_rc > 0) b->sums[i] = bg_loss_rc_sums(t, bg_rc_eval(t, c->rc, x), &c->rc_loss);
    }
    b->part[i] = total;
    if (!ad_tape_ok(t))
        return ad_status_fail(why, why_len, ad_tape_status(t), "block %ld: %s", g,
                              ad_tape_error(t));
    return AD_OK;
}

int bg_blocks_step(bg_blocks *b, const bg_stage *st, double e_high, double e_max,
                   const ad_real *x_batch, const ad_real *z_batch, double *loss, double *ml,
                   double *kl, double *rc, char *why, size_t why_len)
{
    const bg_train_config *c = b->cfg;
    nn_params *params = c->model->params;
    const long own = b->hi - b->lo;
    const int K = n_kernels(c);
    int status = AD_OK;
    *ml = *kl = *rc = 0;
    for (long g = b->lo; g < b->hi && status == AD_OK; g++)
        status = block_forward(b, g, st, e_high, e_max, x_batch, z_batch,
                               b->mine + (size_t)(g - b->lo) * b->len + b->n_params, why,
                               why_len);
    /* J_RC: the batch's histogram, then each block's linear share of it */
    ad_real coef[256];
    if (st->w_rc > 0) {
        for (long i = 0; i < own && status == AD_OK; i++)
            memcpy(b->sums_mine + (size_t)i * K, b->sums[i]->data, (size_t)K * sizeof(ad_real));
        status = ad_dist_sum_blocks(status, b->sums_mine, b->n_blocks, (size_t)K, b->sums_total,
                                    why, why_len);
        double j = 0;
        for (int k = 0; k < K && status == AD_OK; k++) {
            double s = b->sums_total[k];
            j -= log(s / st->batch_size);
            coef[k] = (ad_real)(-st->w_rc / s);
        }
        *rc = j;
    }
    for (long i = 0; i < own && status == AD_OK; i++) {
        ad_tape *t = b->tapes[i];
        ad_tensor *total = b->part[i];
        if (st->w_rc > 0) {
            int shape[1] = {K};
            ad_tensor *share = ad_sum(t, ad_mul(t, b->sums[i], ad_constant(t, 1, shape, coef)));
            total = total ? ad_add(t, total, share) : share;
        }
        nn_params_zero_grad(params);
        status = ad_tape_ok(t) ? ad_backward(t, total) : ad_tape_status(t);
        if (status != AD_OK)
            ad_status_fail(why, why_len, status, "block %ld: %s", b->lo + i, ad_tape_error(t));
        else
            memcpy(b->mine + (size_t)i * b->len, nn_params_grads(params),
                   b->n_params * sizeof(ad_real));
    }
    /* the block gradients and losses, added in block order on every rank */
    status = ad_dist_sum_blocks(status, b->mine, b->n_blocks, b->len, b->total, why, why_len);
    if (status != AD_OK) return status;
    memcpy(nn_params_grads(params), b->total, b->n_params * sizeof(ad_real));
    *ml = b->total[b->n_params];
    *kl = b->total[b->n_params + 1];
    *loss = 0;
    if (st->w_ml > 0) *loss += st->w_ml * *ml;
    if (st->w_kl > 0) *loss += st->w_kl * *kl;
    if (st->w_rc > 0) *loss += st->w_rc * *rc;
    return isfinite(*loss) ? AD_OK : AD_ERR_NUMERIC;
}
