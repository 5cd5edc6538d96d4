/* bg_generator.h - a Boltzmann generator as one object: a flow (RealNVP by
 * default, optionally with a whitening layer), its Gaussian prior, the target
 * potential and the temperature, with training by a schedule of stages,
 * sampling with importance weights, free-energy differences between states,
 * free-energy profiles along a reaction coordinate, and save / load.
 *
 * It is a thin layer over the parts it is made of: training is bg_train
 * (bg_train.h), sampling bg_sample (bg_sample.h), the estimators are those of
 * sampling/smp_profile.h and sampling/smp_reweight.h, the files those of
 * nn/nn_checkpoint.h.  Use those directly for anything the object does not
 * cover.
 *
 * Units.  Energies (the potential, e_ref) are in the potential's energy
 * units; kT is in the same units.  Free energies, profiles and log-weights
 * are reduced: in units of kT.  Coordinates are the potential's.
 *
 * Errors.  Every function returns AD_OK or an ad_status code with a message
 * that names the offending argument or field; nothing exits or prints.
 *
 *     bg_generator_config c = bg_generator_config_default(&my_potential, 1.0);
 *     bg_generator *g = bg_generator_new(&c, msg, sizeof msg);
 *     bg_stage st[2] = {bg_stage_ml(1000), bg_stage_ml_kl(1000, 20)};  (ML, ML+KL)
 *     bg_generator_train_config tc = bg_generator_train_default(data, n_data);
 *     tc.stages = st; tc.n_stages = 2;
 *     bg_generator_train(g, &tc, NULL, msg, sizeof msg);
 *     bg_samples *s;  bg_generator_sample(g, 10000, 1, &s, msg, sizeof msg);
 *     bg_states states = bg_states_basins(minima, 2);
 *     bg_free_energies fe;
 *     bg_generator_free_energies(g, s, &states, &fe, NULL, msg, sizeof msg);
 *     ... fe.dF[1] +- fe.se[1] (kT), fe.ess ...
 *     bg_samples_free(s);  bg_generator_free(g);
 *
 * docs/generator.md walks through a whole program (docs/examples/bg_quartic.c).
 *
 * Several temperatures: give the config a list of training temperatures
 * (bg_temperature: kT and weight), the training call data tagged with their
 * temperatures (bg_temperature_data) if there are data at more than one,
 * and sample at any kT with bg_generator_sample_at; samples outside the
 * trained range [kT_min, kT_max] are flagged as extrapolation
 * (docs/generator.md §7, docs/science.md §5.5).
 */
#ifndef LIBBG_FLOWS_BG_GENERATOR_H
#define LIBBG_FLOWS_BG_GENERATOR_H

#include <stddef.h>
#include <stdint.h>

#include "bg_rc.h"
#include "bg_sample.h"
#include "bg_train.h"
#include "flow_model.h"
#include "flow_prior.h"
#include "flow_realnvp.h"
#include "potentials/pot_potential.h"
#include "sampling/smp_profile.h"

/* ---- the object ------------------------------------------------------- */

typedef struct bg_generator_config {
    const pot_potential *potential; /* target energy u(x); borrowed, must      */
                                    /* outlive the generator                   */
    double kT;                      /* temperature (energy units, finite > 0); */
                                    /* the prior is N(0, kT I)                 */
    flow_realnvp_config flow;       /* architecture when model is NULL.        */
                                    /* Default flow_realnvp_config_default(    */
                                    /* potential->dim): 3 blocks of two affine */
                                    /* couplings, S and T nets of two hidden   */
                                    /* layers of 100 ReLU units, log-scale     */
                                    /* bound 1, alternating split, seed 1.     */
                                    /* For whitening                           */
                                    /* set flow.whiten = 1 and flow.whiten_data*/
                                    /* (e.g. the training data); with          */
                                    /* whiten_data NULL the whitening comes    */
                                    /* from bg_generator_load                  */
    flow_model *model;              /* NULL (default): build flow; otherwise a */
                                    /* model of any layers, taken over by      */
                                    /* bg_generator_new (freed with the object,*/
                                    /* also when it fails)                     */
    int sample_batch;               /* rows per flow pass when sampling (> 0); */
                                    /* default 5000                            */
    const bg_temperature *temperatures; /* several training temperatures     */
                                    /* (bg_train.h: kT and weight of each,     */
                                    /* copied); NULL (default): kT alone.      */
                                    /* kT stays the reference temperature: the */
                                    /* temperature of bg_generator_sample and  */
                                    /* of data given without a temperature     */
    int n_temperatures;             /* 0 with NULL (default); else 1 ..        */
                                    /* BG_MAX_TEMPERATURES, distinct kT        */
} bg_generator_config;

/* The defaults above for potential u at temperature kT (u may be NULL here;
 * bg_generator_new rejects it). */
bg_generator_config bg_generator_config_default(const pot_potential *u, double kT);

/* The generator's parts may be read (and the model's parameters changed)
 * directly; replace them only through the functions below. */
