/* test_reliability_alloc.c - allocation failure at every point of a small
 * training run (ML and ML+KL stages, with checkpoints), of building the
 * model, of sampling, of a checkpoint save and load and of a CSV read and
 * write.  Each run with the n-th allocation failing must return AD_OK or
 * AD_ERR_NOMEM with a message, never crash, leave the model finite (and
 * unchanged when no training step finished) and, under `make sanitize`
 * (LeakSanitizer), free everything.  n runs from 0 until the operation
 * succeeds without reaching the limit. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/ad.h"
#include "ck_util.h"
#include "flows/bg_ais.h"
#include "flows/bg_sample.h"
#include "flows/bg_train.h"
#include "flows/flow_realnvp.h"
#include "nn/nn_checkpoint.h"
#include "sampling/smp_data.h"

/* More allocations than any operation below makes: a run that still fails
 * at this n is a bug (an allocation loop), not a slow test. */
#define MAX_N 20000

/* ------------------------------------------------------------ fixtures */

/* u(x) = |x - (1, -0.5)|^2 / 2: a potential small enough for any batch. */
static ad_tensor *shifted_energy(ad_tape *t, ad_tensor *x, const void *params)
{
    (void)params;
    ad_tensor *d = ad_sub(t, x, ad_constant(t, 1, (int[]){2}, (const ad_real[]){1, -0.5}));
    return ad_scale(t, ad_sum_axis(t, ad_square(t, d), 1), 0.5);
}

static const pot_potential SHIFTED = {"shifted", 2, shifted_energy, NULL};

/* A RealNVP of one block with 2 -> 6 -> 6 -> 1 nets. */
static flow_model *tiny_flow(char *msg, size_t len)
{
    static const int widths[2] = {6, 6};
    flow_realnvp_config c = flow_realnvp_preset_config(FLOW_REALNVP_DOUBLE_WELL);
    c.n_blocks = 1;
    c.hidden_widths = widths;
    c.t_output_random = 1; /* not the identity: steps change every value */
    c.seed = 4;
    return flow_realnvp_new(&c, msg, len);
}

/* 24 points around (1, -0.5). */
static const ad_real *tiny_data(void)
{
    static ad_real data[48];
    for (int i = 0; i < 24; i++) {
        data[2 * i] = 1 + 0.3 * sin(1.7 * i);
        data[2 * i + 1] = -0.5 + 0.4 * cos(0.9 * i);
    }
    return data;
}

typedef struct progress_count {
    long calls;
} progress_count;

static void count_progress(const bg_progress *p, void *ctx)
{
    (void)p;
    ((progress_count *)ctx)->calls++;
}

/* What one run of an operation under fault injection reports. */
typedef struct outcome {
    int status;
    char msg[512];
} outcome;

static void expect_ok_or_nomem(const outcome *o, const char *what, long n)
{
    ck_assert_msg(o->status == AD_OK || o->status == AD_ERR_NOMEM, "%s, n = %ld: status %d (%s)",
                  what, n, o->status, o->msg);
    if (o->status == AD_ERR_NOMEM)
        ck_assert_msg(strstr(o->msg, "out of memory") != NULL, "%s, n = %ld: message '%s'", what,
                      n, o->msg);
}

/* Run op(ctx, &o) with the n-th allocation failing for n = 0, 1, ... until
 * a run succeeds without reaching the limit (checked by ad_alloc_count).
 * Returns the number of allocations the operation needs. */
static long fail_at_every_allocation(void (*op)(void *ctx, long n, outcome *o), void *ctx,
                                     const char *what)
{
    for (long n = 0; n <= MAX_N; n++) {
        outcome o = {AD_OK, ""};
        long before = ad_alloc_count();
        ad_alloc_fail_after(n);
        op(ctx, n, &o);
        ad_alloc_fail_after(-1);
        long made = ad_alloc_count() - before;
        expect_ok_or_nomem(&o, what, n);
        if (o.status == AD_OK && made < n) {
            if (getenv("REL_DEBUG")) fprintf(stderr, "%s: %ld allocations\n", what, made);
            return made;
        }
        /* made == n: the limit was reached (the n+1-th allocation failed),
         * so the success, if any, went through a recovery path */
    }
    ck_abort_msg("%s: still failing with %d allocations allowed", what, MAX_N);
    return -1;
}

