/* test_sampling_analysis.c - reweighting, ESS, histogram/KDE profiles,
 * bandwidth selection and state free energies (sampling/smp_reweight.h,
 * sampling/smp_profile.h).  Statistical tolerances are derived from standard
 * errors; each is explained where it is used. */
#include <check.h>
#include <math.h>
#include <string.h>

#include "autodiff/ad.h"
#include "ck_util.h"
#include "sampling/smp_profile.h"
#include "sampling/smp_reweight.h"

/* Standard normal CDF. */
static double phi_cdf(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

static double log_normal_pdf(double x, double mu, double s)
{
    double d = (x - mu) / s;
    return -0.5 * d * d - log(s * 2.5066282746310002) /* sqrt(2 pi) */;
}

/* ------------------------------------------------------------------ ESS */

START_TEST(test_ess_constant)
{
    enum { N = 1000 };
    ad_real lw[N];
    for (int i = 0; i < N; i++) lw[i] = 3.7;
    smp_weight_stats st;
    char msg[200];
    ck_assert_int_eq(smp_weights_stats(lw, N, &st, msg, sizeof msg), AD_OK);
    /* all shifted weights are exactly 1: S1 = S2 = N, ESS = N exactly */
    ck_assert(st.ess_fraction == 1.0);
    ck_assert(st.ess == (double)N);
    ck_assert_int_eq(st.n_excluded, 0);
    ck_assert_close(st.log_sum, (ad_real)3.7 + log((double)N), 1e-12, 0, "log_sum", 0);
}
END_TEST

START_TEST(test_ess_gaussian_shift)
{
    /* x ~ N(0,1) reweighted to N(mu,1): w = exp(mu x - mu^2/2), E[w] = 1,
     * E[w^m] = exp(m(m-1) mu^2 / 2), so ESS/n -> 1/E[w^2] = exp(-mu^2). */
    enum { N = 100000 };
    const double mu = 0.5, A = exp(mu * mu);
    static ad_real lw[N];
    ad_rng rng;
    ad_rng_seed(&rng, 11, 0);
    for (int i = 0; i < N; i++) lw[i] = mu * ad_rng_normal(&rng) - 0.5 * mu * mu;
    smp_weight_stats st;
    char msg[200];
    ck_assert_int_eq(smp_weights_stats(lw, N, &st, msg, sizeof msg), AD_OK);
    /* delta method for g = m1^2/m2 at (m1, m2) = (1, A):
     * dg = (2/A) dm1 - (1/A^2) dm2, with Var w = A - 1,
     * Var w^2 = A^6 - A^2, Cov(w, w^2) = A^3 - A (E w^3 = A^3, E w^4 = A^6). */
    double var = 4 / (A * A) * (A - 1) + (pow(A, 6) - A * A) / pow(A, 4) -
                 4 / pow(A, 3) * (pow(A, 3) - A);
    double se = sqrt(var / N);
    /* one comparison: 4 SE (two-sided p ~ 6e-5) */
    ck_assert_close(st.ess_fraction, 1 / A, 4 * se, 0, "ess/n", 0);
}
END_TEST

START_TEST(test_ess_huge_log_weights)
{
    /* log w in [-1000, -900]: exp() of any of them underflows to 0 in double,
     * so unshifted weights would all be zero.  The ESS is invariant under a
     * shift of log w; the computation must reproduce that to rounding. */
    enum { N = 5000 };
    static ad_real lw[N], lw_shift[N];
    ad_rng rng;
    ad_rng_seed(&rng, 12, 0);
    for (int i = 0; i < N; i++) {
        lw[i] = -1000 + 100 * ad_rng_uniform(&rng);
        lw_shift[i] = lw[i] + 1000;
    }
    ck_assert(exp((double)lw[0]) == 0.0);
    smp_weight_stats a, b;
    char msg[200];
    ck_assert_int_eq(smp_weights_stats(lw, N, &a, msg, sizeof msg), AD_OK);
    ck_assert_int_eq(smp_weights_stats(lw_shift, N, &b, msg, sizeof msg), AD_OK);
    ck_assert(a.ess >= 1.0);
    ck_assert_close(a.ess, b.ess, 0, 1e-12, "ess", 0);
    ck_assert_close(a.log_sum, b.log_sum - 1000, 1e-9, 0, "log_sum", 0);
    static ad_real w[N];
    ck_assert_int_eq(smp_weights_normalize(lw, N, w, NULL, msg, sizeof msg), AD_OK);
    double s = 0;
    for (int i = 0; i < N; i++) s += w[i];
    /* float: each w_i is rounded to ad_real (u w_i): eps of the sum */
    ck_assert_close(s, 1.0, CK_REAL_TOL(1e-12, AD_REAL_EPS), 0, "sum w", 0);
}
END_TEST

START_TEST(test_nonfinite_excluded)
{
    ad_real lw[6] = {0.0, NAN, INFINITY, -INFINITY, log(3.0), 0.0};
    ad_real w[6];
    smp_weight_stats st;
    char msg[200];
    ck_assert_int_eq(smp_weights_normalize(lw, 6, w, &st, msg, sizeof msg), AD_OK);
    ck_assert_int_eq(st.n_excluded, 3);
    ck_assert_int_eq(st.n_used, 3);
    /* weights 1, 3, 1 -> 0.2, 0.6, 0.2; ESS = 25 / 11 */
    /* float: log 3 is rounded to ad_real (by u log 3), so the weight 3 is
     * off by u log 3 relative, and the stored w by u more: 2 eps; ESS and the
     * LSE inherit the same few eps */
    const double t = CK_REAL_TOL(1e-15, 2 * AD_REAL_EPS), te = CK_REAL_TOL(1e-14, 4 * AD_REAL_EPS);
    ck_assert_close(w[0], 0.2, t, 0, "w", 0);
    ck_assert_close(w[4], 0.6, t, 0, "w", 4);
    ck_assert(w[1] == 0 && w[2] == 0 && w[3] == 0);
    ck_assert_close(st.ess, 25.0 / 11.0, te, 0, "ess", 0);
    ck_assert_close(st.ess_fraction, 25.0 / 11.0 / 6.0, te, 0, "ess/n", 0);
    int nex;
    ck_assert_close(smp_logsumexp(lw, 6, &nex), log(5.0), t, 0, "lse", 0);
    ck_assert_int_eq(nex, 3);
}
END_TEST

START_TEST(test_bg_log_weights)
{
    /* An exact flow x = a z + b for the target u(x) = (x - b)^2 / (2 a^2)
     * (kT = 1, per coordinate), log R_zx = dim log a: every log-weight is the
     * same constant, so ESS/n = 1. */
    enum { N = 200, D = 3 };
    const double a = 1.7, b = -0.4;
    ad_real z[N * D], u[N], ld[N], lw[N];
    ad_rng rng;
    ad_rng_seed(&rng, 13, 0);
    ad_rng_fill_normal(&rng, z, N * D, 0, 1);
    for (int i = 0; i < N; i++) {
        u[i] = 0;
        for (int k = 0; k < D; k++) {
            double x = a * z[i * D + k] + b;
            u[i] += (x - b) * (x - b) / (2 * a * a);
        }
        ld[i] = D * log(a);
    }
    u[7] = INFINITY; /* an impossible sample: weight 0, counted */
    smp_bg_weight_input in = {N, D, u, z, ld, 1.0};
    int bad;
    char msg[200];
    ck_assert_int_eq(smp_bg_log_weights(&in, lw, &bad, msg, sizeof msg), AD_OK);
    ck_assert_int_eq(bad, 1);
    for (int i = 0; i < N; i++)
        if (i != 7) /* float: u_i and the result are rounded to ad_real */
            ck_assert_close(lw[i], D * log(a),
                            CK_REAL_TOL(1e-12, 2 * AD_REAL_EPS * (fabs(u[i]) + D * log(a))), 0,
                            "log w", i);
    smp_weight_stats st;
    ck_assert_int_eq(smp_weights_stats(lw, N, &st, msg, sizeof msg), AD_OK);
    ck_assert_close(st.ess, N - 1, 1e-9, 0, "ess", 0);
    ck_assert_int_eq(st.n_excluded, 1);
}
END_TEST

/* ------------------------------------------------------------- profiles */

START_TEST(test_histogram_gaussian)
{
    /* Exact draws from N(0, 1); bins of [-3, 3].  The estimated -log p_j is
     * compared with -log(q_j / h), q_j the exact bin probability. */
    enum { N = 20000, NB = 40, B = 200 };
    static ad_real x[N];
    ad_rng rng;
    ad_rng_seed(&rng, 21, 0);
    ad_rng_fill_normal(&rng, x, N, 0, 1);
    smp_profile_config cfg = {.n_bins = NB, .lo = -3, .hi = 3, .bandwidth = 0,
                              .boot = {.n_bootstrap = B, .seed = 5}};
    smp_profile *p = NULL;
    char msg[200];
    ck_assert_int_eq(smp_profile_histogram(&cfg, x, NULL, N, &p, msg, sizeof msg), AD_OK);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p->n_excluded, 0);
    double fmin = INFINITY;
    int checked = 0;
    for (int j = 0; j < NB; j++) fmin = fmin < p->F[j] ? fmin : p->F[j];
    ck_assert(fmin == 0.0);
    for (int j = 0; j < NB; j++) {
        double a = -3 + j * p->width, q = phi_cdf(a + p->width) - phi_cdf(a);
        if (N * q < 20) continue; /* too few counts for a Gaussian error model */
        double truth = -log(q / p->width), est = -log((double)p->density[j]);
        /* 40 bins, family-wise false alarm ~1%: per bin 2.5e-4 two-sided ->
         * z = 3.66; the bootstrap SE itself is uncertain by ~1/sqrt(2B) = 5%,
         * so 4 SE. */
        ck_assert_close(est, truth, 4 * p->se[j], 0, "-log p", j);
        /* the binomial SE of log(count/N) is sqrt((1 - q) / (N q)); the
         * bootstrap SE estimates it with relative error ~5% (B = 200) plus
         * O(1/(N q)) nonlinearity: accept a factor 1.25 for N q >= 100. */
        if (N * q >= 100) {
            double binom = sqrt((1 - q) / (N * q)), ratio = p->se[j] / binom;
            ck_assert_msg(ratio > 0.8 && ratio < 1.25, "bin %d: bootstrap SE %g vs binomial %g", j,
                          (double)p->se[j], binom);
        }
        checked++;
    }
    ck_assert_int_ge(checked, 30);
    smp_profile_free(p);
}
END_TEST

