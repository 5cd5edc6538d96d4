/* ad_dist_impl.h - what the serial part of the distribution layer
 * (ad_dist.c) shares with its MPI part (ad_dist_mpi.c).  Private to
 * autodiff/. */
#ifndef LIBBG_AUTODIFF_AD_DIST_IMPL_H
#define LIBBG_AUTODIFF_AD_DIST_IMPL_H

#include <stddef.h>

#include "ad_config.h"
#include "ad_dist.h"

/* The site of the agreement that ends a root section. */
#define AD_DIST_SITE_ROOT (-1)

/* 1 inside a local region (ad_dist_local_begin). */
int ad_dist_impl_local(void);
/* The ordered fold of ad_dist_sum_blocks over `count` blocks of len values
 * in blocks[count][len], restricted to the values [j0, j1): with `have`
 * = 0, out = block 0 and the others are added; with have = 1 every block is
 * added to out as it is. */
void ad_dist_impl_fold(const ad_real *blocks, long count, size_t len, size_t j0, size_t j1,
                       ad_real *out, int have);
/* ad_dist_sum_blocks on one rank (the serial build, or a single rank):
 * every block is here; mine == out with one block leaves it in place. */
int ad_dist_impl_sum_local(int status, const ad_real *mine, long n_blocks, size_t len,
                           ad_real *out, char *msg, size_t msg_len);
/* The message of a failure as agreements carry it: msg when it holds
 * text, else a line naming the rank and the status. */
void ad_dist_impl_text(char *text, size_t len, int status, const char *msg, int rank);
/* The handler of ad_dist_on_desync (never NULL). */
ad_dist_desync_fn ad_dist_impl_desync(void);

#endif