/* ------------------------------------------------------------ training */

typedef struct train_ctx {
    flow_model *model;
    ad_real *initial;  /* the model's values before every run */
    size_t n_values;
    bg_stage stages[2];
    int n_stages;
    const char *ckpt_prefix;
    const char *log_path;
} train_ctx;

static void train_op(void *vctx, long n, outcome *o)
{
    train_ctx *c = vctx;
    ad_real *v = nn_params_values(c->model->params);
    memcpy(v, c->initial, c->n_values * sizeof *v);
    progress_count pc = {0};
    bg_train_config cfg = {0};
    cfg.model = c->model;
    cfg.prior = (flow_prior){.dim = 2, .kT = 1.0};
    cfg.potential = &SHIFTED;
    cfg.kT = 1;
    cfg.data = tiny_data();
    cfg.n_data = 24;
    cfg.stages = c->stages;
    cfg.n_stages = c->n_stages;
    cfg.seed = 9;
    cfg.clip_norm = 10;
    cfg.checkpoint_prefix = c->ckpt_prefix;
    cfg.log_path = c->log_path;
    cfg.progress = count_progress;
    cfg.progress_ctx = &pc;
    bg_train_result res;
    o->status = bg_train(&cfg, 0, &res, o->msg, sizeof o->msg);
    for (size_t i = 0; i < c->n_values; i++)
        ck_assert_msg(isfinite(v[i]), "n = %ld: value %zu is %g after status %d", n, i, v[i],
                      o->status);
    if (o->status != AD_OK && pc.calls == 0)
        ck_assert_msg(memcmp(v, c->initial, c->n_values * sizeof *v) == 0,
                      "n = %ld: the model changed although no step finished (%s)", n, o->msg);
    if (o->status == AD_OK)
        ck_assert_msg(memcmp(v, c->initial, c->n_values * sizeof *v) != 0,
                      "n = %ld: training changed nothing", n);
}

static void train_under_failures(int with_kl, int with_files)
{
    char msg[256];
    train_ctx c = {0};
    c.model = tiny_flow(msg, sizeof msg);
    ck_assert_msg(c.model != NULL, "%s", msg);
    c.n_values = nn_params_size(c.model->params);
    c.initial = malloc(c.n_values * sizeof(ad_real));
    memcpy(c.initial, nn_params_values(c.model->params), c.n_values * sizeof(ad_real));
    c.stages[0] = (bg_stage){.name = "ML", .n_iterations = 2, .batch_size = 8, .lr = 1e-2,
                             .w_ml = 1, .e_high = 1e4};
    c.stages[1] = (bg_stage){.name = "ML+KL", .n_iterations = 1, .batch_size = 8, .lr = 1e-2,
                             .w_ml = 1, .w_kl = 1, .e_high = 10};
    c.n_stages = with_kl ? 2 : 1;
    char prefix[600], log[600];
    if (with_files) {
        const char *dir = ck_tmpdir("rel-train");
        snprintf(prefix, sizeof prefix, "%s/m", dir);
        snprintf(log, sizeof log, "%s/log.csv", dir);
        c.ckpt_prefix = prefix;
        c.log_path = log;
    }
    outcome warm = {AD_OK, ""};
    train_op(&c, -1, &warm); /* process-wide buffers (gemm packing) reach their size */
    ck_assert_msg(warm.status == AD_OK, "%s", warm.msg);
    long needed = fail_at_every_allocation(train_op, &c, with_kl ? "ML, ML+KL" : "ML");
    ck_assert(needed > 5);
    free(c.initial);
    flow_model_free(c.model);
}

START_TEST(test_train_ml_step)
{
    train_under_failures(0, 0);
}
END_TEST

START_TEST(test_train_ml_kl_with_files)
{
    train_under_failures(1, 1);
}
END_TEST