START_TEST(test_histogram_weighted_and_empty)
{
    /* Samples from the proposal N(0, 1.5^2), weighted to the target N(0, 1):
     * log w = -x^2/2 + x^2/(2 * 2.25).  Bins of width 0.5 in [-9, 9]: the
     * outer ones, beyond 5.6 proposal sigmas, are empty (expected count
     * 4e-3): F = +inf, se NAN. */
    enum { N = 40000, NB = 36, B = 200 };
    static ad_real x[N], lw[N];
    ad_rng rng;
    ad_rng_seed(&rng, 22, 0);
    ad_rng_fill_normal(&rng, x, N, 0, 1.5);
    for (int i = 0; i < N; i++) lw[i] = -0.5 * x[i] * x[i] + x[i] * x[i] / 4.5;
    lw[3] = NAN; /* excluded and counted */
    smp_profile_config cfg = {.n_bins = NB, .lo = -9, .hi = 9, .bandwidth = 0,
                              .boot = {.n_bootstrap = B, .seed = 6}};
    smp_profile *p = NULL;
    char msg[200];
    ck_assert_int_eq(smp_profile_histogram(&cfg, x, lw, N, &p, msg, sizeof msg), AD_OK);
    ck_assert_int_eq(p->n_excluded, 1);
    ck_assert(isinf(p->F[0]) && p->F[0] > 0 && isnan(p->se[0]));
    ck_assert(isinf(p->F[NB - 1]) && isnan(p->se[NB - 1]));
    for (int j = 0; j < NB; j++) {
        double a = -9 + j * p->width, q = phi_cdf(a + p->width) - phi_cdf(a);
        if (N * q < 50) continue;
        /* 4 SE as in test_histogram_gaussian (<= 36 bins compared) */
        ck_assert_close(-log((double)p->density[j]), -log(q / p->width), 4 * p->se[j], 0,
                        "-log p", j);
    }
    smp_profile_free(p);
}
END_TEST

