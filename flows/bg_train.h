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
