/* smp_quadrature.h - exact references for 2-D systems by grid quadrature:
 * ln Z, basin populations and free-energy differences, and the free-energy
 * profile along a coordinate, at any temperature kT.
 *
 * The energy is an smp_energy_fn (dim 2), called one grid row at a time, so
 * nothing here depends on a particular potential.  The Boltzmann weights are
 * accumulated in log space (a running log-sum-exp), so no weight underflows.
 *
 * Integration rule and error: every node stands for its cell, the rectangle
 * of one spacing by one spacing centred on it, and e^{-u/kT} at the node
 * times the cell area is summed (the midpoint rule; edge corrections vanish
 * when the weight is negligible at the grid edge).  For basins, a node's
 * weight is shared among the basins in proportion to the area of its cell
 * that each covers (computed exactly: basins by the nearest-minimum rule are
 * intersections of half-planes).  A node on a basin boundary along a grid
 * line thus gives half its weight to each side, and the error is O(h^2)
 * wherever the boundaries fall (counting each node wholly in the basin of
 * its own position would err by O(h), by an amount that depends on whether
 * a boundary runs through nodes or between them).  The smooth part
 * converges faster than any power of h, so the basin boundaries give the
 * leading error, C h^2.
 *
 * Error estimate: every basin quantity is also computed on the four
 * sub-grids of every other node (spacing 2h, cells 2h by 2h) from the same
 * energies; error[] is max over them of |Q(h) - Q(2h)| / 3, Richardson's
 * estimate of |Q(h) - Q| for a second-order rule.  Because the boundaries
 * fall differently within the cells of each sub-grid, C differs between the
 * grids; the maximum over the four is then between once and about twice the
 * true leading error for a boundary along a grid line (tested), and of the
 * order of it otherwise.  boundary_weight is the largest weight on the grid
 * edge relative to the largest weight anywhere: the truncation error of a
 * population is at most about that times the edge length over h, times the
 * population scale; keep it below ~1e-10.
 */
#ifndef LIBBG_SAMPLING_SMP_QUADRATURE_H
#define LIBBG_SAMPLING_SMP_QUADRATURE_H

#include <stddef.h>

#include "autodiff/ad.h"
#include "sampling/smp_basins.h"
#include "sampling/smp_mc.h"

#define SMP_QUAD_MAX_BASINS 16

/* A grid of nodes; every field is required (no defaults): fill it with
 * designated initializers or smp_grid2d_spacing.  Ranges are in the
 * potential's coordinate units, finite, min < max. */
typedef struct smp_grid2d {
    double x_min, x_max;   /* first coordinate range (nodes at both ends)  */
    double y_min, y_max;   /* second coordinate range                      */
    int nx, ny;            /* nodes per axis (>= 3); spacing (max-min)/(n-1) */
} smp_grid2d;

/* The grid on [x_min, x_max] x [y_min, y_max] with the fewest nodes whose
 * spacing is at most h along both axes (h in coordinate units, > 0): e.g.
 * (-3.5, 3.5, -4.5, 4.5, 0.01) gives 701 x 901 nodes.  A bad range or h
 * gives nx = ny = 0, which the quadrature functions reject. */
smp_grid2d smp_grid2d_spacing(double x_min, double x_max, double y_min, double y_max, double h);

typedef struct smp_quad_basins {
    int n_basins;                              /* = n_minima                    */
    double log_z;                              /* ln of the integral of e^{-u/kT} */
    double log_z_error;                        /* max |ln Z(h) - ln Z(2h)| / 3  */
    double population[SMP_QUAD_MAX_BASINS];    /* P_k, summing to 1             */
    double delta_f[SMP_QUAD_MAX_BASINS];       /* F_k - F_0 = -ln(P_k / P_0), kT */
    double error[SMP_QUAD_MAX_BASINS];         /* max |dF(h) - dF(2h)| / 3      */
    double boundary_weight;                    /* edge weight / peak weight     */
} smp_quad_basins;

/* Basins by the nearest-minimum rule (smp_basins.h) for minima[2*n_minima]
 * (1 <= n_minima <= SMP_QUAD_MAX_BASINS).  Returns AD_OK or an error code
 * with a message (bad grid, kT <= 0, an energy error, a NaN energy). */
int smp_quad_basins_compute(smp_energy_fn energy, void *ctx, const smp_grid2d *grid, double kT,
                            const ad_real *minima, int n_minima, smp_quad_basins *out,
                            char *msg, size_t msg_len);

/* smp_quad_basins_compute for a pot_potential of dim 2, with a scratch tape
 * of its own (smp_potential_energy): the reference that a Boltzmann
 * generator's free energies are compared with. */
int smp_quad_basins_potential(const pot_potential *u, const smp_grid2d *grid, double kT,
                              const ad_real *minima, int n_minima, smp_quad_basins *out,
                              char *msg, size_t msg_len);

/* A coordinate s(x) of one 2-D point (NULL coordinate: s = x[0]). */
typedef double (*smp_coord_fn)(void *ctx, const ad_real *x);

/* Free-energy profile along s in kT: f[k] = -ln(p_k), p_k the probability
 * density of s in bin k of n_bins equal bins on [s_min, s_max) (the
 * probability of the bin over its width); +INFINITY for a bin with no weight.
 * Nodes whose s lies outside the range still count in Z.  A node whose s lies
 * on a bin edge (to 1e-9 of a bin width) gives half its weight to each of the
 * two bins.  For a coordinate along an axis, put the bin edges on grid lines
 * (width a multiple of the spacing: each bin is then a trapezoidal rule) or
 * half-way between them (a midpoint rule); both are O(h^2). */
int smp_quad_profile(smp_energy_fn energy, void *ctx, const smp_grid2d *grid, double kT,
                     smp_coord_fn coord, void *coord_ctx, double s_min, double s_max, int n_bins,
                     double *f, char *msg, size_t msg_len);

#endif
