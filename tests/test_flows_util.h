/* test_flows_util.h - checks shared by the flow test suites: round trips,
 * log-det against the tape Jacobian, random parameters. */
#ifndef LIBBG_TESTS_TEST_FLOWS_UTIL_H
#define LIBBG_TESTS_TEST_FLOWS_UTIL_H

#include "autodiff/ad.h"
#include "flows/flow.h"
#include "flows/flow_check.h"
#include "flows/flow_model.h"
#include "nn/nn_params.h"

/* The round trip, log-det and LU pieces are the library's layer checks
 * (flows/flow_check.h); these wrappers fail the test on an error. */
typedef flow_roundtrip_stats fc_roundtrip;

/* inverse(forward(z)) (inverse_first = 0) or forward(inverse(x)) (1) for
 * in [batch * width]. */
void fc_roundtrip_run(const flow_layer *l, const ad_real *in, int batch, int inverse_first,
                      fc_roundtrip *r);

/* For each row b of z [batch * dim] (square layers only): the layer's
 * forward log-det ld_layer[b], log|det J_b| of the forward Jacobian built
 * row by row with the tape (ld_jac[b]) and the 1-norm condition number of
 * J_b (cond[b]). */
void fc_jacobian_logdet(const flow_layer *l, const ad_real *z, int batch, double *ld_layer,
                        double *ld_jac, double *cond);

/* log|det a| and the 1-norm condition number of a [n*n] (overwritten). */
#define fc_logabsdet flow_logabsdet

/* Overwrite every trainable parameter with N(0, std^2) draws. */
void fc_randomize(nn_params *p, uint64_t seed, double std);

/* Overwrite every trainable 2-D weight [fan_in, fan_out] with
 * N(0, gain^2 / fan_in) draws and every other trainable tensor with
 * N(0, (0.1 gain)^2): networks whose outputs are O(gain) for O(1) inputs,
 * whatever their width. */
void fc_randomize_fanin(nn_params *p, uint64_t seed, double gain);

/* A 2-D Gaussian target u(x) = 1/2 (x - mu)^T C^-1 (x - mu), Z = 2 pi
 * sqrt(det C): the energy of a pot_potential whose params is an fc_gauss. */
typedef struct fc_gauss {
    double mu[2];
    double c[4]; /* covariance, row-major */
} fc_gauss;
ad_tensor *fc_gauss_energy(ad_tape *t, ad_tensor *x, const void *params);

/* n rows of width dim of N(0, 1) draws (caller frees with free()). */
ad_real *fc_normal(int n, int dim, uint64_t seed);

/* An objective of a flow model for ad_gradcheck (ctx an fc_flow_objective,
 * in[1] the model's input): sum_b (|x_b|^2 + log det_b) of the forward map
 * (inverse = 0, KL-like), or the standard-normal log p(x) of the inverse map
 * (inverse = 1, ML-like), so that every parameter and the input reach the
 * output through both the values and the log-determinants. */
typedef struct fc_flow_objective {
    const flow_model *m;
    int inverse;
} fc_flow_objective;
ad_tensor *fc_flow_objective_fn(ad_tape *t, ad_tensor *const *in, int n, void *ctx);
/* Gradient checks of that objective, forward and inverse, with respect to
 * every parameter of m and every element of its input z. */
void fc_assert_flow_gradcheck(const flow_model *m, ad_tensor *z);

/* Four training steps of the 2-D flow m (forward, ML-like loss, backward,
 * Adam) on a batch of 64; asserts that none after the first allocates. */
void fc_assert_step_no_malloc(flow_model *m);

#endif
