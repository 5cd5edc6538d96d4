/* test_sampling_mc.c - Metropolis Monte Carlo: exact moments of a harmonic
 * well, detailed balance on a piecewise-constant ("discrete-looking")
 * potential, the acceptance rate, bookkeeping, determinism and errors.
 *
 * Statistical tolerances: chains are independent, so per-chain averages are
 * independent estimates; their spread gives a standard error that already
 * contains the autocorrelation inside each chain.  A check passes within 4
 * standard errors (two-sided false-alarm probability 6e-5 for a Gaussian
 * statistic); the seeds are fixed, so the outcome is deterministic. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/ad.h"
#include "ck_util.h"
#include "potentials/pot_double_well.h"
#include "sampling/smp_mc.h"

typedef struct counting {
    double k;        /* harmonic constant: u = k x^2 / 2 (summed over dims) */
    long calls;      /* number of energy calls                             */
} counting;

static int harmonic(void *ctx, const ad_real *x, int n, int dim, ad_real *u, char *msg,
                    size_t msg_len)
{
    (void)msg;
    (void)msg_len;
    counting *c = ctx;
    c->calls++;
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int k = 0; k < dim; k++) s += x[i * dim + k] * x[i * dim + k];
        u[i] = 0.5 * c->k * s;
    }
    return AD_OK;
}

/* Mean and standard error of v[0..n-1] (independent values). */
static void mean_se(const double *v, int n, double *mean, double *se)
{
    double m = 0, s = 0;
    for (int i = 0; i < n; i++) m += v[i];
    m /= n;
    for (int i = 0; i < n; i++) s += (v[i] - m) * (v[i] - m);
    *mean = m;
    *se = sqrt(s / (n - 1) / n);
}

START_TEST(test_harmonic_moments_and_acceptance)
{
    /* u = x^2 / 2 in 1-D at kT = 1 and kT = 2.5: exact mean 0, variance kT.
     * Chains start from the exact distribution N(0, kT), so no burn-in. */
    const double kts[2] = {1.0, 2.5};
    for (int it = 0; it < 2; it++) {
        double kT = kts[it], sd = sqrt(kT);
        enum { C = 256, S = 2000 };
        smp_mc_config cfg = {.dim = 1, .n_chains = C, .sigma = 2.4 * sd, .kT = kT, .n_steps = S,
                             .stride = 1, .seed = 42 + (uint64_t)it};
        ad_real x0[C];
        ad_rng r;
        ad_rng_seed(&r, 100 + (uint64_t)it, 0);
        ad_rng_fill_normal(&r, x0, C, 0, (ad_real)sd);
        ck_assert_int_eq(smp_mc_n_frames(&cfg), S);
        ad_real *out = malloc(sizeof(ad_real) * S * C);
        counting cnt = {1.0, 0};
        smp_mc_stats st;
        char msg[256];
        ck_assert_int_eq(smp_mc_run(&cfg, harmonic, &cnt, x0, out, NULL, &st, msg, sizeof msg),
                         AD_OK);
        ck_assert_int_eq(cnt.calls, 1 + S); /* one energy call per step, all chains */
        double m[C], v[C], acc[C];
        long n_acc = 0;
        for (int c = 0; c < C; c++) {
            double s1 = 0, s2 = 0;
            int a = 0;
            for (int f = 0; f < S; f++) {
                double x = out[f * C + c];
                s1 += x;
                s2 += x * x;
                double prev = f ? out[(f - 1) * C + c] : x0[c];
                a += x != prev; /* a continuous proposal never repeats a value */
            }
            m[c] = s1 / S;
            v[c] = s2 / S;
            acc[c] = (double)a / S;
            n_acc += a;
        }
        double mean, se_mean, var, se_var, rate, se_rate;
        mean_se(m, C, &mean, &se_mean);
        mean_se(v, C, &var, &se_var);
        mean_se(acc, C, &rate, &se_rate);
        ck_assert_close(mean, 0, 4 * se_mean, 0, "harmonic mean", it);
        ck_assert_close(var, kT, 4 * se_var, 0, "harmonic variance", it);
        /* power: about 2 kT^2 / (C S / tau) with tau < 10 */
        ck_assert_msg(se_var < 0.01 * kT, "variance standard error %g too large", se_var);
        /* acceptance: stats agree with the frames; for a 1-D Gaussian target
         * and a Gaussian proposal of width s (in units of the target's
         * standard deviation) the mean acceptance is (2/pi) atan(2/s) */
        ck_assert_int_eq(st.n_proposed, (long)C * S);
        ck_assert_int_eq(st.n_accepted, n_acc);
        ck_assert_close(st.acceptance, (double)n_acc / ((double)C * S), 1e-15, 0, "rate", it);
        ck_assert_close(rate, 2 / acos(-1.0) * atan(2 / 2.4), 4 * se_rate, 0, "acceptance", it);
        free(out);
    }
}
END_TEST

