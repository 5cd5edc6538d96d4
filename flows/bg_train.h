/* bg_train.h - training a Boltzmann generator by a schedule of stages.
 *
 * Each stage sets iterations, batch size, learning rate, the loss weights
 * (w_ML J_ML + w_KL J_KL + w_RC J_RC, bg_loss.h) and the energy cut E_high.
 * Every iteration draws a fresh data batch with replacement and fresh prior
 * samples; a step whose loss or gradient is not finite is skipped (the model
 * is never updated with NaN) and counted, and more than max_bad_in_a_row such
 * steps in a row stop training with an error naming the stage and iteration.
 *
 * Reproducibility and resuming: stage k draws its random numbers from
 * (seed, k) and starts Adam afresh, so a run resumed at stage k from the
 * checkpoint written at the end of stage k-1 gives bit-identical results to
 * an uninterrupted one.  Checkpoints (nn/nn_checkpoint.h) are written after
 * each stage as "<checkpoint_prefix>-stage<k>.ckpt" (k from 1) when a prefix is
 * given.  The library prints nothing: progress goes to a callback.
 */
#ifndef LIBBG_FLOWS_BG_TRAIN_H
#define LIBBG_FLOWS_BG_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "bg_loss.h"
#include "bg_rc.h"
#include "flow_model.h"
#include "flow_prior.h"
#include "potentials/pot_potential.h"

/* How the energy cuts of a schedule are measured (bg_train_config.cut_ref;
 * one choice for every stage of a run). */
typedef enum bg_cut_ref {
    BG_CUT_ABSOLUTE = 0, /* e_high, e_max are energies (energy units)              */
    BG_CUT_KT_ABOVE_REF  /* e_high, e_max are in kT above bg_train_config.e_ref:   */
                         /* the cut starts at e_ref + e_high kT                    */
} bg_cut_ref;

/* The cap used when a stage gives e_max = 0 (energy units, or kT above the
 * reference for BG_CUT_KT_ABOVE_REF): in effect no cap. */
#define BG_E_MAX_NONE 1e10

/* One stage of the schedule.  Start from bg_stage_default() and change the
 * fields you need; bg_train rejects an invalid field by name.
 * The energy cut (linlogcut, potentials/pot_linlogcut.h) regularises J_KL:
 * energies above e_high grow only logarithmically, energies above e_max are
 * clamped.  e_high and e_max are measured the same way, chosen for the whole
 * run by bg_train_config.cut_ref (absolute energies by default); the one
 * zero with a special meaning is e_max = 0, "no cap" (BG_E_MAX_NONE). */
typedef struct bg_stage {
    const char *name;   /* e.g. "ML", "ML+KL" (logs and errors)     default "stage" */
    int n_iterations;   /* steps in this stage (>= 0)               default 1000    */
    int batch_size;     /* data batch and prior batch size (> 0)    default 256     */
    double lr;          /* Adam learning rate (finite, > 0)         default 1e-3    */
    double w_ml;        /* weight of J_ML (finite, >= 0)            default 1       */
    double w_kl;        /* weight of J_KL (finite, >= 0)            default 0       */
    double w_rc;        /* weight of J_RC (finite, >= 0)            default 0       */
    double e_high;      /* start of the log branch (finite), in     default 1e4     */
                        /* energy units or kT above e_ref (cut_ref)                 */
    double e_max;       /* the cap, same units, >= e_high;          default 0       */
                        /* 0: no cap (BG_E_MAX_NONE)                                */
} bg_stage;

/* The defaults listed above: an ML stage of 1000 steps. */
bg_stage bg_stage_default(void);
/* The two stages of the usual schedule, the other fields as in
 * bg_stage_default():
 *   bg_stage_ml(n)            "ML": n steps of J_ML alone (training by example)
 *   bg_stage_ml_kl(n, e_high) "ML+KL": n steps of J_ML + J_KL (by example and
 *                             energy) with the cut starting at e_high
 *                             (units as bg_stage.e_high: with
 *                             bg_generator_train, kT above the lowest data
 *                             energy)
 * e.g. bg_stage stages[2] = {bg_stage_ml(300), bg_stage_ml_kl(200, 20)}. */
bg_stage bg_stage_ml(int n_iterations);
bg_stage bg_stage_ml_kl(int n_iterations, double e_high);
/* AD_OK, or AD_ERR_ARG with a message naming `who`, the stage (1-based) and
 * the field that is invalid. */
int bg_stage_check(const char *who, const bg_stage *st, int index, char *msg, size_t msg_len);

