/* test_sampling_analysis_wham.c - WHAM and the umbrella-sampling driver on
 * the bare 1-D bond of Noe's particle dimer (docs/science.md §3.2, §3.7):
 *   U(d) = s y - a y^2 + b y^4,  y = 2 (d - 1.5),  s = 2, a = 25, b = 10,
 * kT = 1, d restricted to [0.5, 2.5].  The exact
 *   dF(closed - open) = -log(int_0.5^1.5 e^-U / int_1.5^2.5 e^-U) = -4.4139
 * is recomputed here by quadrature.  smp_wham reports
 * dF = F(r >= r_split) - F(r < r_split) = F(open) - F(closed) = +4.4139. */
#include <check.h>
#include <math.h>
#include <string.h>

#include "autodiff/ad.h"
#include "ck_util.h"
#include "sampling/smp_umbrella.h"
#include "sampling/smp_wham.h"

static double bond_u(double d)
{
    double y = 2 * (d - 1.5);
    return 2 * y - 25 * y * y + 10 * y * y * y * y;
}

/* Composite Simpson rule of exp(-U) on [lo, hi] with m (even) intervals. */
static double simpson_boltzmann(double lo, double hi, int m)
{
    double h = (hi - lo) / m, s = exp(-bond_u(lo)) + exp(-bond_u(hi));
    for (int i = 1; i < m; i++) s += (i % 2 ? 4 : 2) * exp(-bond_u(lo + i * h));
    return s * h / 3;
}

/* The reference dF(closed - open); Simpson with 2000 intervals is converged
 * to ~1e-12 here (the integrand is smooth, its scale is 0.05). */
static double exact_closed_minus_open(void)
{
    return -log(simpson_boltzmann(0.5, 1.5, 2000) / simpson_boltzmann(1.5, 2.5, 2000));
}

/* Exact draws from p_k(d) ~ exp(-U(d) - k/2 (d - r0)^2) on [0.5, 2.5] by
 * inverse CDF on a fine grid (piecewise-linear CDF from the trapezoid rule;
 * the grid error, O(h^2) with h = 5e-4, is negligible against the SE). */
enum { GRID = 4001 };
typedef struct exact_sampler {
    double x[GRID], cdf[GRID];
} exact_sampler;

static void sampler_init(exact_sampler *s, double r0, double k)
{
    double lg[GRID], mx = -INFINITY;
    for (int i = 0; i < GRID; i++) {
        s->x[i] = 0.5 + 2.0 * i / (GRID - 1);
        lg[i] = -bond_u(s->x[i]) - 0.5 * k * (s->x[i] - r0) * (s->x[i] - r0);
        if (lg[i] > mx) mx = lg[i];
    }
    s->cdf[0] = 0;
    for (int i = 1; i < GRID; i++)
        s->cdf[i] = s->cdf[i - 1] + 0.5 * (exp(lg[i] - mx) + exp(lg[i - 1] - mx));
    for (int i = 0; i < GRID; i++) s->cdf[i] /= s->cdf[GRID - 1];
}

static double sampler_draw(const exact_sampler *s, ad_rng *rng)
{
    double u = ad_rng_uniform(rng);
    int lo = 0, hi = GRID - 1;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (s->cdf[mid] <= u)
            lo = mid;
        else
            hi = mid;
    }
    double t = (u - s->cdf[lo]) / (s->cdf[hi] - s->cdf[lo]);
    return s->x[lo] + t * (s->x[hi] - s->x[lo]);
}

/* Umbrella set-up of docs/science.md §3.7: 35 windows on [0.5, 2.5], k = 500. */
enum { N_WIN = 35 };
static const double K_UMB = 500;

/* WHAM binning bias of dF: the window bias is taken at bin centres; with
 * 1e6 exact samples per window, 100 bins gave 4.4168 +- 0.0035 and 400 bins
 * 4.4176 +- 0.0036 against 4.4139, so the bias is below ~0.01 (it nearly
 * cancels in dF, whose weight sits at the minima where U' = 0). */