START_TEST(test_kde_gaussian)
{
    /* A Gaussian KDE with bandwidth b of N(0, 1) samples estimates exactly the
     * smoothed density N(0, 1 + b^2), so there is no smoothing bias to allow
     * for: -log p_kde(x) is compared with -log N(x; 0, sqrt(1 + b^2)). */
    enum { N = 5000, NB = 30, B = 100 };
    const double bw = 0.2, s = sqrt(1 + bw * bw);
    static ad_real x[N];
    ad_rng rng;
    ad_rng_seed(&rng, 23, 0);
    ad_rng_fill_normal(&rng, x, N, 0, 1);
    smp_profile_config cfg = {.n_bins = NB, .lo = -3, .hi = 3, .bandwidth = bw,
                              .boot = {.n_bootstrap = B, .seed = 7}};
    smp_profile *p = NULL;
    char msg[200];
    ck_assert_int_eq(smp_profile_kde(&cfg, x, NULL, N, &p, msg, sizeof msg), AD_OK);
    for (int j = 0; j < NB; j++) {
        double c = p->center[j];
        if (fabs(c) > 2.5) continue;
        /* neighbouring grid points are strongly correlated (kernel wider than
         * the spacing), so 30 points are few independent tests: 4 SE, with
         * the ~7% uncertainty of a B = 100 bootstrap SE inside the margin */
        ck_assert_close(-log((double)p->density[j]), -log_normal_pdf(c, 0, s), 4 * p->se[j], 0,
                        "kde -log p", j);
        ck_assert(p->se[j] > 0);
    }
    smp_profile_free(p);
}
END_TEST

