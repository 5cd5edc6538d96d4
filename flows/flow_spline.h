/* flow_spline.h - the rational-quadratic spline coupling layer of Neural
 * Spline Flows (Durkan et al. 2019).
 *
 * With channel 1 (c) passed through and channel 2 transformed (flow_split.h):
 *   forward:  x_c = z_c,  x_2,j = g_j(z_2,j),      log|det dx/dz| = sum_j log g_j'(z_2,j)
 *   inverse:  z_c = x_c,  z_2,j = g_j^-1(x_2,j),   log|det dz/dx| = -sum_j log g_j'(z_2,j)
 * where g_j is a monotone rational-quadratic spline on [-B, B] with K bins
 * and the identity outside (flow_spline_op.h), whose 3K - 1 parameters come
 * from one conditioner network applied to the untouched channel: an MLP
 * n_cond -> ... -> n_trans (3K - 1).  A zero-initialised output layer gives
 * equal bins and unit slopes: a fresh layer is the identity (to rounding).
 *
 * The layer receives its network (it copies the nn_mlp struct; the
 * parameters stay in the model's nn_params); flow_spline_net_init builds
 * one.  docs/flows.md describes the parameterisation and the tails.
 */
#ifndef LIBBG_FLOWS_FLOW_SPLINE_H
#define LIBBG_FLOWS_FLOW_SPLINE_H

#include <stddef.h>

#include "flow.h"
#include "flow_coupling.h"
#include "flow_spline_op.h"
#include "flow_split.h"
#include "nn/nn_mlp.h"

/* Designated initializers; every field is required except mask
 * (FLOW_SPLIT_MASK only) and flip (0: transform channel 2). */
typedef struct flow_spline_config {
    int dim;                /* width of z and x                                 */
    flow_split_kind split;  /* how the channels are chosen                      */
    const int *mask;        /* [dim] for FLOW_SPLIT_MASK (1: channel 1)         */
    int flip;               /* 1: transform channel 1 given channel 2 instead   */
    const nn_mlp *net;      /* conditioner, n_cond -> n_trans * (3 bins - 1)    */
    flow_spline_spec spec;  /* bins, bound, minimums (flow_spline_spec_default) */
} flow_spline_config;

/* NULL with a message (bad config or spec field, a net that does not match
 * the split, out of memory). */
flow_layer *flow_spline_new(const flow_spline_config *cfg, char *msg, size_t msg_len);

/* Register the conditioner n_cond -> hidden... -> n_trans (3 bins - 1) in p:
 * the hidden layers of cfg (n_hidden, hidden_widths, with s_activation;
 * the T-net fields are not used), the output layer zero-initialised. */
int flow_spline_net_init(nn_mlp *net, nn_params *p, int n_cond, int n_trans, int bins,
                         const flow_coupling_nets_config *cfg, char *msg, size_t msg_len);

#endif
