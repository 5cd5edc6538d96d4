/* flow_realnvp.h - the RealNVP builder: n blocks of two affine couplings
 * (the second with the channels exchanged), optionally with a fixed
 * whitening layer at the data end (x -> W -> couplings -> z).
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
#include "flow_split.h"
#include "nn/nn_dense.h"

typedef struct flow_realnvp_config {
    int dim;                     /* width of x                                        */
    int n_blocks;                /* blocks of two couplings (>= 1)                    */
    int n_hidden;                /* hidden layers of every S and T net                */
    const int *hidden_widths;    /* [n_hidden]                                        */
    nn_activation s_activation;  /* hidden activation of S                            */
    nn_activation t_activation;  /* hidden activation of T                            */
    double log_scale_bound;      /* 0: none; b: s = b tanh(S/b) (seed: 1)             */
    int t_output_random;         /* 0: T's output layer zero too (identity start)     */
    flow_split_kind split;       /* channel split of the couplings                    */
    const int *mask;             /* [dim_z] for FLOW_SPLIT_MASK                       */
    int whiten;                  /* 1: whitening layer at the data end                */
    const ad_real *whiten_data;  /* [whiten_n * dim]; NULL: placeholder whose values  */
                                 /* come from a checkpoint                            */
    int whiten_n;                /* rows of whiten_data                               */
    int whiten_keep;             /* components kept (couplings then act on this many; */
                                 /* 0: dim)                                           */
    uint64_t seed;               /* initial weights                                   */
} flow_realnvp_config;

typedef enum flow_realnvp_preset {
    FLOW_REALNVP_DOUBLE_WELL = 0,
    FLOW_REALNVP_MUELLER_BROWN,
    FLOW_REALNVP_DIMER
} flow_realnvp_preset;

/* The config of a preset (hidden_widths points at static storage). */
flow_realnvp_config flow_realnvp_preset_config(flow_realnvp_preset preset);

/* NULL with a message on a bad config, a failed whitening fit or out of
 * memory. */
flow_model *flow_realnvp_new(const flow_realnvp_config *cfg, char *msg, size_t msg_len);

#endif
