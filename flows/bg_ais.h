/* bg_ais.h - annealed importance sampling in the latent space of a trained
 * Boltzmann generator: the flow's samples moved towards the Boltzmann density
 * by Metropolis steps, with exact importance weights.
 *
 * With l(z) = -u(F(z))/kT + |z|^2/(2 kT) + log R_zx(z), the log importance
 * weight of x = F(z) (bg_sample.h), the latent density of the target
 * exp(-u/kT) is pi_1(z) ~ N(z; 0, kT I) e^{l(z)}, and the prior is pi_0.
 * Each chain starts at z_0 ~ N(0, kT I) and passes through
 *   pi_k(z) ~ N(z; 0, kT I) e^{beta_k l(z)},  beta_k = (k/K)^beta_power,
 * k = 1..K: its log weight gains (beta_k - beta_{k-1}) l(z_{k-1}), then
 * `mcmc_steps` random-walk Metropolis steps z' = z + s_k sqrt(kT) xi, which
 * leave pi_k invariant, move it to z_k (Neal 2001).  The final x = F(z_K),
 * with that log weight, is an importance sample of exp(-u/kT) like a plain
 * sample with its plain weight (K = 0), but with weights far less spread
 * when the flow is close to the target.  Chains are independent, so the
 * bootstrap of the plain estimators applies unchanged.
 *
 * With states, the chains that start in state S are an annealing from the
 * flow's density restricted to S to the Boltzmann density restricted to S
 * (a start outside S has weight 0 there), so sum_{i in S} w_i / n estimates
 * Z_S / Z_flow without bias for every S, and all chains together, with their
 * weights, are an importance sample of the whole density.
 *
 * A wider start (start_scale c > 1): the chains start from N(0, c kT I) and
 * pass through pi_k(z) ~ N(z; 0, c kT I) e^{beta_k l'(z)} with
 * l'(z) = l(z) - |z|^2/(2 kT) + |z|^2/(2 c kT) + (d/2) log c, the log ratio of
 * the target to that start, so the weights stay exact (and on the same
 * scale as the plain ones); the proposal widths are then in units of
 * sqrt(c kT).  c = 1 is the annealing above, number for number.
 *
 * The proposal widths s_k come from a short pilot run of n_pilot chains
 * (discarded) whose width is adapted towards target_acceptance at each
 * temperature; the production chains then use that fixed schedule, so their
 * transitions do not depend on one another.  Nothing is recorded on a tape.
 *
 * Under MPI (autodiff/ad_dist.h) each batch of chains draws from its own
 * random stream, (seed, batch number), so the numbers are the same for any
 * number of ranks: with at least as many batches as ranks, each rank runs
 * the batches it owns alone and the rows are gathered at the end; with
 * fewer, the ranks share the rows of every step (as does the pilot).
 */
#ifndef LIBBG_FLOWS_BG_AIS_H
#define LIBBG_FLOWS_BG_AIS_H

#include <stddef.h>
#include <stdint.h>

#include "bg_sample.h"

typedef struct bg_ais_config {
    int n_temps;              /* K >= 1 annealing steps                        */
    int mcmc_steps;           /* Metropolis steps at each temperature, >= 1    */
    double beta_power;        /* beta_k = (k/K)^beta_power, > 0 (1: linear)    */
    double step;              /* first proposal width s_1 (units of sqrt kT)   */
    double target_acceptance; /* of the pilot's adaptation, in (0, 1)          */
    int n_pilot;              /* pilot chains; 0: width `step` throughout      */
    int leapfrog;             /* 0: random-walk Metropolis; L > 0: Hamiltonian
                                 Monte Carlo with L leapfrog steps of width s_k */
    double start_scale;       /* c: the chains start from N(0, c kT I) instead
                                 of the prior N(0, kT I); c > 1 covers tails
                                 that the flow makes too thin (see above);
                                 0 or 1: the prior; else finite > 0           */
    /* Optional states (e.g. the basins of a reaction coordinate): with
     * state != NULL each chain stays in the state of its first x (a move to
     * another is rejected), so every state keeps the chains the flow gave it
     * instead of losing them to the most probable one. */
    int (*state)(const ad_real *x, void *ctx);
    void *state_ctx;
    /* Optional: called after each batch with the chains done and n (under
     * MPI, where ranks share out the batches: rank 0's share, scaled to n). */
    void (*progress)(int done, int n, void *ctx);
    void *progress_ctx;
    /* Optional, finer (same ctx): called after every temperature of every
     * batch with the temperature steps done and their total (batches x K;
     * the pilot is not counted; under MPI with the batches shared out, the
     * calling rank's batches).  Neither callback changes the results. */
    void (*progress_step)(long done, long total, void *ctx);
} bg_ais_config;

/* A sensible start: K = 100, one random-walk step each, linear, s = 0.1, 30 %
 * acceptance, 256 pilot chains, no states, no progress. */
bg_ais_config bg_ais_config_default(void);

typedef struct bg_ais_stats {
    double acceptance; /* of the production chains, all temperatures      */
    double step_min;   /* smallest and largest proposal width used        */
    double step_max;
    long evaluations; /* flow + energy evaluations of single chains      */
} bg_ais_stats;

/* n chains in batches of `batch` (the batch is one pass of the flow), the
 * same arguments and checks as bg_sample; *out holds the final x, z, log
 * R_zx, u and the annealed log weights (NaN where non-finite).  stats may be
 * NULL.  Errors: AD_ERR_ARG / AD_ERR_SHAPE (bad arguments or config),
 * AD_ERR_NOMEM, or a tape error of the flow. */
int bg_ais_sample(const flow_model *m, const flow_prior *prior, const pot_potential *u, double kT,
                  int n, int batch, const bg_ais_config *cfg, uint64_t seed, bg_samples **out,
                  bg_ais_stats *stats, char *msg, size_t msg_len);

#endif
