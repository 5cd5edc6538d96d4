/* pot_potential.h - the potential interface: an energy written once with tape
 * ops gives energies, forces and training gradients.
 *
 * A potential is a small constant struct: a name, the dimension of one
 * configuration, and an energy function that maps x [batch, dim] to the
 * energies u [batch] (in energy units; divide by kT for reduced energies)
 * using ad_ ops on the given tape, so every derivative comes from the tape.
 * `params` points at the potential's parameter struct (owned by the caller,
 * must outlive the potential).
 */
#ifndef LIBBG_POTENTIALS_POT_POTENTIAL_H
#define LIBBG_POTENTIALS_POT_POTENTIAL_H

#include <stddef.h>

#include "autodiff/ad.h"

typedef ad_tensor *(*pot_energy_fn)(ad_tape *t, ad_tensor *x, const void *params);

typedef struct pot_potential {
    const char *name;       /* e.g. "double-well"                          */
    int dim;                /* coordinates per configuration               */
    pot_energy_fn energy;   /* x [batch, dim] -> u [batch], on the tape    */
    const void *params;     /* the potential's parameter struct            */
} pot_potential;

/* Energy on the tape with the shape checked: x must be [batch, dim]; the
 * result is [batch].  Errors go to the tape's sticky error. */
ad_tensor *pot_energy(ad_tape *t, const pot_potential *p, ad_tensor *x);

/* Reduced energy u / kT on the tape (kT > 0; kT = 1 returns pot_energy). */
ad_tensor *pot_reduced_energy(ad_tape *t, const pot_potential *p, ad_tensor *x, double kT);

/* Energies of n configurations x[n*dim] without recording (u[n] out).
 * `scratch` is a tape used as workspace (reset on entry).  Returns AD_OK or
 * an error code with the message in msg (AD_ERR_NUMERIC names the first
 * non-finite coordinate; a wrong dimension is AD_ERR_SHAPE). */
int pot_energy_eval(const pot_potential *p, ad_tape *scratch, const ad_real *x, int n,
                    ad_real *u, char *msg, size_t msg_len);

/* Energies and forces -dU/dx of n configurations (forces[n*dim] out). */
int pot_forces(const pot_potential *p, ad_tape *scratch, const ad_real *x, int n,
               ad_real *u, ad_real *forces, char *msg, size_t msg_len);

#endif