static const double BIN_BIAS = 0.01;

START_TEST(test_reference_value)
{
    ck_assert_close(exact_closed_minus_open(), -4.4139043664615345, 1e-6, 0, "dF quadrature", 0);
}
END_TEST

START_TEST(test_wham_exact_samples)
{
    /* (a) WHAM alone: independent exact draws from every biased window. */
    enum { N = 10000, NB = 200, BLOCKS = 10 };
    static ad_real r[N_WIN][N];
    static exact_sampler smp;
    smp_wham_window win[N_WIN];
    ad_rng rng;
    ad_rng_seed(&rng, 51, 0);
    for (int k = 0; k < N_WIN; k++) {
        double r0 = 0.5 + 2.0 * k / (N_WIN - 1);
        sampler_init(&smp, r0, K_UMB);
        for (int i = 0; i < N; i++) r[k][i] = sampler_draw(&smp, &rng);
        win[k] = (smp_wham_window){.r = r[k], .n = N, .center = r0, .k = K_UMB};
    }
    smp_wham_config cfg = {.n_bins = NB, .lo = 0.5, .hi = 2.5, .kT = 1.0, .tol = 1e-10,
                           .r_split = 1.5, .n_blocks = BLOCKS};
    smp_wham_result *res = NULL;
    char msg[300];
    ck_assert_int_eq(smp_wham_run(&cfg, win, N_WIN, &res, msg, sizeof msg), AD_OK);
    double exact = exact_closed_minus_open();
    /* iid samples, so the 10 blocks are independent: (est - exact)/SE is
     * t-distributed with 9 dof; 4 SE is two-sided p = 0.003, plus the
     * binning bias bound */
    ck_assert_close(-res->dF, exact, 4 * res->dF_se + BIN_BIAS, 0, "WHAM dF", 0);
    ck_assert(res->dF_se > 0.01 && res->dF_se < 0.1); /* ~0.05 expected at N = 1e4 */
    ck_assert_int_eq(res->n_outside, 0);
    ck_assert(res->f_window[0] == 0);
    /* Profile against the exact bin probabilities q_j, over bins within
     * 8 kT of the minimum.  Bin discretisation: e^-U varies inside a bin,
     * so its mean position is off the centre by ~h^2 U'/12, and the window
     * biases (slope up to k |r - r0| ~ 500 x 0.1 for the windows that
     * sample the bin) are then misjudged by ~(h^2/12) |U'| 50 kT: added to
     * the tolerance.  ~70 correlated bins make it a multiple comparison:
     * each |z| < 5 (t_9: p = 7e-4 per bin). */
    double q[NB], tot = 0, h = 2.0 / NB, fmin = INFINITY;
    int nz = 0;
    for (int j = 0; j < NB; j++)
        tot += q[j] = simpson_boltzmann(0.5 + j * h, 0.5 + (j + 1) * h, 20);
    for (int j = 0; j < NB; j++) {
        double f = -log(q[j] / tot / h);
        if (f < fmin) fmin = f;
    }
    double est0 = INFINITY;
    for (int j = 0; j < NB; j++)
        if (res->F[j] < est0) est0 = res->F[j];
    ck_assert(est0 == 0.0);
    for (int j = 0; j < NB; j++) {
        double f = -log(q[j] / tot / h) - fmin, x = (double)res->center[j];
        if (f > 8) continue;
        /* both are shifted to their minimum, which is one of the central
         * bins of the deep closed well, so the comparison is of differences */
        double du = (bond_u(x + 1e-6) - bond_u(x - 1e-6)) / 2e-6;
        double bias = h * h / 12 * fabs(du) * 50;
        ck_assert_msg(fabs((double)res->F[j] - f) < 5 * (double)res->F_se[j] + bias,
                      "bin %d (r %g): F %g vs %g (se %g, bias bound %g)", j, x,
                      (double)res->F[j], f, (double)res->F_se[j], bias);
        nz++;
    }
    ck_assert_int_ge(nz, 20);
    smp_wham_result_free(res);
}
END_TEST

