/* pot_linlogcut.h - energy regularisation for training ("linlogcut"):
 *   E' = E                              for E < E_high
 *   E' = E_high + log(E - E_high + 1)   for E_high <= E < E_max
 *   E' = E_high + log(E_max - E_high + 1) for E >= E_max   (E capped at E_max)
 *   E' = E_max                          for non-finite E (NaN, +-inf)
 * as in the original paper's code (clamp, log branch, non-finite -> E_max).
 * dE'/dE = 1 below E_high, 1/(E - E_high + 1) in the log branch, 0 where capped
 * or non-finite.  Continuous with a continuous first derivative at E_high.
 * A custom op; elementwise on any shape; the result belongs to the tape.
 */
#ifndef LIBBG_POTENTIALS_POT_LINLOGCUT_H
#define LIBBG_POTENTIALS_POT_LINLOGCUT_H

#include "autodiff/ad.h"

/* Requires finite e_high <= e_max (else a tape error). */
ad_tensor *pot_linlogcut(ad_tape *t, ad_tensor *e, double e_high, double e_max);
/* The same map for one value, off the tape. */
double pot_linlogcut_value(double e, double e_high, double e_max);

#endif