typedef struct bg_generator {
    flow_model *model;              /* owned: z -> x                           */
    flow_prior prior;               /* N(0, kT I) in model->dim_z              */
    const pot_potential *potential; /* borrowed                                */
    double kT;                      /* energy units                            */
    int sample_batch;
    int n_temperatures;             /* 0: trained at kT alone                  */
    bg_temperature temperatures[BG_MAX_TEMPERATURES]; /* the training set      */
    double kT_min, kT_max;          /* the trained range: the smallest and     */
                                    /* largest training temperature (both kT   */
                                    /* without a list); sampling outside it is */
                                    /* extrapolation                           */
} bg_generator;

/* NULL with a message on a bad config (the field is named), a failed
 * whitening fit or out of memory. */
bg_generator *bg_generator_new(const bg_generator_config *cfg, char *msg, size_t msg_len);
void bg_generator_free(bg_generator *g); /* accepts NULL */

/* Copy every parameter of src into dst (same architecture), e.g. to start a
 * KL model from a trained ML model.  AD_ERR_SHAPE if they differ. */
int bg_generator_copy_parameters(bg_generator *dst, const bg_generator *src, char *msg,
                                 size_t msg_len);

/* ---- training ----------------------------------------------------------- */

typedef struct bg_generator_train_config {
    const ad_real *data;     /* [n_data * dim] samples for J_ML (e.g. Monte Carlo */
                             /* frames); may be NULL when no stage uses J_ML      */
    int n_data;
    const bg_stage *stages;  /* the schedule (bg_stage_default() per stage)       */
    int n_stages;            /* > 0                                               */
    bg_cut_ref cut_ref;      /* how the stages' e_high, e_max are measured;       */
                             /* default BG_CUT_KT_ABOVE_REF                       */
    double e_ref;            /* reference energy (energy units) for               */
                             /* BG_CUT_KT_ABOVE_REF; NAN (default): the lowest    */
                             /* energy among the data                             */
    const bg_rc *rc;         /* reaction coordinate for stages with w_rc > 0      */
    bg_rc_loss_config rc_loss; /* its soft-histogram range (coordinate units);   */
                             /* default {0, 0, 11}: set r_min < r_max to use J_RC */
    uint64_t seed;           /* random numbers of training; default 1             */
    double clip_norm;        /* > 0: clip the gradient norm; default 0 (none)     */
    int max_bad_in_a_row;    /* non-finite steps tolerated in a row; default 20   */
    const char *log_path;    /* CSV of every iteration; default NULL (none)       */
    const char *checkpoint_prefix; /* per-stage checkpoints                       */
                             /* "<prefix>-stage<k>.ckpt"; default NULL (none)     */
    int first_stage;         /* resume: run stages first_stage.. after loading    */
                             /* the checkpoint of stage first_stage - 1 (needs    */
                             /* checkpoint_prefix); default 0                     */
    int resume_in_place;     /* 1: with first_stage > 0, g's parameters are taken */
                             /* as those at the end of stage first_stage - 1      */
                             /* (loaded by the caller, e.g. from a labelled       */
                             /* checkpoint, or left by a call that ran the stages */
                             /* before) and nothing is loaded; checkpoint_prefix  */
                             /* may then be NULL.  0 (default) or 1               */
    bg_progress_fn progress; /* called every iteration; default NULL              */
    void *progress_ctx;
    const bg_temperature_data *data_sets; /* J_ML data tagged with their          */
                             /* temperatures (bg_train.h), e.g. Monte Carlo at     */
                             /* each training temperature; then data must be NULL. */
                             /* Default NULL: data (if any) at the generator's kT. */
                             /* Either list (this or the generator's temperatures) */
                             /* switches training to per-row temperatures          */
    int n_data_sets;         /* 0 with NULL (default); else 1 .. BG_MAX_TEMPERATURES */
    int grad_blocks;         /* the batch cut into blocks of rows whose gradients */
                             /* are added in block order (bg_train_config; MPI    */
                             /* ranks share them); default 0: the whole batch     */
} bg_generator_train_config;

/* The defaults above, with the data set (data may be NULL). */
bg_generator_train_config bg_generator_train_default(const ad_real *data, int n_data);

/* Train in place (bg_train).  A resumed run (first_stage > 0) gives
 * bit-identical parameters to an uninterrupted one.  result may be NULL. */
int bg_generator_train(bg_generator *g, const bg_generator_train_config *tc,
                       bg_train_result *result, char *msg, size_t msg_len);

/* ---- sampling ----------------------------------------------------------- */

/* n configurations x = F_zx(z), z ~ N(0, kT I), with energies and log
 * importance weights log(exp(-u/kT) / p_X(x)) + const (bg_sample; no tape is
 * kept).  The same seed gives the same samples.  *out is the caller's
 * (bg_samples_free); (*out)->kT is g->kT and (*out)->extrapolation says
 * whether g->kT lies outside the trained range. */
int bg_generator_sample(const bg_generator *g, int n, uint64_t seed, bg_samples **out, char *msg,
                        size_t msg_len);

