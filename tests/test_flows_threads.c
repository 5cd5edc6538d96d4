/* test_flows_threads.c - the parallel paths of a training step give the
 * same bits for any thread count, and a training loop allocates nothing
 * after its first iteration.
 *
 * The model is a dimer-sized RealNVP (76-D, half split, 128-wide S and T) on
 * a batch of 160 rows: the dense layers' row loops, the matrix products and
 * the LJ pair energy are then all split over the threads.  One step = ML
 * loss on data plus KL loss against the dimer energy, backward, Adam, as in
 * bg_train.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/ad.h"
#include "ck_util.h"
#include "flows/bg_loss.h"
#include "flows/flow_realnvp.h"
#include "nn/nn_optim.h"
#include "potentials/pot_dimer.h"
#include "potentials/pot_lj_pairs.h"

enum { BATCH = 160 };

typedef struct trainer {
    pot_dimer_params dimer;
    pot_potential pot;
    flow_model *model;
    nn_optim *opt;
    ad_tape *tape;
    ad_rng rng;
    ad_real *x, *z; /* [BATCH * 76] */
} trainer;

/* Dimer-like configurations: solvent on a lattice, small noise. */
static void configurations(ad_real *x, int n, ad_rng *r)
{
    for (int b = 0; b < n; b++, x += 76) {
        double d = 1.0 + ad_rng_uniform(r);
        x[0] = -d / 2;
        x[1] = x[3] = 0;
        x[2] = d / 2;
        for (int k = 2; k < 38; k++) {
            x[2 * k] = -3 + 1.2 * ((k - 2) / 6) + 0.05 * ad_rng_normal(r);
            x[2 * k + 1] = -3 + 1.2 * ((k - 2) % 6) + 0.05 * ad_rng_normal(r);
        }
    }
}

static void trainer_init(trainer *tr)
{
    memset(tr, 0, sizeof *tr);
    tr->dimer = pot_dimer_params_seed();
    tr->pot = pot_dimer(&tr->dimer);
    static const int widths[2] = {128, 128};
    flow_realnvp_config fc = flow_realnvp_preset_config(FLOW_REALNVP_DIMER);
    fc.n_blocks = 2;
    fc.hidden_widths = widths;
    fc.t_output_random = 1;
    fc.seed = 5;
    char msg[256];
    tr->model = flow_realnvp_new(&fc, msg, sizeof msg);
    ck_assert_msg(tr->model != NULL, "%s", msg);
    nn_optim_config oc = {.kind = NN_OPTIM_ADAM, .lr = 1e-3, .clip_norm = 100};
    tr->opt = nn_optim_new(tr->model->params, &oc, msg, sizeof msg);
    ck_assert_msg(tr->opt != NULL, "%s", msg);
    tr->tape = ad_tape_new(0);
    tr->x = malloc(sizeof(ad_real) * BATCH * 76);
    tr->z = malloc(sizeof(ad_real) * BATCH * 76);
    ad_rng_seed(&tr->rng, 9, 0);
}

static void trainer_free(trainer *tr)
{
    nn_optim_free(tr->opt);
    flow_model_free(tr->model);
    ad_tape_free(tr->tape);
    free(tr->x);
    free(tr->z);
}

/* One step; returns the loss. */
static double step(trainer *tr)
{
    ad_tape *t = tr->tape;
    nn_params_zero_grad(tr->model->params);
    ad_tape_reset(t);
    configurations(tr->x, BATCH, &tr->rng);
    flow_prior prior = {.dim = 76, .kT = 1.0};
    flow_prior_sample(&prior, &tr->rng, tr->z, BATCH);
    int shape[2] = {BATCH, 76};
    ad_tensor *ml = bg_loss_ml(t, tr->model, &prior, ad_constant(t, 2, shape, tr->x));
    ad_tensor *kl = bg_loss_kl(t, tr->model, &tr->pot, 1.0, 1e4, 1e20,
                               ad_constant(t, 2, shape, tr->z), NULL);
    ad_tensor *loss = ad_add(t, ml, ad_scale(t, kl, 0.1));
    ck_assert_msg(ad_backward(t, loss) == AD_OK, "%s", ad_tape_error(t));
    ck_assert_int_eq(nn_optim_step(tr->opt, NULL), AD_OK);
    return loss->data[0];
}