/* Piecewise constant energy: E_k on [k, k+1) for k = 0, 1, 2, +inf outside
 * [0, 3).  Populations are p_k = e^{-E_k/kT} / sum, and detailed balance says
 * the number of k -> l moves equals the number of l -> k moves on average. */
static const double STEP_E[3] = {0.0, 1.0, 0.4};

static int steps(void *ctx, const ad_real *x, int n, int dim, ad_real *u, char *msg,
                 size_t msg_len)
{
    (void)ctx;
    (void)dim;
    (void)msg;
    (void)msg_len;
    for (int i = 0; i < n; i++)
        u[i] = (x[i] >= 0 && x[i] < 3) ? STEP_E[(int)x[i]] : INFINITY;
    return AD_OK;
}

START_TEST(test_detailed_balance)
{
    enum { C = 128, S = 4000 };
    /* sigma 1.5: jumps between any two states, including 0 <-> 2, are common,
     * so a net circulation 0 -> 1 -> 2 -> 0 would show in N_kl - N_lk */
    smp_mc_config cfg = {.dim = 1, .n_chains = C, .sigma = 1.5, .kT = 1.0, .n_steps = S,
                         .stride = 1, .keep_initial = 1, .seed = 7};
    double z = 0, p[3];
    for (int k = 0; k < 3; k++) z += exp(-STEP_E[k]);
    for (int k = 0; k < 3; k++) p[k] = exp(-STEP_E[k]) / z;
    ad_real x0[C];
    ad_rng r;
    ad_rng_seed(&r, 8, 0);
    for (int c = 0; c < C; c++) { /* exact start: state by p_k, uniform inside */
        double v = ad_rng_uniform(&r);
        int k = v < p[0] ? 0 : v < p[0] + p[1] ? 1 : 2;
        x0[c] = k + ad_rng_uniform(&r);
    }
    long nf = smp_mc_n_frames(&cfg);
    ck_assert_int_eq(nf, S + 1);
    ad_real *out = malloc(sizeof(ad_real) * nf * C);
    smp_mc_stats st;
    char msg[256];
    ck_assert_int_eq(smp_mc_run(&cfg, steps, NULL, x0, out, NULL, &st, msg, sizeof msg), AD_OK);
    for (int c = 0; c < C; c++) ck_assert(out[c] == x0[c]); /* keep_initial */
    static double flux[3][C], pop[3][C];
    long total[3][3] = {{0}};
    for (int c = 0; c < C; c++) {
        long n_kl[3][3] = {{0}}, occ[3] = {0};
        for (long f = 0; f < nf; f++) {
            ad_real x = out[f * C + c];
            ck_assert(x >= 0 && x < 3); /* +inf energies are never accepted */
            int k = (int)x;
            occ[k]++;
            if (f) n_kl[(int)out[(f - 1) * C + c]][k]++;
        }
        for (int k = 0; k < 3; k++) {
            pop[k][c] = (double)occ[k] / nf;
            int l = (k + 1) % 3; /* pairs (0,1), (1,2), (2,0) */
            flux[k][c] = (double)(n_kl[k][l] - n_kl[l][k]);
            for (int j = 0; j < 3; j++) total[k][j] += n_kl[k][j];
        }
    }
    for (int k = 0; k < 3; k++) {
        double m, se;
        mean_se(flux[k], C, &m, &se);
        ck_assert_close(m, 0, 4 * se, 0, "net flux k -> k+1", k);
        ck_assert_msg(total[k][(k + 1) % 3] > 1000, "too few %d -> %d moves", k, (k + 1) % 3);
        mean_se(pop[k], C, &m, &se);
        ck_assert_close(m, p[k], 4 * se, 0, "population", k);
    }
    ck_assert(st.acceptance > 0 && st.acceptance < 1);
    free(out);
}
END_TEST

/* ------------------------------------------------------------ bookkeeping */