/* The same at any temperature kT (energy units, finite > 0): z ~ N(0, kT I)
 * and weights log(exp(-u/kT) / p_X(x)), so free energies and profiles of
 * these samples are in units of this kT.  (*out)->kT = kT, and
 * (*out)->extrapolation = 1 when kT lies outside [g->kT_min, g->kT_max]
 * (relative tolerance 1e-12): the flow never learned that temperature, the
 * weights still make the estimates consistent, but their effective sample
 * size may be small.  With kT = g->kT it equals bg_generator_sample. */
int bg_generator_sample_at(const bg_generator *g, double kT, int n, uint64_t seed,
                           bg_samples **out, char *msg, size_t msg_len);

/* 1 when kT lies outside the trained range [g->kT_min, g->kT_max], else 0
 * (also 0 for a NULL g or a kT that is not finite > 0). */
int bg_generator_extrapolates(const bg_generator *g, double kT);

/* ---- free energies ------------------------------------------------------ */

#define BG_MAX_STATES 16

/* The state of one configuration x[dim]: 0 .. n_states-1, or any other value
 * for "in no state" (e.g. the transition region). */
typedef int (*bg_state_fn)(const ad_real *x, void *ctx);

typedef struct bg_states {
    int n_states;            /* 2 .. BG_MAX_STATES                                */
    bg_state_fn state;       /* a user function of x, or NULL for basins:         */
    void *ctx;
    const ad_real *minima;   /* with state NULL: [n_states * dim]; x belongs to    */
                             /* the nearest minimum (sampling/smp_basins.h)       */
    int reference;           /* dF is measured from this state; default 0         */
    smp_bootstrap_config boot; /* default smp_bootstrap_default(): 200 resamples  */
} bg_states;

bg_states bg_states_function(int n_states, bg_state_fn state, void *ctx);
bg_states bg_states_basins(const ad_real *minima, int n_minima);

typedef struct bg_free_energies {
    int n_states;
    double dF[BG_MAX_STATES];         /* F_s - F_reference (kT); +inf: no weight  */
    double se[BG_MAX_STATES];         /* bootstrap standard error (kT); 0 for the */
                                      /* reference, NAN with too few resamples    */
    double population[BG_MAX_STATES]; /* weighted fraction in each state          */
    double ess;                       /* Kish effective sample size of all weights */
    double ess_fraction;              /* ess / n                                  */
    int n_samples;                    /* samples given                            */
    int n_nonfinite;                  /* samples with no usable weight            */
    double kT;                        /* the samples' temperature: dF and se are  */
                                      /* in units of it (bg_samples.kT)           */
    int extrapolation;                /* bg_samples.extrapolation of the samples  */
} bg_free_energies;

/* dF_s = -log(W_s / W_ref), W_s the total importance weight of the samples in
 * state s (smp_state_free_energies).  labels[s->n] (may be NULL) receives each
 * sample's state (-1: none or a non-finite sample). */
int bg_generator_free_energies(const bg_generator *g, const bg_samples *s, const bg_states *states,
                               bg_free_energies *out, int *labels, char *msg, size_t msg_len);

/* ---- profiles ----------------------------------------------------------- */

/* Free-energy profile F(r) (kT, minimum 0) of the reaction coordinate rc
 * (bg_rc.h: a coordinate, a projection, a distance, or a user function
 * value_fn) from weighted samples: a histogram into *hist and / or a Gaussian
 * KDE into *kde (either pointer may be NULL, not both; results are the
 * caller's, smp_profile_free).  pc: smp_profile_config_default(lo, hi) and
 * adjust; the KDE needs pc->bandwidth > 0. */
int bg_generator_profile(const bg_generator *g, const bg_samples *s, const bg_rc *rc,
                         const smp_profile_config *pc, smp_profile **hist, smp_profile **kde,
                         char *msg, size_t msg_len);

/* ---- files -------------------------------------------------------------- */

/* Every parameter of the flow (whitening included) to / from a checkpoint
 * (nn/nn_checkpoint.h: atomic write, magic, version, checksum).  Load into a
 * generator built with the same config; on error it is unchanged. */
int bg_generator_save(const bg_generator *g, const char *path, char *msg, size_t msg_len);
int bg_generator_load(bg_generator *g, const char *path, char *msg, size_t msg_len);

/* The same with a label stored in the file (nn_checkpoint_save_label), e.g.
 * a fingerprint of the run and stage that wrote it; NULL or "" means none,
 * longer than NN_CHECKPOINT_LABEL_MAX bytes is AD_ERR_ARG.  Loading takes a
 * file only when its label equals label (NULL or "": an unlabelled file);
 * otherwise AD_ERR_FORMAT naming both labels, and g is unchanged. */
int bg_generator_save_label(const bg_generator *g, const char *path, const char *label, char *msg,
                            size_t msg_len);
int bg_generator_load_label(bg_generator *g, const char *path, const char *label, char *msg,
                            size_t msg_len);

#endif
