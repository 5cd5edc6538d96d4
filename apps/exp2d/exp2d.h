/* exp2d.h - the Boltzmann-generator experiment on a 2-D system, end to end:
 * Monte Carlo data from the minima, four models (bg_generator objects: ML,
 * KL, ML+KL, ML+KL+RC, the last three started from the ML model),
 * reweighted samples, free-energy profiles and state free energies against
 * the exact quadrature reference, latent interpolation, then CSV files, SVG
 * figures, summary.json and report.md in the output directory.
 *
 * A program describes its system in an exp2d_system (potential, minima and
 * their names, reaction coordinate, plot ranges, Monte Carlo settings, flow
 * preset, schedules) and calls exp2d_main, which parses the common options
 * and maps errors to exit codes (0 success, 1 runtime failure, 2 usage).
 * Everything the run computes lives in an exp2d_run owned by exp2d_main.
 *
 * Several temperatures: with --temperatures LIST (exp2d_options.temperatures)
 * every model is one generator trained at all the temperatures of the list,
 * on Monte Carlo data made at each, and is sampled at each against the
 * quadrature reference there (exp2d_temperature); summary.json, report.md,
 * temperatures.svg, temperature_profiles.svg, temperatures.csv and
 * profiles_kT<kT>.csv report it.  Without the option nothing changes.
 * --train-temperatures LIST (exp2d_options.train_temperatures) adds
 * temperatures that the models with energy terms are trained at by energy
 * alone, with no data, reference or estimates there.
 *
 * The kit is installed with the library (make install): a program outside
 * the tree includes "apps/exp2d/exp2d.h" and links with pkg-config's libbg
 * (docs/examples/exp2d_hat.c).  Its files: exp2d_main.c (options, --out,
 * the parts in order), exp2d_data.c, exp2d_train.c, exp2d_analysis.c and
 * exp2d_figures.c (the parts, each calling only exp2d_run.c, what they
 * share).
 */
#ifndef LIBBG_APPS_EXP2D_EXP2D_H
#define LIBBG_APPS_EXP2D_EXP2D_H

#include <stddef.h>
#include <stdint.h>

#include "apps/toolkit/app_options.h"
#include "apps/toolkit/app_run.h"
#include "apps/toolkit/app_temperature_weights.h"
#include "autodiff/ad.h"
#include "flows/bg_generator.h"
#include "flows/bg_rc.h"
#include "flows/bg_loss.h"
#include "flows/flow_realnvp.h"
#include "potentials/pot_potential.h"
#include "sampling/smp_quadrature.h"

#define EXP2D_MAX_MINIMA 4
#define EXP2D_N_MODELS 4

/* The training schedule and analysis sizes of one run length. */
typedef struct exp2d_schedule {
    int ml_iterations;  /* stage 1: maximum likelihood on the MC data          */
    int ml_batch;
    double ml_lr;
    int iterations;     /* stage 2 of KL, ML+KL and ML+KL+RC (from the ML model) */
    int batch;
    double lr;
    double w_rc;        /* weight of J_RC in the ML+KL+RC model                  */
    double e_high;      /* linlogcut start, in units of kT above the lowest minimum */
    int n_samples;      /* generated samples per model                           */
    int n_bootstrap;    /* resamples for state free energies and histograms     */
    int n_bootstrap_kde;/* resamples for the KDE profile (its cost is higher)    */
    int interp_points;  /* points on each latent interpolation path             */
} exp2d_schedule;

typedef struct exp2d_system {
    const char *name;          /* "doublewell" (summary.json, default out/<name>) */
    const char *program;       /* "bg-doublewell"                                  */
    const char *title;         /* "Double well" (figures, report)                  */
    const char *description;   /* --help paragraph                                 */
    pot_potential potential;   /* dim 2                                            */
    int n_minima;              /* states, nearest-minimum basins (smp_basins.h)    */
    ad_real minima[2 * EXP2D_MAX_MINIMA];
    const char *state_names[EXP2D_MAX_MINIMA]; /* state 0 is the reference     */
    const char *coord_names[2];/* "x1", "x2"                                       */
    bg_rc rc;                  /* reaction coordinate (profiles and J_RC)          */
    const char *rc_name;       /* its axis label                                   */
    bg_rc_loss_config rc_loss; /* soft-histogram range of J_RC                     */
    double profile_lo, profile_hi; /* profile range along the RC                  */
    int profile_bins;
    double kde_bandwidth;      /* at kT = 1; scaled by sqrt(kT)                    */
    double plot_x[2], plot_y[2]; /* configuration-space plot ranges               */
    double contour_span;       /* contour colours cover u_min .. u_min + span kT   */
    smp_grid2d quad_grid;      /* quadrature box at kT = 1 (widened for kT > 1)    */
    double mc_sigma;           /* Metropolis step at kT = 1 (scaled by sqrt(kT))   */
    long mc_steps;             /* steps per chain, one chain from each minimum     */
    int mc_stride;
    flow_realnvp_preset preset;
    exp2d_schedule full, quick;
} exp2d_system;

/* Options common to both programs. */
typedef struct exp2d_options {
    const char *out;   /* output directory                 */
    uint64_t seed;     /* everything random derives from it */
    double kT;         /* temperature (energy units)       */
    int quick;         /* the reduced schedule             */
    int threads;       /* ad_threads_set                   */
    int resume;        /* reuse trained models found in out */
    int restart;       /* discard a run of other settings in out */
    int grad_blocks;   /* the training batch cut into blocks (bg_train.h; */
                       /* 0 or 1: the whole batch)                       */
    app_temperatures temperatures; /* --temperatures: the training          */
                       /* temperatures of one multi-temperature generator   */
                       /* per model; n = 0 (default): kT alone, as before   */
    app_temperatures train_temperatures; /* --train-temperatures: more   */
                       /* training temperatures, by energy alone (n = 0: none) */
    const char *temperature_weights_text; /* --temperature-weights as given */
    app_temperature_weights temperature_weights; /* parsed (n = 0: all 1)  */
    app_coupling coupling; /* --coupling, --spline-bins, --spline-bound:  */
                       /* the flow's coupling family (default affine)       */
} exp2d_options;