START_TEST(test_stride_energies_rejections_determinism)
{
    enum { C = 3, D = 2 };
    smp_mc_config cfg = {.dim = D, .n_chains = C, .sigma = 0.5, .kT = 1.0, .n_steps = 10,
                         .stride = 3, .keep_initial = 1, .seed = 5};
    ck_assert_int_eq(smp_mc_n_frames(&cfg), 4); /* initial + steps 3, 6, 9 */
    ad_real x0[C * D] = {0.1, 0.2, -0.3, 0.4, 1.0, -1.0};
    ad_real out[2][4 * C * D], u[4 * C];
    counting cnt = {1.0, 0};
    char msg[256];
    for (int rep = 0; rep < 2; rep++)
        ck_assert_int_eq(smp_mc_run(&cfg, harmonic, &cnt, x0, out[rep], u, NULL, msg, sizeof msg),
                         AD_OK);
    ck_assert(memcmp(out[0], out[1], sizeof out[0]) == 0); /* seeded: identical */
    for (int f = 0; f < 4; f++)
        for (int c = 0; c < C; c++) {
            ad_real e;
            harmonic(&cnt, out[0] + (f * C + c) * D, 1, D, &e, NULL, 0);
            ck_assert_close(u[f * C + c], e, 1e-15, 0, "stored energy", f * C + c);
        }
    cfg.seed = 6;
    smp_mc_run(&cfg, harmonic, &cnt, x0, out[1], NULL, NULL, msg, sizeof msg);
    ck_assert(memcmp(out[0], out[1], sizeof out[0]) != 0);

    /* a huge proposal is nearly always rejected: the frame repeats exactly */
    smp_mc_config wide = {.dim = D, .n_chains = C, .sigma = 50.0, .kT = 1.0, .n_steps = 50,
                          .stride = 1, .seed = 9};
    ad_real big[50 * C * D];
    smp_mc_stats st;
    ck_assert_int_eq(smp_mc_run(&wide, harmonic, &cnt, x0, big, NULL, &st, msg, sizeof msg), AD_OK);
    long changes = 0;
    for (int f = 0; f < 50; f++)
        for (int c = 0; c < C; c++) {
            const ad_real *now = big + (f * C + c) * D;
            const ad_real *prev = f ? big + ((f - 1) * C + c) * D : x0 + c * D;
            changes += memcmp(now, prev, D * sizeof(ad_real)) != 0;
        }
    ck_assert_int_eq(changes, st.n_accepted);
    ck_assert_int_lt(st.n_accepted, 10);
}
END_TEST

/* The progress callback sees every step once, in order, and its context;
 * the frames are those of a run without it. */
typedef struct step_log {
    long calls, last, total;
    int in_order;
} step_log;

static void log_step(long done, long total, void *ctx)
{
    step_log *l = ctx;
    l->in_order &= done == l->last + 1;
    l->last = done;
    l->total = total;
    l->calls++;
}

START_TEST(test_progress)
{
    enum { C = 4, D = 2, S = 25 };
    smp_mc_config cfg = smp_mc_config_default(D, 1.0);
    cfg.n_chains = C;
    cfg.n_steps = S;
    cfg.stride = 5;
    ad_real x0[C * D] = {0.1, 0.2, -0.3, 0.4, 1.0, -1.0, 0.5, 0.0};
    ad_real plain[5 * C * D], watched[5 * C * D];
    counting cnt = {1.0, 0};
    char msg[256];
    ck_assert_int_eq(smp_mc_run(&cfg, harmonic, &cnt, x0, plain, NULL, NULL, msg, sizeof msg),
                     AD_OK);
    step_log l = {0, 0, 0, 1};
    cfg.progress = log_step;
    cfg.progress_ctx = &l;
    ck_assert_int_eq(smp_mc_run(&cfg, harmonic, &cnt, x0, watched, NULL, NULL, msg, sizeof msg),
                     AD_OK);
    ck_assert_int_eq(l.calls, S);
    ck_assert_int_eq(l.last, S);
    ck_assert_int_eq(l.total, S);
    ck_assert(l.in_order);
    ck_assert(memcmp(plain, watched, sizeof plain) == 0);
}
END_TEST

