/* test_flows_ais.c - annealed importance sampling in the latent space
 * (flows/bg_ais.h): unbiased weights and state totals, the HMC kernel, the
 * gain over plain reweighting, determinism and argument errors. */
#include <check.h>
#include <math.h>
#include <string.h>

#include "autodiff/ad.h"
#include "autodiff/fast/ad_pool.h"
#include "ck_util.h"
#include "flows/bg_ais.h"
#include "flows/bg_sample.h"
#include "flows/flow_realnvp.h"
#include "sampling/smp_reweight.h"
#include "test_flows_util.h"

/* The target: a correlated 2-D Gaussian u(x) = 1/2 (x - mu)^T P (x - mu)
 * with covariance C = P^-1, so Z = 2 pi sqrt(det C).  The log weights of
 * bg_sample drop (d/2) log(2 pi kT) of the prior, so for any flow and any
 * valid annealing E[exp(log_w)] = Z / (2 pi) = sqrt(det C). */
static const fc_gauss TARGET = {{0.5, -0.5}, {1.0, 0.6, 0.6, 0.5}};
#define MU TARGET.mu
#define C TARGET.c

static const pot_potential GAUSS = {"gaussian", 2, fc_gauss_energy, &TARGET};

/* A RealNVP with random weights: far enough from the target that plain
 * weights spread (ESS/n ~0.2), close enough to cover it (its mean is near
 * (-0.1, -0.1), 75 % of its mass at x1 < 0.5). */
static flow_model *random_flow(uint64_t seed)
{
    int widths[2] = {16, 16};
    flow_realnvp_config c = flow_realnvp_preset_config(FLOW_REALNVP_DOUBLE_WELL);
    c.n_blocks = 2;
    c.hidden_widths = widths;
    c.seed = seed;
    char msg[256];
    flow_model *m = flow_realnvp_new(&c, msg, sizeof msg);
    ck_assert_msg(m != NULL, "%s", msg);
    fc_randomize_fanin(m->params, seed + 1, 0.5);
    return m;
}

/* The two halves of the plane at the target's mean x1 = 0.5: each holds
 * half of Z. */
static int half_plane(const ad_real *x, void *ctx)
{
    (void)ctx;
    return x[0] < MU[0];
}

/* mean and standard error of exp(log_w) over the rows where sel (when
 * given) matches want; excluded (NaN) rows count as weight 0. */
static void weight_mean(const bg_samples *s, const int *sel, int want, double *mean, double *se)
{
    double s1 = 0, s2 = 0;
    for (int i = 0; i < s->n; i++) {
        double w = isfinite(s->log_w[i]) && (!sel || sel[i] == want) ? exp(s->log_w[i]) : 0;
        s1 += w;
        s2 += w * w;
    }
    *mean = s1 / s->n;
    *se = sqrt((s2 / s->n - *mean * *mean) / (s->n - 1));
}

static bg_ais_config config(int temps, int leapfrog)
{
    bg_ais_config c = bg_ais_config_default();
    c.n_temps = temps;
    c.leapfrog = leapfrog;
    c.target_acceptance = leapfrog ? 0.65 : 0.3;
    c.n_pilot = 200;
    return c;
}

/* Unbiased weights at temperature kT: the mean annealed weight equals
 * sqrt(det C) within 4 standard errors of the mean, for the random-walk and
 * the HMC kernel, and with states the weights of each half-plane sum to half
 * of it; the same from a wider start (start_scale), whose weights carry the
 * ratio of the two starting densities. */
