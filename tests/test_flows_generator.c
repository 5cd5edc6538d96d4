/* test_flows_generator.c - the Boltzmann-generator object (flows/bg_generator.h),
 * the layer checks (flows/flow_check.h), the schedule defaults and checks of
 * bg_train.h, and the strided sampling estimators. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "autodiff/ad.h"
#include "ck_util.h"
#include "flows/bg_generator.h"
#include "flows/flow_check.h"
#include "flows/flow_coupling.h"
#include "flows/flow_sequential.h"
#include "flows/flow_whiten.h"
#include "nn/nn_checkpoint.h"
#include "nn/nn_params.h"
#include "potentials/pot_double_well.h"
#include "sampling/smp_mc.h"
#include "sampling/smp_quadrature.h"
#include "test_flows_util.h"

/* ---- layer checks -------------------------------------------------------- */

/* A RealNVP with random parameters (so log-dets are far from 0). */
static flow_model *random_realnvp(int dim, uint64_t seed)
{
    static const int widths[2] = {16, 16};
    flow_realnvp_config c = flow_realnvp_preset_config(FLOW_REALNVP_DOUBLE_WELL);
    c.dim = dim;
    c.n_blocks = 2;
    c.hidden_widths = widths;
    c.seed = seed;
    char msg[256];
    flow_model *m = flow_realnvp_new(&c, msg, sizeof msg);
    ck_assert_msg(m != NULL, "%s", msg);
    fc_randomize_fanin(m->params, seed + 1, 1.0);
    return m;
}

START_TEST(test_check_passes_good_layers)
{
    char msg[512];
    flow_check_config cfg = flow_check_default();
    flow_check_report rep;
    for (int dim = 2; dim <= 5; dim += 3) {
        flow_model *m = random_realnvp(dim, 40 + (uint64_t)dim);
        int status = flow_check_layer(m->flow, &cfg, &rep, msg, sizeof msg);
        ck_assert_msg(status == AD_OK && rep.passed, "dim %d: %s", dim, msg);
        ck_assert_int_eq(rep.n_failed, 0);
        ck_assert(rep.contract_ok);
        /* something to see: log-dets of order 1, not a trivially zero map */
        ck_assert_msg(rep.max_abs_logdet > 0.1, "max |logdet| %g", rep.max_abs_logdet);
        if (getenv("BG_TEST_REPORT"))
            fprintf(stderr, "check dim %d: round trip %.2e (tol %.2e), fd log-det %.2e (tol "
                    "%.2e), A %.3g, max |logdet| %.3g\n", dim, rep.roundtrip_z_error,
                    rep.roundtrip_z_tol, rep.logdet_fd_error, rep.logdet_fd_tol,
                    rep.amplification, rep.max_abs_logdet);
        ck_assert(rep.logdet_fd_ratio <= 1 && rep.roundtrip_x_error <= rep.roundtrip_x_tol);
        /* each single coupling passes too */
        for (int k = 0; k < flow_sequential_length(m->flow); k++) {
            status = flow_check_layer(flow_sequential_get(m->flow, k), &cfg, &rep, msg,
                                      sizeof msg);
            ck_assert_msg(status == AD_OK, "dim %d layer %d: %s", dim, k, msg);
        }
        flow_model_free(m);
    }
    /* a truncated whitening layer (dim_z < dim_x): contract, round trip z,
     * log-det sum; no square Jacobian */
    enum { N = 50 };
    ad_real *data = fc_normal(N, 3, 5);
    for (int i = 0; i < N; i++) data[3 * i + 2] = 0.5 * data[3 * i] - data[3 * i + 1];
    nn_params *p = nn_params_new();
    flow_whiten_config wc = {.dim = 3, .keep = 2, .data = data, .n_samples = N};
    flow_layer *w = flow_whiten_new(p, &wc, msg, sizeof msg);
    ck_assert_msg(w != NULL, "%s", msg);
    ad_rng rng;
    ad_rng_seed(&rng, 1, 0);
    ck_assert_int_eq(nn_params_finalize(p, &rng, msg, sizeof msg), AD_OK);
    ck_assert_msg(flow_check_layer(w, &cfg, &rep, msg, sizeof msg) == AD_OK, "%s", msg);
    ck_assert(isnan(rep.logdet_fd_error) && isnan(rep.roundtrip_x_error));
    flow_layer_free(w);
    nn_params_free(p);
    free(data);
}
END_TEST

/* A deliberately broken layer wrapping a good one. */
typedef enum { BROKEN_SIGN, BROKEN_INVERSE, BROKEN_SHAPE, BROKEN_ROWS } broken_kind;
typedef struct broken_layer {
    flow_layer base;
    const flow_layer *inner;
    broken_kind kind;
} broken_layer;

static ad_tensor *broken_forward(const flow_layer *l, ad_tape *t, ad_tensor *z, ad_tensor **ld)
{
    const broken_layer *b = (const broken_layer *)l;
    ad_tensor *x = flow_layer_forward(b->inner, t, z, ld);
    if (b->kind == BROKEN_SIGN) *ld = ad_scale(t, *ld, -1); /* log|det dz/dx| instead */
    if (b->kind == BROKEN_SHAPE) *ld = ad_reshape(t, *ld, 2, (int[]){z->shape[0], 1});
    if (b->kind == BROKEN_ROWS) /* every row shifted by the batch mean of z */
        x = ad_add(t, x, ad_mean_axis(t, z, 0));
    return x;
}