START_TEST(test_potential_adapter)
{
    /* the double well through smp_potential_energy: chains started in the
     * left well at kT = 1 stay there over 200 steps (barrier 10.8 kT) */
    pot_potential dw = pot_double_well(NULL);
    ad_tape *t = ad_tape_new(0);
    smp_potential_ctx ctx = {.potential = &dw, .scratch = t};
    enum { C = 16 };
    ad_real x0[2 * C];
    for (int c = 0; c < C; c++) {
        x0[2 * c] = -1.772303;
        x0[2 * c + 1] = 0;
    }
    smp_mc_config cfg = {.dim = 2, .n_chains = C, .sigma = 0.1, .kT = 1.0, .n_steps = 200,
                         .stride = 10, .keep_initial = 1, .seed = 3};
    ad_real out[21 * 2 * C];
    char msg[256];
    smp_mc_stats st;
    ck_assert_int_eq(smp_mc_run(&cfg, smp_potential_energy, &ctx, x0, out, NULL, &st, msg,
                                sizeof msg), AD_OK);
    for (int k = 0; k < 21 * C; k++) ck_assert(out[2 * k] < 0);
    ck_assert(st.acceptance > 0.5);
    /* a dimension that does not match the potential */
    static ad_real x3[3 * C], out3[21 * 3 * C]; /* zeros, sized for dim 3 */
    cfg.dim = 3;
    ck_assert_int_eq(smp_mc_run(&cfg, smp_potential_energy, &ctx, x3, out3, NULL, NULL, msg,
                                sizeof msg), AD_ERR_SHAPE);
    ck_assert_str_eq(msg, "smp_potential_energy: dimension 3, but double-well has dimension 2");
    ad_tape_free(t);
}
END_TEST

/* ----------------------------------------------------------------- errors */

static int failing(void *ctx, const ad_real *x, int n, int dim, ad_real *u, char *msg,
                   size_t msg_len)
{
    long *calls = ctx;
    (void)x;
    (void)dim;
    for (int i = 0; i < n; i++) u[i] = 0;
    if (++*calls < 3) return AD_OK;
    snprintf(msg, msg_len, "energy exploded");
    return AD_ERR_NUMERIC;
}

START_TEST(test_errors)
{
    ad_real x0[2] = {0, 0}, out[64];
    counting cnt = {1.0, 0};
    char msg[256];
    smp_mc_config cfg = {.dim = 2, .n_chains = 1, .sigma = 0.1, .kT = 1.0, .n_steps = 10,
                         .stride = 0, .seed = 1};
    ck_assert_int_eq(smp_mc_run(&cfg, harmonic, &cnt, x0, out, NULL, NULL, msg, sizeof msg),
                     AD_ERR_ARG);
    ck_assert_str_eq(msg, "smp_mc_run: stride = 0 (need >= 1)");
    cfg.stride = 1;
    cfg.kT = -1;
    ck_assert_int_eq(smp_mc_run(&cfg, harmonic, &cnt, x0, out, NULL, NULL, msg, sizeof msg),
                     AD_ERR_ARG);
    cfg.kT = 1;
    ad_real bad[2] = {0, NAN};
    ck_assert_int_eq(smp_mc_run(&cfg, harmonic, &cnt, bad, out, NULL, NULL, msg, sizeof msg),
                     AD_ERR_NUMERIC);
    ck_assert_str_eq(msg, "smp_mc_run: start of chain 0, coordinate 1 is not finite (nan)");
    ad_real outside[2] = {-5, 0}; /* energy +inf at the start */
    cfg.dim = 1;
    cfg.n_chains = 2;
    ck_assert_int_eq(smp_mc_run(&cfg, steps, NULL, outside, out, NULL, NULL, msg, sizeof msg),
                     AD_ERR_NUMERIC);
    ck_assert_str_eq(msg, "smp_mc_run: energy of the start of chain 0 is not finite (inf)");
    long calls = 0;
    smp_mc_stats st;
    ck_assert_int_eq(smp_mc_run(&cfg, failing, &calls, x0, out, NULL, &st, msg, sizeof msg),
                     AD_ERR_NUMERIC);
    ck_assert_str_eq(msg, "energy exploded");
    ck_assert_int_eq(st.n_proposed, 2); /* one completed step of 2 chains */
}
END_TEST

/* The defaults, each invalid field named, and smp_mc_sample against
 * smp_mc_run with the same config. */
