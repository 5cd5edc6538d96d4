/* test_reliability_determinism.c - the same seed gives bit-identical
 * numbers: a short bg_train (ML, then ML+KL) followed by bg_sample, run
 * with one thread, again with one thread, and with two threads, gives
 * memcmp-identical parameters, samples, energies and log weights.  The
 * layers are wide enough (128 x 128 products of 128 rows, above the
 * 2^20 multiply-adds from which ad_gemm uses the pool) that the matrix
 * products really are split over the threads (autodiff/fast/ad_gemm.c splits
 * over independent output tiles, never over a sum). */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/ad.h"
#include "ck_util.h"
#include "flows/bg_sample.h"
#include "flows/bg_train.h"
#include "flows/flow_realnvp.h"
#include "potentials/pot_double_well.h"

/* Everything a run produces, in flat arrays (malloc'd). */
typedef struct run_result {
    size_t n_values;
    ad_real *values;
    int n;
    ad_real *x, *z, *log_det, *energy, *log_w;
    double final_loss;
    long skipped;
} run_result;

static ad_real *copy(const ad_real *src, size_t n)
{
    ad_real *d = malloc(n * sizeof *d);
    memcpy(d, src, n * sizeof *d);
    return d;
}

static void run(int threads, uint64_t seed, run_result *r)
{
    ck_assert_int_eq(ad_threads_set(threads), AD_OK);
    pot_double_well_params dw = pot_double_well_defaults();
    pot_potential u = pot_double_well(&dw);
    static const int widths[2] = {128, 128};
    flow_realnvp_config fc = flow_realnvp_preset_config(FLOW_REALNVP_DOUBLE_WELL);
    fc.n_blocks = 1;
    fc.hidden_widths = widths;
    fc.t_output_random = 1;
    fc.seed = 3;
    char msg[256];
    flow_model *m = flow_realnvp_new(&fc, msg, sizeof msg);
    ck_assert_msg(m != NULL, "%s", msg);
    /* data near the two minima of the double well */
    enum { N_DATA = 400 };
    static ad_real data[2 * N_DATA];
    ad_rng rng;
    ad_rng_seed(&rng, 5, 0);
    for (int i = 0; i < N_DATA; i++) {
        data[2 * i] = (i % 2 ? 1.7 : -1.8) + 0.2 * ad_rng_normal(&rng);
        data[2 * i + 1] = 0.5 * ad_rng_normal(&rng);
    }
    bg_stage stages[2] = {{.name = "ML", .n_iterations = 3, .batch_size = 128, .lr = 1e-3,
                           .w_ml = 1, .e_high = 1e4},
                          {.name = "ML+KL", .n_iterations = 2, .batch_size = 128, .lr = 1e-3,
                           .w_ml = 1, .w_kl = 0.5, .e_high = 50}};
    bg_train_config c = {0};
    c.model = m;
    c.prior = (flow_prior){.dim = 2, .kT = 1.0};
    c.potential = &u;
    c.kT = 1;
    c.data = data;
    c.n_data = N_DATA;
    c.stages = stages;
    c.n_stages = 2;
    c.seed = seed;
    c.clip_norm = 100;
    bg_train_result res;
    ck_assert_msg(bg_train(&c, 0, &res, msg, sizeof msg) == AD_OK, "%s", msg);
    r->final_loss = res.final_loss;
    r->skipped = res.skipped;
    r->n_values = nn_params_size(m->params);
    r->values = copy(nn_params_values(m->params), r->n_values);
    bg_samples *s = NULL;
    ck_assert_msg(bg_sample(m, &c.prior, &u, 1.0, 256, 128, seed + 1, &s, msg, sizeof msg) == AD_OK,
                  "%s", msg);
    r->n = s->n;
    r->x = copy(s->x, (size_t)s->n * 2);
    r->z = copy(s->z, (size_t)s->n * 2);
    r->log_det = copy(s->log_det, (size_t)s->n);
    r->energy = copy(s->energy, (size_t)s->n);
    r->log_w = copy(s->log_w, (size_t)s->n);
    bg_samples_free(s);
    flow_model_free(m);
    ad_threads_set(1);
    ad_threads_shutdown();
}

static void result_free(run_result *r)
{
    free(r->values);
    free(r->x);
    free(r->z);
    free(r->log_det);
    free(r->energy);
    free(r->log_w);
}

/* Bit-identical, NaN or not; names the first differing element. */
static void same_bits(const ad_real *a, const ad_real *b, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(memcmp(&a[i], &b[i], sizeof a[i]) == 0, "%s[%zu]: %.17g vs %.17g", what, i,
                      a[i], b[i]);
}

static void same_result(const run_result *a, const run_result *b)
{
    ck_assert_uint_eq(a->n_values, b->n_values);
    same_bits(a->values, b->values, a->n_values, "parameter");
    ck_assert_int_eq(a->n, b->n);
    same_bits(a->x, b->x, (size_t)a->n * 2, "x");
    same_bits(a->z, b->z, (size_t)a->n * 2, "z");
    same_bits(a->log_det, b->log_det, (size_t)a->n, "log_det");
    same_bits(a->energy, b->energy, (size_t)a->n, "energy");
    same_bits(a->log_w, b->log_w, (size_t)a->n, "log_w");
    ck_assert(memcmp(&a->final_loss, &b->final_loss, sizeof a->final_loss) == 0);
    ck_assert_int_eq(a->skipped, b->skipped);
}

START_TEST(test_same_seed_same_bits)
{
    run_result one, again, two, other;
    run(1, 11, &one);
    run(1, 11, &again);
    run(2, 11, &two);
    same_result(&one, &again);
    same_result(&one, &two);
    /* and the seed matters: another seed changes the parameters */
    run(1, 12, &other);
    ck_assert(memcmp(one.values, other.values, one.n_values * sizeof(ad_real)) != 0);
    ck_assert(isfinite(one.final_loss));
    result_free(&one);
    result_free(&again);
    result_free(&two);
    result_free(&other);
}
END_TEST

Suite *reliability_determinism_suite(void)
{
    Suite *s = suite_create("reliability-determinism");
    TCase *tc = tcase_create("forward");
    /* well under a second natively, minutes under valgrind (which checks
     * nothing here that the fast suites miss): left out of `make valgrind` */
    tcase_set_tags(tc, "slow");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_same_seed_same_bits);
    suite_add_tcase(s, tc);
    return s;
}