/* Building the model and training it, all under one limit. */
static void build_and_train_op(void *vctx, long n, outcome *o)
{
    (void)vctx;
    flow_model *m = tiny_flow(o->msg, sizeof o->msg);
    if (!m) {
        o->status = AD_ERR_NOMEM;
        ck_assert_msg(strstr(o->msg, "out of memory") != NULL, "n = %ld: '%s'", n, o->msg);
        return;
    }
    bg_stage st = {.name = "ML+KL", .n_iterations = 1, .batch_size = 4, .lr = 1e-2, .w_ml = 1,
                   .w_kl = 1, .e_high = 10};
    bg_train_config cfg = {0};
    cfg.model = m;
    cfg.prior = (flow_prior){.dim = 2, .kT = 1.0};
    cfg.potential = &SHIFTED;
    cfg.kT = 1;
    cfg.data = tiny_data();
    cfg.n_data = 24;
    cfg.stages = &st;
    cfg.n_stages = 1;
    cfg.seed = 2;
    o->status = bg_train(&cfg, 0, NULL, o->msg, sizeof o->msg);
    flow_model_free(m);
}

START_TEST(test_build_and_train)
{
    outcome warm = {AD_OK, ""};
    build_and_train_op(NULL, -1, &warm);
    ck_assert_msg(warm.status == AD_OK, "%s", warm.msg);
    ck_assert(fail_at_every_allocation(build_and_train_op, NULL, "build + train") > 10);
}
END_TEST

/* ------------------------------------------------------------ sampling */

static void sample_op(void *vctx, long n, outcome *o)
{
    flow_model *m = vctx;
    flow_prior prior = {.dim = 2, .kT = 1.0};
    bg_samples *s = NULL;
    o->status = bg_sample(m, &prior, &SHIFTED, 1.0, 50, 16, 5, &s, o->msg, sizeof o->msg);
    if (o->status == AD_OK) {
        ck_assert_ptr_nonnull(s);
        for (int i = 0; i < s->n; i++) ck_assert(isfinite(s->log_w[i]));
    } else {
        ck_assert_msg(s == NULL, "n = %ld: samples returned with status %d", n, o->status);
    }
    bg_samples_free(s);
    ad_real path_x[10], path_u[5];
    if (o->status == AD_OK)
        o->status = bg_interpolate(m, &SHIFTED, (const ad_real[]){0, 0}, (const ad_real[]){1, 1},
                                   5, path_x, path_u, o->msg, sizeof o->msg);
    if (o->status != AD_OK) return;
    /* latent annealing with HMC: the weights' recording is switched off
     * during the run and must be back on whatever the outcome */
    bg_ais_config c = bg_ais_config_default();
    c.n_temps = 3;
    c.leapfrog = 2;
    c.n_pilot = 8;
    o->status = bg_ais_sample(m, &prior, &SHIFTED, 1.0, 20, 8, &c, 6, &s, NULL, o->msg,
                              sizeof o->msg);
    ck_assert_msg((o->status == AD_OK) == (s != NULL), "n = %ld: status %d, samples %p", n,
                  o->status, (void *)s);
    for (int i = 0; i < nn_params_count(m->params); i++)
        ck_assert(nn_params_is_fixed(m->params, i) || nn_params_get(m->params, i)->requires_grad);
    bg_samples_free(s);
}

START_TEST(test_sample)
{
    char msg[256];
    flow_model *m = tiny_flow(msg, sizeof msg);
    ck_assert_msg(m != NULL, "%s", msg);
    outcome warm = {AD_OK, ""};
    sample_op(m, -1, &warm);
    ck_assert_msg(warm.status == AD_OK, "%s", warm.msg);
    ck_assert(fail_at_every_allocation(sample_op, m, "bg_sample + bg_interpolate + bg_ais_sample") >
              2);
    flow_model_free(m);
}
END_TEST

/* ------------------------------------------------------------ checkpoints */

typedef struct ckpt_ctx {
    nn_params *saved;   /* written once                             */
    nn_params *target;  /* loaded into; reset to `before` every run */
    ad_real *before;
    char path[600];
} ckpt_ctx;

static void ckpt_load_op(void *vctx, long n, outcome *o)
{
    ckpt_ctx *c = vctx;
    size_t size = nn_params_size(c->target);
    memcpy(nn_params_values(c->target), c->before, size * sizeof(ad_real));
    o->status = nn_checkpoint_load(c->target, c->path, o->msg, sizeof o->msg);
    const ad_real *want = o->status == AD_OK ? nn_params_values(c->saved) : c->before;
    ck_assert_msg(memcmp(nn_params_values(c->target), want, size * sizeof(ad_real)) == 0,
                  "n = %ld: status %d, values %s", n, o->status,
                  o->status == AD_OK ? "not the file's" : "changed");
}

