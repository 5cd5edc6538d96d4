/* flow_spline_op.h - the monotone rational-quadratic spline of Neural Spline
 * Flows (Durkan, Bekasov, Murray, Papamakarios 2019) as one tape op, element
 * by element, with a hand-written backward (flow_spline.h builds a coupling
 * layer on it; docs/flows.md gives the maths).
 *
 * Each element x of a [batch, n] input has its own spline, given by
 * P = 3K - 1 unconstrained numbers theta (a conditioner's outputs):
 *   theta[0 .. K-1]      bin widths, through a softmax:
 *                        w_i = 2B (m_w + (1 - K m_w) softmax(theta[0..K-1])_i)
 *   theta[K .. 2K-1]     bin heights, the same with m_h
 *   theta[2K .. 3K-2]    the slopes at the K-1 interior knots:
 *                        d = m_d + (1 - m_d) softplus(theta) / softplus(0)
 * The knots run from (-B, -B) to (B, B); the slopes at the two end knots
 * are 1, so the identity outside [-B, B] (the linear tails) joins smoothly.
 * theta = 0 gives K equal bins and slopes exactly 1: the identity map.
 *
 * theta is [batch, n * P] with element j's numbers at columns
 * j*P .. j*P + P-1 (one conditioner output row as it comes).  The op's
 * output is [batch, n + 1]: columns 0 .. n-1 the mapped values, column n
 * the row's log-determinant (one node for values and log-det, so the
 * backward shares their work):
 *   flow_spline_rq      y = g(x),      column n = sum_j log g'(x_j)
 *   flow_spline_rq_inv  x = g^-1(y),   column n = -sum_j log g'(x_j)
 * Inputs outside [-B, B] pass unchanged and add 0 to the log-det.
 */
#ifndef LIBBG_FLOWS_FLOW_SPLINE_OP_H
#define LIBBG_FLOWS_FLOW_SPLINE_OP_H

#include <stddef.h>

#include "autodiff/ad.h"

/* Largest bin count. */
#define FLOW_SPLINE_MAX_BINS 64

/* The shape of the splines (every field dimensionless except bound, which
 * is in the units of the transformed coordinates).  flow_spline_spec_check
 * names an invalid field. */
typedef struct flow_spline_spec {
    int bins;           /* K, 2 .. 64                                  default 8    */
    double bound;       /* B: the splines live on [-B, B] (finite, > 0) default 5   */
    double min_width;   /* m_w: smallest bin width as a fraction of 2B  default 1e-3 */
                        /* (> 0, bins * min_width < 1)                              */
    double min_height;  /* m_h: the same for heights                    default 1e-3 */
    double min_slope;   /* m_d: smallest interior slope (0 < m_d < 1)   default 1e-3 */
} flow_spline_spec;

/* The defaults above. */
flow_spline_spec flow_spline_spec_default(void);

/* AD_OK, or AD_ERR_ARG with "<prefix><field> = <value> (need ...)" in msg
 * (prefix may be NULL; the builder passes "spline."). */
int flow_spline_spec_check(const flow_spline_spec *s, const char *prefix, char *msg,
                           size_t msg_len);

/* P = 3K - 1, the conditioner outputs per transformed element. */
int flow_spline_n_params(int bins);

/* The spline of one element: the knots xk[0..K], yk[0..K] and the slopes
 * d[0..K] (d[0] = d[K] = 1) for theta[0 .. P-1], as the op computes them.
 * AD_OK, or AD_ERR_ARG for a bad spec, AD_ERR_NUMERIC for a non-finite
 * theta. */
int flow_spline_knots(const flow_spline_spec *s, const ad_real *theta, ad_real *xk,
                      ad_real *yk, ad_real *d);

/* The op (see the top of this file): x [batch, n] and theta [batch, n*P]
 * give [batch, n + 1].  Errors on the tape: a bad spec (the field named), a
 * shape that does not match, a non-finite theta (its row and column). */
ad_tensor *flow_spline_rq(ad_tape *t, ad_tensor *x, ad_tensor *theta, const flow_spline_spec *s);
ad_tensor *flow_spline_rq_inv(ad_tape *t, ad_tensor *y, ad_tensor *theta,
                              const flow_spline_spec *s);

#endif