static void check_unbiased_at(int leapfrog, int with_states, double start_scale, double kT)
{
    flow_model *m = random_flow(5);
    flow_prior prior = {.dim = 2, .kT = kT};
    bg_ais_config c = config(20, leapfrog);
    c.start_scale = start_scale;
    if (with_states) c.state = half_plane;
    bg_samples *s = NULL;
    bg_ais_stats st;
    char msg[256];
    enum { N = 20000 };
    ck_assert_msg(
        bg_ais_sample(m, &prior, &GAUSS, kT, N, 2500, &c, 11, &s, &st, msg, sizeof msg) == AD_OK,
        "%s", msg);
    ck_assert_int_eq(s->n, N);
    ck_assert_int_eq(s->n_nonfinite, 0);
    ck_assert(st.acceptance > 0.1 && st.acceptance < 0.95);
    ck_assert_int_eq(st.evaluations, (long)(N + 200) * (1 + 20 * (leapfrog ? leapfrog : 1)));
    double z = sqrt(C[0] * C[3] - C[1] * C[2]), mean, se;
    weight_mean(s, NULL, 0, &mean, &se);
    /* and a meaningful one: the weights are tame enough for an error below
     * 2 % (0.5-1 % seen over six seeds) */
    ck_assert_msg(fabs(mean - z) <= 4 * se && se < 0.02 * z, "mean weight %.5f +- %.5f, exact %.5f",
                  mean, se, z);
    /* and the annealed samples are of the Boltzmann density at kT: the
     * self-normalised mean of (x1 - mu1)^2 is kT C11, within 4 standard
     * errors of a ratio estimator (sum w^2 (f - r)^2 / (sum w)^2) */
    double *w = ad_malloc(N * sizeof *w), *f = ad_malloc(N * sizeof *f), sw = 0, swf = 0;
    for (int i = 0; i < N; i++) {
        w[i] = isfinite(s->log_w[i]) ? exp(s->log_w[i]) : 0;
        f[i] = (s->x[2 * i] - MU[0]) * (s->x[2 * i] - MU[0]);
        sw += w[i];
        swf += w[i] * f[i];
    }
    double r = swf / sw, v = 0;
    for (int i = 0; i < N; i++)
        v += w[i] * w[i] * (f[i] - r) * (f[i] - r);
    double r_se = sqrt(v) / sw;
    ad_free(w);
    ad_free(f);
    ck_assert_msg(fabs(r - kT * C[0]) <= 4 * r_se, "<(x1 - mu1)^2> %.5f +- %.5f, exact %.5f", r,
                  r_se, kT * C[0]);
    if (with_states) {
        int *sel = ad_malloc(N * sizeof *sel);
        for (int i = 0; i < N; i++)
            sel[i] = half_plane(s->x + 2 * i, NULL);
        for (int h = 0; h < 2; h++) {
            weight_mean(s, sel, h, &mean, &se);
            ck_assert_msg(fabs(mean - z / 2) <= 4 * se, "half %d: %.5f +- %.5f, exact %.5f", h,
                          mean, se, z / 2);
        }
        ad_free(sel);
    }
    /* energies and x belong together */
    ad_tape *t = ad_tape_new(0);
    ad_real u[8];
    ck_assert(pot_energy_eval(&GAUSS, t, s->x, 8, u, msg, sizeof msg) == AD_OK);
    for (int i = 0; i < 8; i++)
        ck_assert_close(s->energy[i], u[i], 1e-12, 1e-12, "u", i);
    ad_tape_free(t);
    bg_samples_free(s);
    flow_model_free(m);
}

static void check_unbiased_from(int leapfrog, int with_states, double start_scale)
{
    check_unbiased_at(leapfrog, with_states, start_scale, 1.0);
}

static void check_unbiased(int leapfrog, int with_states)
{
    check_unbiased_from(leapfrog, with_states, 1.0);
}

START_TEST(test_ais_unbiased_rwm)
{
    check_unbiased(0, 0);
}
END_TEST

START_TEST(test_ais_unbiased_hmc)
{
    check_unbiased(3, 0);
}
END_TEST

START_TEST(test_ais_unbiased_states)
{
    check_unbiased(2, 1);
}
END_TEST

START_TEST(test_ais_unbiased_wide_start)
{
    check_unbiased_from(3, 1, 2.25); /* HMC, states, variance 2.25 kT */
    check_unbiased_from(0, 0, 1.7);  /* random walk */
}
END_TEST

/* The same at temperatures other than 1: the prior N(0, kT I), the target
 * exp(-u / kT), whose normaliser over 2 pi kT is sqrt(det C) at any kT. */
START_TEST(test_ais_unbiased_temperatures)
{
    check_unbiased_at(3, 1, 1.0, 0.5);
    check_unbiased_at(3, 0, 1.0, 2.0);
    check_unbiased_at(0, 0, 1.0, 0.5);
}
END_TEST