static ad_tensor *broken_inverse(const flow_layer *l, ad_tape *t, ad_tensor *x, ad_tensor **ld)
{
    const broken_layer *b = (const broken_layer *)l;
    ad_tensor *z = flow_layer_inverse(b->inner, t, x, ld);
    if (b->kind == BROKEN_SIGN) *ld = ad_scale(t, *ld, -1); /* consistent with forward */
    /* 1e-6 relative: 4500 eps of a double; the float build uses the same
     * multiple of its eps (5.4e-4), so the error stays as far beyond the
     * round trip's tolerance (k eps (1 + A) M) */
    if (b->kind == BROKEN_INVERSE)
        z = ad_scale(t, z, 1 + CK_REAL_TOL(1e-6, 1e-6 / 2.220446049250313e-16 * AD_REAL_EPS));
    return z;
}

static const flow_layer_ops BROKEN_OPS = {"broken", broken_forward, broken_inverse, NULL, NULL};

START_TEST(test_check_catches_broken_layers)
{
    flow_model *m = random_realnvp(2, 7);
    char msg[512];
    flow_check_config cfg = flow_check_default();
    flow_check_report rep;
    static const struct {
        broken_kind kind;
        const char *expect;
    } cases[] = {{BROKEN_SIGN, "finite differences"},
                 {BROKEN_INVERSE, "inverse(forward(z))"},
                 {BROKEN_SHAPE, "log-det"},
                 {BROKEN_ROWS, "rows"}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        broken_layer b = {{&BROKEN_OPS, 2, 2}, m->flow, cases[k].kind};
        msg[0] = 0;
        int status = flow_check_layer(&b.base, &cfg, &rep, msg, sizeof msg);
        ck_assert_msg(status == AD_ERR_NUMERIC, "case %zu: status %d (%s)", k, status, msg);
        ck_assert(!rep.passed && rep.n_failed >= 1);
        ck_assert_msg(strstr(msg, cases[k].expect) && strstr(rep.first_failure, cases[k].expect),
                      "case %zu: '%s' does not mention '%s'", k, msg, cases[k].expect);
        ck_assert_msg(strstr(msg, "broken") != NULL, "the layer is not named: %s", msg);
        if (getenv("BG_TEST_REPORT")) fprintf(stderr, "broken case %zu: %s\n", k, msg);
    }
    /* the wrong sign is caught by the FD Jacobian alone: round trips and the
     * log-det sum still hold */
    broken_layer b = {{&BROKEN_OPS, 2, 2}, m->flow, BROKEN_SIGN};
    flow_check_layer(&b.base, &cfg, &rep, msg, sizeof msg);
    ck_assert(rep.roundtrip_z_error <= rep.roundtrip_z_tol);
    ck_assert(rep.logdet_sum_error <= rep.logdet_sum_tol);
    /* float: the FD tolerance grows as eps^(2/3) (truncation h^2 and
     * rounding eps / h with h = eps^(1/3)), 6.6e5 times the double one, so
     * the same error is ~30 tolerances, not thousands: more than 10 */
    ck_assert_msg(rep.logdet_fd_ratio > CK_REAL_TOL(1e3, 10), "ratio %g", rep.logdet_fd_ratio);
    ck_assert_int_eq(rep.n_failed, 1);
    flow_model_free(m);
}
END_TEST