/* Parameters after three steps with `threads` threads (malloc'd). */
static ad_real *train(int threads, size_t *n, double *loss)
{
    ck_assert_int_eq(ad_threads_set(threads), AD_OK);
    trainer tr;
    trainer_init(&tr);
    for (int i = 0; i < 3; i++) *loss = step(&tr);
    *n = nn_params_size(tr.model->params);
    ad_real *v = malloc(*n * sizeof(ad_real));
    memcpy(v, nn_params_values(tr.model->params), *n * sizeof(ad_real));
    trainer_free(&tr);
    ad_threads_set(1);
    return v;
}

START_TEST(test_training_step_threads_same_bits)
{
    size_t n1, n2;
    double l1, l2;
    ad_real *one = train(1, &n1, &l1), *two = train(2, &n2, &l2);
    ck_assert_uint_eq(n1, n2);
    ck_assert_msg(memcmp(&l1, &l2, sizeof l1) == 0, "loss %.17g vs %.17g", l1, l2);
    for (size_t i = 0; i < n1; i++)
        ck_assert_msg(memcmp(&one[i], &two[i], sizeof one[i]) == 0, "parameter %zu: %.17g vs %.17g",
                      i, one[i], two[i]);
    free(one);
    free(two);
    ad_threads_shutdown();
}
END_TEST

/* The fused pair energy and its forces, 1 against 3 threads. */
START_TEST(test_lj_pairs_threads_same_bits)
{
    ad_rng r;
    ad_rng_seed(&r, 4, 0);
    enum { N = 300 };
    ad_real *x = malloc(sizeof(ad_real) * N * 76);
    configurations(x, N, &r);
    int pairs[2 * 703];
    int n_pairs = pot_pairs_all(38, (int[]){0, 1}, 1, pairs);
    pot_pairs pp = {.space_dim = 2, .n_pairs = n_pairs, .pairs = pairs};
    ad_real *out[2];
    for (int v = 0; v < 2; v++) {
        ad_threads_set(v ? 3 : 1);
        ad_tape *t = ad_tape_new(0);
        ad_tensor *xt = ad_tape_input(t, 2, (int[]){N, 76}, x);
        ad_tensor *e = pot_lj_pairs(t, xt, &pp, 1.0, 1.1);
        ck_assert_int_eq(ad_backward(t, e), AD_OK);
        out[v] = malloc(sizeof(ad_real) * N * 77);
        memcpy(out[v], e->data, sizeof(ad_real) * N);
        memcpy(out[v] + N, xt->grad, sizeof(ad_real) * N * 76);
        ad_tape_free(t);
    }
    ck_assert(memcmp(out[0], out[1], sizeof(ad_real) * N * 77) == 0);
    free(out[0]);
    free(out[1]);
    free(x);
    ad_threads_set(1);
    ad_threads_shutdown();
}
END_TEST

START_TEST(test_training_steady_state_no_allocation)
{
    for (int threads = 1; threads <= 2; threads++) {
        ad_threads_set(threads);
        trainer tr;
        trainer_init(&tr);
        step(&tr); /* the first step grows the arena and the GEMM buffers */
        step(&tr);
        long before = ad_alloc_count();
        size_t reserved = ad_tape_bytes_reserved(tr.tape);
        for (int i = 0; i < 4; i++) step(&tr);
        ck_assert_int_eq(ad_alloc_count() - before, 0);
        ck_assert_uint_eq(ad_tape_bytes_reserved(tr.tape), reserved);
        trainer_free(&tr);
    }
    ad_threads_set(1);
    ad_threads_shutdown();
}
END_TEST

Suite *flows_threads_suite(void)
{
    Suite *s = suite_create("flows-threads");
    TCase *tc = tcase_create("forward");
    tcase_set_tags(tc, "slow");
    tcase_add_test(tc, test_training_step_threads_same_bits);
    tcase_add_test(tc, test_lj_pairs_threads_same_bits);
    suite_add_tcase(s, tc);
    tc = tcase_create("memory");
    tcase_add_test(tc, test_training_steady_state_no_allocation);
    suite_add_tcase(s, tc);
    return s;
}