START_TEST(test_bandwidth_cv)
{
    /* For N(0,1) data the likelihood-CV bandwidth is near Silverman's
     * 1.06 n^(-1/5) = 0.266 (n = 1000); the CV optimum is broad and noisy,
     * so only a factor 2 is required, plus: the best is the argmax of the
     * reported scores and not on the edge of the grid. */
    enum { N = 1000, NC = 16 };
    static ad_real x[N];
    ad_real cand[NC], scores[NC];
    for (int c = 0; c < NC; c++) cand[c] = pow(10, -1.5 + 1.5 * c / (NC - 1));
    ad_rng rng;
    ad_rng_seed(&rng, 24, 0);
    ad_rng_fill_normal(&rng, x, N, 0, 1);
    smp_bandwidth_config cfg = {.candidates = cand, .n_candidates = NC, .n_folds = 10, .seed = 3};
    double best;
    char msg[200];
    ck_assert_int_eq(smp_kde_select_bandwidth(&cfg, x, NULL, N, &best, scores, msg, sizeof msg),
                     AD_OK);
    double silverman = 1.06 * pow(N, -0.2);
    ck_assert_msg(best > silverman / 2 && best < silverman * 2, "best %g vs Silverman %g", best,
                  silverman);
    int arg = 0;
    for (int c = 1; c < NC; c++)
        if (scores[c] > scores[arg]) arg = c;
    ck_assert(cand[arg] == best);
    ck_assert(arg > 0 && arg < NC - 1);
    /* held-out log-likelihood of N(0,1) is about -(1 + log 2 pi)/2 = -1.419 */
    ck_assert_close(scores[arg], -1.419, 0.1, 0, "cv score", arg);
}
END_TEST

/* --------------------------------------------------------------- states */

