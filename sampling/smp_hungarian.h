/* smp_hungarian.h - optimal assignment (Hungarian algorithm, O(n^3)) and the
 * relabelling of identical particles to a reference configuration.
 *
 * Off the tape: functions return AD_OK or an error code (with a message where
 * a buffer is taken).  Inputs are the caller's; nothing is kept.
 */
#ifndef LIBBG_SAMPLING_SMP_HUNGARIAN_H
#define LIBBG_SAMPLING_SMP_HUNGARIAN_H

#include <stddef.h>

#include "autodiff/ad.h"

/* Minimise sum_i cost[i*n + assign[i]] over permutations assign of 0..n-1.
 * cost is n x n, row-major, finite.  total (may be NULL) gets the minimum. */
int smp_assignment_solve(const double *cost, int n, int *assign, double *total);

/* Relabel the solvent of n_frames 2-D particle configurations in place:
 * x[f*2*n_particles + 2i + {0,1}] is particle i of frame f.  Particles
 * first_solvent .. n_particles-1 are identical; for each frame they are
 * permuted so that the sum of squared distances of each solvent particle to
 * its reference site (same particle index in reference[2*n_particles]) is
 * minimal.  Particles before first_solvent (the dimer) are never touched. */
int smp_relabel_solvent(ad_real *x, int n_frames, int n_particles, int first_solvent,
                        const ad_real *reference, char *msg, size_t msg_len);

#endif