/* ---- several temperatures (multi-temperature training) ----
 * One flow can learn the Boltzmann distributions exp(-u/tau) of several
 * temperatures tau at once (Noé et al. 2019, the dimer): every batch row
 * carries its own tau.  Its latent draw is z ~ N(0, tau I), its J_KL term is
 * u_reg(F_zx(z))/tau - log R_zx(z), a J_ML row drawn from data at tau costs
 * |F_xz(x)|^2/(2 tau) - log R_xz(x), and J_RC is the soft-histogram entropy
 * of each temperature's rows, averaged over the temperatures with their
 * weights.  Each stage's batch is split into contiguous groups of rows, one
 * per temperature, of sizes in proportion to the weights (at least one row
 * each, so batch_size >= the number of temperatures); a row of temperature
 * k weighs w_k / (sum_j w_j) / n_k in the loss, so the weights are exact
 * loss shares whatever the rounding of the split.  docs/generator.md and
 * docs/science.md explain the physics. */

#define BG_MAX_TEMPERATURES 16

/* One training temperature of J_KL and J_RC. */
typedef struct bg_temperature {
    double kT;          /* temperature (energy units, finite > 0; the list    */
                        /* holds no duplicates)                                */
    double weight;      /* its share of J_KL and J_RC (finite > 0; shares are */
                        /* normalised to sum 1)                                */
} bg_temperature;

/* A data set for J_ML tagged with the temperature it was drawn at (e.g.
 * Monte Carlo at kT with sigma scaled by sqrt(kT)). */
typedef struct bg_temperature_data {
    double kT;            /* its temperature (energy units, finite > 0)        */
    double weight;        /* its share of J_ML (finite > 0; normalised)        */
    const ad_real *data;  /* [n_data * dim_x] configurations (coordinate units)*/
    int n_data;           /* rows (> 0)                                        */
} bg_temperature_data;

/* AD_OK, or AD_ERR_ARG with a message naming `who` and the field (e.g.
 * "temperatures[2].kT"): temps NULL, n < 1 (an empty list) or more than
 * BG_MAX_TEMPERATURES, a kT or weight that is not finite > 0, the same kT
 * twice, or weights whose sum is not finite or one of whose shares
 * weight / sum rounds to 0.  `field` names the list in messages (NULL:
 * "temperatures"). */
int bg_temperatures_check(const char *who, const char *field, const bg_temperature *temps, int n,
                          char *msg, size_t msg_len);
/* The same for data sets (NULL field: "data_sets"): sets NULL, n < 1 or
 * more than BG_MAX_TEMPERATURES, kT or weight not finite > 0, data NULL or
 * n_data < 1, the weights' sum or shares as above. */
int bg_temperature_data_check(const char *who, const char *field, const bg_temperature_data *sets,
                              int n, char *msg, size_t msg_len);

/* The rows of a batch of `batch` given to each of n groups with positive
 * weights: counts[k] >= 1, in proportion to weight[k] (largest remainders,
 * ties to the lower index), summing to batch.  AD_ERR_ARG when batch < n,
 * n < 1 or a weight is not finite > 0. */
int bg_split_batch(const double *weight, int n, int batch, int *counts);

/* What the progress callback sees (once per iteration and at stage ends). */
typedef struct bg_progress {
    int stage;               /* 0-based stage index                     */
    int n_stages;
    const char *stage_name;
    long iteration;          /* iterations done in this stage            */
    long n_iterations;       /* iterations of this stage                 */
    double loss, ml, kl, rc; /* latest (un-weighted components)          */
    double seconds;          /* wall time since the stage began          */
    long skipped;            /* non-finite steps skipped so far (run)    */
    int stage_done;          /* 1 on the stage's final call              */
} bg_progress;
typedef void (*bg_progress_fn)(const bg_progress *p, void *ctx);