/* exact draws from a 1-D Gaussian mixture */
static void draw_mixture(ad_rng *rng, ad_real *x, int *comp, int n, int k, const double *pi,
                         const double *mu, double s)
{
    for (int i = 0; i < n; i++) {
        double u = ad_rng_uniform(rng), c = 0;
        int j = 0;
        while (j < k - 1 && u >= (c += pi[j])) j++;
        if (comp) comp[i] = j;
        x[i] = mu[j] + s * ad_rng_normal(rng);
    }
}

static double log_mixture(double x, int k, const double *pi, const double *mu, double s)
{
    double m = -INFINITY, t[4];
    for (int j = 0; j < k; j++) {
        t[j] = log(pi[j]) + log_normal_pdf(x, mu[j], s);
        if (t[j] > m) m = t[j];
    }
    double sum = 0;
    for (int j = 0; j < k; j++) sum += exp(t[j] - m);
    return m + log(sum);
}

static int state_of_x(void *ctx, int i) { return ((const ad_real *)ctx)[i] >= 0 ? 1 : 0; }

START_TEST(test_delta_f_split_mixture)
{
    /* 0.3 N(-2, 0.5^2) + 0.7 N(2, 0.5^2), split at 0:
     * P(B) = 0.3 Phi(-4) + 0.7 Phi(4), dF(B - A) = -log(P(B) / (1 - P(B))). */
    enum { N = 10000, B = 300 };
    const double pi[2] = {0.3, 0.7}, mu[2] = {-2, 2};
    double pb = 0.3 * phi_cdf(-4) + 0.7 * phi_cdf(4), exact = -log(pb / (1 - pb));
    static ad_real x[N];
    ad_rng rng;
    ad_rng_seed(&rng, 31, 0);
    draw_mixture(&rng, x, NULL, N, 2, pi, mu, 0.5);
    smp_bootstrap_config boot = {.n_bootstrap = B, .seed = 8};
    smp_estimate df, dp;
    char msg[200];
    ck_assert_int_eq(smp_delta_f_split(x, NULL, N, 0.0, &boot, &df, msg, sizeof msg), AD_OK);
    /* one comparison: 3 SE (p = 0.003); the B = 300 bootstrap SE is good to 4% */
    ck_assert_close(df.value, exact, 3 * df.se, 0, "dF", 0);
    /* the SE of a log-odds of a binomial proportion is 1/sqrt(N p (1 - p));
     * the bootstrap estimate of it is within ~4% (1/sqrt(2B)): allow 15% */
    double binom = 1 / sqrt(N * pb * (1 - pb));
    ck_assert_close(df.se, binom, 0, 0.15, "se", 0);
    ck_assert_int_eq(df.n_boot_used, B);
    /* the predicate form with the same states gives the same numbers */
    ck_assert_int_eq(smp_delta_f_predicate(state_of_x, x, NULL, N, &boot, &dp, msg, sizeof msg),
                     AD_OK);
    ck_assert(dp.value == df.value && dp.se == df.se);
}
END_TEST

START_TEST(test_delta_f_reweighted)
{
    /* Samples from the proposal 0.5/0.5 mixture reweighted to the target
     * 0.3/0.7 mixture (same components): log w = log p_target - log p_prop.
     * The exact dF is the target's, as in test_delta_f_split_mixture. */
    enum { N = 10000, B = 300 };
    const double pt[2] = {0.3, 0.7}, pp[2] = {0.5, 0.5}, mu[2] = {-2, 2};
    double pb = 0.3 * phi_cdf(-4) + 0.7 * phi_cdf(4), exact = -log(pb / (1 - pb));
    static ad_real x[N], lw[N];
    ad_rng rng;
    ad_rng_seed(&rng, 32, 0);
    draw_mixture(&rng, x, NULL, N, 2, pp, mu, 0.5);
    for (int i = 0; i < N; i++)
        lw[i] = log_mixture(x[i], 2, pt, mu, 0.5) - log_mixture(x[i], 2, pp, mu, 0.5) - 900;
    smp_bootstrap_config boot = {.n_bootstrap = B, .seed = 9};
    smp_estimate df;
    char msg[200];
    ck_assert_int_eq(smp_delta_f_split(x, lw, N, 0.0, &boot, &df, msg, sizeof msg), AD_OK);
    /* one comparison, 3 SE as the task fixes (p = 0.003 for a Gaussian) */
    ck_assert_close(df.value, exact, 3 * df.se, 0, "dF reweighted", 0);
    ck_assert(df.se > 0 && df.se < 0.1);
}
END_TEST

