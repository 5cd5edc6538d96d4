/* pot_lj_pairs.h - the repulsive Lennard-Jones pair energy
 *   E_b = eps sum_{(i,j) in pairs} (sigma / r_ij)^12,   r_ij = |r_i - r_j|,
 * over a list of particle pairs, batched over configurations x [batch, dim]
 * with particle i at columns space_dim*i ... space_dim*i + space_dim-1.
 *
 * pot_lj_pairs is a fused custom op (one tape node, O(batch * pairs), forward
 * and backward side by side); pot_lj_pairs_composed builds the same energy from
 * ad_ ops and exists to cross-check the fused op.  Both return [batch] tensors
 * owned by the tape.  The pair list is the caller's; the ops copy it.
 *
 * Numerics: (sigma/r)^12 overflows as r -> 0 (and is inf at r = 0), so r^2 is
 * floored at POT_LJ_R2_FLOOR * sigma^2; below it the energy is the constant
 * eps * 1e36 and its derivative 0 (the same clamp in both versions).
 */
#ifndef LIBBG_POTENTIALS_POT_LJ_PAIRS_H
#define LIBBG_POTENTIALS_POT_LJ_PAIRS_H

#include "autodiff/ad.h"

/* r^2 floor as a fraction of sigma^2: (sigma/r)^12 <= 1e36 stays finite even
 * in single precision (FLT_MAX ~ 3.4e38). */
#define POT_LJ_R2_FLOOR 1e-6

typedef struct pot_pairs {
    int space_dim;       /* coordinates per particle (2 for the dimer system)   */
    int n_pairs;         /* number of pairs                                     */
    const int *pairs;    /* 2 particle indices per pair: i0, j0, i1, j1, ...    */
} pot_pairs;

/* Fill out (2 ints per pair, may be NULL to count only) with every unordered
 * pair i < j of n_particles except the n_exclude pairs in exclude (2 ints each,
 * either order).  Returns the number of pairs. */
int pot_pairs_all(int n_particles, const int *exclude, int n_exclude, int *out);

ad_tensor *pot_lj_pairs(ad_tape *t, ad_tensor *x, const pot_pairs *pairs, double eps,
                        double sigma);
ad_tensor *pot_lj_pairs_composed(ad_tape *t, ad_tensor *x, const pot_pairs *pairs, double eps,
                                 double sigma);

#endif
