/* dimer_schedule.h - the run lengths of bg-dimer (the --quick and the full
 * schedule, dimer_schedule.c) and the energy cuts at kT. */
#ifndef LIBBG_APPS_DIMER_DIMER_SCHEDULE_H
#define LIBBG_APPS_DIMER_DIMER_SCHEDULE_H

#include "flows/bg_ais.h"
#include "flows/bg_generator.h"

#define DIMER_N_STAGES_MAX 8

/* The run lengths of one schedule (--quick or the full run). */
typedef struct dimer_schedule {
    /* data */
    int mc_chains;
    long mc_steps;
    int mc_stride;
    long mc_discard;      /* frames */
    /* umbrella */
    int us_windows, us_chains, us_repeats, us_bins, us_stride;
    long us_steps, us_discard;
    double us_k;
    /* flow */
    int n_blocks;
    flow_split_kind split;
    /* training */
    bg_stage stages[DIMER_N_STAGES_MAX];
    int n_stages;
    /* analysis */
    int n_samples, sample_batch, n_bootstrap, profile_bins;
    int timing_repeats;
    /* annealed importance sampling in the latent space (0 chains: none) */
    int ais_chains, ais_batch;
    bg_ais_config ais;
} dimer_schedule;

/* The quick or full schedule, its energy cuts at kT. */
void dimer_schedule_make(dimer_schedule *s, int quick, double kT);

/* The umbrella windows' length at kT: the table's steps per chain and
 * discarded frames at kT >= 1, both stretched by 1/kT below (rounded up).
 * The Metropolis step's width is 0.02 sqrt(kT), so the mean square
 * displacement per step, and with it the rate at which the solvent
 * relaxes, falls as kT: the same relaxation takes 1/kT times the steps. */
void dimer_umbrella_length(const dimer_schedule *s, double kT, long *n_steps, long *n_discard);

#endif
