/* dimer_state.h - the state of a bg-dimer run, which every part of the
 * program shares (the star of dimer_run.h): the options, the results of
 * each model and temperature, the run itself, and what dimer_state.c does
 * with it (file names in --out, manifest records, release).  A dimer_run
 * owns every array and object it points to (dimer_run_release frees them). */
#ifndef LIBBG_APPS_DIMER_DIMER_STATE_H
#define LIBBG_APPS_DIMER_DIMER_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "apps/toolkit/app_options.h"
#include "apps/toolkit/app_run.h"
#include "apps/toolkit/app_temperature_weights.h"
#include "apps/dimer/dimer_schedule.h"
#include "apps/dimer/dimer_sim.h"
#include "autodiff/ad.h"
#include "flows/bg_ais.h"
#include "flows/bg_generator.h"

#define DIMER_PROGRAM "bg-dimer"
/* Version of the files in --out (manifest.json records it). */
#define DIMER_FORMAT_VERSION 2
/* The stages of the manifest (app_run.h): the MC data, the umbrella
 * reference, training stage k at DIMER_STAGE_TRAIN + k (k from 1), and the
 * final outputs. */
#define DIMER_STAGE_MC 1
#define DIMER_STAGE_UMBRELLA 2
#define DIMER_STAGE_TRAIN 2
#define DIMER_STAGE_OUTPUTS 100

/* The command-line options. */
typedef struct dimer_options {
    const char *out;
    uint64_t seed;
    double kT;
    int quick, threads, resume, restart;
    const char *bond;
    int ais_chains, ais_temps; /* -1: the schedule's */
    int grad_blocks;           /* the training batch cut into blocks (bg_train.h) */
    app_temperatures temperatures; /* --temperatures (n = 0: kT alone) */
    app_coupling coupling;         /* --coupling (default affine)      */
    double ais_start_scale;        /* --ais-start-scale (default 1)    */
    app_temperatures train_temperatures; /* --train-temperatures: trained by */
                                         /* energy alone (n = 0: none)       */
    const char *temperature_weights_text; /* --temperature-weights as given  */
    app_temperature_weights temperature_weights; /* parsed (n = 0: all 1)  */
} dimer_options;

typedef struct dimer_model_result {
    double dF, dF_se, ess_fraction, ess, median_energy, transitions_per_1000;
    double final_loss, train_seconds, closed_fraction_raw;
    int n_samples, n_nonfinite;
    long skipped;
} dimer_model_result;

/* One temperature of --temperatures: its MC data in both states (the ML
 * data of that temperature), its umbrella reference, and the generator's
 * plain and annealed samples there, analysed as at the run's kT.  The
 * temperature equal to the run's kT (is_main) is the run's own: its fields
 * here stay empty and the run's are reported. */
typedef struct dimer_temperature {
    double kT;
    int is_main;
    ad_real *data;          /* [n_closed + n_open] rows: closed first */
    int n_closed, n_open;
    double mc_acc[2], mc_seconds, mc_median; /* median energy of the MC data */
    dimer_umbrella_out us;
    double us_seconds;
    smp_profile *profile, *ais_profile; /* reweighted F(d), NULL when none */
    dimer_model_result res, ais_res;
    int has_ais, extrapolation;
    double ais_acceptance, ais_seconds;
} dimer_temperature;

typedef struct dimer_run {
    dimer_options opt;
    app_run *run;           /* the output directory, its lock and manifest */
    dimer_schedule sc;
    pot_dimer_params params;
    pot_potential pot;
    dimer_energy_ctx ectx;
    double start_clock, wall_seconds;
    /* data */
    ad_real *data;          /* [n_closed + n_open] rows: closed first */
    int n_closed, n_open, dim;
    ad_real *data_u;        /* energies of the data rows */
    double mc_acc[2], mc_u_first[2], mc_u_second[2], mc_seconds;
    int mc_transitions;
    int data_reused, umbrella_reused;
    /* reference */
    dimer_umbrella_out us;
    double us_seconds;
    /* the Boltzmann generator: the whitened RealNVP, its prior, r->pot, kT */
    bg_generator *gen;
    int first_stage;
    double stage_seconds[DIMER_N_STAGES_MAX];
    bg_samples *samples;
    ad_real *d_bg;          /* [n] dimer distances of the samples */
    smp_profile *profile;   /* reweighted F(d) */
    dimer_model_result res;
    /* the same flow's samples after latent AIS (NULL without) */
    bg_samples *ais_samples;
    ad_real *d_ais;
    smp_profile *ais_profile;
    dimer_model_result ais_res;
    bg_ais_stats ais_stats;
    double ais_seconds;
    double mc_median;
    double t_energy_ms, t_flow_ms;
    int train_reused_stages;
    /* --temperatures (n_temps = 0 without) */
    int n_temps;
    dimer_temperature temps[APP_MAX_TEMPERATURES];
} dimer_run;

/* The rows of train_log.csv. */
typedef struct dimer_log_rows {
    int n;
    double *v; /* [n * 5]: global iteration, stage, loss, ml, kl */
} dimer_log_rows;

void dimer_run_release(dimer_run *r);
/* name joined to --out in buf (empty when it does not fit) */
void dimer_out_path(const dimer_run *r, const char *name, char *buf, size_t len);
/* Record the file name (relative to --out) in the manifest as written by stage. */
int dimer_record(dimer_run *r, const char *name, int stage, char *msg, size_t len);
/* The stage checkpoint name of training stage k (1-based): ckpt/stage-stage<k>.ckpt */
void dimer_ckpt_name(int k, char *buf, size_t len);
/* The label of a stage checkpoint (manifest stage `stage`): the run's
 * fingerprint (which covers --train-temperatures) and stage, and with
 * --temperatures the list; "" without --out. */
void dimer_ckpt_label(const dimer_run *r, int stage, char *buf, size_t len);
/* "<stem>_kT<kT><suffix>" (kT in %g): a file of one temperature of
 * --temperatures, e.g. umbrella_profile_kT0.5.csv. */
void dimer_temp_file(double kT, const char *stem, const char *suffix, char *buf, size_t len);

#endif