START_TEST(test_defaults_fields_and_sample)
{
    smp_mc_config d = smp_mc_config_default(2, 1.5);
    ck_assert_int_eq(d.dim, 2);
    ck_assert_int_eq(d.n_chains, 1);
    ck_assert(d.sigma == 0.1 && d.kT == 1.5);
    ck_assert_int_eq(d.n_steps, 10000);
    ck_assert_int_eq(d.stride, 10);
    ck_assert_int_eq(d.keep_initial, 0);
    ck_assert_uint_eq(d.seed, 1);
    ck_assert_int_eq(smp_mc_n_frames(&d), 1000);

    ad_real x0[2] = {0, 0}, out[64];
    counting cnt = {1.0, 0};
    char msg[256];
    static const struct {
        const char *expect;
        int dim, n_chains;
        double sigma, kT;
        long n_steps;
        int stride, keep_initial;
    } bad[] = {
        {"smp_mc_run: dim = 0 (need >= 1)", 0, 1, 0.1, 1, 10, 1, 0},
        {"smp_mc_run: n_chains = 0 (need >= 1)", 2, 0, 0.1, 1, 10, 1, 0},
        {"smp_mc_run: sigma = 0 (need finite, > 0)", 2, 1, 0, 1, 10, 1, 0},
        {"smp_mc_run: sigma = inf (need finite, > 0)", 2, 1, INFINITY, 1, 10, 1, 0},
        {"smp_mc_run: kT = -1 (need finite, > 0)", 2, 1, 0.1, -1, 10, 1, 0},
        {"smp_mc_run: n_steps = -1 (need >= 0)", 2, 1, 0.1, 1, -1, 1, 0},
        {"smp_mc_run: stride = -2 (need >= 1)", 2, 1, 0.1, 1, 10, -2, 0},
        {"smp_mc_run: keep_initial = 2 (need 0 or 1)", 2, 1, 0.1, 1, 10, 1, 2},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        smp_mc_config c = smp_mc_config_default(bad[i].dim, bad[i].kT);
        c.n_chains = bad[i].n_chains;
        c.sigma = bad[i].sigma;
        c.n_steps = bad[i].n_steps;
        c.stride = bad[i].stride;
        c.keep_initial = bad[i].keep_initial;
        ck_assert_int_eq(smp_mc_run(&c, harmonic, &cnt, x0, out, NULL, NULL, msg, sizeof msg),
                         AD_ERR_ARG);
        ck_assert_str_eq(msg, bad[i].expect);
    }

    /* smp_mc_sample: the frames of smp_mc_run with a potential, as a data set */
    pot_potential dw = pot_double_well(NULL);
    ad_real start[4] = {-1.772303, 0, 1.688776, 0};
    smp_mc_config c = smp_mc_config_default(2, 1.0);
    c.n_chains = 2;
    c.n_steps = 300;
    c.stride = 3;
    smp_dataset *data = NULL;
    smp_mc_stats st;
    ck_assert_msg(smp_mc_sample(&c, &dw, start, &data, &st, msg, sizeof msg) == AD_OK, "%s",
                  msg);
    ck_assert_int_eq(data->n, 200);
    ck_assert_int_eq(data->dim, 2);
    ck_assert(st.acceptance > 0.5);
    ad_real *ref = malloc(sizeof(ad_real) * 400);
    ad_tape *t = ad_tape_new(0);
    smp_potential_ctx ctx = {.potential = &dw, .scratch = t};
    ck_assert_int_eq(smp_mc_run(&c, smp_potential_energy, &ctx, start, ref, NULL, NULL, msg,
                                sizeof msg), AD_OK);
    ck_assert_int_eq(memcmp(ref, data->x, sizeof(ad_real) * 400), 0);
    smp_dataset_free(data);
    /* errors: the output is NULL and the field or argument is named */
    data = (smp_dataset *)ref; /* a stale pointer must be cleared */
    c.dim = 3;
    ck_assert_int_eq(smp_mc_sample(&c, &dw, start, &data, NULL, msg, sizeof msg), AD_ERR_SHAPE);
    ck_assert_ptr_null(data);
    ck_assert_str_eq(msg, "smp_mc_sample: dim = 3, but the potential double-well has dim 2");
    c.dim = 2;
    c.sigma = -1;
    ck_assert_int_eq(smp_mc_sample(&c, &dw, start, &data, NULL, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_str_eq(msg, "smp_mc_sample: sigma = -1 (need finite, > 0)");
    c.sigma = 0.1;
    ck_assert_int_eq(smp_mc_sample(&c, NULL, start, &data, NULL, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_str_eq(msg, "smp_mc_sample: u is NULL");
    ad_real nan_start[4] = {0, NAN, 0, 0};
    ck_assert_int_eq(smp_mc_sample(&c, &dw, nan_start, &data, NULL, msg, sizeof msg),
                     AD_ERR_NUMERIC);
    ck_assert_ptr_null(data);
    ad_tape_free(t);
    free(ref);
}
END_TEST

Suite *smp_mc_suite(void)
{
    Suite *s = suite_create("sampling-mc");
    TCase *tc = tcase_create("statistics");
    tcase_add_test(tc, test_harmonic_moments_and_acceptance);
    tcase_add_test(tc, test_detailed_balance);
    tcase_set_tags(tc, "slow");
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    tc = tcase_create("forward");
    tcase_add_test(tc, test_stride_energies_rejections_determinism);
    tcase_add_test(tc, test_potential_adapter);
    tcase_add_test(tc, test_progress);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_defaults_fields_and_sample);
    suite_add_tcase(s, tc);
    return s;
}
