/* pot_muller_brown.h - the Müller-Brown potential scaled by alpha:
 *   V(x, y) = alpha sum_j A_j exp(a_j (x-x0_j)^2 + b_j (x-x0_j)(y-y0_j) + c_j (y-y0_j)^2).
 *
 * With alpha = 0.1 the minima are A (-0.55822, 1.44173) V = -14.66995,
 * B (-0.05001, 0.46669) V = -8.07678, C (0.62350, 0.02804) V = -10.81667.
 * The parameter struct is the caller's and must outlive the potential.
 */
#ifndef LIBBG_POTENTIALS_POT_MULLER_BROWN_H
#define LIBBG_POTENTIALS_POT_MULLER_BROWN_H

#include "pot_potential.h"

#define POT_MULLER_BROWN_DIM 2
#define POT_MULLER_BROWN_TERMS 4

/* Start from pot_muller_brown_defaults() (the defaults are in parentheses).
 * Reduced units: x, y and V are dimensionless; A_j are energies (scaled by
 * alpha), a_j, b_j, c_j inverse squared lengths, x0_j, y0_j positions. */
typedef struct pot_muller_brown_params {
    double alpha;                         /* overall scale (0.1)         */
    double A[POT_MULLER_BROWN_TERMS];     /* (-200, -100, -170, 15)      */
    double a[POT_MULLER_BROWN_TERMS];     /* (-1, -1, -6.5, 0.7)         */
    double b[POT_MULLER_BROWN_TERMS];     /* (0, 0, 11, 0.6)             */
    double c[POT_MULLER_BROWN_TERMS];     /* (-10, -10, -6.5, 0.7)       */
    double x0[POT_MULLER_BROWN_TERMS];    /* (1, 0, -0.5, -1)            */
    double y0[POT_MULLER_BROWN_TERMS];    /* (0, 0.5, 1.5, 1)            */
} pot_muller_brown_params;

pot_muller_brown_params pot_muller_brown_defaults(void);
/* The potential (dim 2); NULL params: a static copy of the defaults. */
pot_potential pot_muller_brown(const pot_muller_brown_params *params);
ad_tensor *pot_muller_brown_energy(ad_tape *t, ad_tensor *x, const void *params);

#endif
