/* flow_realnvp.h - the RealNVP builder: n blocks of two coupling layers
 * (the second with the channels exchanged), optionally with a fixed
 * whitening layer at the data end (x -> W -> couplings -> z).  The
 * couplings are affine (flow_coupling.h, the default) or rational-quadratic
 * splines (flow_spline.h; coupling = FLOW_COUPLING_SPLINE), whose
 * conditioner has the hidden layers of the S nets.
 *
 * Presets match the seed's architectures (docs/science.md §1.4, §2.3, §3.6):
 *   FLOW_REALNVP_DOUBLE_WELL   2-D, 3 blocks, S/T 2 -> 100 -> 100 -> 1, ReLU,
 *                              tanh-bounded log-scale, alternating split
 *   FLOW_REALNVP_MUELLER_BROWN 2-D, 5 blocks, otherwise as above
 *   FLOW_REALNVP_DIMER         76-D, 8 blocks, S/T 38 -> 200 -> 200 -> 38, ReLU,
 *                              tanh bound, first half / second half split
 * The returned model is the caller's (flow_model_free).
 */
#ifndef LIBBG_FLOWS_FLOW_REALNVP_H
#define LIBBG_FLOWS_FLOW_REALNVP_H

#include <stddef.h>
#include <stdint.h>

#include "flow_coupling.h"
#include "flow_model.h"
#include "flow_spline_op.h"
#include "flow_split.h"
#include "nn/nn_dense.h"

/* The family of the coupling layers. */
typedef enum flow_coupling_kind {
    FLOW_COUPLING_AFFINE = 0, /* x_2 = z_2 e^s + t (flow_coupling.h)                 */
    FLOW_COUPLING_SPLINE      /* x_2 = g(z_2), rational-quadratic (flow_spline.h)    */
} flow_coupling_kind;

/* Start from flow_realnvp_config_default(dim) (or a preset) and change the
 * fields you need; flow_realnvp_new rejects an invalid field by name.
 * Coordinates are the potential's units; every other field is a count, a
 * flag or dimensionless. */
typedef struct flow_realnvp_config {
    int dim;                     /* width of x (>= 2)                                 */
    int n_blocks;                /* blocks of two couplings (>= 1)        default 3   */
    int n_hidden;                /* hidden layers of every S and T net    default 2   */
                                 /* (0 .. NN_MLP_MAX_LAYERS - 1)                      */
    const int *hidden_widths;    /* [n_hidden], each >= 1        default {100, 100}   */
                                 /* (static storage)                                  */
    nn_activation s_activation;  /* hidden activation of S (and of the    default ReLU*/
                                 /* spline conditioner)                               */
    nn_activation t_activation;  /* hidden activation of T                default ReLU*/
    double log_scale_bound;      /* 0: none; b > 0: s = b tanh(S/b)       default 1   */
                                 /* (finite, >= 0; the seed's 1)                      */
    int t_output_random;         /* 0: T's output layer zero too          default 0   */
                                 /* (identity start); 0 or 1                          */
    flow_coupling_kind coupling; /* AFFINE or SPLINE; log_scale_bound,  default AFFINE*/
                                 /* t_activation and t_output_random are affine only  */
    flow_spline_spec spline;     /* SPLINE only: bins, bound, minimums, checked by    */
                                 /* name ("spline.bins")   default                    */
                                 /* flow_spline_spec_default(): 8 bins on [-5, 5],    */
                                 /* minimum widths, heights and slopes 1e-3           */
    flow_split_kind split;       /* channel split of the couplings  default ALTERNATE */
    const int *mask;             /* [dim_z] for FLOW_SPLIT_MASK           default NULL*/
    int whiten;                  /* 1: whitening layer at the data end;   default 0   */
                                 /* 0 or 1                                            */
    const ad_real *whiten_data;  /* [whiten_n * dim] (coordinate units); NULL: a      */
                                 /* placeholder whose values come from a checkpoint   */
    int whiten_n;                /* rows of whiten_data (>= 2 when it is set)         */
    int whiten_keep;             /* components kept (couplings then act on this many; */
                                 /* 0: dim; otherwise 2 .. dim)           default 0   */
    uint64_t seed;               /* initial weights                       default 1   */
} flow_realnvp_config;

typedef enum flow_realnvp_preset {
    FLOW_REALNVP_DOUBLE_WELL = 0,
    FLOW_REALNVP_MUELLER_BROWN,
    FLOW_REALNVP_DIMER
} flow_realnvp_preset;

/* The documented default architecture for dim coordinates, the fields'
 * defaults above: 3 blocks of affine couplings, S and T nets of two hidden
 * layers of 100 ReLU units, log-scale bound 1, alternating split, no
 * whitening, seed 1 (the double-well preset with this dim); the spline
 * fields hold flow_spline_spec_default() for when coupling is set to
 * FLOW_COUPLING_SPLINE. */
flow_realnvp_config flow_realnvp_config_default(int dim);

/* The config of a preset (hidden_widths points at static storage; seed 0). */
flow_realnvp_config flow_realnvp_preset_config(flow_realnvp_preset preset);

/* NULL with a message on a bad config (the field is named), a failed
 * whitening fit or out of memory. */
flow_model *flow_realnvp_new(const flow_realnvp_config *cfg, char *msg, size_t msg_len);

#endif
