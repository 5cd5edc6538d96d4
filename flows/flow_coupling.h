/* flow_coupling.h - the affine coupling layer of RealNVP.
 *
 * With channel 1 (c) passed through and channel 2 transformed (flow_split.h),
 * in the project's direction (forward z -> x, flow.h):
 *   forward:  x_c = z_c,  x_2 = z_2 * exp(s(z_c)) + t(z_c),
 *             log|det dx/dz| = sum_j s_j(z_c)
 *   inverse:  z_c = x_c,  z_2 = (x_2 - t(x_c)) * exp(-s(x_c)),
 *             log|det dz/dx| = -sum_j s_j(x_c)
 * (docs/science.md §4 writes the same map in the x -> z direction; here exp(+s)
 * is on the generator side.)  s = S(c) and t = T(c) are MLPs n_cond ->
 * n_trans.  With log_scale_bound b > 0 the log-scale is softly clamped,
 * s = b tanh(S(c) / b), so |s| < b (b = 1: the seed's tanh on S; FrEIA's
 * clamp).  A zero-initialised output layer of S (and of T) makes a fresh
 * layer the identity.
 *
 * The layer receives its two networks (it does not build them): nn_mlp
 * structs whose parameters live in the model's nn_params; it copies the
 * structs.  flow_coupling_nets_init builds the usual pair.
 */
#ifndef LIBBG_FLOWS_FLOW_COUPLING_H
#define LIBBG_FLOWS_FLOW_COUPLING_H

#include <stddef.h>

#include "flow.h"
#include "flow_split.h"
#include "nn/nn_mlp.h"

/* Fill with designated initializers; every field is required except mask
 * (FLOW_SPLIT_MASK only), flip (0: transform channel 2) and
 * log_scale_bound (0: unbounded).  Counts and flags have no units. */
typedef struct flow_coupling_config {
    int dim;                 /* width of z and x                                 */
    flow_split_kind split;   /* how the channels are chosen                      */
    const int *mask;         /* [dim] for FLOW_SPLIT_MASK (1: channel 1)         */
    int flip;                /* 1: transform channel 1 given channel 2 instead   */
    const nn_mlp *s_net;     /* log-scale net, n_cond -> n_trans                 */
    const nn_mlp *t_net;     /* shift net, n_cond -> n_trans                     */
    double log_scale_bound;  /* 0: unbounded; b > 0: s = b tanh(S / b) (>= 0;    */
                             /* log-scale units, i.e. nats)                      */
} flow_coupling_config;

/* NULL with a message (bad config, net widths not matching the split, out
 * of memory). */
flow_layer *flow_coupling_new(const flow_coupling_config *cfg, char *msg, size_t msg_len);

/* Channel sizes a coupling with this split has (for building its nets). */
int flow_coupling_channels(int dim, flow_split_kind split, const int *mask, int flip,
                           int *n_cond, int *n_trans);

/* Hidden layers of the S and T nets (designated initializers; a zero
 * activation is the identity, a zero t_output_random the identity start;
 * flow_realnvp_config_default's nets are two layers of 100 ReLU units). */
typedef struct flow_coupling_nets_config {
    int n_hidden;                  /* number of hidden layers (0 .. 15)          */
    const int *hidden_widths;      /* [n_hidden], each >= 1                      */
    nn_activation s_activation;    /* hidden activation of S (Noe: tanh)         */
    nn_activation t_activation;    /* hidden activation of T (ReLU)              */
    int t_output_random;           /* 0: T's output layer starts at zero too     */
} flow_coupling_nets_config;

/* Register S and T (n_cond -> hidden... -> n_trans) in p, S's output layer
 * zero-initialised (so s = 0 and the coupling starts as a pure shift, or as
 * the identity when T's output is zero too). */
int flow_coupling_nets_init(nn_mlp *s_net, nn_mlp *t_net, nn_params *p, int n_cond, int n_trans,
                            const flow_coupling_nets_config *cfg, char *msg, size_t msg_len);

#endif
