/* flow_check.h - checks of a flow layer against the contract of flow.h, for
 * anyone writing a layer (in this repository or outside it, against an
 * installed libbg): the role ad_gradcheck plays for an op.
 *
 *   flow_check_layer   all checks on random inputs, with tolerances derived
 *                      from the rounding and finite-difference errors, and a
 *                      report; AD_OK when every check passes
 *   flow_check_roundtrip, flow_check_jacobian_tape, flow_check_jacobian_fd,
 *   flow_logabsdet     the pieces, for tests that want their own tolerances
 *
 * What flow_check_layer checks (z ~ N(0, z_scale^2), x ~ N(0, x_scale^2)):
 *  1. contract: ops, forward and inverse set; 0 < dim_z <= dim_x; forward
 *     returns [batch, dim_x] and a log-det of shape [batch], inverse
 *     [batch, dim_z] and [batch]; every value finite; each row's output and
 *     log-det depend on that row only (the batch equals the rows one by one);
 *  2. round trips: inverse(forward(z)) == z, and forward(inverse(x)) == x
 *     for a square layer (x_scale > 0);
 *  3. log-dets: logdet_forward(z) + logdet_inverse(forward(z)) == 0;
 *  4. square layers: logdet_forward(z) == log|det J(z)| with J by central
 *     finite differences of forward (independent of the layer's backward).
 *
 * Tolerances.  eps is the unit roundoff of ad_real, k = cfg->rounding_steps
 * an assumed bound on the dependent rounding steps of one pass (each pass
 * then has a relative error <= k eps), A = max(1, max_b ||J_b||_1,
 * max_b ||J_b^-1||_1) the worst amplification of an error by forward or
 * inverse (exp(max |logdet|) for a non-square layer), M = max(1, max |value|)
 * over inputs and outputs:
 *   round trip:        k eps (1 + A) M
 *   log-det sum:       k eps (max |logdet| + (1 + A) M)
 *   log-det vs FD J:   2 d ||J^-1||_1 ||E||_1 + 16 d eps (cond_1(J) + |logdet|)
 * where E_ij = |D_ij(h) - D_ij(2h)| / 3 + k eps max(1, |x_i|) / h_j is the
 * error of the central difference D(h) (the first term the h^2 truncation
 * error by Richardson, the second the rounding of two evaluations divided by
 * 2h), h_j = eps^(1/3) max(1, |z_j|), and log|det(J + E)| - log|det J| =
 * tr(J^-1 E) + O(|J^-1 E|^2) with |tr(J^-1 E)| <= d ||J^-1||_1 ||E||_1; the
 * second term is the backward error of LU with partial pivoting.
 * A layer whose log-det is near 0 for every row (e.g. freshly initialised
 * couplings) cannot show a wrong sign: give it random parameters first
 * (report.max_abs_logdet says how much there was to see).
 */
#ifndef LIBBG_FLOWS_FLOW_CHECK_H
#define LIBBG_FLOWS_FLOW_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "autodiff/ad.h"
#include "flow.h"

typedef struct flow_check_config {
    int batch;           /* random rows per check (> 0)                default 8   */
    double z_scale;      /* std of the latent inputs (finite, > 0)     default 1   */
    double x_scale;      /* std of the x inputs of forward(inverse(x)) default 1   */
                         /* (finite, >= 0; 0 skips that direction, for */
                         /* layers defined on part of R^d only)        */
    int rounding_steps;  /* k above (> 0)                              default 64  */
    uint64_t seed;       /* inputs                                     default 1   */
} flow_check_config;

flow_check_config flow_check_default(void);

typedef struct flow_check_report {
    int passed;                  /* 1 when every check below passed             */
    int n_failed;                /* checks failed                               */
    char first_failure[256];     /* what failed first ("" if none)              */
    int contract_ok;             /* check 1                                     */
    double roundtrip_z_error;    /* max |inverse(forward(z)) - z|               */
    double roundtrip_z_tol;
    double roundtrip_x_error;    /* max |forward(inverse(x)) - x|; NAN: skipped */
    double roundtrip_x_tol;
    double logdet_sum_error;     /* max |ld_forward + ld_inverse|               */
    double logdet_sum_tol;
    double logdet_fd_error;      /* max_b |ld_b - log|det J_fd,b||; NAN: not a  */
    double logdet_fd_tol;        /* square layer; the tol of that row           */
    double logdet_fd_ratio;      /* max_b error_b / tol_b (<= 1 passes)         */
    double max_abs_logdet;       /* max |ld_forward| over rows                  */
    double amplification;        /* A above                                     */
} flow_check_report;

/* Run every check on l.  Returns AD_OK when all pass; AD_ERR_NUMERIC when a
 * check fails (msg and report->first_failure say which, with the numbers);
 * AD_ERR_ARG for a NULL argument or an invalid config field (named);
 * AD_ERR_NOMEM.  report may be NULL; it is filled as far as the checks got. */
int flow_check_layer(const flow_layer *l, const flow_check_config *cfg, flow_check_report *report,
                     char *msg, size_t msg_len);

/* ---- the pieces ---- */

typedef struct flow_roundtrip_stats {
    double max_error;      /* max |out - in| over elements                  */
    double max_logdet_sum; /* max |logdet_a + logdet_b| over rows            */
    double max_abs;        /* max |value| over in, the intermediate and out  */
    double max_abs_logdet; /* max |logdet_a| over rows                       */
} flow_roundtrip_stats;

/* inverse(forward(z)) (inverse_first = 0) or forward(inverse(x)) (1) for
 * in [batch * width] (width dim_z or dim_x), without recording.  AD_OK, or
 * the tape's error with its message, AD_ERR_ARG for bad arguments. */
int flow_check_roundtrip(const flow_layer *l, const ad_real *in, int batch, int inverse_first,
                         flow_roundtrip_stats *r, char *msg, size_t msg_len);

/* For each row b of z [batch * d] of a square layer (dim_z = dim_x = d): the
 * layer's forward log-det ld_layer[b], log|det J_b| of the forward Jacobian
 * built row by row with the tape's backward pass (ld_jac[b]) and the 1-norm
 * condition number of J_b (cond[b], may be NULL). */
int flow_check_jacobian_tape(const flow_layer *l, const ad_real *z, int batch, double *ld_layer,
                             double *ld_jac, double *cond, char *msg, size_t msg_len);

/* The same with J_b by central finite differences (see the tolerance above):
 * ld_fd[b] = log|det J_b|, tol[b] the derived tolerance of |ld_layer[b] -
 * ld_fd[b]| (may be NULL), inv_norm[b] = ||J_b^-1||_1 and norm[b] = ||J_b||_1
 * (may be NULL).  rounding_steps as in flow_check_config. */
int flow_check_jacobian_fd(const flow_layer *l, const ad_real *z, int batch, int rounding_steps,
                           double *ld_layer, double *ld_fd, double *tol, double *norm,
                           double *inv_norm, char *msg, size_t msg_len);

/* log|det a| of a [n*n] (overwritten) by LU with partial pivoting, and the
 * 1-norm condition number ||a||_1 ||a^-1||_1 into *cond (may be NULL;
 * +inf for a singular a, whose log|det| is -inf).  0 for n <= 0; NAN for
 * a NULL a or when out of memory. */
double flow_logabsdet(double *a, int n, double *cond);

#endif
