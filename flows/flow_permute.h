/* flow_permute.h - fixed permutations of the coordinates (log|det| = 0).
 *
 * forward: x[:, j] = z[:, perm[j]];  inverse: z[:, perm[j]] = x[:, j].
 * The layer copies the permutation and owns its copy.
 */
#ifndef LIBBG_FLOWS_FLOW_PERMUTE_H
#define LIBBG_FLOWS_FLOW_PERMUTE_H

#include <stddef.h>

#include "flow.h"
#include "flow_split.h"

/* perm must be a permutation of 0..dim-1 (checked). */
flow_layer *flow_permute_new(int dim, const int *perm, char *msg, size_t msg_len);
/* A uniformly random permutation drawn from rng (fixed afterwards). */
flow_layer *flow_permute_random_new(int dim, ad_rng *rng, char *msg, size_t msg_len);
/* Swap the channels of a split: the values of channel 2, in order, move to
 * the positions of channel 1 followed by those of channel 2 (a plain swap
 * when the channels have the same size). */
flow_layer *flow_permute_swap_new(int dim, flow_split_kind split, const int *mask, char *msg,
                                  size_t msg_len);

#endif