START_TEST(test_wham_huge_range)
{
    /* U(r) = -800 r on [0, 1]: F spans 800 kT, beyond the range of exp()
     * in double (e^-745 underflows), so linear-space WHAM would fail.
     * 51 windows (k = 1e4) sampled exactly: the biased density
     * exp(800 r - k/2 (r - r0)^2) is N(r0 + 800/k, 1/k); samples outside
     * [0, 1] are dropped by WHAM (counted), which is correct for the
     * truncated distribution.  Exact dF = F(r >= 0.5) - F(r < 0.5)
     * = -log((e^800 - e^400) / (e^400 - 1)) = -400 (to 1e-170).  The check
     * is for robustness: any underflow gives inf/NaN or errors of hundreds
     * of kT, so 1% (4 kT, ~20 block SEs) is a safe bound that still catches
     * it; the profile must be finite everywhere and linear in r. */
    enum { K = 51, N = 1000, NB = 200 };
    static ad_real r[K][N];
    smp_wham_window win[K];
    ad_rng rng;
    ad_rng_seed(&rng, 52, 0);
    for (int k = 0; k < K; k++) {
        double r0 = (double)k / (K - 1);
        for (int i = 0; i < N; i++) r[k][i] = r0 + 800 / 1e4 + ad_rng_normal(&rng) / 100;
        win[k] = (smp_wham_window){.r = r[k], .n = N, .center = r0, .k = 1e4};
    }
    smp_wham_config cfg = {.n_bins = NB, .lo = 0, .hi = 1, .kT = 1.0, .tol = 1e-10, .r_split = 0.5,
                           .n_blocks = 5};
    smp_wham_result *res = NULL;
    char msg[300];
    ck_assert_int_eq(smp_wham_run(&cfg, win, K, &res, msg, sizeof msg), AD_OK);
    ck_assert_close(res->dF, -400, 4, 0, "dF", 0);
    ck_assert(isfinite(res->dF_se) && res->dF_se < 1);
    ck_assert(res->n_outside > 0);
    /* F(r) = 800 (1 - r) + const: slope between the quarter points */
    ck_assert_close(res->F[NB / 4] - res->F[3 * NB / 4], 800 * 0.5, 4, 0, "F slope", 0);
    /* below r ~ 0.05 even window 0 (mean 0.08, std 0.01) rarely goes */
    for (int j = 15; j < NB; j++) ck_assert(isfinite(res->F[j]));
    smp_wham_result_free(res);
}
END_TEST

/* ------------------------------------------------------- umbrella + MC */

/* The bond energy on d = x[0]; +inf outside [0.5, 2.5], so smp_mc_run
 * rejects every move that leaves the interval (a hard wall). */
static int bond_energy(void *ctx, const ad_real *x, int n, int dim, ad_real *u, char *msg,
                       size_t msg_len)
{
    (void)ctx;
    (void)msg;
    (void)msg_len;
    for (int i = 0; i < n; i++) {
        double d = (double)x[(size_t)i * dim];
        u[i] = (d >= 0.5 && d <= 2.5) ? (ad_real)bond_u(d) : (ad_real)INFINITY;
    }
    return AD_OK;
}

static double coord_first(void *ctx, const ad_real *x, int dim)
{
    (void)ctx;
    (void)dim;
    return (double)x[0];
}

static smp_umbrella_config bond_config(const ad_real *x0, int n_repeats, long n_steps)
{
    smp_umbrella_config c = smp_umbrella_config_default(1, 1.0);
    c.n_windows = N_WIN;
    c.center_lo = 0.5;
    c.center_hi = 2.5;
    c.k = K_UMB;
    c.kT = 1.0;
    c.sigma = 0.05;     /* window widths 0.035..0.06: acceptance 0.5..0.75 */
    c.n_steps = n_steps;
    c.stride = 10;
    c.n_discard = 10;   /* 100 steps from the window centre */
    c.n_chains = 4;
    c.n_repeats = n_repeats;
    c.seed = 2024;
    c.coord = coord_first;
    c.x0 = x0;
    c.wham = (smp_wham_config){.n_bins = 100, .lo = 0.5, .hi = 2.5, .tol = 1e-10, .r_split = 1.5};
    return c;
}