/* Version of the files in --out (manifest.json records it). */
#define EXP2D_FORMAT_VERSION 3
/* Manifest stages: model k (0-based) is stage k + 1; the final outputs are
 * EXP2D_STAGE_OUTPUTS. */
#define EXP2D_STAGE_OUTPUTS 100

/* Results of one model. */
typedef struct exp2d_model {
    const char *name;  /* "ML", "KL", "ML+KL", "ML+KL+RC" */
    const char *slug;  /* "ml", "kl", "ml_kl", "ml_kl_rc" (file names) */
    double w_ml, w_kl, w_rc;
    bg_generator *gen; /* flow, prior N(0, kT I), potential, kT      */
    /* training */
    int n_iterations;  /* iterations of its own stage (the ML stage for ML) */
    double *loss;      /* [n_iterations * 4]: loss, ml, kl, rc             */
    double final_loss;
    double train_seconds; /* including the shared ML stage for the others */
    long skipped;
    /* analysis */
    int n_samples, n_nonfinite;
    double ess_fraction;
    double delta_f[EXP2D_MAX_MINIMA], delta_f_se[EXP2D_MAX_MINIMA];
    double population[EXP2D_MAX_MINIMA];
    double profile_rmse;   /* histogram profile vs exact where exact F <= 10 kT */
    double profile_coverage; /* fraction of those bins the histogram reaches   */
    double *profile;       /* [bins * 4]: F_hist, se_hist, F_kde, se_kde       */
    int n_plot;            /* kept for the figures                              */
    double *plot_x, *plot_z; /* [n_plot * 2]                                    */
    int *plot_state;       /* [n_plot]                                          */
    double *interp;        /* [n_pairs_interp * interp_points * 3]: x, y, u    */
} exp2d_model;

#define EXP2D_N_INTERP 10

/* One model at one temperature of --temperatures. */
typedef struct exp2d_temp_model {
    double delta_f[EXP2D_MAX_MINIMA], delta_f_se[EXP2D_MAX_MINIMA]; /* kT of this temperature */
    double ess_fraction;
    int n_samples, n_nonfinite;
    int extrapolation;     /* the temperature lies outside the trained range */
    double *profile;       /* [bins * 2]: F_hist, se_hist along the RC       */
} exp2d_temp_model;

/* One temperature of --temperatures: its Monte Carlo data (the ML data of
 * that temperature), its quadrature reference and the four models sampled
 * there.  The temperature equal to the run's kT shares the run's data,
 * reference and results. */
typedef struct exp2d_temperature {
    double kT;
    int is_main;           /* kT == run->kT: the fields below are the run's  */
    smp_quad_basins ref;
    double *profile_exact; /* [bins], shifted to min 0                       */
    int n_data;
    ad_real *data;         /* [n_data * 2]                                   */
    double mc_acceptance;
    exp2d_temp_model models[EXP2D_N_MODELS];
} exp2d_temperature;

typedef struct exp2d_run {
    const exp2d_system *sys;
    exp2d_options opt;
    app_run *run;           /* --out: lock and manifest (NULL: none) */
    exp2d_schedule sched;
    double kT;
    /* exact references */
    smp_quad_basins ref;
    double *profile_center; /* [bins] */
    double *profile_exact;  /* [bins], shifted to min 0 */
    /* contour map of u (energy units) over the plot range */
    int map_nx, map_ny;
    ad_real *map_u;
    double u_min;
    /* Monte Carlo data */
    int n_data;
    ad_real *data;          /* [n_data * 2] */
    ad_real *data_u;        /* [n_data]     */
    int *data_chain;        /* [n_data]     */
    double mc_acceptance;
    /* models */
    exp2d_model models[EXP2D_N_MODELS];
    double ml_seconds;
    /* interpolation end points */
    ad_real interp_ends[EXP2D_N_INTERP * 4];
    /* --temperatures (n_temps = 0 without) */
    int n_temps;
    exp2d_temperature temps[APP_MAX_TEMPERATURES];
    int n_curve;            /* the reference dF(kT) curve of the figure      */
    double *curve;          /* [n_curve * n_minima]: kT, dF(pair 1), ...     */
    double wall_seconds;
    double start_clock;
} exp2d_run;

/* Parse argv, run, print one line on failure; returns the exit code. */
int exp2d_main(const exp2d_system *sys, int argc, char **argv);

/* The pipeline without option parsing (the output directory must exist and
 * be writable).  Returns AD_OK or an error code with a message. */
int exp2d_run_all(exp2d_run *run, char *msg, size_t msg_len);
void exp2d_run_release(exp2d_run *run);

/* "right-left": the name of pair k (state k+1 against state 0). */
void exp2d_pair_name(const exp2d_system *sys, int k, char *buf, size_t len);

/* Figures, summary.json and report.md (exp2d_figures.c). */
int exp2d_write_figures(const exp2d_run *run, char *msg, size_t msg_len);
int exp2d_write_summary(const exp2d_run *run, char *msg, size_t msg_len);
int exp2d_write_report(const exp2d_run *run, char *msg, size_t msg_len);

#endif
