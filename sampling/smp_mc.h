/* smp_mc.h - Metropolis Monte Carlo over many independent chains at once.
 *
 * The energy is a plain callback on arrays (sampling/ does not depend on how
 * it is computed); potentials/ provides one for any pot_potential
 * (smp_potential_energy below).  Each step moves every coordinate of every
 * chain by sigma * N(0,1) and accepts with probability min(1, exp(-du/kT));
 * a rejected step repeats the old frame, as in the seed report.
 *
 * Under MPI (autodiff/ad_dist.h) smp_mc_run is a collective call: with at
 * least 16 chains per rank each rank computes the energies of its share of
 * the chains at every step and receives the others' (fewer chains: every
 * rank computes all); every rank draws the whole random stream and holds
 * every frame, the same as one process for any number of ranks, given an
 * energy that computes each configuration alone.
 */
#ifndef LIBBG_SAMPLING_SMP_MC_H
#define LIBBG_SAMPLING_SMP_MC_H

#include <stddef.h>
#include <stdint.h>

#include "autodiff/ad.h"
#include "potentials/pot_potential.h"
#include "sampling/smp_data.h"

/* Energies u[n] of n configurations x[n*dim].  Returns AD_OK or an error code
 * (writing a message into msg). */
typedef int (*smp_energy_fn)(void *ctx, const ad_real *x, int n, int dim, ad_real *u,
                             char *msg, size_t msg_len);

/* Start from smp_mc_config_default(dim, kT) and change the fields you need;
 * smp_mc_run rejects an invalid field by name. */
typedef struct smp_mc_config {
    int dim;           /* coordinates per configuration (>= 1)             */
    int n_chains;      /* independent chains moved together (>= 1)         */
                       /*                                       default 1  */
    double sigma;      /* proposal standard deviation (coordinate units;   */
                       /* finite, > 0)                        default 0.1  */
    double kT;         /* temperature (energy units; finite, > 0)          */
    long n_steps;      /* Metropolis steps per chain (>= 0)  default 10000 */
    int stride;        /* keep every stride-th frame (>= 1)    default 10  */
    int keep_initial;  /* 1: the starting frame is the first one stored;   */
                       /* 0 or 1                                default 0  */
    uint64_t seed;     /* RNG seed (stream 0 of ad_rng)         default 1  */
    /* Optional: called after each step with the steps done and n_steps (on
     * every rank under MPI); it does not change results.   default NULL  */
    void (*progress)(long done, long total, void *ctx);
    void *progress_ctx;
} smp_mc_config;

/* The defaults above for dim coordinates at temperature kT: one chain of
 * 10000 steps with sigma = 0.1, every 10th frame kept (1000 frames). */
smp_mc_config smp_mc_config_default(int dim, double kT);

typedef struct smp_mc_stats {
    long n_proposed;   /* proposals made (steps x chains)                  */
    long n_accepted;   /* proposals accepted                               */
    double acceptance; /* n_accepted / n_proposed                          */
} smp_mc_stats;

/* Number of frames per chain that smp_mc_run stores for this config. */
long smp_mc_n_frames(const smp_mc_config *cfg);

/* Run the chains from x0[n_chains*dim].  Frames are written to
 * out[(frame * n_chains + chain) * dim + k] (all chains of frame 0, then frame
 * 1, ...); out holds smp_mc_n_frames(cfg) * n_chains * dim values.  Energies of
 * the stored frames go to u_out (same order) when it is not NULL.  Returns
 * AD_OK or an error code (bad config, non-finite start energy, energy error)
 * with a message. */
int smp_mc_run(const smp_mc_config *cfg, smp_energy_fn energy, void *ctx, const ad_real *x0,
               ad_real *out, ad_real *u_out, smp_mc_stats *stats, char *msg, size_t msg_len);

/* An smp_energy_fn for a pot_potential: ctx is a smp_potential_ctx. */
typedef struct smp_potential_ctx {
    const pot_potential *potential;
    ad_tape *scratch;   /* workspace tape owned by the caller */
} smp_potential_ctx;
int smp_potential_energy(void *ctx, const ad_real *x, int n, int dim, ad_real *u, char *msg,
                         size_t msg_len);

/* Monte Carlo data in one call: smp_mc_run on the potential u (cfg->dim must
 * be u->dim) from x0[n_chains * dim], with a scratch tape of its own, every
 * stored frame of every chain a row of a new data set *out (in smp_mc_run's
 * order; release with smp_dataset_free).  stats may be NULL.  On error *out
 * is NULL and the code and message are smp_mc_run's (or AD_ERR_SHAPE /
 * AD_ERR_ARG naming the argument, AD_ERR_NOMEM). */
int smp_mc_sample(const smp_mc_config *cfg, const pot_potential *u, const ad_real *x0,
                  smp_dataset **out, smp_mc_stats *stats, char *msg, size_t msg_len);

#endif