START_TEST(test_state_labels_three)
{
    /* Three well separated states with populations 0.2, 0.3, 0.5; labels are
     * the component of each draw, so W_s / N is a multinomial proportion and
     * dF_s = -log(pi_s / pi_0).  Two compared states: 3.5 SE each
     * (family-wise p ~ 1e-3). */
    enum { N = 6000, B = 300 };
    const double pi[3] = {0.2, 0.3, 0.5}, mu[3] = {-4, 0, 4};
    static ad_real x[N];
    static int lab[N];
    ad_rng rng;
    ad_rng_seed(&rng, 33, 0);
    draw_mixture(&rng, x, lab, N, 3, pi, mu, 0.5);
    lab[0] = -1; /* a sample in no state is ignored */
    smp_states_config cfg = {.n_states = 3, .boot = {.n_bootstrap = B, .seed = 10}};
    double df[3], se[3], pop[3];
    char msg[200];
    ck_assert_int_eq(smp_state_free_energies(&cfg, lab, NULL, N, df, se, pop, msg, sizeof msg),
                     AD_OK);
    ck_assert(df[0] == 0 && se[0] == 0);
    for (int s = 1; s < 3; s++)
        ck_assert_close(df[s], -log(pi[s] / pi[0]), 3.5 * se[s], 0, "dF", s);
    ck_assert_close(pop[0] + pop[1] + pop[2], 1.0, 1e-12, 0, "populations", 0);
    /* SE of log(n_s/n_0) for multinomial counts: sqrt(1/(N pi_s) + 1/(N pi_0)) */
    for (int s = 1; s < 3; s++)
        ck_assert_close(se[s], sqrt(1 / (N * pi[s]) + 1 / (N * pi[0])), 0, 0.15, "se", s);
    /* an empty non-reference state: +inf, NAN */
    for (int i = 0; i < N; i++)
        if (lab[i] == 2) lab[i] = 1;
    ck_assert_int_eq(smp_state_free_energies(&cfg, lab, NULL, N, df, se, pop, msg, sizeof msg),
                     AD_OK);
    ck_assert(isinf(df[2]) && df[2] > 0 && isnan(se[2]));
}
END_TEST

/* --------------------------------------------------------------- errors */

