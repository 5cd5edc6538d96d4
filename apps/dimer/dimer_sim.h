/* dimer_sim.h - the simulation side of the dimer experiment (bg-dimer):
 * start configurations on the solvent lattice, a threaded energy callback,
 * Metropolis data in the closed and the open state, and the umbrella-sampling
 * reference of dF(closed - open) along the dimer distance.
 *
 * Everything here is deterministic for a seed and independent of the thread
 * count (each configuration's energy is computed alone).  Arrays returned
 * through pointers are the caller's (ad_free); structs are plain values.
 */
#ifndef LIBBG_APPS_DIMER_DIMER_SIM_H
#define LIBBG_APPS_DIMER_DIMER_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "autodiff/ad.h"
#include "autodiff/fast/ad_pool.h"
#include "potentials/pot_dimer.h"

/* Solvent on the paper's lattice (6 x 6 sites of spacing 1.2, outermost
 * +-3.0, Noé's init_positions), dimer at (-d/2, 0) and (d/2, 0).  For other
 * solvent counts the lattice is the smallest square grid that holds them. */
void dimer_lattice(ad_real *x, int n_solvent, double d);

/* An energy callback (smp_energy_fn) that splits the batch over the thread
 * pool, one scratch tape per worker. */
typedef struct dimer_energy_ctx {
    const pot_potential *pot;
    ad_tape *tapes[AD_THREADS_MAX];
} dimer_energy_ctx;
int dimer_energy_ctx_init(dimer_energy_ctx *c, const pot_potential *pot);
void dimer_energy_ctx_release(dimer_energy_ctx *c);
int dimer_energy(void *ctx, const ad_real *x, int n, int dim, ad_real *u, char *msg,
                 size_t msg_len);

/* Steepest descent of the solvent (the dimer held fixed) of n configurations
 * in place: n_steps steps x += clamp(1e-3 F, +-max_move).  Removes the
 * overlaps of a lattice start or of a moved dimer before Monte Carlo. */
int dimer_relax_solvent(dimer_energy_ctx *c, ad_real *x, int n, int n_steps, double max_move,
                        char *msg, size_t msg_len);

/* Metropolis data of one state. */
typedef struct dimer_mc_config {
    double d_start;      /* dimer distance of the lattice start             */
    int n_chains;        /* chains (all start from the relaxed lattice)     */
    long n_steps;        /* steps per chain                                 */
    int stride;          /* stored every stride-th step                     */
    long n_discard;      /* stored frames dropped (equilibration)           */
    double sigma;        /* proposal std (0.02 sqrt(kT))                    */
    double kT;
    uint64_t seed;
    /* optional: smp_mc_config's progress callback (steps done, total) */
    void (*progress)(long done, long total, void *ctx);
    void *progress_ctx;
} dimer_mc_config;

typedef struct dimer_mc_result {
    ad_real *x;          /* [n * dim], frame-major: row = frame * n_chains + chain */
    int n;               /* rows kept                                              */
    int n_frames;        /* frames per chain kept                                  */
    double acceptance;   /* Metropolis acceptance                                  */
    double mean_u_first, mean_u_second; /* mean energy of the first / second half  */
} dimer_mc_result;

/* Runs the chains, drops the equilibration frames and relabels the solvent
 * of every kept frame against the lattice reference (dimer distance 1.5). */
int dimer_mc_state(dimer_energy_ctx *c, const dimer_mc_config *cfg, dimer_mc_result *out,
                   char *msg, size_t msg_len);

/* Solvent relabelling against the fixed lattice reference (in place). */
int dimer_relabel(ad_real *x, int n, int n_solvent, char *msg, size_t msg_len);

/* Umbrella sampling along d with windows started from the state data. */
typedef struct dimer_umbrella_config {
    int n_windows;       /* centres evenly over [lo, hi]                      */
    double lo, hi;
    double k;            /* force constant of k/2 (d - d0)^2                  */
    double kT, sigma;
    long n_steps;        /* steps per chain, window and repeat                */
    int stride;
    long n_discard;      /* stored frames dropped per chain                   */
    int n_chains;
    int n_repeats;
    int n_bins;          /* WHAM bins over [lo, hi]                           */
    uint64_t seed;
    const ad_real *closed; int n_closed;  /* start frames, closed state       */
    const ad_real *open; int n_open;      /* start frames, open state         */
    /* optional: smp_umbrella_config's progress callback (runs done, total) */
    void (*progress)(long done, long total, void *ctx);
    void *progress_ctx;
} dimer_umbrella_config;

typedef struct dimer_umbrella_out {
    int n_bins;
    ad_real *center, *F, *F_se; /* [n_bins] WHAM profile (min 0), block SE        */
    double dF, dF_se;           /* dF(closed - open) and its SE over repeats      */
    int n_repeats;
    double *dF_repeat;          /* [n_repeats] dF(closed - open) of each repeat   */
    double acceptance;          /* mean MC acceptance over windows                */
    long n_samples;             /* coordinate samples used by WHAM                */
} dimer_umbrella_out;

/* Runs the windows of every repeat from one state's frames: closed frames in
 * even repeats, open frames in odd ones (both arrays are needed). */
int dimer_umbrella(dimer_energy_ctx *c, const dimer_umbrella_config *cfg,
                   dimer_umbrella_out *out, char *msg, size_t msg_len);

/* dF(closed - open) of the repeats started from closed frames and of those
 * started from open frames, each with its standard error (NaN with fewer
 * than two repeats of a kind), and their difference: a difference of several
 * standard errors means the windows still remember their start. */
typedef struct dimer_umbrella_hysteresis {
    double closed_starts, closed_starts_se;
    double open_starts, open_starts_se;
    double difference, difference_se;
} dimer_umbrella_hysteresis;
void dimer_umbrella_starts(const dimer_umbrella_out *u, dimer_umbrella_hysteresis *h);
void dimer_umbrella_out_release(dimer_umbrella_out *u);

#endif
