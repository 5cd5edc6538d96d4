/* test_flows_blocks.c - training with the batch cut into blocks of rows
 * (bg_train_config.grad_blocks, flows/bg_train_blocks.c): the membership
 * sums per group against bg_loss_rc_groups, G blocks against the whole
 * batch for one temperature and for a temperature per row (ML + KL + RC),
 * and the checks of grad_blocks.  That the blocks give the same bits on
 * any number of MPI ranks is checked under mpirun (tests/mpi_test.sh). */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/ad.h"
#include "ck_util.h"
#include "flows/bg_generator.h"
#include "flows/bg_loss.h"
#include "nn/nn_params.h"
#include "potentials/pot_double_well.h"
#include "test_flows_util.h"

/* ---- the histograms of J_RC per group ------------------------------------ */

enum { RB = 12 };
static const int GROUP[RB] = {0, 1, 2, 0, 1, 2, 2, 1, 0, 0, 2, 1};
static const ad_real GROUP_W[3] = {0.5, 0.3, 0.2};

/* -sum_g w_g sum_k log(S_gk / n_g), with S from bg_loss_rc_group_sums of the
 * rows [lo, hi) of r added block by block, is bg_loss_rc_groups; one group
 * of every row is bg_loss_rc (its sums those of bg_loss_rc_sums); a group
 * without a row in a block sums to 0 there; a group index out of range is an
 * error. */
START_TEST(test_rc_group_sums)
{
    ad_tensor *r = ad_tensor_new(1, (int[]){RB});
    ad_rng rng;
    ad_rng_seed(&rng, 21, 0);
    ad_rng_fill_normal(&rng, r->data, RB, 0, 1.2);
    bg_rc_loss_config cfg = bg_rc_loss_config_default(-2.5, 2.5);
    const int K = cfg.n_kernels > 0 ? cfg.n_kernels : 11;
    ad_tape *t = ad_tape_new(0);
    double S[3][256] = {{0}};
    static const int cut[4] = {0, 3, 4, RB}; /* blocks of 3, 1 and 8 rows */
    for (int b = 0; b < 3; b++) {
        int n = cut[b + 1] - cut[b];
        ad_tensor *rb = ad_constant(t, 1, (int[]){n}, r->data + cut[b]);
        ad_tensor *s = bg_loss_rc_group_sums(t, rb, &cfg, GROUP + cut[b], 3);
        ck_assert_msg(ad_tape_ok(t), "%s", ad_tape_error(t));
        ck_assert_int_eq(s->n_dims, 2);
        ck_assert_int_eq(s->shape[0], 3);
        ck_assert_int_eq(s->shape[1], K);
        for (int g = 0; g < 3; g++) {
            int rows_g = 0;
            for (int i = cut[b]; i < cut[b + 1]; i++) rows_g += GROUP[i] == g;
            for (int k = 0; k < K; k++) {
                if (!rows_g) ck_assert(s->data[g * K + k] == 0);
                S[g][k] += s->data[g * K + k];
            }
        }
    }
    double j = 0;
    for (int g = 0; g < 3; g++) {
        int n_g = 0;
        for (int i = 0; i < RB; i++) n_g += GROUP[i] == g;
        for (int k = 0; k < K; k++) j -= GROUP_W[g] * log(S[g][k] / n_g);
    }
    ad_tensor *want = bg_loss_rc_groups(t, r, &cfg, GROUP, 3, GROUP_W);
    ck_assert_msg(ad_tape_ok(t), "%s", ad_tape_error(t));
    ck_assert_double_eq_tol(j, want->data[0],
                            CK_REAL_TOL(1e-12, 64 * AD_REAL_EPS) * (1 + fabs(want->data[0])));
    /* one group: the sums of bg_loss_rc_sums */
    int one[RB] = {0};
    ad_tensor *s1 = bg_loss_rc_group_sums(t, r, &cfg, one, 1);
    ad_tensor *s0 = bg_loss_rc_sums(t, r, &cfg);
    ck_assert_msg(ad_tape_ok(t), "%s", ad_tape_error(t));
    for (int k = 0; k < K; k++)
        ck_assert_double_eq_tol(s1->data[k], s0->data[k],
                                CK_REAL_TOL(1e-12, 16 * AD_REAL_EPS) * (1 + fabs(s0->data[k])));
    ad_tape_reset(t);
    bg_loss_rc_group_sums(t, r, &cfg, GROUP, 2);
    ck_assert_msg(strstr(ad_tape_error(t), "group[2] = 2") != NULL, "%s", ad_tape_error(t));
    ad_tape_reset(t);
    bg_loss_rc_group_sums(t, r, &cfg, NULL, 2);
    ck_assert_msg(strstr(ad_tape_error(t), "group is NULL") != NULL, "%s", ad_tape_error(t));
    ad_tape_free(t);
    ad_tensor_free(r);
}
END_TEST

/* ---- G blocks against the whole batch ------------------------------------ */

static const ad_real DW_MINIMA[4] = {-1.772303, 0, 1.688776, 0};

/* n rows near the two minima of the double well, half at each, spread as
 * at kT (enough for the training to move every parameter). */
static ad_real *dw_rows(int n, double kT, uint64_t seed)
{
    ad_real *x = fc_normal(n, 2, seed);
    for (int i = 0; i < n; i++) {
        const ad_real *m = DW_MINIMA + 2 * (i % 2);
        x[2 * i] = m[0] + 0.3 * sqrt(kT) * x[2 * i];
        x[2 * i + 1] = m[1] + sqrt(kT) * x[2 * i + 1];
    }
    return x;
}