/* A model of about 100 KB.  The loader allocates its read buffer once, for
 * the file's exact size (it never grows it for a file of this model). */
static nn_params *big_params(uint64_t seed)
{
    nn_params *p = nn_params_new();
    ck_assert_ptr_nonnull(p);
    nn_params_add(p, "w", 2, (int[]){100, 120}, NN_INIT_GLOROT);
    nn_params_add(p, "b", 1, (int[]){120}, NN_INIT_ZERO);
    nn_params_add_fixed(p, "shift", 1, (int[]){3}, (const ad_real[]){1, 2, 3});
    ad_rng r;
    ad_rng_seed(&r, seed, 0);
    ck_assert_int_eq(nn_params_finalize(p, &r, NULL, 0), AD_OK);
    return p;
}

START_TEST(test_checkpoint_save_load)
{
    ckpt_ctx c;
    c.saved = big_params(1);
    c.target = big_params(2);
    size_t size = nn_params_size(c.target);
    c.before = malloc(size * sizeof(ad_real));
    memcpy(c.before, nn_params_values(c.target), size * sizeof(ad_real));
    snprintf(c.path, sizeof c.path, "%s/big.ckpt", ck_tmpdir("rel-ckpt"));
    /* saving needs no memory from the library at all */
    char msg[256];
    ad_alloc_fail_after(0);
    int st = nn_checkpoint_save(c.saved, c.path, msg, sizeof msg);
    ad_alloc_fail_after(-1);
    ck_assert_msg(st == AD_OK, "%s", msg);
    ck_assert(fail_at_every_allocation(ckpt_load_op, &c, "nn_checkpoint_load") == 1);
    free(c.before);
    nn_params_free(c.saved);
    nn_params_free(c.target);
}
END_TEST

/* ------------------------------------------------------------ CSV */

typedef struct csv_ctx {
    char path[600], copy[600];
    int n, dim;
} csv_ctx;

static void csv_op(void *vctx, long n, outcome *o)
{
    csv_ctx *c = vctx;
    smp_dataset *d = NULL;
    o->status = smp_csv_read(c->path, 0, &d, o->msg, sizeof o->msg);
    if (o->status != AD_OK) {
        ck_assert_msg(d == NULL, "n = %ld: a data set came back with status %d", n, o->status);
        return;
    }
    ck_assert_int_eq(d->n, c->n);
    ck_assert_int_eq(d->dim, c->dim);
    ck_assert_str_eq(d->names[c->dim - 1], "a_long_column_name_29");
    ck_assert_double_eq(d->x[(size_t)c->n * c->dim - 1], (c->n - 1) * 0.25 + (c->dim - 1));
    o->status = smp_csv_write(c->copy, d->x, d->n, d->dim, (const char *const *)d->names, o->msg,
                              sizeof o->msg);
    smp_dataset_free(d);
}

START_TEST(test_csv_read_write)
{
    csv_ctx c;
    const char *dir = ck_tmpdir("rel-csv");
    snprintf(c.path, sizeof c.path, "%s/data.csv", dir);
    snprintf(c.copy, sizeof c.copy, "%s/copy.csv", dir);
    c.n = 200; /* more rows than the first block holds */
    c.dim = 30; /* a header line longer than the first line buffer */
    FILE *f = fopen(c.path, "w");
    ck_assert_ptr_nonnull(f);
    for (int j = 0; j < c.dim; j++)
        fprintf(f, "a_long_column_name_%d%c", j, j + 1 < c.dim ? ',' : '\n');
    for (int i = 0; i < c.n; i++)
        for (int j = 0; j < c.dim; j++)
            fprintf(f, "%g%c", i * 0.25 + j, j + 1 < c.dim ? ',' : '\n');
    fclose(f);
    ck_assert(fail_at_every_allocation(csv_op, &c, "smp_csv_read + smp_csv_write") > 5);
}
END_TEST

Suite *reliability_alloc_suite(void)
{
    Suite *s = suite_create("reliability-alloc");
    TCase *tc = tcase_create("memory");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_train_ml_step);
    tcase_add_test(tc, test_train_ml_kl_with_files);
    tcase_add_test(tc, test_build_and_train);
    tcase_add_test(tc, test_sample);
    tcase_add_test(tc, test_checkpoint_save_load);
    tcase_add_test(tc, test_csv_read_write);
    suite_add_tcase(s, tc);
    return s;
}