START_TEST(test_umbrella_mc_bond)
{
    /* (b) The driver with Metropolis MC, 10 independent repeats of 35
     * windows x 4 chains x 5000 steps.  SE = std(repeats)/sqrt(10): the
     * error is t_9-distributed (over 30 seeds of this set-up the rms of
     * (est - exact)/SE was 1.12, as t_9's 1.13); 4 SE is p = 0.003, plus
     * the binning bias bound. */
    ad_real x0[N_WIN];
    for (int k = 0; k < N_WIN; k++) x0[k] = 0.5 + 2.0 * k / (N_WIN - 1);
    smp_umbrella_config c = bond_config(x0, 10, 5000);
    smp_umbrella_result *res = NULL;
    char msg[300];
    ck_assert_int_eq(smp_umbrella_run(&c, bond_energy, NULL, &res, msg, sizeof msg), AD_OK);
    double exact = exact_closed_minus_open();
    ck_assert_close(-res->dF, exact, 4 * res->dF_se + BIN_BIAS, 0, "umbrella dF", 0);
    ck_assert(res->dF_se > 0.005 && res->dF_se < 0.15);
    for (int k = 0; k < N_WIN; k++) {
        ck_assert(res->acceptance[k] > 0.3 && res->acceptance[k] < 0.9);
        ck_assert_close(res->center[k], 0.5 + 2.0 * k / (N_WIN - 1), 1e-12, 0, "centre", k);
    }
    ck_assert_int_eq(res->n_per_window, (501 - 10) * 4);
    /* every sample respects the wall */
    for (size_t i = 0; i < (size_t)N_WIN * 10 * res->n_per_window; i++)
        ck_assert(res->r[i] >= 0.5 && res->r[i] <= 2.5);
    smp_umbrella_result_free(res);
}
END_TEST

/* Starting configurations from a callback: the window centre. */
static int start_at_center(void *ctx, int window, double center, int repeat, int n_chains, int dim,
                           ad_real *x, char *msg, size_t msg_len)
{
    (void)ctx;
    (void)window;
    (void)repeat;
    (void)msg;
    (void)msg_len;
    for (int i = 0; i < n_chains * dim; i++) x[i] = (ad_real)center;
    return AD_OK;
}

static void count_runs(long done, long total, void *ctx)
{
    long *seen = ctx;
    ck_assert_int_eq(done, seen[0] + 1);
    seen[0] = done;
    seen[1] = total;
}

START_TEST(test_umbrella_deterministic)
{
    /* Same seed -> bitwise the same result (x0 array or the equivalent
     * callback); another seed -> different samples. */
    ad_real x0[N_WIN];
    for (int k = 0; k < N_WIN; k++) x0[k] = 0.5 + 2.0 * k / (N_WIN - 1);
    smp_umbrella_config c = bond_config(x0, 2, 1000);
    c.wham.n_blocks = 4;
    smp_umbrella_result *a = NULL, *b = NULL, *d = NULL;
    char msg[300];
    ck_assert_int_eq(smp_umbrella_run(&c, bond_energy, NULL, &a, msg, sizeof msg), AD_OK);
    c.x0 = NULL;
    c.start = start_at_center;
    long seen[2] = {0, 0}; /* the progress callback changes nothing */
    c.progress = count_runs;
    c.progress_ctx = seen;
    ck_assert_int_eq(smp_umbrella_run(&c, bond_energy, NULL, &b, msg, sizeof msg), AD_OK);
    ck_assert_int_eq(seen[0], (long)N_WIN * 2);
    ck_assert_int_eq(seen[1], (long)N_WIN * 2);
    c.progress = NULL;
    c.seed++;
    ck_assert_int_eq(smp_umbrella_run(&c, bond_energy, NULL, &d, msg, sizeof msg), AD_OK);
    size_t n = (size_t)N_WIN * 2 * a->n_per_window;
    ck_assert(memcmp(a->r, b->r, n * sizeof *a->r) == 0);
    ck_assert(a->dF == b->dF && a->dF_se == b->dF_se);
    ck_assert(memcmp(a->r, d->r, n * sizeof *a->r) != 0);
    ck_assert(isfinite(a->wham->dF_se) && isfinite(a->dF_se));
    smp_umbrella_result_free(a);
    smp_umbrella_result_free(b);
    smp_umbrella_result_free(d);
}
END_TEST