START_TEST(test_errors)
{
    ad_real x[4] = {0, 1, 2, 3}, lw[4] = {-INFINITY, -INFINITY, NAN, INFINITY};
    char msg[200];
    smp_weight_stats st;
    smp_profile *p = NULL;
    smp_profile_config cfg = {.n_bins = 10, .lo = 0, .hi = 3, .bandwidth = 0.5,
                              .boot = {.n_bootstrap = 0, .seed = 1}};
    ck_assert_int_eq(smp_weights_stats(x, 0, &st, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(msg, "n = 0"));
    ck_assert_int_eq(smp_weights_stats(lw, 4, &st, msg, sizeof msg), AD_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(msg, "no finite log-weight"));
    ck_assert(smp_logsumexp(lw, 4, NULL) == -INFINITY);
    ck_assert_int_eq(smp_profile_histogram(&cfg, x, lw, 4, &p, msg, sizeof msg), AD_ERR_NUMERIC);
    ck_assert_ptr_null(p);
    ck_assert_int_eq(smp_profile_histogram(&cfg, x, NULL, 0, &p, msg, sizeof msg), AD_ERR_ARG);
    cfg.n_bins = 0;
    ck_assert_int_eq(smp_profile_histogram(&cfg, x, NULL, 4, &p, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(msg, "n_bins = 0"));
    cfg.n_bins = 10;
    cfg.lo = 3;
    ck_assert_int_eq(smp_profile_kde(&cfg, x, NULL, 4, &p, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(msg, "lo < hi"));
    cfg.lo = 0;
    cfg.bandwidth = 0;
    ck_assert_int_eq(smp_profile_kde(&cfg, x, NULL, 4, &p, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(msg, "bandwidth"));
    /* states: a state without weight, a reference out of range */
    smp_estimate df;
    ck_assert_int_eq(smp_delta_f_split(x, NULL, 4, 10.0, NULL, &df, msg, sizeof msg),
                     AD_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(msg, "state B has no weight"));
    ck_assert_int_eq(smp_delta_f_split(x, NULL, 4, -1.0, NULL, &df, msg, sizeof msg),
                     AD_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(msg, "state A"));
    int lab[4] = {0, 1, 1, 0};
    double d[2];
    smp_states_config sc = {.n_states = 2, .reference = 2, .boot = {.n_bootstrap = 0, .seed = 0}};
    ck_assert_int_eq(smp_state_free_energies(&sc, lab, NULL, 4, d, NULL, NULL, msg, sizeof msg),
                     AD_ERR_ARG);
    /* bandwidth: more folds than samples, a bad candidate */
    ad_real cand[2] = {0.1, -1};
    smp_bandwidth_config bc = {.candidates = cand, .n_candidates = 1, .n_folds = 5, .seed = 0};
    double best;
    ck_assert_int_eq(smp_kde_select_bandwidth(&bc, x, NULL, 4, &best, NULL, msg, sizeof msg),
                     AD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(msg, "folds"));
    bc.n_candidates = 2;
    bc.n_folds = 2;
    ck_assert_int_eq(smp_kde_select_bandwidth(&bc, x, NULL, 4, &best, NULL, msg, sizeof msg),
                     AD_ERR_ARG);
    smp_bg_weight_input in = {4, 0, x, x, x, 1.0};
    ck_assert_int_eq(smp_bg_log_weights(&in, lw, NULL, msg, sizeof msg), AD_ERR_ARG);
    in.dim = 1;
    in.kT = 0;
    ck_assert_int_eq(smp_bg_log_weights(&in, lw, NULL, msg, sizeof msg), AD_ERR_ARG);
}
END_TEST

START_TEST(test_out_of_memory)
{
    /* every allocation failure is reported as AD_ERR_NOMEM and leaks nothing
     * (the sanitizer build checks the leaks) */
    enum { N = 200 };
    ad_real x[N];
    int lab[N];
    ad_rng rng;
    ad_rng_seed(&rng, 41, 0);
    ad_rng_fill_normal(&rng, x, N, 0, 1);
    for (int i = 0; i < N; i++) lab[i] = x[i] > 0;
    smp_profile_config cfg = {.n_bins = 10, .lo = -3, .hi = 3, .bandwidth = 0.3,
                              .boot = {.n_bootstrap = 5, .seed = 1}};
    smp_states_config sc = {.n_states = 2, .boot = {.n_bootstrap = 5, .seed = 1}};
    double d[2];
    char msg[200];
    for (int fail = 0; fail < 6; fail++) {
        smp_profile *p = NULL;
        ad_alloc_fail_after(fail);
        int a = smp_profile_histogram(&cfg, x, NULL, N, &p, msg, sizeof msg);
        ad_alloc_fail_after(-1);
        ck_assert(a == AD_ERR_NOMEM || a == AD_OK);
        smp_profile_free(p);
        ad_alloc_fail_after(fail);
        a = smp_profile_kde(&cfg, x, NULL, N, &p, msg, sizeof msg);
        ad_alloc_fail_after(-1);
        ck_assert(a == AD_ERR_NOMEM || a == AD_OK);
        smp_profile_free(p);
        ad_alloc_fail_after(fail);
        a = smp_state_free_energies(&sc, lab, NULL, N, d, NULL, NULL, msg, sizeof msg);
        ad_alloc_fail_after(-1);
        ck_assert(a == AD_ERR_NOMEM || a == AD_OK);
        if (fail == 0) ck_assert_int_eq(a, AD_ERR_NOMEM);
    }
}
END_TEST

/* The config defaults, and invalid fields named. */
START_TEST(test_config_defaults_and_fields)
{
    smp_bootstrap_config b = smp_bootstrap_default();
    ck_assert_int_eq(b.n_bootstrap, 200);
    ck_assert_uint_eq(b.seed, 1);
    ad_real cand[3] = {0.1, 0.2, 0.4};
    smp_bandwidth_config bc = smp_bandwidth_config_default(cand, 3);
    ck_assert_ptr_eq(bc.candidates, cand);
    ck_assert_int_eq(bc.n_candidates, 3);
    ck_assert_int_eq(bc.n_folds, 5);
    ck_assert_uint_eq(bc.seed, 1);
    smp_states_config sc = smp_states_config_default(3);
    ck_assert_int_eq(sc.n_states, 3);
    ck_assert_int_eq(sc.reference, 0);
    ck_assert_int_eq(sc.boot.n_bootstrap, 200);
    smp_profile_config pc = smp_profile_config_default(-1, 1);
    ck_assert_int_eq(pc.n_bins, 50);
    ck_assert(fabs(pc.bandwidth - 0.08) < 1e-15);

    ad_real x[6] = {0, 1, 2, 3, 4, 5};
    char msg[200];
    double best;
    cand[1] = NAN;
    ck_assert_int_eq(smp_kde_select_bandwidth(&bc, x, NULL, 6, &best, NULL, msg, sizeof msg),
                     AD_ERR_ARG);
    ck_assert_str_eq(msg, "smp_kde_select_bandwidth: candidates[1] = nan (need finite > 0)");
    bc.candidates = NULL;
    ck_assert_int_eq(smp_kde_select_bandwidth(&bc, x, NULL, 6, &best, NULL, msg, sizeof msg),
                     AD_ERR_ARG);
    ck_assert_str_eq(msg, "smp_kde_select_bandwidth: candidates is NULL");
    int lab[6] = {0, 1, 2, 0, 1, 2};
    double d[3];
    sc.boot.n_bootstrap = -2;
    ck_assert_int_eq(smp_state_free_energies(&sc, lab, NULL, 6, d, NULL, NULL, msg, sizeof msg),
                     AD_ERR_ARG);
    ck_assert_str_eq(msg, "smp_state_free_energies: boot.n_bootstrap = -2 (need >= 0)");
    smp_profile *p = NULL;
    pc.hi = NAN;
    ck_assert_int_eq(smp_profile_histogram(&pc, x, NULL, 6, &p, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_str_eq(msg, "smp_profile_histogram: lo = -1, hi = nan (need finite lo < hi)");
}
END_TEST

Suite *smp_analysis_suite(void)
{
    Suite *s = suite_create("sampling-analysis");
    TCase *tc = tcase_create("statistics");
    tcase_set_tags(tc, "slow");
    tcase_add_test(tc, test_ess_constant);
    tcase_add_test(tc, test_ess_gaussian_shift);
    tcase_add_test(tc, test_ess_huge_log_weights);
    tcase_add_test(tc, test_nonfinite_excluded);
    tcase_add_test(tc, test_bg_log_weights);
    tcase_add_test(tc, test_histogram_gaussian);
    tcase_add_test(tc, test_histogram_weighted_and_empty);
    tcase_add_test(tc, test_kde_gaussian);
    tcase_add_test(tc, test_bandwidth_cv);
    tcase_add_test(tc, test_delta_f_split_mixture);
    tcase_add_test(tc, test_delta_f_reweighted);
    tcase_add_test(tc, test_state_labels_three);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_config_defaults_and_fields);
    suite_add_tcase(s, tc);
    tc = tcase_create("memory");
    tcase_add_test(tc, test_out_of_memory);
    suite_add_tcase(s, tc);
    return s;
}
