/* pot_double_well.h - the 2-D double well u = a x1^4 - b x1^2 + c x1 + d x2^2.
 *
 * Bistable (slow) in x1, harmonic in x2.  With the defaults (1, 6, 1, 1) the
 * minima are at x1 = -1.772303 (u = -10.752406) and 1.688776 (u = -7.289309),
 * the saddle at x1 = 0.083528 (u = 0.041715).  The parameter struct is the
 * caller's and must outlive the potential made from it.
 */
#ifndef LIBBG_POTENTIALS_POT_DOUBLE_WELL_H
#define LIBBG_POTENTIALS_POT_DOUBLE_WELL_H

#include "pot_potential.h"

/* Start from pot_double_well_defaults() (the defaults are in parentheses).
 * Reduced units: x1, x2 and u are dimensionless (u in the units of kT's
 * energy), so each coefficient has the units of u over its power of x. */
typedef struct pot_double_well_params {
    double a;   /* quartic coefficient of x1    (1) */
    double b;   /* quadratic coefficient of x1  (6) */
    double c;   /* linear tilt in x1            (1) */
    double d;   /* harmonic coefficient of x2   (1) */
} pot_double_well_params;

#define POT_DOUBLE_WELL_DIM 2

/* The seed's constants (a, b, c, d) = (1, 6, 1, 1). */
pot_double_well_params pot_double_well_defaults(void);
/* The potential (dim 2) for the given parameters (NULL: a static copy of the
 * defaults). */
pot_potential pot_double_well(const pot_double_well_params *params);
/* The energy function itself: x [batch, 2] -> u [batch]. */
ad_tensor *pot_double_well_energy(ad_tape *t, ad_tensor *x, const void *params);

#endif
