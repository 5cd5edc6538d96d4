/* pot_dimer.h - a bistable dimer in a repulsive Lennard-Jones bath, in 2-D.
 *
 * Particles 0 and 1 are the dimer, particles 2 .. n_solvent+1 the solvent;
 * particle i sits at columns 2i, 2i+1 (dim = 2 (2 + n_solvent), 76 for the
 * default 36 solvent particles).  With d = |r_0 - r_1|:
 *   U = U_bond(d) + U_LJ + U_box + U_center
 *   U_LJ     = eps sum over unordered pairs except (0,1) of (sigma/r)^12, each once
 *   U_box    = k_box sum_i sum_{c in x,y} (|c| - l_box)^2   where |c| > l_box
 *   U_center = k_d (x_0 + x_1)^2 + k_d y_0^2 + k_d y_1^2
 * and one of two bond forms:
 *   POT_DIMER_BOND_SEED  (the seed report / SI):  y = d - d0,
 *       U_bond = a/4 y^4 - b/2 y^2 + c y,  a = 25, b = 10, c = -0.5, k_box = 100
 *   POT_DIMER_BOND_PAPER (the original paper's code, "tilted"): y = 2 (d - d0),
 *       U_bond = s y - a y^2 + b y^4,  a = 25, b = 10, s = 2, k_box = 200
 * (the paper's code writes its wall as 2 k_box delta^2 with k_box = 100).
 * The LJ sum goes through the fused op of pot_lj_pairs.h.  The parameter
 * struct is the caller's and must outlive the potential made from it.
 */
#ifndef LIBBG_POTENTIALS_POT_DIMER_H
#define LIBBG_POTENTIALS_POT_DIMER_H

#include "pot_potential.h"

/* Dimer distance separating "closed" (d < 1.5) from "open" configurations. */
#define POT_DIMER_D_SPLIT 1.5

typedef enum pot_dimer_bond_form {
    POT_DIMER_BOND_SEED = 0,   /* a/4 y^4 - b/2 y^2 + c y,  y = d - d0      */
    POT_DIMER_BOND_PAPER = 1   /* s y - a y^2 + b y^4,      y = 2 (d - d0)  */
} pot_dimer_bond_form;

/* Start from pot_dimer_params_seed() or pot_dimer_params_paper() (the seed
 * values are in parentheses).  Reduced units: lengths (d0, sigma, l_box) and
 * energies (eps, and U itself) are dimensionless; a, b, c, slope are energies
 * per power of y, k_box and k_d energies per squared length. */
typedef struct pot_dimer_params {
    int n_solvent;              /* solvent particles (36)                      */
    pot_dimer_bond_form bond;   /* which bond form                            */
    double a;                   /* bond coefficient a (25)                     */
    double b;                   /* bond coefficient b (10)                     */
    double c;                   /* seed form: linear coefficient (-0.5)        */
    double slope;               /* paper form: tilt s (2.0)                    */
    double d0;                  /* bond centre (1.5)                           */
    double eps;                 /* LJ strength (1)                             */
    double sigma;               /* LJ diameter (1.1)                           */
    double l_box;               /* wall position (3)                           */
    double k_box;               /* wall stiffness (seed 100, paper 200)        */
    double k_d;                 /* centring restraint (20)                     */
    int composed_pairs;         /* 1: LJ from ad_ ops (slow; for cross-checks) */
} pot_dimer_params;

pot_dimer_params pot_dimer_params_seed(void);
pot_dimer_params pot_dimer_params_paper(void);
/* Coordinates per configuration: 2 (2 + n_solvent). */
int pot_dimer_dim(const pot_dimer_params *p);
/* The potential for the given parameters (must not be NULL). */
pot_potential pot_dimer(const pot_dimer_params *params);
ad_tensor *pot_dimer_energy(ad_tape *t, ad_tensor *x, const void *params);

/* The bond energy alone, d [n] (any shape) -> U_bond(d), on the tape. */
ad_tensor *pot_dimer_bond_energy(ad_tape *t, ad_tensor *d, const pot_dimer_params *p);
/* Reaction coordinate on the tape: d = |r_0 - r_1| of x [batch, >= 4] -> [batch].
 * (Its derivative is undefined at d = 0.) */
ad_tensor *pot_dimer_distance(ad_tape *t, ad_tensor *x);
/* The same off the tape for one configuration, and the closed/open rule. */
double pot_dimer_distance_of(const ad_real *x);
int pot_dimer_is_closed(const ad_real *x); /* 1 when d < POT_DIMER_D_SPLIT */

#endif