START_TEST(test_check_rejects_bad_arguments)
{
    flow_model *m = random_realnvp(2, 3);
    char msg[256];
    flow_check_config cfg = flow_check_default();
    ck_assert_int_eq(flow_check_layer(NULL, &cfg, NULL, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(msg, "l is NULL"));
    ck_assert_int_eq(flow_check_layer(m->flow, NULL, NULL, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(msg, "cfg"));
    cfg.batch = 0;
    ck_assert_int_eq(flow_check_layer(m->flow, &cfg, NULL, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(msg, "cfg->batch"));
    cfg = flow_check_default();
    cfg.z_scale = NAN;
    ck_assert_int_eq(flow_check_layer(m->flow, &cfg, NULL, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(msg, "cfg->z_scale"));
    cfg = flow_check_default();
    cfg.rounding_steps = 0;
    ck_assert_int_eq(flow_check_layer(m->flow, &cfg, NULL, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(msg, "rounding_steps"));
    double a[4] = {2, 0, 0, 3}, cond;
    ck_assert_double_eq_tol(flow_logabsdet(a, 2, &cond), log(6.0), 1e-15);
    ck_assert_double_eq_tol(cond, 1.5, 1e-15);
    double sing[4] = {1, 2, 2, 4};
    ck_assert(flow_logabsdet(sing, 2, &cond) == -INFINITY && cond == INFINITY);
    flow_model_free(m);
}
END_TEST

/* ---- schedule defaults and checks ---------------------------------------- */

START_TEST(test_stage_defaults_and_checks)
{
    bg_stage st = bg_stage_default();
    ck_assert_int_eq(st.n_iterations, 1000);
    ck_assert_int_eq(st.batch_size, 256);
    ck_assert(st.lr == 1e-3 && st.w_ml == 1 && st.w_kl == 0 && st.w_rc == 0);
    ck_assert(st.e_high == 1e4 && st.e_max == 0);
    char msg[256];
    ck_assert_int_eq(bg_stage_check("t", &st, 0, msg, sizeof msg), AD_OK);
    static const struct {
        const char *field;
        int which;
        double value;
    } bad[] = {{"n_iterations", 0, -1}, {"batch_size", 1, 0},     {"lr", 2, NAN},
               {"lr", 2, 0},            {"w_ml", 3, -1},          {"w_kl", 4, INFINITY},
               {"w_rc", 5, NAN},        {"e_high", 6, INFINITY},  {"e_max", 7, 10}};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        bg_stage b = bg_stage_default();
        b.e_high = 100;
        switch (bad[k].which) {
        case 0: b.n_iterations = (int)bad[k].value; break;
        case 1: b.batch_size = (int)bad[k].value; break;
        case 2: b.lr = bad[k].value; break;
        case 3: b.w_ml = bad[k].value; break;
        case 4: b.w_kl = bad[k].value; break;
        case 5: b.w_rc = bad[k].value; break;
        case 6: b.e_high = bad[k].value; break;
        default: b.e_max = bad[k].value; break; /* below e_high */
        }
        ck_assert_int_eq(bg_stage_check("t", &b, 2, msg, sizeof msg), AD_ERR_ARG);
        ck_assert_msg(strstr(msg, bad[k].field) && strstr(msg, "stage 3"), "%zu: %s", k, msg);
    }
    ck_assert_int_eq(bg_stage_check("t", NULL, 0, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(msg, "stage 1 is NULL"));
    bg_stage none = bg_stage_default();
    none.w_ml = 0;
    ck_assert_int_eq(bg_stage_check("t", &none, 0, msg, sizeof msg), AD_ERR_ARG);
    bg_train_config c = bg_train_config_default();
    ck_assert(c.kT == 1 && c.prior.kT == 1 && c.rc_loss.n_kernels == 11 &&
              c.max_bad_in_a_row == 20 && c.cut_ref == BG_CUT_ABSOLUTE && c.model == NULL);
}
END_TEST

/* ---- the generator ------------------------------------------------------- */

static const ad_real DW_MINIMA[4] = {-1.772303, 0, 1.688776, 0};
#define DW_SADDLE 0.083528

static ad_real *dw_data(const pot_potential *u, int *n_out)
{
    smp_mc_config mc = {.dim = 2, .n_chains = 2, .sigma = 0.1, .kT = 1.0, .n_steps = 5000,
                        .stride = 1, .keep_initial = 1, .seed = 7};
    long frames = smp_mc_n_frames(&mc);
    ad_real *x = ad_malloc((size_t)frames * 2 * 2 * sizeof(ad_real));
    ad_tape *scratch = ad_tape_new(0);
    smp_potential_ctx ctx = {.potential = u, .scratch = scratch};
    char msg[256];
    ck_assert_msg(smp_mc_run(&mc, smp_potential_energy, &ctx, DW_MINIMA, x, NULL, NULL, msg,
                             sizeof msg) == AD_OK, "%s", msg);
    ad_tape_free(scratch);
    *n_out = (int)frames * 2;
    return x;
}

static bg_generator *small_generator(const pot_potential *u, uint64_t seed)
{
    static const int widths[2] = {32, 32};
    bg_generator_config gc = bg_generator_config_default(u, 1.0);
    gc.flow.hidden_widths = widths;
    gc.flow.seed = seed;
    char msg[256];
    bg_generator *g = bg_generator_new(&gc, msg, sizeof msg);
    ck_assert_msg(g != NULL, "%s", msg);
    return g;
}

static int left_right(const ad_real *x, void *ctx)
{
    return x[0] >= *(const double *)ctx ? 1 : 0;
}

/* Train ML then ML+KL, sample, and compare dF(right - left) of the basins
 * with quadrature: within 3 of the reported bootstrap SE (a 3-sigma bound
 * for an unbiased estimator; the run is seeded, so this is deterministic).
 * Then the same samples through the other routes must give the same
 * numbers: a user state function vs smp_delta_f_split_strided on the
 * interleaved x (bit-identical: the same estimator and bootstrap draws),
 * and the histogram profile with a bin edge at the split (the same weights
 * summed in another order: equal to rounding). */
START_TEST(test_generator_delta_f_and_profile)
{
    pot_double_well_params dw = pot_double_well_defaults();
    pot_potential u = pot_double_well(&dw);
    int n_data;
    ad_real *data = dw_data(&u, &n_data);
    bg_generator *g = small_generator(&u, 2);
    bg_stage st[2] = {bg_stage_default(), bg_stage_default()};
    st[0].name = "ML";
    st[0].n_iterations = 200;
    st[0].lr = 3e-3;
    st[1].name = "ML+KL";
    st[1].n_iterations = 200;
    st[1].w_kl = 1;
    st[1].e_high = 20;
    bg_generator_train_config tc = bg_generator_train_default(data, n_data);
    tc.stages = st;
    tc.n_stages = 2;
    bg_train_result res;
    char msg[512];
    ck_assert_msg(bg_generator_train(g, &tc, &res, msg, sizeof msg) == AD_OK, "%s", msg);
    ck_assert_int_eq(res.stages_done, 2);
    ck_assert_int_eq(res.iterations, 400);

    bg_samples *s = NULL;
    ck_assert_msg(bg_generator_sample(g, 20000, 5, &s, msg, sizeof msg) == AD_OK, "%s", msg);
    bg_states basins = bg_states_basins(DW_MINIMA, 2);
    bg_free_energies fe;
    int *labels = ad_malloc(sizeof(int) * (size_t)s->n);
    ck_assert_msg(bg_generator_free_energies(g, s, &basins, &fe, labels, msg, sizeof msg) == AD_OK,
                  "%s", msg);
    ad_tape *scratch = ad_tape_new(0);
    smp_potential_ctx pctx = {.potential = &u, .scratch = scratch};
    smp_grid2d grid = {.x_min = -3.5, .x_max = 3.5, .y_min = -5.5, .y_max = 5.5, .nx = 701,
                       .ny = 1101};
    smp_quad_basins ref;
    ck_assert_msg(smp_quad_basins_compute(smp_potential_energy, &pctx, &grid, 1.0, DW_MINIMA, 2,
                                          &ref, msg, sizeof msg) == AD_OK, "%s", msg);
    if (getenv("BG_TEST_REPORT"))
        fprintf(stderr, "generator: dF %.4f +- %.4f (ESS %.0f of %d), quadrature %.4f\n",
                fe.dF[1], fe.se[1], fe.ess, fe.n_samples, ref.delta_f[1]);
    ck_assert(fe.se[1] > 0 && fe.se[0] == 0 && fe.dF[0] == 0);
    ck_assert_msg(fabs(fe.dF[1] - ref.delta_f[1]) <= 3 * fe.se[1],
                  "dF %.4f +- %.4f vs quadrature %.4f", fe.dF[1], fe.se[1], ref.delta_f[1]);
    ck_assert(fe.ess > 1 && fe.ess <= s->n && fe.n_samples == s->n);
    ck_assert_double_eq_tol(fe.population[0] + fe.population[1], 1, 1e-12);
    for (int i = 0; i < s->n; i += 997)
        ck_assert_int_eq(labels[i], isfinite(s->log_w[i])
                                        ? smp_nearest_minimum(s->x + 2 * i, DW_MINIMA, 2)
                                        : -1);

    /* a user state function and the strided split give the same numbers */
    double split = DW_SADDLE;
    bg_states lr = bg_states_function(2, left_right, &split);
    lr.boot.seed = 9;
    bg_free_energies fe2;
    ck_assert_int_eq(bg_generator_free_energies(g, s, &lr, &fe2, NULL, msg, sizeof msg), AD_OK);
    smp_estimate est;
    ck_assert_int_eq(smp_delta_f_split_strided(s->x, 2, s->log_w, s->n, split, &lr.boot, &est,
                                               msg, sizeof msg),
                     AD_OK);
    ck_assert(est.value == fe2.dF[1] && est.se == fe2.se[1]);
    ad_real *col = ad_malloc(sizeof(ad_real) * (size_t)s->n);
    for (int i = 0; i < s->n; i++) col[i] = s->x[2 * i];
    smp_estimate est1;
    ck_assert_int_eq(smp_delta_f_split(col, s->log_w, s->n, split, &lr.boot, &est1, msg,
                                       sizeof msg),
                     AD_OK);
    ck_assert(est1.value == est.value && est1.se == est.se);

    /* profiles: bins of 0.1 with an edge at the split */
    smp_profile_config pc = smp_profile_config_default(split - 40 * 0.1, split + 40 * 0.1);
    pc.n_bins = 80;
    pc.bandwidth = 0.05;
    pc.boot.n_bootstrap = 20;
    bg_rc x1 = bg_rc_coordinate(0);
    smp_profile *hist = NULL, *kde = NULL;
    ck_assert_msg(bg_generator_profile(g, s, &x1, &pc, &hist, &kde, msg, sizeof msg) == AD_OK,
                  "%s", msg);
    ck_assert(hist->n_bins == 80 && kde->n_bins == 80 && hist->n_outside == 0);
    double pa = 0, pb = 0, f_lowest = INFINITY;
    for (int j = 0; j < 80; j++) {
        if (j < 40)
            pa += hist->density[j] * hist->width;
        else
            pb += hist->density[j] * hist->width;
        f_lowest = fmin(f_lowest, hist->F[j]);
    }
    ck_assert(f_lowest == 0);
    /* float: the densities are stored as ad_real (u each): 4 eps */
    ck_assert_double_eq_tol(-log(pb / pa), fe2.dF[1], CK_REAL_TOL(1e-10, 4 * AD_REAL_EPS));
    /* the strided profile on the interleaved samples is the same profile */
    smp_profile *hist2 = NULL;
    ck_assert_int_eq(smp_profile_histogram_strided(&pc, s->x, 2, s->log_w, s->n, &hist2, msg,
                                                   sizeof msg),
                     AD_OK);
    for (int j = 0; j < 80; j++)
        ck_assert(hist2->F[j] == hist->F[j] || (isnan(hist2->se[j]) && isnan(hist->se[j])) ||
                  hist2->se[j] == hist->se[j]);
    ck_assert(memcmp(hist2->density, hist->density, 80 * sizeof(ad_real)) == 0);

    smp_profile_free(hist);
    smp_profile_free(hist2);
    smp_profile_free(kde);
    ad_free(col);
    ad_free(labels);
    ad_tape_free(scratch);
    bg_samples_free(s);
    bg_generator_free(g);
    ad_free(data);
}
END_TEST

static int progress_calls;
static void count_progress(const bg_progress *p, void *ctx)
{
    (void)p;
    (void)ctx;
    progress_calls++;
}

static void temp_prefix(char *buf, size_t len, const char *what)
{
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(buf, len, "%s/libbg-gen-%s-%ld", dir, what, (long)getpid());
}

/* Save / load gives bit-identical samples; a training resumed from a stage
 * checkpoint or in place gives bit-identical parameters; copy_parameters
 * copies them all; a cut given in kT above a reference equals the same
 * absolute cut. */
START_TEST(test_generator_files_and_resume)
{
    pot_double_well_params dw = pot_double_well_defaults();
    pot_potential u = pot_double_well(&dw);
    int n_data;
    ad_real *data = dw_data(&u, &n_data);
    char msg[512], prefix[512], path[600];
    temp_prefix(prefix, sizeof prefix, "resume");
    bg_stage st[2] = {bg_stage_default(), bg_stage_default()};
    st[0].n_iterations = 15;
    st[0].batch_size = 64;
    st[1].n_iterations = 15;
    st[1].batch_size = 64;
    st[1].w_kl = 1;
    st[1].e_high = 30;
    bg_generator_train_config tc = bg_generator_train_default(data, n_data);
    tc.stages = st;
    tc.n_stages = 2;
    tc.checkpoint_prefix = prefix;
    tc.progress = count_progress;
    tc.e_ref = -10;
    progress_calls = 0;
    bg_generator *a = small_generator(&u, 3);
    ck_assert_msg(bg_generator_train(a, &tc, NULL, msg, sizeof msg) == AD_OK, "%s", msg);
    ck_assert_int_eq(progress_calls, 30);

    /* resume at stage 2 from the stage-1 checkpoint */
    bg_generator *b = small_generator(&u, 99); /* other initial weights */
    tc.first_stage = 1;
    ck_assert_msg(bg_generator_train(b, &tc, NULL, msg, sizeof msg) == AD_OK, "%s", msg);
    size_t np = nn_params_size(a->model->params);
    ck_assert(memcmp(nn_params_values(a->model->params), nn_params_values(b->model->params),
                     np * sizeof(ad_real)) == 0);

    /* stage 1 alone, then stage 2 in place (no checkpoint): the same */
    bg_generator *f = small_generator(&u, 3);
    tc.checkpoint_prefix = NULL;
    tc.first_stage = 0;
    tc.n_stages = 1;
    ck_assert_msg(bg_generator_train(f, &tc, NULL, msg, sizeof msg) == AD_OK, "%s", msg);
    tc.n_stages = 2;
    tc.first_stage = 1;
    tc.resume_in_place = 1;
    ck_assert_msg(bg_generator_train(f, &tc, NULL, msg, sizeof msg) == AD_OK, "%s", msg);
    ck_assert(memcmp(nn_params_values(a->model->params), nn_params_values(f->model->params),
                     np * sizeof(ad_real)) == 0);
    tc.resume_in_place = 0;
    bg_generator_free(f);

    /* the same cut given as an absolute energy: -10 + 30 * 1 = 20 */
    bg_generator *c = small_generator(&u, 3);
    st[1].e_high = 20;
    tc.first_stage = 0;
    tc.checkpoint_prefix = NULL;
    tc.cut_ref = BG_CUT_ABSOLUTE;
    ck_assert_msg(bg_generator_train(c, &tc, NULL, msg, sizeof msg) == AD_OK, "%s", msg);
    ck_assert(memcmp(nn_params_values(a->model->params), nn_params_values(c->model->params),
                     np * sizeof(ad_real)) == 0);

    /* save, load into a fresh generator: identical samples */
    snprintf(path, sizeof path, "%s.ckpt", prefix);
    ck_assert_msg(bg_generator_save(a, path, msg, sizeof msg) == AD_OK, "%s", msg);
    bg_generator *d = small_generator(&u, 4);
    ck_assert_msg(bg_generator_load(d, path, msg, sizeof msg) == AD_OK, "%s", msg);
    bg_samples *sa = NULL, *sd = NULL;
    ck_assert_int_eq(bg_generator_sample(a, 3000, 8, &sa, msg, sizeof msg), AD_OK);
    ck_assert_int_eq(bg_generator_sample(d, 3000, 8, &sd, msg, sizeof msg), AD_OK);
    ck_assert(memcmp(sa->x, sd->x, sizeof(ad_real) * 6000) == 0);
    ck_assert(memcmp(sa->log_w, sd->log_w, sizeof(ad_real) * 3000) == 0);
    /* copy_parameters */
    bg_generator *e = small_generator(&u, 5);
    ck_assert_int_eq(bg_generator_copy_parameters(e, a, msg, sizeof msg), AD_OK);
    ck_assert(memcmp(nn_params_values(a->model->params), nn_params_values(e->model->params),
                     np * sizeof(ad_real)) == 0);
    /* a missing file leaves the generator unchanged */
    ck_assert_int_ne(bg_generator_load(e, "/nonexistent/x.ckpt", msg, sizeof msg), AD_OK);
    ck_assert(memcmp(nn_params_values(a->model->params), nn_params_values(e->model->params),
                     np * sizeof(ad_real)) == 0);

    for (int k = 0; k < 2; k++) {
        bg_checkpoint_path(prefix, k, path, sizeof path);
        remove(path);
    }
    snprintf(path, sizeof path, "%s.ckpt", prefix);
    remove(path);
    bg_samples_free(sa);
    bg_samples_free(sd);
    bg_generator_free(a);
    bg_generator_free(b);
    bg_generator_free(c);
    bg_generator_free(d);
    bg_generator_free(e);
    ad_free(data);
}
END_TEST

/* A labelled checkpoint loads only under its own label; any other label,
 * or none, leaves the generator unchanged with a message naming both. */
START_TEST(test_generator_labelled_files)
{
    pot_double_well_params dw = pot_double_well_defaults();
    pot_potential u = pot_double_well(&dw);
    char msg[512], prefix[512], path[600], plain[600];
    temp_prefix(prefix, sizeof prefix, "label");
    snprintf(path, sizeof path, "%s.ckpt", prefix);
    snprintf(plain, sizeof plain, "%s-plain.ckpt", prefix);
    bg_generator *a = small_generator(&u, 3), *b = small_generator(&u, 4);
    nn_params *pa = a->model->params, *pb = b->model->params;
    size_t np = nn_params_size(pa);
    ad_real *b0 = ad_malloc(np * sizeof *b0);
    ck_assert_ptr_nonnull(b0);
    memcpy(b0, nn_params_values(pb), np * sizeof *b0);
    ck_assert_msg(bg_generator_save_label(a, path, "run 7 stage 2", msg, sizeof msg) == AD_OK,
                  "%s", msg);
    /* another label, none, or a longer one: refused, b unchanged */
    static const char *const wrong[] = {"run 7 stage 1", "", NULL, "run 7 stage 2 "};
    for (int k = 0; k < 4; k++) {
        ck_assert_int_eq(bg_generator_load_label(b, path, wrong[k], msg, sizeof msg),
                         AD_ERR_FORMAT);
        ck_assert_msg(strstr(msg, "'run 7 stage 2'") != NULL, "%d: %s", k, msg);
        ck_assert(memcmp(nn_params_values(pb), b0, np * sizeof *b0) == 0);
    }
    ck_assert_msg(bg_generator_load_label(b, path, "run 7 stage 2", msg, sizeof msg) == AD_OK,
                  "%s", msg);
    ck_assert(memcmp(nn_params_values(pa), nn_params_values(pb), np * sizeof *b0) == 0);
    /* an unlabelled file loads with no label, and not with one */
    bg_generator *c = small_generator(&u, 5);
    ck_assert_int_eq(bg_generator_save(c, plain, msg, sizeof msg), AD_OK);
    ck_assert_int_eq(bg_generator_load_label(b, plain, "run 7 stage 2", msg, sizeof msg),
                     AD_ERR_FORMAT);
    ck_assert(memcmp(nn_params_values(pa), nn_params_values(pb), np * sizeof *b0) == 0);
    ck_assert_int_eq(bg_generator_load_label(b, plain, NULL, msg, sizeof msg), AD_OK);
    ck_assert(memcmp(nn_params_values(c->model->params), nn_params_values(pb),
                     np * sizeof *b0) == 0);
    /* plain load ignores the label */
    ck_assert_int_eq(bg_generator_load(b, path, msg, sizeof msg), AD_OK);
    ck_assert(memcmp(nn_params_values(pa), nn_params_values(pb), np * sizeof *b0) == 0);
    /* a missing file: the checkpoint's error, b unchanged */
    ck_assert_int_eq(bg_generator_load_label(b, "/nonexistent/x.ckpt", "", msg, sizeof msg),
                     AD_ERR_IO);
    ck_assert(memcmp(nn_params_values(pa), nn_params_values(pb), np * sizeof *b0) == 0);
    remove(path);
    remove(plain);
    ad_free(b0);
    bg_generator_free(a);
    bg_generator_free(b);
    bg_generator_free(c);
}
END_TEST

#define EXPECT_ARG(call, word)                                                                   \
    do {                                                                                         \
        msg[0] = 0;                                                                              \
        int rc_ = (call);                                                                        \
        ck_assert_msg(rc_ == AD_ERR_ARG || rc_ == AD_ERR_SHAPE, "%s: status %d", #call, rc_);   \
        ck_assert_msg(strstr(msg, word) != NULL, "%s: '%s' does not name %s", #call, msg, word); \
    } while (0)

START_TEST(test_generator_rejects_bad_input)
{
    pot_double_well_params dw = pot_double_well_defaults();
    pot_potential u = pot_double_well(&dw);
    char msg[512];
    /* construction */
    bg_generator_config gc = bg_generator_config_default(NULL, 1.0);
    ck_assert_ptr_null(bg_generator_new(&gc, msg, sizeof msg));
    ck_assert_ptr_nonnull(strstr(msg, "potential"));
    ck_assert_ptr_null(bg_generator_new(NULL, msg, sizeof msg));
    ck_assert_ptr_nonnull(strstr(msg, "cfg"));
    static const struct {
        double kT;
        int batch, dim;
        const char *word;
    } bad[] = {{NAN, 10, 2, "kT"}, {0, 10, 2, "kT"}, {INFINITY, 10, 2, "kT"},
               {1, 0, 2, "sample_batch"}, {1, 10, 3, "flow.dim"}};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        gc = bg_generator_config_default(&u, bad[k].kT);
        gc.sample_batch = bad[k].batch;
        gc.flow.dim = bad[k].dim;
        ck_assert_ptr_null(bg_generator_new(&gc, msg, sizeof msg));
        ck_assert_msg(strstr(msg, bad[k].word) != NULL, "%zu: %s", k, msg);
    }
    bg_generator *g = small_generator(&u, 1);

    /* training */
    ad_real data[8] = {-1.7, 0, 1.7, 0, -1.8, 0.1, 1.6, -0.1};
    bg_stage st = bg_stage_default();
    st.n_iterations = 2;
    bg_generator_train_config tc = bg_generator_train_default(data, 4);
    EXPECT_ARG(bg_generator_train(NULL, &tc, NULL, msg, sizeof msg), "g is NULL");
    EXPECT_ARG(bg_generator_train(g, NULL, NULL, msg, sizeof msg), "tc is NULL");
    EXPECT_ARG(bg_generator_train(g, &tc, NULL, msg, sizeof msg), "empty schedule");
    tc.stages = &st;
    tc.n_stages = 1;
    st.lr = NAN;
    EXPECT_ARG(bg_generator_train(g, &tc, NULL, msg, sizeof msg), "lr");
    st = bg_stage_default();
    st.w_kl = -1;
    EXPECT_ARG(bg_generator_train(g, &tc, NULL, msg, sizeof msg), "w_kl");
    st = bg_stage_default();
    st.e_high = 10;
    st.e_max = 5;
    EXPECT_ARG(bg_generator_train(g, &tc, NULL, msg, sizeof msg), "e_max");
    st = bg_stage_default();
    st.w_rc = 1;
    EXPECT_ARG(bg_generator_train(g, &tc, NULL, msg, sizeof msg), "rc");
    st = bg_stage_default();
    tc.e_ref = INFINITY;
    EXPECT_ARG(bg_generator_train(g, &tc, NULL, msg, sizeof msg), "e_ref");
    tc.e_ref = NAN;
    tc.first_stage = 1;
    EXPECT_ARG(bg_generator_train(g, &tc, NULL, msg, sizeof msg), "checkpoint_prefix");
    tc.first_stage = 0;
    tc.resume_in_place = 2;
    EXPECT_ARG(bg_generator_train(g, &tc, NULL, msg, sizeof msg), "resume_in_place");
    tc.resume_in_place = 0;
    tc.max_bad_in_a_row = -1;
    EXPECT_ARG(bg_generator_train(g, &tc, NULL, msg, sizeof msg), "max_bad_in_a_row");
    tc.max_bad_in_a_row = 20;
    tc.clip_norm = NAN;
    EXPECT_ARG(bg_generator_train(g, &tc, NULL, msg, sizeof msg), "clip_norm");
    tc.clip_norm = 0;
    tc.n_data = 0;
    EXPECT_ARG(bg_generator_train(g, &tc, NULL, msg, sizeof msg), "n_data");
    tc = bg_generator_train_default(NULL, 0);
    tc.stages = &st;
    tc.n_stages = 1;
    st.w_ml = 0;
    st.w_kl = 1;
    EXPECT_ARG(bg_generator_train(g, &tc, NULL, msg, sizeof msg), "e_ref");
    tc.cut_ref = (bg_cut_ref)7;
    EXPECT_ARG(bg_generator_train(g, &tc, NULL, msg, sizeof msg), "cut_ref");

    /* sampling and estimators */
    bg_samples *s = NULL;
    EXPECT_ARG(bg_generator_sample(g, 0, 1, &s, msg, sizeof msg), "n = 0");
    EXPECT_ARG(bg_generator_sample(NULL, 10, 1, &s, msg, sizeof msg), "g is NULL");
    EXPECT_ARG(bg_generator_sample(g, 10, 1, NULL, msg, sizeof msg), "out is NULL");
    ck_assert_int_eq(bg_generator_sample(g, 200, 1, &s, msg, sizeof msg), AD_OK);
    bg_free_energies fe;
    bg_states states = bg_states_basins(DW_MINIMA, 2);
    EXPECT_ARG(bg_generator_free_energies(g, NULL, &states, &fe, NULL, msg, sizeof msg),
               "s is NULL");
    EXPECT_ARG(bg_generator_free_energies(g, s, NULL, &fe, NULL, msg, sizeof msg), "states");
    EXPECT_ARG(bg_generator_free_energies(g, s, &states, NULL, NULL, msg, sizeof msg), "out");
    states.n_states = 1;
    EXPECT_ARG(bg_generator_free_energies(g, s, &states, &fe, NULL, msg, sizeof msg), "n_states");
    states = bg_states_basins(DW_MINIMA, 2);
    states.reference = 2;
    EXPECT_ARG(bg_generator_free_energies(g, s, &states, &fe, NULL, msg, sizeof msg), "reference");
    states = bg_states_basins(NULL, 2);
    EXPECT_ARG(bg_generator_free_energies(g, s, &states, &fe, NULL, msg, sizeof msg), "minima");
    ad_real nan_minima[4] = {-1, NAN, 1, 0};
    states = bg_states_basins(nan_minima, 2);
    EXPECT_ARG(bg_generator_free_energies(g, s, &states, &fe, NULL, msg, sizeof msg), "minima[1]");
    states = bg_states_basins(DW_MINIMA, 2);
    states.boot.n_bootstrap = -1;
    EXPECT_ARG(bg_generator_free_energies(g, s, &states, &fe, NULL, msg, sizeof msg),
               "n_bootstrap");
    bg_rc x1 = bg_rc_coordinate(0), x9 = bg_rc_coordinate(9);
    smp_profile_config pc = smp_profile_config_default(-3, 3);
    smp_profile *h = NULL, *k = NULL;
    EXPECT_ARG(bg_generator_profile(g, s, NULL, &pc, &h, NULL, msg, sizeof msg), "rc is NULL");
    EXPECT_ARG(bg_generator_profile(g, s, &x9, &pc, &h, NULL, msg, sizeof msg), "rc");
    EXPECT_ARG(bg_generator_profile(g, s, &x1, NULL, &h, NULL, msg, sizeof msg), "pc");
    EXPECT_ARG(bg_generator_profile(g, s, &x1, &pc, NULL, NULL, msg, sizeof msg), "both NULL");
    pc.bandwidth = 0;
    EXPECT_ARG(bg_generator_profile(g, s, &x1, &pc, NULL, &k, msg, sizeof msg), "bandwidth");
    pc = smp_profile_config_default(3, -3);
    EXPECT_ARG(bg_generator_profile(g, s, &x1, &pc, &h, NULL, msg, sizeof msg), "lo = 3, hi = -3");
    ck_assert_ptr_null(h);
    ck_assert_ptr_null(k);
    EXPECT_ARG(smp_delta_f_split_strided(s->x, 0, s->log_w, s->n, 0, NULL, NULL, msg, sizeof msg),
               "dF");
    smp_estimate est;
    EXPECT_ARG(smp_delta_f_split_strided(s->x, 0, s->log_w, s->n, 0, NULL, &est, msg, sizeof msg),
               "stride");
    EXPECT_ARG(smp_profile_kde_strided(&pc, s->x, -2, s->log_w, s->n, &k, msg, sizeof msg),
               "stride");
    EXPECT_ARG(bg_generator_save(g, NULL, msg, sizeof msg), "path");
    EXPECT_ARG(bg_generator_load(NULL, "x", msg, sizeof msg), "g is NULL");
    EXPECT_ARG(bg_generator_copy_parameters(g, NULL, msg, sizeof msg), "src");
    EXPECT_ARG(bg_generator_save_label(NULL, "x", "l", msg, sizeof msg), "g is NULL");
    EXPECT_ARG(bg_generator_save_label(g, NULL, "l", msg, sizeof msg), "path");
    EXPECT_ARG(bg_generator_load_label(NULL, "x", "l", msg, sizeof msg), "g is NULL");
    EXPECT_ARG(bg_generator_load_label(g, NULL, "l", msg, sizeof msg), "path");
    char *long_label = ad_malloc(NN_CHECKPOINT_LABEL_MAX + 2);
    ck_assert_ptr_nonnull(long_label);
    memset(long_label, 'a', NN_CHECKPOINT_LABEL_MAX + 1);
    long_label[NN_CHECKPOINT_LABEL_MAX + 1] = '\0';
    EXPECT_ARG(bg_generator_save_label(g, "/nonexistent/x.ckpt", long_label, msg, sizeof msg),
               "label");
    ad_free(long_label);

    /* a model of another architecture cannot take these parameters */
    bg_generator_config gc2 = bg_generator_config_default(&u, 1.0);
    bg_generator *g2 = bg_generator_new(&gc2, msg, sizeof msg);
    ck_assert_ptr_nonnull(g2);
    EXPECT_ARG(bg_generator_copy_parameters(g2, g, msg, sizeof msg), "parameters");
    bg_generator_free(g2);
    bg_samples_free(s);
    bg_generator_free(g);
}
END_TEST

Suite *flows_generator_suite(void)
{
    Suite *s = suite_create("flows-generator");
    TCase *tc = tcase_create("checks");
    tcase_add_test(tc, test_check_passes_good_layers);
    tcase_add_test(tc, test_check_catches_broken_layers);
    tcase_add_test(tc, test_check_rejects_bad_arguments);
    tcase_add_test(tc, test_stage_defaults_and_checks);
    suite_add_tcase(s, tc);
    /* a trained generator against quadrature: minutes under valgrind */
    TCase *tt = tcase_create("statistics");
    tcase_set_tags(tt, "slow");
    tcase_set_timeout(tt, 120);
    tcase_add_test(tt, test_generator_delta_f_and_profile);
    suite_add_tcase(s, tt);
    TCase *tg = tcase_create("generator");
    tcase_set_timeout(tg, 120);
    tcase_add_test(tg, test_generator_files_and_resume);
    tcase_add_test(tg, test_generator_labelled_files);
    tcase_add_test(tg, test_generator_rejects_bad_input);
    suite_add_tcase(s, tg);
    return s;
}