/* start_scale 0 and 1 are the prior itself: the numbers of the default. */
START_TEST(test_ais_start_scale_one)
{
    flow_model *m = random_flow(5);
    flow_prior prior = {.dim = 2, .kT = 1.0};
    bg_samples *s[3] = {NULL, NULL, NULL};
    char msg[256];
    for (int k = 0; k < 3; k++) {
        bg_ais_config c = config(6, 2);
        if (k) c.start_scale = k == 1 ? 0.0 : 1.0;
        ck_assert_msg(bg_ais_sample(m, &prior, &GAUSS, 1.0, 300, 100, &c, 4, &s[k], NULL, msg,
                                    sizeof msg) == AD_OK,
                      "%s", msg);
    }
    for (int k = 1; k < 3; k++) {
        ck_assert(memcmp(s[0]->log_w, s[k]->log_w, 300 * sizeof(ad_real)) == 0);
        ck_assert(memcmp(s[0]->z, s[k]->z, 600 * sizeof(ad_real)) == 0);
    }
    for (int k = 0; k < 3; k++) bg_samples_free(s[k]);
    flow_model_free(m);
}
END_TEST

/* Annealing pays: with the same flow and chains, the Kish ESS of the
 * annealed weights (K = 30, HMC) is several times that of plain weights
 * (0.68 against 0.19 on 20000 samples).  The Kish estimates of 4000
 * samples have relative errors of a few per cent, so a factor 1.5 is far
 * outside their noise. */
START_TEST(test_ais_raises_ess)
{
    flow_model *m = random_flow(5);
    flow_prior prior = {.dim = 2, .kT = 1.0};
    bg_ais_config c = config(30, 2);
    bg_samples *plain = NULL, *annealed = NULL;
    char msg[256];
    ck_assert(bg_sample(m, &prior, &GAUSS, 1.0, 4000, 1000, 3, &plain, msg, sizeof msg) == AD_OK);
    ck_assert(bg_ais_sample(m, &prior, &GAUSS, 1.0, 4000, 1000, &c, 3, &annealed, NULL, msg,
                            sizeof msg) == AD_OK);
    smp_weight_stats a, b;
    ck_assert(smp_weights_stats(plain->log_w, plain->n, &a, msg, sizeof msg) == AD_OK);
    ck_assert(smp_weights_stats(annealed->log_w, annealed->n, &b, msg, sizeof msg) == AD_OK);
    ck_assert_msg(a.ess_fraction < 0.5 && b.ess_fraction > 1.5 * a.ess_fraction,
                  "ESS/n plain %.3f, annealed %.3f", a.ess_fraction, b.ess_fraction);
    bg_samples_free(plain);
    bg_samples_free(annealed);
    flow_model_free(m);
}
END_TEST

/* With states every chain ends in the half-plane it started in, so the
 * fraction of annealed samples at x1 < 0.5 is the flow's own (0.75, from
 * plain samples; both binomial, 4 combined standard errors); without states
 * the chains drift towards the target's 0.5. */
static double fraction_left(const bg_samples *s)
{
    int k = 0;
    for (int i = 0; i < s->n; i++)
        k += half_plane(s->x + 2 * i, NULL);
    return (double)k / s->n;
}

START_TEST(test_ais_states_keep_chains)
{
    flow_model *m = random_flow(5);
    flow_prior prior = {.dim = 2, .kT = 1.0};
    bg_samples *plain = NULL, *kept = NULL, *free_ = NULL;
    char msg[256];
    enum { N = 10000 };
    ck_assert(bg_sample(m, &prior, &GAUSS, 1.0, N, 2500, 3, &plain, msg, sizeof msg) == AD_OK);
    bg_ais_config c = config(20, 2);
    ck_assert(bg_ais_sample(m, &prior, &GAUSS, 1.0, N, 2500, &c, 4, &free_, NULL, msg,
                            sizeof msg) == AD_OK);
    c.state = half_plane;
    ck_assert(bg_ais_sample(m, &prior, &GAUSS, 1.0, N, 2500, &c, 4, &kept, NULL, msg, sizeof msg) ==
              AD_OK);
    double q = fraction_left(plain), se = sqrt(2 * q * (1 - q) / N);
    ck_assert_msg(fabs(fraction_left(kept) - q) <= 4 * se, "kept %.4f, flow %.4f",
                  fraction_left(kept), q);
    ck_assert_msg(fabs(fraction_left(free_) - q) > 10 * se, "free %.4f, flow %.4f",
                  fraction_left(free_), q);
    bg_samples_free(plain);
    bg_samples_free(kept);
    bg_samples_free(free_);
    flow_model_free(m);
}
END_TEST