static bg_generator *small_generator(const pot_potential *u, const bg_temperature *temps,
                                     int n_temps)
{
    static const int widths[2] = {16, 16};
    bg_generator_config gc = bg_generator_config_default(u, 1.0);
    gc.flow.hidden_widths = widths;
    gc.flow.seed = 3;
    gc.temperatures = temps;
    gc.n_temperatures = n_temps;
    char msg[256];
    bg_generator *g = bg_generator_new(&gc, msg, sizeof msg);
    ck_assert_msg(g != NULL, "%s", msg);
    return g;
}

/* 30 steps of ML + KL + RC on batches of 50 with the whole batch (G = 1)
 * and with 3 blocks (of 16, 17 and 17 rows): the same random numbers, the
 * losses and gradients summed in another order, so the parameters agree to
 * rounding (1e-8 in double; in float 32 eps of the largest, as for the
 * per-row path against the plain one in test_flows_multitemp.c).  _i = 0:
 * one temperature; 1: two, each row at its own. */
START_TEST(test_blocks_match_whole_batch)
{
    pot_potential u = pot_double_well(NULL);
    static const bg_temperature temps[2] = {{0.8, 1}, {1.25, 2}};
    const int multi = _i == 1, n_data = 400;
    ad_real *data[2] = {dw_rows(n_data, temps[0].kT, 7), dw_rows(n_data, temps[1].kT, 8)};
    bg_temperature_data sets[2] = {{.kT = temps[0].kT, .weight = 1, .data = data[0],
                                    .n_data = n_data},
                                   {.kT = temps[1].kT, .weight = 1, .data = data[1],
                                    .n_data = n_data}};
    bg_stage st = bg_stage_ml_kl(30, 20);
    st.w_rc = 0.5;
    st.batch_size = 50;
    bg_rc x1 = bg_rc_coordinate(0);
    bg_generator *g[2];
    bg_train_result res[2];
    char msg[512];
    for (int v = 0; v < 2; v++) {
        g[v] = small_generator(&u, multi ? temps : NULL, multi ? 2 : 0);
        bg_generator_train_config tc = bg_generator_train_default(multi ? NULL : data[0],
                                                                  multi ? 0 : n_data);
        if (multi) {
            tc.data_sets = sets;
            tc.n_data_sets = 2;
        }
        tc.stages = &st;
        tc.n_stages = 1;
        tc.rc = &x1;
        tc.rc_loss = bg_rc_loss_config_default(-2.5, 2.5);
        tc.grad_blocks = v ? 3 : 1;
        ck_assert_msg(bg_generator_train(g[v], &tc, &res[v], msg, sizeof msg) == AD_OK, "%s",
                      msg);
        ck_assert_int_eq(res[v].skipped, 0);
    }
    ck_assert_double_eq_tol(res[0].final_loss, res[1].final_loss,
                            CK_REAL_TOL(1e-8, 64 * AD_REAL_EPS) * (1 + fabs(res[0].final_loss)));
    const nn_params *pa = g[0]->model->params, *pb = g[1]->model->params;
    const ad_real *a = nn_params_values(pa), *b = nn_params_values(pb);
    double diff = 0, pmax = 0, moved = 0;
    bg_generator *fresh = small_generator(&u, multi ? temps : NULL, multi ? 2 : 0);
    const ad_real *p0 = nn_params_values(fresh->model->params);
    for (size_t i = 0; i < nn_params_size(pa); i++) {
        diff = fmax(diff, fabs(a[i] - b[i]));
        pmax = fmax(pmax, fabs(a[i]));
        moved = fmax(moved, fabs(a[i] - p0[i]));
    }
    ck_assert_msg(moved > 1e-3, "training did not move the parameters (%g)", moved);
    ck_assert_msg(diff <= CK_REAL_TOL(1e-8, 32 * AD_REAL_EPS * (1 + pmax)),
                  "max parameter difference %g", diff);
    bg_generator_free(fresh);
    bg_generator_free(g[0]);
    bg_generator_free(g[1]);
    free(data[0]);
    free(data[1]);
}
END_TEST

/* grad_blocks below 0, or above a stage's batch, is refused. */
START_TEST(test_blocks_checked)
{
    pot_potential u = pot_double_well(NULL);
    ad_real *data = dw_rows(100, 1.0, 9);
    bg_generator *g = small_generator(&u, NULL, 0);
    bg_stage st = bg_stage_ml(2);
    st.batch_size = 8;
    bg_generator_train_config tc = bg_generator_train_default(data, 100);
    tc.stages = &st;
    tc.n_stages = 1;
    char msg[512];
    tc.grad_blocks = -1;
    ck_assert_int_eq(bg_generator_train(g, &tc, NULL, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_msg(strstr(msg, "grad_blocks = -1") != NULL, "%s", msg);
    tc.grad_blocks = 9;
    ck_assert_int_eq(bg_generator_train(g, &tc, NULL, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_msg(strstr(msg, "less than grad_blocks = 9") != NULL, "%s", msg);
    tc.grad_blocks = 8; /* a row per block */
    ck_assert_msg(bg_generator_train(g, &tc, NULL, msg, sizeof msg) == AD_OK, "%s", msg);
    bg_generator_free(g);
    free(data);
}
END_TEST

Suite *flows_blocks_suite(void)
{
    Suite *s = suite_create("flows-blocks");
    TCase *tc = tcase_create("blocks");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_rc_group_sums);
    tcase_add_loop_test(tc, test_blocks_match_whole_batch, 0, 2);
    tcase_add_test(tc, test_blocks_checked);
    suite_add_tcase(s, tc);
    return s;
}