START_TEST(test_wham_errors)
{
    ad_real r[20];
    for (int i = 0; i < 20; i++) r[i] = 1.0 + 0.05 * i;
    smp_wham_window win[2] = {{.r = r, .n = 10, .center = 1.2, .k = 10},
                              {.r = r + 10, .n = 10, .center = 1.7, .k = 10}};
    smp_wham_config cfg = {.n_bins = 10, .lo = 0.5, .hi = 2.5, .kT = 1.0, .tol = 1e-10,
                           .r_split = 1.5};
    smp_wham_result *res = NULL;
    char msg[300];
    ck_assert_int_eq(smp_wham_run(&cfg, win, 0, &res, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(msg, "n_windows = 0"));
    cfg.n_bins = 0;
    ck_assert_int_eq(smp_wham_run(&cfg, win, 2, &res, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(msg, "n_bins = 0"));
    cfg.n_bins = 10;
    cfg.lo = 2.5;
    ck_assert_int_eq(smp_wham_run(&cfg, win, 2, &res, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(msg, "lo < hi"));
    cfg.lo = 0.5;
    cfg.kT = 0;
    ck_assert_int_eq(smp_wham_run(&cfg, win, 2, &res, msg, sizeof msg), AD_ERR_ARG);
    cfg.kT = 1;
    /* a window that claims samples but has none, and more blocks than samples */
    win[1].r = NULL;
    ck_assert_int_eq(smp_wham_run(&cfg, win, 2, &res, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(msg, "window 1"));
    win[1].r = r + 10;
    cfg.n_blocks = 11;
    ck_assert_int_eq(smp_wham_run(&cfg, win, 2, &res, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(msg, "blocks"));
    cfg.n_blocks = 0;
    /* no convergence in 1 iteration is an error, with the change reported */
    cfg.max_iter = 1;
    ck_assert_int_eq(smp_wham_run(&cfg, win, 2, &res, msg, sizeof msg), AD_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(msg, "not converged"));
    ck_assert_ptr_null(res);
    cfg.max_iter = 0;
    /* every sample on one side of r_split: a state without weight */
    cfg.r_split = 0.6;
    ck_assert_int_eq(smp_wham_run(&cfg, win, 2, &res, msg, sizeof msg), AD_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(msg, "no weight"));
    /* all samples outside the range */
    cfg.r_split = 1.5;
    cfg.lo = 3;
    cfg.hi = 4;
    ck_assert_int_eq(smp_wham_run(&cfg, win, 2, &res, msg, sizeof msg), AD_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(msg, "no sample"));
    /* and a good run converges */
    cfg.lo = 0.5;
    cfg.hi = 2.5;
    ck_assert_int_eq(smp_wham_run(&cfg, win, 2, &res, msg, sizeof msg), AD_OK);
    ck_assert(res->max_change < 1e-10 && res->n_iter > 1);
    smp_wham_result_free(res);
}
END_TEST

START_TEST(test_umbrella_errors)
{
    ad_real x0[N_WIN];
    for (int k = 0; k < N_WIN; k++) x0[k] = 0.5 + 2.0 * k / (N_WIN - 1);
    smp_umbrella_config c = bond_config(x0, 1, 100);
    smp_umbrella_result *res = NULL;
    char msg[300];
    c.coord = NULL;
    ck_assert_int_eq(smp_umbrella_run(&c, bond_energy, NULL, &res, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(msg, "coordinate"));
    c.coord = coord_first;
    c.n_discard = 11; /* 100 steps / stride 10 + the initial frame = 11 frames */
    ck_assert_int_eq(smp_umbrella_run(&c, bond_energy, NULL, &res, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(msg, "none left"));
    c.n_discard = 0;
    c.n_windows = 0;
    ck_assert_int_eq(smp_umbrella_run(&c, bond_energy, NULL, &res, msg, sizeof msg), AD_ERR_ARG);
    c.n_windows = N_WIN;
    /* a start outside the wall: smp_mc_run's error, named with the window */
    x0[3] = 3.0;
    ck_assert_int_eq(smp_umbrella_run(&c, bond_energy, NULL, &res, msg, sizeof msg),
                     AD_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(msg, "window 3"));
    ck_assert_ptr_null(res);
}
END_TEST

/* The defaults, and each invalid field of smp_wham_config and
 * smp_umbrella_config rejected by name. */
START_TEST(test_config_defaults_and_fields)
{
    smp_wham_config w = smp_wham_config_default(0.5, 2.5, 1.5);
    ck_assert_int_eq(w.n_bins, 50);
    ck_assert(w.lo == 0.5 && w.hi == 2.5 && w.kT == 1.5 && w.tol == 1e-10);
    ck_assert_int_eq(w.max_iter, 200000);
    ck_assert(w.r_split == 1.5);
    ck_assert_int_eq(w.n_blocks, 0);
    ad_real r[4] = {1.0, 1.2, 1.8, 2.0};
    smp_wham_window win = {.r = r, .n = 4, .center = 1.5, .k = 0};
    smp_wham_result *res = NULL;
    char msg[300];
    ck_assert_int_eq(smp_wham_run(&w, &win, 1, &res, msg, sizeof msg), AD_OK);
    smp_wham_result_free(res);
    smp_wham_config b = w;
    b.tol = -1;
    ck_assert_int_eq(smp_wham_run(&b, &win, 1, &res, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_str_eq(msg, "smp_wham_run: tol = -1 (need finite >= 0; 0: 1e-10)");
    b = w;
    b.max_iter = -3;
    ck_assert_int_eq(smp_wham_run(&b, &win, 1, &res, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_str_eq(msg, "smp_wham_run: max_iter = -3 (need >= 0; 0: 200000)");
    b = w;
    b.n_blocks = -1;
    ck_assert_int_eq(smp_wham_run(&b, &win, 1, &res, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_str_eq(msg, "smp_wham_run: n_blocks = -1 (need >= 0)");
    b = w;
    b.hi = b.lo;
    ck_assert_int_eq(smp_wham_run(&b, &win, 1, &res, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_str_eq(msg, "smp_wham_run: lo = 0.5, hi = 0.5 (need finite lo < hi)");
    win.k = -2;
    ck_assert_int_eq(smp_wham_run(&w, &win, 1, &res, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_str_eq(msg, "smp_wham_run: window 0: k = -2 (need finite >= 0)");
    win.k = 0;
    win.center = NAN;
    ck_assert_int_eq(smp_wham_run(&w, &win, 1, &res, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_str_eq(msg, "smp_wham_run: window 0: center = nan (need finite)");

    smp_umbrella_config u = smp_umbrella_config_default(1, 2.0);
    ck_assert_int_eq(u.dim, 1);
    ck_assert_int_eq(u.n_windows, 1);
    ck_assert(u.kT == 2.0 && u.sigma == 0.1 && u.k == 0);
    ck_assert_int_eq(u.n_steps, 10000);
    ck_assert_int_eq(u.stride, 10);
    ck_assert_int_eq(u.n_chains, 1);
    ck_assert_int_eq(u.n_repeats, 1);
    ck_assert_int_eq(u.wham.n_bins, 50);
    ad_real x0[1] = {1.0};
    u.coord = coord_first;
    u.x0 = x0;
    smp_umbrella_result *ur = NULL;
    static const struct {
        const char *field;
        long value;
        const char *expect;
    } counts[] = {
        {"dim", 0, "smp_umbrella_run: dim = 0 (need >= 1)"},
        {"n_windows", 0, "smp_umbrella_run: n_windows = 0 (need >= 1)"},
        {"n_chains", -1, "smp_umbrella_run: n_chains = -1 (need >= 1)"},
        {"n_repeats", 0, "smp_umbrella_run: n_repeats = 0 (need >= 1)"},
        {"stride", 0, "smp_umbrella_run: stride = 0 (need >= 1)"},
        {"n_steps", -5, "smp_umbrella_run: n_steps = -5 (need >= 0)"},
        {"n_discard", -1, "smp_umbrella_run: n_discard = -1 (need >= 0)"},
    };
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        smp_umbrella_config c = u;
        if (!strcmp(counts[i].field, "dim")) c.dim = (int)counts[i].value;
        if (!strcmp(counts[i].field, "n_windows")) c.n_windows = (int)counts[i].value;
        if (!strcmp(counts[i].field, "n_chains")) c.n_chains = (int)counts[i].value;
        if (!strcmp(counts[i].field, "n_repeats")) c.n_repeats = (int)counts[i].value;
        if (!strcmp(counts[i].field, "stride")) c.stride = (int)counts[i].value;
        if (!strcmp(counts[i].field, "n_steps")) c.n_steps = counts[i].value;
        if (!strcmp(counts[i].field, "n_discard")) c.n_discard = counts[i].value;
        ck_assert_int_eq(smp_umbrella_run(&c, bond_energy, NULL, &ur, msg, sizeof msg),
                         AD_ERR_ARG);
        ck_assert_str_eq(msg, counts[i].expect);
    }
    smp_umbrella_config c = u;
    c.sigma = 0;
    ck_assert_int_eq(smp_umbrella_run(&c, bond_energy, NULL, &ur, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_str_eq(msg, "smp_umbrella_run: sigma = 0 (need finite > 0)");
    c = u;
    c.kT = NAN;
    ck_assert_int_eq(smp_umbrella_run(&c, bond_energy, NULL, &ur, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_str_eq(msg, "smp_umbrella_run: kT = nan (need finite > 0)");
    c = u;
    c.k = -1;
    ck_assert_int_eq(smp_umbrella_run(&c, bond_energy, NULL, &ur, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_str_eq(msg, "smp_umbrella_run: k = -1 (need finite >= 0)");
    c = u;
    c.center_hi = -1;
    ck_assert_int_eq(smp_umbrella_run(&c, bond_energy, NULL, &ur, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_str_eq(msg,
                     "smp_umbrella_run: center_lo = 0, center_hi = -1 (need finite, lo <= hi)");
    c = u;
    c.x0 = NULL;
    ck_assert_int_eq(smp_umbrella_run(&c, bond_energy, NULL, &ur, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_str_eq(msg, "smp_umbrella_run: x0 and start are both NULL");
    ck_assert_ptr_null(ur);
}
END_TEST

Suite *smp_wham_suite(void)
{
    Suite *s = suite_create("sampling-wham");
    TCase *tc = tcase_create("forward");
    tcase_set_tags(tc, "slow");
    tcase_add_test(tc, test_reference_value);
    tcase_add_test(tc, test_umbrella_deterministic);
    tcase_add_test(tc, test_wham_huge_range);
    suite_add_tcase(s, tc);
    tc = tcase_create("statistics");
    tcase_set_tags(tc, "slow");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_wham_exact_samples);
    tcase_add_test(tc, test_umbrella_mc_bond);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_wham_errors);
    tcase_add_test(tc, test_umbrella_errors);
    tcase_add_test(tc, test_config_defaults_and_fields);
    suite_add_tcase(s, tc);
    return s;
}
