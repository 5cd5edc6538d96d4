/* dimer_schedule.c - the two run lengths of bg-dimer as named tables.  Why
 * each setting has its value (the solvent's relaxation time, overfitting of
 * the data, the cost split of the annealing) is told in docs/experiments.md,
 * "The dimer's schedules". */
#include <math.h>
#include <string.h>

#include "apps/dimer/dimer_schedule.h"

/* --quick: every stage runs, in seconds. */
static const dimer_schedule DIMER_SCHEDULE_QUICK = {
    .mc_chains = 8, .mc_steps = 1500, .mc_stride = 10, .mc_discard = 50,
    .us_windows = 11, .us_chains = 8,
    .us_repeats = 4, /* two from each state: standard errors for both */
    .us_bins = 100, .us_steps = 300, .us_stride = 5, .us_discard = 20, .us_k = 500,
    .n_blocks = 8, .split = FLOW_SPLIT_ALTERNATE,
    .stages = {
        {.name = "ML", .n_iterations = 30, .batch_size = 128, .lr = 1e-3,
         .w_ml = 1, .w_kl = 0, .w_rc = 0, .e_high = 1e4, .e_max = 0},
        {.name = "ML+KL+RC 1", .n_iterations = 10, .batch_size = 128, .lr = 1e-4,
         .w_ml = 100, .w_kl = 1, .w_rc = 1, .e_high = 1e4, .e_max = 0},
        {.name = "ML+KL+RC 2", .n_iterations = 10, .batch_size = 128, .lr = 1e-4,
         .w_ml = 1, .w_kl = 1, .w_rc = 10, .e_high = 1000, .e_max = 0},
    },
    .n_stages = 3,
    .n_samples = 2000, .sample_batch = 1000, .n_bootstrap = 50, .profile_bins = 20,
    .timing_repeats = 1,
    .ais_chains = 200, .ais_batch = 200,
    .ais = {.n_temps = 10, .leapfrog = 2, .n_pilot = 64, .target_acceptance = 0.65},
};

/* The full run: long umbrella windows, many short-lived data chains, a short
 * ML stage, and the annealing's cost in temperatures rather than chains. */
static const dimer_schedule DIMER_SCHEDULE_FULL = {
    .mc_chains = 400, .mc_steps = 60000, .mc_stride = 2000,
    .mc_discard = 10, /* frames: 20 000 steps */
    .us_windows = 35, .us_chains = 8, .us_repeats = 6, .us_bins = 200, .us_steps = 80000,
    .us_stride = 10,
    .us_discard = 2000, /* frames: 20 000 steps */
    .us_k = 500,
    .n_blocks = 8, .split = FLOW_SPLIT_ALTERNATE,
    .stages = {
        {.name = "ML", .n_iterations = 250, .batch_size = 256, .lr = 1e-3,
         .w_ml = 1, .w_kl = 0, .w_rc = 0, .e_high = 1e4, .e_max = 0},
        {.name = "ML+KL+RC 1", .n_iterations = 200, .batch_size = 500, .lr = 1e-4,
         .w_ml = 10, .w_kl = 1, .w_rc = 1, .e_high = 1e4, .e_max = 0},
        {.name = "ML+KL+RC 2", .n_iterations = 200, .batch_size = 500, .lr = 1e-4,
         .w_ml = 1, .w_kl = 1, .w_rc = 1, .e_high = 2000, .e_max = 0},
        {.name = "ML+KL+RC 3", .n_iterations = 2400, .batch_size = 500, .lr = 1e-4,
         .w_ml = 0.01, .w_kl = 1, .w_rc = 1, .e_high = 1000, .e_max = 0},
    },
    .n_stages = 4,
    .n_samples = 100000, .sample_batch = 5000, .n_bootstrap = 200, .profile_bins = 40,
    .timing_repeats = 3,
    .ais_chains = 4000, .ais_batch = 1000,
    .ais = {.n_temps = 1600, .leapfrog = 3, .n_pilot = 256, .target_acceptance = 0.65},
};

void dimer_schedule_make(dimer_schedule *s, int quick, double kT)
{
    const dimer_schedule *t = quick ? &DIMER_SCHEDULE_QUICK : &DIMER_SCHEDULE_FULL;
    *s = *t;
    /* the tables name the AIS fields they set; the others keep their defaults */
    s->ais = bg_ais_config_default();
    s->ais.n_temps = t->ais.n_temps;
    s->ais.leapfrog = t->ais.leapfrog;
    s->ais.n_pilot = t->ais.n_pilot;
    s->ais.target_acceptance = t->ais.target_acceptance;
    /* the cuts are given at kT = 1 */
    for (int k = 0; k < s->n_stages; k++) s->stages[k].e_high *= kT;
}

void dimer_umbrella_length(const dimer_schedule *s, double kT, long *n_steps, long *n_discard)
{
    double stretch = kT < 1 ? 1 / kT : 1;
    *n_steps = (long)ceil((double)s->us_steps * stretch);
    *n_discard = (long)ceil((double)s->us_discard * stretch);
}