/* The HMC kernel's gradient: with a fixed small leapfrog step (no pilot)
 * the energy error of a trajectory is O(h^2), so almost every move is
 * taken; a wrong gradient would make the error O(h) and reject many. */
START_TEST(test_ais_hmc_small_steps_accepted)
{
    flow_model *m = random_flow(5);
    flow_prior prior = {.dim = 2, .kT = 1.0};
    bg_ais_config c = config(5, 4);
    c.n_pilot = 0;
    c.step = 0.05;
    bg_samples *s = NULL;
    bg_ais_stats st;
    char msg[256];
    ck_assert(bg_ais_sample(m, &prior, &GAUSS, 1.0, 2000, 1000, &c, 4, &s, &st, msg, sizeof msg) ==
              AD_OK);
    ck_assert_msg(st.acceptance > 0.98, "acceptance %.4f", st.acceptance);
    ck_assert(st.step_min == 0.05 && st.step_max == 0.05);
    /* the weights were switched back on for training */
    for (int i = 0; i < nn_params_count(m->params); i++)
        ck_assert(nn_params_is_fixed(m->params, i) || nn_params_get(m->params, i)->requires_grad);
    bg_samples_free(s);
    flow_model_free(m);
}
END_TEST

/* Counts of the progress callbacks, and the last values seen. */
typedef struct ais_count {
    int batches, steps;
    long last_done, last_total;
} ais_count;

static void count_batch(int done, int n, void *ctx)
{
    (void)done;
    (void)n;
    ((ais_count *)ctx)->batches++;
}

static void count_step(long done, long total, void *ctx)
{
    ais_count *c = ctx;
    ck_assert_int_eq(done, c->last_done + 1);
    c->steps++;
    c->last_done = done;
    c->last_total = total;
}

/* The same seed gives the same samples, bit for bit, at 1 and 2 threads,
 * for the random-walk kernel (_i = 0) and HMC with 1 and 2 leapfrog steps;
 * the progress callbacks (on the second run) change nothing. */
START_TEST(test_ais_deterministic)
{
    flow_model *m = random_flow(5);
    flow_prior prior = {.dim = 2, .kT = 1.0};
    bg_ais_config c = config(5, _i);
    c.state = half_plane;
    bg_samples *s[3] = {NULL, NULL, NULL};
    char msg[256];
    int threads = ad_threads_get();
    ais_count count = {0, 0, 0, 0};
    for (int k = 0; k < 3; k++) {
        ad_threads_set(k == 2 ? 2 : 1);
        bg_ais_config ck = c;
        if (k == 1) {
            ck.progress = count_batch;
            ck.progress_step = count_step;
            ck.progress_ctx = &count;
        }
        ck_assert(bg_ais_sample(m, &prior, &GAUSS, 1.0, 600, 256, &ck, 9, &s[k], NULL, msg,
                                sizeof msg) == AD_OK);
    }
    /* 600 chains in batches of 256: 3 batches of K = 5 temperatures */
    ck_assert_int_eq(count.batches, 3);
    ck_assert_int_eq(count.steps, 15);
    ck_assert_int_eq(count.last_done, 15);
    ck_assert_int_eq(count.last_total, 15);
    ad_threads_set(threads);
    ad_threads_shutdown(); /* later tests start from a fresh pool, as after the other thread tests */
    for (int k = 1; k < 3; k++) {
        ck_assert(memcmp(s[0]->log_w, s[k]->log_w, 600 * sizeof(ad_real)) == 0);
        ck_assert(memcmp(s[0]->x, s[k]->x, 1200 * sizeof(ad_real)) == 0);
    }
    for (int k = 0; k < 3; k++)
        bg_samples_free(s[k]);
    flow_model_free(m);
}
END_TEST

