/* dimer_run.h - the dimer experiment (bg-dimer) as its files share it: the
 * schedule, the options, the run state and the steps of the pipeline.  The
 * files form a star around the run state: each part calls dimer_state.c and
 * dimer_sim.c, none calls back into dimer_run.c, which runs them in order.
 *   dimer_run.c       the pipeline: --out and its settings, then the parts
 *   dimer_state.c     file names in --out, manifest records, release
 *   dimer_schedule.c  the quick and full schedules (named tables)
 *   dimer_data.c      MC data in both states, the umbrella reference
 *   dimer_train.c     the generator, its training and the timing measurements
 *   dimer_resume.c    cache.json, stage checkpoints and logs for --resume
 *   dimer_analysis.c  samples, ESS, reweighted dF and F(d), the training log
 *   dimer_figures.c   the SVG figures
 *   dimer_report.c    summary.json and report.md
 * With --temperatures the data, the umbrella reference and the analysis are
 * repeated at every temperature of the list (dimer_temperature) and the one
 * generator is trained at all of them.
 * A dimer_run owns every array and object it points to (dimer_run_release
 * frees them); every step returns AD_OK or an error code with msg filled.
 */
#ifndef LIBBG_APPS_DIMER_DIMER_RUN_H
#define LIBBG_APPS_DIMER_DIMER_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "apps/toolkit/app_options.h"
#include "apps/toolkit/app_run.h"
#include "apps/dimer/dimer_sim.h"
#include "autodiff/ad.h"
#include "flows/bg_ais.h"
#include "flows/bg_generator.h"

#define DIMER_PROGRAM "bg-dimer"
#define DIMER_N_STAGES_MAX 8
/* Version of the files in --out (manifest.json records it). */
#define DIMER_FORMAT_VERSION 2
/* The stages of the manifest (app_run.h): the MC data, the umbrella
 * reference, training stage k at DIMER_STAGE_TRAIN + k (k from 1), and the
 * final outputs. */
#define DIMER_STAGE_MC 1
#define DIMER_STAGE_UMBRELLA 2
#define DIMER_STAGE_TRAIN 2
#define DIMER_STAGE_OUTPUTS 100

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

/* dimer_run.c: the pipeline.  dimer_run_open sets the schedule and opens
 * --out (app_run_open: AD_ERR_ARG is the user's mistake); dimer_run_all then
 * runs the pipeline. */
int dimer_run_open(dimer_run *r, char *msg, size_t len);
int dimer_run_all(dimer_run *r, char *msg, size_t len);

/* dimer_state.c */
void dimer_run_release(dimer_run *r);
/* name joined to --out in buf (empty when it does not fit) */
void dimer_out_path(const dimer_run *r, const char *name, char *buf, size_t len);
/* Record the file name (relative to --out) in the manifest as written by stage. */
int dimer_record(dimer_run *r, const char *name, int stage, char *msg, size_t len);
/* The stage checkpoint name of training stage k (1-based): ckpt/stage-stage<k>.ckpt */
void dimer_ckpt_name(int k, char *buf, size_t len);
/* The label of a stage checkpoint (manifest stage `stage`): the run's
 * fingerprint and stage, and with --temperatures the list; "" without --out. */
void dimer_ckpt_label(const dimer_run *r, int stage, char *buf, size_t len);
/* "<stem>_kT<kT><suffix>" (kT in %g): a file of one temperature of
 * --temperatures, e.g. umbrella_profile_kT0.5.csv. */
void dimer_temp_file(double kT, const char *stem, const char *suffix, char *buf, size_t len);

/* dimer_schedule.c: the quick or full schedule, its energy cuts at kT. */
void dimer_schedule_make(dimer_schedule *s, int quick, double kT);

/* dimer_data.c: the MC data (data_*.csv) and the umbrella reference; with
 * --temperatures the same at every other temperature (data_closed_kT<kT>.csv,
 * data_open_kT<kT>.csv, umbrella_profile_kT<kT>.csv). */
int dimer_mc(dimer_run *r, char *msg, size_t len);
int dimer_reference(dimer_run *r, char *msg, size_t len);
int dimer_temperature_data(dimer_run *r, char *msg, size_t len);

/* dimer_train.c */
int dimer_model_build(dimer_run *r, char *msg, size_t len);
int dimer_measure_timing(dimer_run *r, char *msg, size_t len);
int dimer_train(dimer_run *r, char *msg, size_t len);

/* dimer_resume.c */
int dimer_cache_write(dimer_run *r, char *msg, size_t len);
/* 0 (nothing reused), 1 (the MC data) or 2 (the data and the umbrella reference) */
int dimer_cache_load(dimer_run *r);
/* The same for temperature j of --temperatures (not the run's kT):
 * cache_kT<kT>.json, written after its MC data (us = 0) and again after its
 * umbrella reference (us = 1), and read back with its data_*_kT<kT>.csv and
 * umbrella_profile_kT<kT>.csv when the manifest verifies them: 0, 1 or 2 as
 * above. */
int dimer_temp_cache_write(dimer_run *r, int j, int us, char *msg, size_t len);
int dimer_temp_cache_load(dimer_run *r, int j);
/* Sets r->first_stage from the stage checkpoints that the manifest verifies
 * (with --resume and reused data) and trims the log to the stages kept. */
void dimer_resume_stages(dimer_run *r);
/* ckpt/stage_seconds.csv: write (write != 0) or read r->stage_seconds */
void dimer_stage_seconds_io(dimer_run *r, int write);

/* dimer_analysis.c */
int dimer_analyse(dimer_run *r, char *msg, size_t len);
void dimer_log_read(dimer_run *r, dimer_log_rows *lr);
double dimer_final_loss(const dimer_log_rows *lr, int last_stage);
int dimer_samples_csv_write(dimer_run *r, char *msg, size_t len);
/* --temperatures: plain and annealed samples at every other temperature,
 * analysed and freed; then temperatures.csv and bg_profile_kT<kT>.csv,
 * ais_profile_kT<kT>.csv. */
int dimer_analyse_temperatures(dimer_run *r, char *msg, size_t len);
int dimer_temperature_csvs_write(dimer_run *r, char *msg, size_t len);

/* dimer_figures.c: fig_energy, fig_distance, fig_configurations,
 * fig_free_energy and fig_loss (.svg), in that order; with --temperatures
 * also fig_temperatures.svg (dF against kT) and fig_temperature_profiles.svg. */
int dimer_figures_write(dimer_run *r, const dimer_log_rows *lr, char *msg, size_t len);
/* The paper's umbrella dF(closed - open) at kT (mean of its three runs, its
 * energy, units of that kT), NAN at a temperature it did not report. */
double dimer_paper_umbrella(double kT);

/* dimer_report.c */
int dimer_summary_write(dimer_run *r, char *msg, size_t len);
int dimer_report_write(dimer_run *r, char *msg, size_t len);

#endif
