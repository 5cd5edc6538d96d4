/* bg_train_impl.h - training with the batch cut into blocks of rows
 * (bg_train_config.grad_blocks > 1), the part of bg_train.c that spreads
 * over MPI ranks.  Private to flows/. */
#ifndef LIBBG_FLOWS_BG_TRAIN_IMPL_H
#define LIBBG_FLOWS_BG_TRAIN_IMPL_H

#include <stddef.h>

#include "bg_train.h"

typedef struct bg_blocks bg_blocks;

/* The rows of a batch with a temperature each (bg_train.h, multi-
 * temperature runs), as bg_train.c draws them: the data rows' kT and loss
 * share (J_ML), the prior rows' kT, loss share, energy cut (J_KL) and group,
 * the temperature whose J_RC histogram they join, with the groups'
 * weights.  Every array has a value per row of the batch. */
typedef struct bg_block_rows {
    const ad_real *ml_kT, *ml_w;                  /* data rows                 */
    const ad_real *kT, *w, *e_high, *e_max;       /* prior rows                */
    const int *group;                             /* prior rows, 0..n_groups-1 */
    int n_groups;
    const ad_real *group_w;                       /* [n_groups]                */
} bg_block_rows;

/* The scratch of a run of n_blocks blocks with n_groups temperatures of
 * J_RC (1 for one temperature): a tape per block this rank owns and its
 * gradient block.  NULL when out of memory. */
bg_blocks *bg_blocks_new(const bg_train_config *c, int n_blocks, int n_groups);
void bg_blocks_free(bg_blocks *b);

/* One iteration on the drawn batch (x_batch: data rows when the stage uses
 * J_ML; z_batch: prior draws when it uses J_KL or J_RC), cut into blocks of
 * rows; leaves the gradient of the loss in the parameters' gradient block
 * and the loss and its (unweighted) parts in the outputs.  rows: NULL for
 * one temperature (the stage's cut e_high, e_max for every row), else the
 * rows' temperatures (e_high and e_max are then not used).  AD_ERR_NUMERIC
 * when the loss is not finite; other errors with a line in why.  A
 * collective call under MPI (autodiff/ad_dist.h). */
int bg_blocks_step(bg_blocks *b, const bg_stage *st, double e_high, double e_max,
                   const ad_real *x_batch, const ad_real *z_batch, const bg_block_rows *rows,
                   double *loss, double *ml, double *kl, double *rc, char *why, size_t why_len);

#endif