START_TEST(test_ais_errors)
{
    flow_model *m = random_flow(5);
    flow_prior prior = {.dim = 2, .kT = 1.0}, wrong_dim = {.dim = 3, .kT = 1.0},
               wrong_kT = {.dim = 2, .kT = 2.0};
    bg_samples *s = NULL;
    char msg[256];
    bg_ais_config good = config(5, 1), bad[8];
    for (int k = 0; k < 8; k++)
        bad[k] = good;
    bad[0].n_temps = 0;
    bad[1].mcmc_steps = 0;
    bad[2].step = 0;
    bad[3].target_acceptance = 1;
    bad[4].leapfrog = -1;
    bad[5].beta_power = NAN;
    bad[6].start_scale = -1;
    bad[7].start_scale = INFINITY;
    for (int k = 0; k < 8; k++) {
        ck_assert_int_eq(
            bg_ais_sample(m, &prior, &GAUSS, 1.0, 10, 10, &bad[k], 1, &s, NULL, msg, sizeof msg),
            AD_ERR_ARG);
        ck_assert(s == NULL && strstr(msg, "bg_ais_sample"));
        static const char *const expect[8] = {
            "bg_ais_sample: n_temps = 0 (need >= 1)",
            "bg_ais_sample: mcmc_steps = 0 (need >= 1)",
            "bg_ais_sample: step = 0 (need finite > 0)",
            "bg_ais_sample: target_acceptance = 1 (need in (0, 1))",
            "bg_ais_sample: leapfrog = -1 (need >= 0)",
            "bg_ais_sample: beta_power = nan (need finite > 0)",
            "bg_ais_sample: start_scale = -1 (need finite > 0, or 0 for 1)",
            "bg_ais_sample: start_scale = inf (need finite > 0, or 0 for 1)"};
        ck_assert_str_eq(msg, expect[k]);
    }
    ck_assert_int_eq(
        bg_ais_sample(m, &wrong_dim, &GAUSS, 1.0, 10, 10, &good, 1, &s, NULL, msg, sizeof msg),
        AD_ERR_SHAPE);
    ck_assert_int_eq(
        bg_ais_sample(m, &wrong_kT, &GAUSS, 1.0, 10, 10, &good, 1, &s, NULL, msg, sizeof msg),
        AD_ERR_ARG);
    ck_assert_int_eq(
        bg_ais_sample(m, &prior, &GAUSS, 1.0, 0, 10, &good, 1, &s, NULL, msg, sizeof msg),
        AD_ERR_ARG);
    ck_assert_int_eq(
        bg_ais_sample(m, &prior, &GAUSS, 1.0, 10, 10, NULL, 1, &s, NULL, msg, sizeof msg),
        AD_ERR_ARG);
    ck_assert(s == NULL);
    flow_model_free(m);
}
END_TEST

Suite *ais_suite(void)
{
    Suite *s = suite_create("ais");
    TCase *tc = tcase_create("statistics");
    tcase_set_timeout(tc, 300);
    tcase_set_tags(tc, "slow"); /* tens of seconds under valgrind; the kernel case runs there */
    tcase_add_test(tc, test_ais_unbiased_rwm);
    tcase_add_test(tc, test_ais_unbiased_hmc);
    tcase_add_test(tc, test_ais_unbiased_states);
    tcase_add_test(tc, test_ais_unbiased_wide_start);
    tcase_add_test(tc, test_ais_unbiased_temperatures);
    tcase_add_test(tc, test_ais_raises_ess);
    tcase_add_test(tc, test_ais_states_keep_chains);
    suite_add_tcase(s, tc);
    tc = tcase_create("kernel");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_ais_hmc_small_steps_accepted);
    tcase_add_loop_test(tc, test_ais_deterministic, 0, 3);
    tcase_add_test(tc, test_ais_errors);
    tcase_add_test(tc, test_ais_start_scale_one);
    suite_add_tcase(s, tc);
    return s;
}
