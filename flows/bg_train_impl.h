/* bg_train_impl.h - training with the batch cut into blocks of rows
 * (bg_train_config.grad_blocks > 1), the part of bg_train.c that spreads
 * over MPI ranks.  Private to flows/. */
#ifndef LIBBG_FLOWS_BG_TRAIN_IMPL_H
#define LIBBG_FLOWS_BG_TRAIN_IMPL_H

#include <stddef.h>

#include "bg_train.h"

typedef struct bg_blocks bg_blocks;

/* The scratch of a run of n_blocks blocks: a tape per block this rank owns
 * and its gradient block.  NULL when out of memory. */
bg_blocks *bg_blocks_new(const bg_train_config *c, int n_blocks);
void bg_blocks_free(bg_blocks *b);

/* One iteration on the drawn batch (x_batch: data rows when the stage uses
 * J_ML; z_batch: prior draws when it uses J_KL or J_RC), cut into blocks of
 * rows; leaves the gradient of the loss in the parameters' gradient block
 * and the loss and its (unweighted) parts in the outputs.  AD_ERR_NUMERIC
 * when the loss is not finite; other errors with a line in why.  A
 * collective call under MPI (autodiff/ad_dist.h). */
int bg_blocks_step(bg_blocks *b, const bg_stage *st, double e_high, double e_max,
                   const ad_real *x_batch, const ad_real *z_batch, double *loss, double *ml,
                   double *kl, double *rc, char *why, size_t why_len);

#endif