typedef struct bg_train_config {
    flow_model *model;             /* trained in place (required)               */
    flow_prior prior;              /* latent prior: dim = model->dim_z, kT      */
                                   /* (variance, finite > 0)  default kT 1      */
    const pot_potential *potential;/* target energy (needed when w_KL > 0)      */
    double kT;                     /* target temperature (energy units, finite  */
                                   /* > 0 when w_KL > 0)             default 1  */
    const ad_real *data;           /* [n_data * dim_x] training samples         */
                                   /* (coordinate units; needed when w_ML > 0)  */
    int n_data;                    /* rows of data (> 0 when w_ML > 0)          */
    const bg_rc *rc;               /* reaction coordinate (needed when w_RC>0)  */
    bg_rc_loss_config rc_loss;     /* its soft-histogram range (coordinate      */
                                   /* units)                  default {0, 0, 11}*/
    const bg_stage *stages;        /* [n_stages] (required)                     */
    int n_stages;                  /* > 0                                       */
    uint64_t seed;                 /* random numbers of training   default 0    */
    double clip_norm;              /* > 0: clip the gradient norm; 0: none      */
                                   /* (finite, >= 0)                 default 0  */
    int max_bad_in_a_row;          /* non-finite steps tolerated in a row       */
                                   /* (>= 0; 0: 20)                 default 20  */
    const char *log_path;          /* CSV of every iteration (NULL: none; ""
                                      is refused)                               */
    const char *checkpoint_prefix; /* per-stage checkpoints (NULL: none; ""
                                      is refused): bg_checkpoint_path           */
    bg_progress_fn progress;       /* may be NULL                               */
    void *progress_ctx;
    bg_cut_ref cut_ref;            /* how every stage's e_high, e_max are       */
                                   /* measured (0: BG_CUT_ABSOLUTE)             */
    double e_ref;                  /* reference energy (energy units) for       */
                                   /* BG_CUT_KT_ABOVE_REF, e.g. the lowest      */
                                   /* minimum; must then be finite  default 0   */
    /* Several temperatures (see above).  With both lists NULL / 0 (default)  */
    /* training is at one temperature exactly as before: J_KL at kT, J_ML on  */
    /* data under the prior's kT.  Setting either switches every stage to    */
    /* per-row temperatures; the energy cut of a row at tau is then          */
    /* e_ref + e_high tau (BG_CUT_KT_ABOVE_REF) or the absolute e_high.      */
    const bg_temperature *temperatures; /* [n_temperatures] of J_KL / J_RC;  */
                                   /* NULL: {kT, 1} alone       default NULL */
    int n_temperatures;            /* 0 with NULL; else 1 .. BG_MAX_...      */
    const bg_temperature_data *data_sets; /* [n_data_sets] data of J_ML by   */
                                   /* temperature; NULL: data at prior.kT    */
                                   /* (then data is required for J_ML; with  */
                                   /* data_sets, data must be NULL)          */
    int n_data_sets;               /* 0 with NULL; else 1 .. BG_MAX_...      */
    /* The batch cut into grad_blocks blocks of rows (0 or 1: the whole    */
    /* batch at once, the default).  With G > 1 each block's loss and     */
    /* gradient are computed alone and the gradients added in block order */
    /* (flows/bg_train_blocks.c): the numbers differ from G = 1 by        */
    /* rounding only, and they are the same for any number of MPI ranks,  */
    /* which then share the blocks (data-parallel training; G <= every    */
    /* stage's batch_size; with per-row temperatures each block keeps its */
    /* rows' temperatures and J_RC the histogram of each temperature).    */
    /* Under MPI with G = 1 every rank computes the whole batch.           */
    int grad_blocks;
} bg_train_config;

/* Every field zero or NULL except kT = 1, prior.kT = 1, rc_loss.n_kernels
 * = 11 and max_bad_in_a_row = 20: set model, prior.dim, the data or the
 * potential, and the stages.  (bg_train also reads max_bad_in_a_row = 0 and
 * n_kernels = 0 as these defaults.) */
bg_train_config bg_train_config_default(void);

typedef struct bg_train_result {
    int stages_done;      /* stages completed (including skipped resumed ones) */
    long iterations;      /* iterations run by this call                       */
    long skipped;         /* non-finite steps skipped                          */
    double final_loss;    /* mean total loss over the last 10% of the last stage */
    double seconds;       /* wall time of this call                            */
} bg_train_result;

/* Run stages first_stage .. n_stages-1 (first_stage > 0 after loading the
 * checkpoint of stage first_stage-1).  The log CSV is appended to when
 * first_stage > 0.  Returns AD_OK or an error code with a message. */
int bg_train(const bg_train_config *cfg, int first_stage, bg_train_result *result, char *msg,
             size_t msg_len);

/* The checkpoint path of stage k (0-based), "<prefix>-stage<k+1>.ckpt", into
 * buf[len].  AD_OK; AD_ERR_ARG when prefix is NULL or "", stage < 0, or the
 * path does not fit: then buf holds "" (never a cut-off name), which every
 * reader and writer of the library refuses. */
int bg_checkpoint_path(const char *prefix, int stage, char *buf, size_t len);
/* The same path in a new string sized to fit (free with ad_free): no length
 * limit.  NULL when prefix is NULL or "", stage < 0, or memory runs out. */
char *bg_checkpoint_path_new(const char *prefix, int stage);

#endif
