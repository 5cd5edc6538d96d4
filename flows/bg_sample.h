/* bg_sample.h - drawing samples from a trained Boltzmann generator, with
 * their energies and log importance weights, and latent interpolation.
 *
 * Nothing is recorded on a tape (grad disabled), so sampling costs only the
 * forward pass.  Log weights are log(exp(-u/kT) / p_X(x)) up to a constant,
 * computed in log space (sampling/smp_reweight.h); a sample whose x, energy
 * or log-determinant is not finite gets a NaN log weight, is counted in
 * n_nonfinite and is excluded by every smp_ estimator.
 *
 * Under MPI (autodiff/ad_dist.h) bg_sample and bg_ais_sample are collective
 * calls: every rank draws every latent vector, each maps (and, in the
 * annealing, evaluates at every step) its share of the rows, and every rank
 * receives all of them; a row's values do not depend on the other rows of
 * its batch, so the samples are those of one process for any number of
 * ranks.
 */
#ifndef LIBBG_FLOWS_BG_SAMPLE_H
#define LIBBG_FLOWS_BG_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "flow_model.h"
#include "flow_prior.h"
#include "potentials/pot_potential.h"

typedef struct bg_samples {
    int n;             /* samples                                   */
    int dim_x, dim_z;
    ad_real *x;        /* [n * dim_x] generated configurations       */
    ad_real *z;        /* [n * dim_z] their latent draws             */
    ad_real *log_det;  /* [n] log R_zx(z) = log|det dx/dz|           */
    ad_real *energy;   /* [n] u(x) (energy units)                    */
    ad_real *log_w;    /* [n] log weights (NaN where non-finite)     */
    int n_nonfinite;   /* samples with a NaN log weight              */
    double kT;         /* the temperature of the latent draws and    */
                       /* the weights (energy units; set by          */
                       /* bg_sample, bg_ais_sample and the generator;*/
                       /* 0 in bg_samples_new)                       */
    int extrapolation; /* 1 when kT lies outside the temperatures    */
                       /* the generator was trained at (set by       */
                       /* bg_generator_sample / _sample_at; the      */
                       /* weights then correct a model that never    */
                       /* saw this temperature: check the ESS); 0    */
                       /* otherwise and from the low-level samplers  */
} bg_samples;

/* Draw n samples z ~ prior, x = F_zx(z), in batches of `batch`, with the
 * energies of `u` and the weights for the target exp(-u/kT) (the prior's kT
 * must equal kT).  *out is the caller's (bg_samples_free). */
int bg_sample(const flow_model *m, const flow_prior *prior, const pot_potential *u, double kT,
              int n, int batch, uint64_t seed, bg_samples **out, char *msg, size_t msg_len);
/* The checks bg_sample makes of its arguments, for samplers built on it:
 * AD_OK, or AD_ERR_ARG / AD_ERR_SHAPE with msg starting with `who`. */
int bg_sample_check_args(const char *who, const flow_model *m, const flow_prior *prior,
                         const pot_potential *u, double kT, int n, int batch, char *msg,
                         size_t msg_len);
void bg_samples_free(bg_samples *s); /* accepts NULL */
/* Space for n samples, contents unset (NULL if out of memory). */
bg_samples *bg_samples_new(int n, int dim_x, int dim_z);

/* One batch: z [b * dim_z] -> x_out [b * dim_x], log_det_out [b] (may be
 * NULL) and, when u and u_out are given, the energies u_out [b] (all NaN when
 * the potential rejects the batch, e.g. for a non-finite coordinate).  The
 * tape t is reset and recording is switched off.  AD_OK or the tape's error
 * status (ad_tape_error(t) says why). */
int bg_map_batch(const flow_model *m, const pot_potential *u, ad_tape *t, const ad_real *z, int b,
                 ad_real *x_out, ad_real *log_det_out, ad_real *u_out);

/* Latent interpolation: z_a = F_xz(x_a), z_b = F_xz(x_b), z(l) = z_a + l (z_b
 * - z_a) for l = 0, 1/(n-1), ..., 1, mapped back with F_zx.  Writes the path
 * path_x[n_points * dim_x] and its energies path_u[n_points] (may be NULL). */
int bg_interpolate(const flow_model *m, const pot_potential *u, const ad_real *x_a,
                   const ad_real *x_b, int n_points, ad_real *path_x, ad_real *path_u,
                   char *msg, size_t msg_len);

#endif
