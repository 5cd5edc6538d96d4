/* test_nn.c - parameter blocks, dense layers, MLPs, optimizers, checkpoints. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "autodiff/ad.h"
#include "ck_util.h"
#include "nn/nn.h"

/* ------------------------------------------------------------ helpers */

/* An MLP in its own nn_params: widths, hidden activation, output init. */
typedef struct small_net {
    nn_params *params;
    nn_mlp mlp;
} small_net;

static void small_net_make(small_net *n, int n_widths, const int *widths, nn_activation hidden,
                           nn_init output_init, uint64_t seed)
{
    char msg[160];
    n->params = nn_params_new();
    ck_assert_ptr_nonnull(n->params);
    nn_mlp_config cfg = {.n_widths = n_widths, .widths = widths, .hidden_activation = hidden,
                         .output_activation = NN_ACT_IDENTITY, .hidden_init = NN_INIT_AUTO,
                         .output_init = output_init};
    ck_assert_int_eq(nn_mlp_init(&n->mlp, n->params, &cfg, msg, sizeof msg), AD_OK);
    ad_rng rng;
    ad_rng_seed(&rng, seed, 0);
    ck_assert_int_eq(nn_params_finalize(n->params, &rng, msg, sizeof msg), AD_OK);
}

/* ------------------------------------------------------------ forward */

START_TEST(test_params_contiguous)
{
    nn_params *p = nn_params_new();
    ad_tensor *a = nn_params_add(p, "a", 2, (int[]){3, 4}, NN_INIT_GLOROT);
    ad_tensor *b = nn_params_add(p, "b", 1, (int[]){4}, NN_INIT_ZERO);
    ad_real fixed_values[2] = {7, 8};
    ad_tensor *c = nn_params_add_fixed(p, "c", 1, (int[]){2}, fixed_values);
    ad_tensor *d = nn_params_add(p, "d", 2, (int[]){4, 5}, NN_INIT_HE);
    ck_assert_ptr_null(a->data); /* no values before finalize */
    ck_assert_int_eq(nn_params_finalize(p, NULL, NULL, 0), AD_OK);
    ck_assert_int_eq(nn_params_count(p), 4);
    ck_assert_uint_eq(nn_params_size(p), 12 + 4 + 2 + 20);
    ck_assert_uint_eq(nn_params_trainable_size(p), 36);
    ad_real *v = nn_params_values(p), *g = nn_params_grads(p);
    /* One block, registration order, no gaps. */
    ck_assert_ptr_eq(a->data, v);
    ck_assert_ptr_eq(b->data, v + 12);
    ck_assert_ptr_eq(c->data, v + 16);
    ck_assert_ptr_eq(d->data, v + 18);
    ck_assert_ptr_eq(a->grad, g);
    ck_assert_ptr_eq(d->grad, g + 18);
    ck_assert_ptr_null(c->grad); /* fixed: no gradient, records nothing */
    ck_assert(!c->requires_grad && a->requires_grad);
    ck_assert(nn_params_is_fixed(p, 2) && !nn_params_is_fixed(p, 0));
    ck_assert_ptr_eq(nn_params_get(p, 3), d);
    ck_assert(c->data[0] == 7 && c->data[1] == 8);
    for (int i = 0; i < 4; i++) ck_assert(b->data[i] == 0);
    ck_assert_str_eq(a->name, "a");
    ad_tensor *flat = nn_params_flat(p);
    ck_assert_ptr_eq(flat->data, v);
    ck_assert_uint_eq(flat->size, 38);
    for (size_t i = 0; i < 38; i++) g[i] = 1;
    ck_assert_close(nn_params_grad_norm(p), sqrt(38.0), 0, 1e-15, "norm", 0);
    nn_params_zero_grad(p);
    for (size_t i = 0; i < 38; i++) ck_assert(g[i] == 0);
    /* Registering after finalize is refused. */
    ck_assert_ptr_null(nn_params_add(p, "late", 1, (int[]){1}, NN_INIT_ZERO));
    nn_params_free(p);
}
END_TEST

START_TEST(test_dense_values)
{
    nn_params *p = nn_params_new();
    nn_dense d;
    ck_assert_int_eq(nn_dense_init(&d, p, 3, 2, NN_INIT_GLOROT), AD_OK);
    ck_assert_int_eq(nn_params_finalize(p, NULL, NULL, 0), AD_OK);
    ad_real w[6] = {1, 2, 3, 4, 5, 6}, bias[2] = {0.5, -1};
    memcpy(d.weight->data, w, sizeof w);
    memcpy(d.bias->data, bias, sizeof bias);
    ad_tape *t = ad_tape_new(0);
    ad_real xv[6] = {1, 0, -1, 2, 1, 0};
    ad_tensor *x = ad_constant(t, 2, (int[]){2, 3}, xv);
    ad_tensor *y = nn_dense_forward(t, &d, x);
    ck_assert(ad_tape_ok(t));
    /* y = x W + b by hand: row 0 = (1-5, 2-6) + b, row 1 = (2+3, 4+4) + b */
    ad_real want[4] = {-4 + 0.5, -4 - 1, 5 + 0.5, 8 - 1};
    for (int i = 0; i < 4; i++) ck_assert(y->data[i] == want[i]);
    ad_tensor *r = nn_activate(t, NN_ACT_RELU, y), *th = nn_activate(t, NN_ACT_TANH, y);
    ck_assert_ptr_eq(nn_activate(t, NN_ACT_IDENTITY, y), y);
    for (int i = 0; i < 4; i++) {
        ck_assert(r->data[i] == (want[i] > 0 ? want[i] : 0));
        ck_assert(th->data[i] == AD_MATH(tanh)(want[i]));
    }
    ck_assert_str_eq(nn_activation_name(NN_ACT_TANH), "tanh");
    ad_tape_free(t);
    nn_params_free(p);
}
END_TEST

START_TEST(test_mlp_shapes_and_zero_output)
{
    small_net n;
    int widths[4] = {3, 16, 8, 2};
    small_net_make(&n, 4, widths, NN_ACT_RELU, NN_INIT_ZERO, 1);
    ck_assert_int_eq(n.mlp.n_layers, 3);
    ck_assert_int_eq(nn_mlp_n_in(&n.mlp), 3);
    ck_assert_int_eq(nn_mlp_n_out(&n.mlp), 2);
    ad_tensor *ps[8];
    ck_assert_int_eq(nn_mlp_parameters(&n.mlp, ps, 8), 6);
    ck_assert_ptr_eq(ps[4], n.mlp.layers[2].weight);
    /* Zero output layer: the MLP outputs exactly 0 whatever the input. */
    for (size_t i = 0; i < ps[4]->size; i++) ck_assert(ps[4]->data[i] == 0);
    ad_tape *t = ad_tape_new(0);
    ad_real xv[15];
    for (int i = 0; i < 15; i++) xv[i] = i - 7;
    ad_tensor *y = nn_mlp_forward(t, &n.mlp, ad_constant(t, 2, (int[]){5, 3}, xv));
    ck_assert(ad_tape_ok(t));
    ck_assert_int_eq(y->shape[0], 5);
    ck_assert_int_eq(y->shape[1], 2);
    for (size_t i = 0; i < y->size; i++) ck_assert(y->data[i] == 0);
    ad_tape_free(t);
    nn_params_free(n.params);
}
END_TEST

/* Two backward passes accumulate into parameter gradients (the training
 * step, not ad_backward, zeroes them). */
START_TEST(test_param_grads_accumulate)
{
    small_net n;
    int widths[3] = {2, 4, 1};
    small_net_make(&n, 3, widths, NN_ACT_TANH, NN_INIT_GLOROT, 2);
    ad_tape *t = ad_tape_new(0);
    ad_real xv[4] = {0.3, -0.2, 1.1, 0.7};
    size_t np = nn_params_size(n.params);
    ad_real *first = malloc(np * sizeof *first);
    nn_params_zero_grad(n.params);
    for (int pass = 0; pass < 2; pass++) {
        ad_tape_reset(t);
        ad_tensor *y = ad_sum(t, nn_mlp_forward(t, &n.mlp, ad_constant(t, 2, (int[]){2, 2}, xv)));
        ck_assert_int_eq(ad_backward(t, y), AD_OK);
        if (pass == 0) memcpy(first, nn_params_grads(n.params), np * sizeof *first);
    }
    for (size_t i = 0; i < np; i++)
        ck_assert_close(nn_params_grads(n.params)[i], 2 * first[i], 0, 4 * AD_REAL_EPS, "grad", i);
    free(first);
    ad_tape_free(t);
    nn_params_free(n.params);
}
END_TEST

/* ------------------------------------------------------------ statistics */

/* Initial weights have the variance of their scheme: Glorot uniform on
 * +-a, a = sqrt(6/(fi+fo)), variance a^2/3 = 2/(fi+fo); He normal 2/fi.
 * The mean is known (0), so E[w^2] is estimated by the mean of w^2 over N
 * weights, with standard error sqrt(Var(w^2)/N): Var(w^2) = 4a^4/45 for the
 * uniform, 2 sigma^4 for the normal.  Allowed: 5 standard errors. */
START_TEST(test_init_variances)
{
    int fi = 200, fo = 300;
    for (int scheme = 0; scheme < 2; scheme++) {
        nn_params *p = nn_params_new();
        ad_tensor *w =
            nn_params_add(p, "w", 2, (int[]){fi, fo}, scheme ? NN_INIT_HE : NN_INIT_GLOROT);
        ad_rng rng;
        ad_rng_seed(&rng, 11, 0);
        ck_assert_int_eq(nn_params_finalize(p, &rng, NULL, 0), AD_OK);
        double m2 = 0, mx = 0;
        for (size_t i = 0; i < w->size; i++) {
            m2 += w->data[i] * w->data[i];
            mx = fmax(mx, fabs(w->data[i]));
        }
        m2 /= (double)w->size;
        double var, se;
        if (scheme == 0) {
            double a = sqrt(6.0 / (fi + fo));
            var = a * a / 3;
            se = sqrt(4 * pow(a, 4) / 45 / (double)w->size);
            ck_assert(mx <= a);
        } else {
            var = 2.0 / fi;
            se = var * sqrt(2.0 / (double)w->size);
        }
        ck_assert_close(m2, var, 5 * se, 0, scheme ? "he" : "glorot", 0);
        nn_params_free(p);
    }
}
END_TEST

/* ------------------------------------------------------------ gradcheck */

typedef struct mlp_ctx {
    const nn_mlp *mlp;
    const ad_tensor *x;
} mlp_ctx;

static ad_tensor *mlp_fn(ad_tape *t, ad_tensor *const *in, int n, void *vctx)
{
    mlp_ctx *c = vctx;
    ad_tensor *x = n > 1 ? in[1] : (ad_tensor *)c->x;
    return nn_mlp_forward(t, c->mlp, x);
}

START_TEST(test_mlp_gradcheck)
{
    /* tanh hidden units: smooth, so central differences apply everywhere. */
    small_net n;
    int widths[4] = {3, 7, 5, 2};
    small_net_make(&n, 4, widths, NN_ACT_TANH, NN_INIT_GLOROT, 3);
    ad_tensor *x = ad_tensor_new(2, (int[]){4, 3});
    ad_rng rng;
    ad_rng_seed(&rng, 5, 0);
    ad_rng_fill_normal(&rng, x->data, x->size, 0, 1);
    mlp_ctx c = {&n.mlp, x};
    ad_tensor *in[2] = {nn_params_flat(n.params), x};
    ad_gradcheck_report rep;
    ck_assert_int_eq(ad_gradcheck(mlp_fn, &c, 2, in, NULL, &rep), AD_OK);
    ck_assert_msg(rep.ok, "%s", rep.message);
    ad_tensor_free(x);
    nn_params_free(n.params);
}
END_TEST

/* ------------------------------------------------------------ optimizers */

enum { LS_M = 20, LS_N = 5 };

/* min_w mean((A w - b)^2) with b = A w*: the unique solution is w* (A has
 * full column rank).  Returns max |w - w*| after `steps` updates.
 * Tolerance: both optimizers are run far past the point where the error
 * contracts to the rounding floor.  There the computed gradient
 * (2/m) A^T (A w - b) carries an error of about m eps |A|^2 |w*|, which
 * limits |w - w*| to about kappa(A^T A) m eps |w*|.  For a 20 x 5 Gaussian
 * matrix kappa(A) is near (sqrt 20 + sqrt 5)/(sqrt 20 - sqrt 5) = 3, so
 * kappa(A^T A) ~ 10 and the floor is ~ 10 * 20 * 2.2e-16 * 2 ~ 1e-13;
 * 1e-12 allows a factor 10 over that estimate.  The same estimate with the
 * float build's eps 1.2e-7: 4000 eps ~ 4.8e-4. */
#define LS_TOL CK_REAL_TOL(1e-12, 4000 * AD_REAL_EPS)
static double least_squares(nn_optim_config cfg, int steps, int decay)
{
    ad_rng rng;
    ad_rng_seed(&rng, 21, 0);
    ad_real a[LS_M * LS_N], wstar[LS_N], b[LS_M];
    ad_rng_fill_normal(&rng, a, LS_M * LS_N, 0, 1);
    ad_rng_fill_normal(&rng, wstar, LS_N, 0, 1);
    for (int i = 0; i < LS_M; i++) {
        b[i] = 0;
        for (int j = 0; j < LS_N; j++) b[i] += a[i * LS_N + j] * wstar[j];
    }
    nn_params *p = nn_params_new();
    ad_tensor *w = nn_params_add(p, "w", 2, (int[]){LS_N, 1}, NN_INIT_ZERO);
    ck_assert_int_eq(nn_params_finalize(p, &rng, NULL, 0), AD_OK);
    char msg[160];
    nn_optim *o = nn_optim_new(p, &cfg, msg, sizeof msg);
    ck_assert_msg(o != NULL, "%s", msg);
    ad_tape *t = ad_tape_new(0);
    double lr0 = cfg.lr;
    for (int k = 0; k < steps; k++) {
        ad_tape_reset(t);
        ad_tensor *r = ad_sub(t, ad_matmul(t, ad_constant(t, 2, (int[]){LS_M, LS_N}, a), w, 0, 0),
                              ad_constant(t, 2, (int[]){LS_M, 1}, b));
        ad_tensor *loss = ad_mean(t, ad_square(t, r));
        nn_params_zero_grad(p);
        ck_assert_int_eq(ad_backward(t, loss), AD_OK);
        if (decay) nn_optim_set_lr(o, lr0 / (1 + k / 100.0));
        ck_assert_int_eq(nn_optim_step(o, NULL), AD_OK);
    }
    ck_assert_int_eq(nn_optim_steps(o), steps);
    double err = 0;
    for (int j = 0; j < LS_N; j++) err = fmax(err, fabs(w->data[j] - wstar[j]));
    ad_tape_free(t);
    nn_optim_free(o);
    nn_params_free(p);
    return err;
}

START_TEST(test_adam_least_squares)
{
    nn_optim_config cfg = {.kind = NN_OPTIM_ADAM, .lr = 0.05};
    double err = least_squares(cfg, 4000, 1);
    ck_assert_msg(err < LS_TOL, "Adam: max |w - w*| = %g", err);
}
END_TEST

START_TEST(test_sgd_least_squares)
{
    nn_optim_config cfg = {.kind = NN_OPTIM_SGD, .lr = 0.05};
    double err = least_squares(cfg, 4000, 0);
    ck_assert_msg(err < LS_TOL, "SGD: max |w - w*| = %g", err);
}
END_TEST

START_TEST(test_clip_and_nonfinite)
{
    nn_params *p = nn_params_new();
    ad_tensor *w = nn_params_add(p, "w", 1, (int[]){2}, NN_INIT_ZERO);
    ck_assert_int_eq(nn_params_finalize(p, NULL, NULL, 0), AD_OK);
    nn_optim_config cfg = {.kind = NN_OPTIM_SGD, .lr = 0.1, .clip_norm = 1.0};
    nn_optim *o = nn_optim_new(p, &cfg, NULL, 0);
    /* |g| = 5 > 1: g is scaled to (0.6, 0.8); the step is lr times that. */
    w->grad[0] = 3;
    w->grad[1] = 4;
    double norm;
    ck_assert_int_eq(nn_optim_step(o, &norm), AD_OK);
    /* float: lr g / |g| with g, lr and the result rounded: 4 eps relative */
    const double rt = CK_REAL_TOL(1e-15, 4 * AD_REAL_EPS);
    ck_assert_close(norm, 5, 0, rt, "norm", 0);
    ck_assert_close(w->data[0], -0.06, 0, rt, "w", 0);
    ck_assert_close(w->data[1], -0.08, 0, rt, "w", 1);
    /* A NaN gradient changes nothing and is reported. */
    w->grad[0] = NAN;
    ck_assert_int_eq(nn_optim_step(o, NULL), AD_ERR_NUMERIC);
    ck_assert_close(w->data[0], -0.06, 0, rt, "w unchanged", 0);
    ck_assert_int_eq(nn_optim_steps(o), 1);
    nn_optim_free(o);
    /* Adam's first step is exactly lr g / (|g| + eps) (bias correction:
     * m_hat = g, v_hat = g^2); a few roundings of 1 ulp each. */
    nn_optim_config adam = {.kind = NN_OPTIM_ADAM, .lr = 0.01};
    o = nn_optim_new(p, &adam, NULL, 0);
    w->data[0] = w->data[1] = 0;
    w->grad[0] = 3;
    w->grad[1] = -0.5;
    ck_assert_int_eq(nn_optim_step(o, NULL), AD_OK);
    ck_assert_close(w->data[0], -0.01 * 3 / (3 + 1e-8), 0, 4 * AD_REAL_EPS, "adam", 0);
    ck_assert_close(w->data[1], 0.01 * 0.5 / (0.5 + 1e-8), 0, 4 * AD_REAL_EPS, "adam", 1);
    nn_optim_free(o);
    nn_params_free(p);
}
END_TEST

/* ------------------------------------------------------------ checkpoints */

static void snapshot(const nn_params *p, ad_real *out)
{
    memcpy(out, nn_params_values(p), nn_params_size(p) * sizeof *out);
}

static int unchanged(const nn_params *p, const ad_real *snap)
{
    return memcmp(snap, nn_params_values(p), nn_params_size(p) * sizeof *snap) == 0;
}

static unsigned char *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*size);
    ck_assert_uint_eq(fread(b, 1, *size, f), *size);
    fclose(f);
    return b;
}

static void write_all(const char *path, const unsigned char *b, size_t size)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, size, f), size);
    fclose(f);
}

START_TEST(test_checkpoint_round_trip)
{
    const char *dir = ck_tmpdir("nn-ckpt");
    char path[600], tmp[620];
    snprintf(path, sizeof path, "%s/model.ckpt", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int widths[3] = {3, 9, 2};
    small_net a, b;
    small_net_make(&a, 3, widths, NN_ACT_TANH, NN_INIT_GLOROT, 1);
    small_net_make(&b, 3, widths, NN_ACT_TANH, NN_INIT_GLOROT, 2);
    a.mlp.layers[0].weight->data[0] = 1.0 / 3; /* a value with a long expansion */
    char msg[256];
    ck_assert_int_eq(nn_checkpoint_save(a.params, path, msg, sizeof msg), AD_OK);
    ck_assert_int_eq(access(tmp, F_OK), -1); /* renamed, nothing left over */
    ck_assert(!unchanged(b.params, nn_params_values(a.params)));
    ck_assert_int_eq(nn_checkpoint_load(b.params, path, msg, sizeof msg), AD_OK);
    /* Bit-exact. */
    ck_assert(unchanged(b.params, nn_params_values(a.params)));
    nn_params_free(a.params);
    nn_params_free(b.params);
}
END_TEST

/* Format 2 stores a label; a format-1 file (no label) still loads, with an
 * empty label; a label that does not fit the caller's buffer loads nothing. */
START_TEST(test_checkpoint_label_and_version_1)
{
    const char *dir = ck_tmpdir("nn-ckpt-label");
    char path[600], old[600], msg[256], label[64];
    snprintf(path, sizeof path, "%s/l.ckpt", dir);
    snprintf(old, sizeof old, "%s/v1.ckpt", dir);
    int widths[3] = {3, 9, 2};
    small_net a, b;
    small_net_make(&a, 3, widths, NN_ACT_TANH, NN_INIT_GLOROT, 1);
    small_net_make(&b, 3, widths, NN_ACT_TANH, NN_INIT_GLOROT, 2);
    const char *want = "fingerprint=0123456789abcdef stage=3";
    ck_assert_int_eq(nn_checkpoint_save_label(a.params, path, want, msg, sizeof msg), AD_OK);
    size_t np = nn_params_size(b.params);
    ad_real *snap = malloc(np * sizeof *snap);
    memcpy(snap, nn_params_values(b.params), np * sizeof *snap);
    char small[8];
    ck_assert_int_eq(nn_checkpoint_load_label(b.params, path, small, sizeof small, msg, sizeof msg),
                     AD_ERR_ARG);
    ck_assert(unchanged(b.params, snap));
    ck_assert_int_eq(nn_checkpoint_load_label(b.params, path, label, sizeof label, msg, sizeof msg),
                     AD_OK);
    ck_assert_str_eq(label, want);
    ck_assert(unchanged(b.params, nn_params_values(a.params)));
    /* the same file in format 1: version 1, no label length nor label */
    size_t size;
    unsigned char *img = read_all(path, &size);
    size_t lab = strlen(want), v1_size = size - 4 - lab;
    unsigned char *v1 = malloc(v1_size);
    memcpy(v1, img, 24);
    memcpy(v1 + 24, img + 28 + lab, size - 28 - lab);
    uint32_t one = 1;
    memcpy(v1 + 8, &one, 4);
    uint64_t sum = nn_fnv1a64(NN_FNV1A64_INIT, v1, v1_size - 8);
    memcpy(v1 + v1_size - 8, &sum, 8);
    write_all(old, v1, v1_size);
    memcpy(nn_params_values(b.params), snap, np * sizeof *snap);
    ck_assert_int_eq(nn_checkpoint_load_label(b.params, old, label, sizeof label, msg, sizeof msg),
                     AD_OK);
    ck_assert_str_eq(label, "");
    ck_assert(unchanged(b.params, nn_params_values(a.params)));
    free(v1);
    free(img);
    free(snap);
    nn_params_free(a.params);
    nn_params_free(b.params);
}
END_TEST

START_TEST(test_checkpoint_damaged_files)
{
    const char *dir = ck_tmpdir("nn-ckpt-bad");
    char good[600], bad[600], msg[256];
    snprintf(good, sizeof good, "%s/good.ckpt", dir);
    snprintf(bad, sizeof bad, "%s/bad.ckpt", dir);
    int widths[3] = {3, 9, 2}, other[3] = {3, 10, 2};
    small_net a, b, c;
    small_net_make(&a, 3, widths, NN_ACT_TANH, NN_INIT_GLOROT, 1);
    small_net_make(&b, 3, widths, NN_ACT_TANH, NN_INIT_GLOROT, 2);
    small_net_make(&c, 3, other, NN_ACT_TANH, NN_INIT_GLOROT, 3);
    ck_assert_int_eq(nn_checkpoint_save(a.params, good, msg, sizeof msg), AD_OK);
    size_t size;
    unsigned char *img = read_all(good, &size);
    size_t np = nn_params_size(b.params);
    ad_real *snap = malloc(np * sizeof *snap);
    snapshot(b.params, snap);

    /* Truncated at every length from empty to one byte short. */
    for (size_t len = 0; len < size; len += (len < 64 ? 1 : 97)) {
        write_all(bad, img, len);
        ck_assert_int_eq(nn_checkpoint_load(b.params, bad, msg, sizeof msg), AD_ERR_FORMAT);
        ck_assert_msg(strstr(msg, "truncated") || strstr(msg, "not a libbg checkpoint"),
                      "len %zu: %s", len, msg);
        ck_assert(unchanged(b.params, snap));
    }
    write_all(bad, img, size - 1);
    ck_assert_int_eq(nn_checkpoint_load(b.params, bad, msg, sizeof msg), AD_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(msg, "truncated"));

    /* One flipped bit anywhere in the shapes or values: checksum mismatch. */
    for (size_t at = 24; at < size - 8; at += 13) {
        img[at] ^= 0x10;
        write_all(bad, img, size);
        img[at] ^= 0x10;
        int st = nn_checkpoint_load(b.params, bad, msg, sizeof msg);
        ck_assert_msg(st == AD_ERR_FORMAT, "byte %zu: status %d (%s)", at, st, msg);
        ck_assert(unchanged(b.params, snap));
    }
    img[size - 40] ^= 1;
    write_all(bad, img, size);
    img[size - 40] ^= 1;
    ck_assert_int_eq(nn_checkpoint_load(b.params, bad, msg, sizeof msg), AD_ERR_FORMAT);
    ck_assert_str_eq(strstr(msg, "corrupted"), "corrupted (checksum mismatch)");

    /* Another format version. */
    unsigned char *v = malloc(size);
    memcpy(v, img, size);
    uint32_t version = 99;
    memcpy(v + 8, &version, 4);
    write_all(bad, v, size);
    ck_assert_int_eq(nn_checkpoint_load(b.params, bad, msg, sizeof msg), AD_ERR_FORMAT);
    ck_assert_msg(strstr(msg, "format version 99") != NULL, "%s", msg);
    ck_assert(unchanged(b.params, snap));

    /* Other byte order. */
    memcpy(v, img, size);
    uint32_t swapped = 0x04030201u;
    memcpy(v + 12, &swapped, 4);
    write_all(bad, v, size);
    ck_assert_int_eq(nn_checkpoint_load(b.params, bad, msg, sizeof msg), AD_ERR_FORMAT);
    ck_assert_msg(strstr(msg, "byte order") != NULL, "%s", msg);

    /* Bad magic, trailing bytes. */
    memcpy(v, img, size);
    v[0] = 'X';
    write_all(bad, v, size);
    ck_assert_int_eq(nn_checkpoint_load(b.params, bad, msg, sizeof msg), AD_ERR_FORMAT);
    ck_assert_msg(strstr(msg, "not a libbg checkpoint") != NULL, "%s", msg);
    unsigned char *longer = calloc(size + 3, 1);
    memcpy(longer, img, size);
    write_all(bad, longer, size + 3);
    ck_assert_int_eq(nn_checkpoint_load(b.params, bad, msg, sizeof msg), AD_ERR_FORMAT);
    ck_assert_msg(strstr(msg, "trailing") != NULL, "%s", msg);
    ck_assert(unchanged(b.params, snap));

    /* Wrong shapes: a model with other widths refuses the file. */
    ad_real *snap_c = malloc(nn_params_size(c.params) * sizeof *snap_c);
    snapshot(c.params, snap_c);
    ck_assert_int_eq(nn_checkpoint_load(c.params, good, msg, sizeof msg), AD_ERR_SHAPE);
    ck_assert_msg(strstr(msg, "has shape [3,9], the model expects [3,10]") != NULL, "%s", msg);
    ck_assert(unchanged(c.params, snap_c));

    /* Missing file. */
    snprintf(bad, sizeof bad, "%s/missing.ckpt", dir);
    ck_assert_int_eq(nn_checkpoint_load(b.params, bad, msg, sizeof msg), AD_ERR_IO);
    ck_assert(unchanged(b.params, snap));
    /* Unwritable destination: error, no file. */
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.ckpt", dir);
    ck_assert_int_eq(nn_checkpoint_save(a.params, bad, msg, sizeof msg), AD_ERR_IO);

    free(longer);
    free(v);
    free(snap);
    free(snap_c);
    free(img);
    nn_params_free(a.params);
    nn_params_free(b.params);
    nn_params_free(c.params);
}
END_TEST

/* ------------------------------------------------------------ errors */

START_TEST(test_errors)
{
    char msg[200];
    nn_params *p = nn_params_new();
    nn_mlp m;
    int widths[2] = {3, 0};
    nn_mlp_config cfg = {.n_widths = 2, .widths = widths, .hidden_activation = NN_ACT_RELU,
                         .output_activation = NN_ACT_IDENTITY, .hidden_init = NN_INIT_AUTO,
                         .output_init = NN_INIT_AUTO};
    ck_assert_int_eq(nn_mlp_init(&m, p, &cfg, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_str_eq(msg, "nn_mlp_init: widths[1] = 0 (must be >= 1)");
    cfg.n_widths = 1;
    ck_assert_int_eq(nn_mlp_init(&m, p, &cfg, msg, sizeof msg), AD_ERR_ARG);
    /* An optimizer needs finalized parameters and a positive lr. */
    nn_optim_config oc = {.kind = NN_OPTIM_ADAM, .lr = 1e-3};
    ck_assert_ptr_null(nn_optim_new(p, &oc, msg, sizeof msg));
    ck_assert_str_eq(msg, "nn_optim_new: the parameters are not finalized");
    ad_tensor *w = nn_params_add(p, "w", 2, (int[]){3, 2}, NN_INIT_GLOROT);
    ck_assert_int_eq(nn_params_finalize(p, NULL, msg, sizeof msg), AD_OK);
    oc.lr = -1;
    ck_assert_ptr_null(nn_optim_new(p, &oc, msg, sizeof msg));
    ck_assert_str_eq(msg, "nn_optim_new: lr = -1 (must be > 0)");
    /* Wrong input width: the tape records which op and shapes. */
    nn_dense d = {3, 2, w, NULL};
    ad_tape *t = ad_tape_new(0);
    ad_tensor *y = nn_dense_forward(t, &d, ad_zeros(t, 2, (int[]){4, 3}));
    ck_assert(!y->valid);
    ck_assert_str_eq(ad_tape_error(t), "nn_dense_forward: bad argument #2 (layer not "
                     "initialised, or its nn_params not finalized)");
    ad_tape_reset(t);
    nn_dense d2;
    nn_params *q = nn_params_new();
    nn_dense_init(&d2, q, 3, 2, NN_INIT_GLOROT);
    nn_params_finalize(q, NULL, NULL, 0);
    y = nn_dense_forward(t, &d2, ad_zeros(t, 2, (int[]){4, 5}));
    ck_assert(!ad_tape_ok(t));
    ck_assert_str_eq(ad_tape_error(t), "ad_dense: bad argument #2 (shape [3,2], expected [5,*])");
    /* Saving a non-finite parameter is refused and writes nothing. */
    const char *dir = ck_tmpdir("nn-nan");
    char path[600];
    snprintf(path, sizeof path, "%s/nan.ckpt", dir);
    w->data[1] = NAN;
    ck_assert_int_eq(nn_checkpoint_save(p, path, msg, sizeof msg), AD_ERR_NUMERIC);
    ck_assert_int_eq(access(path, F_OK), -1);
    ad_tape_free(t);
    nn_params_free(p);
    nn_params_free(q);
}
END_TEST

/* ------------------------------------------------------------ memory */

/* Every allocation failing in turn: the call fails cleanly (no crash, no
 * leak under ASan) and succeeds once enough allocations are allowed. */
START_TEST(test_alloc_failures)
{
    int widths[4] = {3, 8, 8, 2};
    int succeeded = 0;
    for (long n = 0; n < 200 && !succeeded; n++) {
        nn_params *p = NULL;
        nn_optim *o = NULL;
        nn_mlp m;
        nn_mlp_config cfg = {.n_widths = 4, .widths = widths, .hidden_activation = NN_ACT_RELU,
                             .output_activation = NN_ACT_IDENTITY, .hidden_init = NN_INIT_AUTO,
                             .output_init = NN_INIT_ZERO};
        nn_optim_config oc = {.kind = NN_OPTIM_ADAM, .lr = 1e-3};
        ad_alloc_fail_after(n);
        p = nn_params_new();
        if (p && nn_mlp_init(&m, p, &cfg, NULL, 0) == AD_OK &&
            nn_params_finalize(p, NULL, NULL, 0) == AD_OK) {
            o = nn_optim_new(p, &oc, NULL, 0);
            succeeded = o != NULL;
        }
        ad_alloc_fail_after(-1);
        nn_optim_free(o);
        nn_params_free(p);
    }
    ck_assert(succeeded);
}
END_TEST

START_TEST(test_checkpoint_load_alloc_failure)
{
    const char *dir = ck_tmpdir("nn-ckpt-oom");
    char path[600], msg[200];
    snprintf(path, sizeof path, "%s/m.ckpt", dir);
    int widths[3] = {3, 9, 2};
    small_net a;
    small_net_make(&a, 3, widths, NN_ACT_TANH, NN_INIT_GLOROT, 1);
    ck_assert_int_eq(nn_checkpoint_save(a.params, path, msg, sizeof msg), AD_OK);
    ad_real *snap = malloc(nn_params_size(a.params) * sizeof *snap);
    nn_params_values(a.params)[0] += 1;
    snapshot(a.params, snap);
    ad_alloc_fail_after(0);
    int st = nn_checkpoint_load(a.params, path, msg, sizeof msg);
    ad_alloc_fail_after(-1);
    ck_assert_int_eq(st, AD_ERR_NOMEM);
    ck_assert(unchanged(a.params, snap));
    free(snap);
    nn_params_free(a.params);
}
END_TEST

/* The config defaults, and every invalid field rejected by name. */
START_TEST(test_config_defaults_and_fields)
{
    char msg[256];
    nn_optim_config d = nn_optim_config_default(0.01);
    ck_assert_int_eq(d.kind, NN_OPTIM_ADAM);
    ck_assert(d.lr == 0.01 && d.beta1 == 0.9 && d.beta2 == 0.999 && d.eps == 1e-8);
    ck_assert(d.clip_norm == 0);
    int widths[3] = {2, 4, 1};
    nn_mlp_config mc = nn_mlp_config_default(3, widths);
    ck_assert_int_eq(mc.n_widths, 3);
    ck_assert_ptr_eq(mc.widths, widths);
    ck_assert_int_eq(mc.hidden_activation, NN_ACT_RELU);
    ck_assert_int_eq(mc.output_activation, NN_ACT_IDENTITY);
    ck_assert_int_eq(mc.hidden_init, NN_INIT_AUTO);
    ck_assert_int_eq(mc.output_init, NN_INIT_AUTO);

    nn_params *p = nn_params_new();
    nn_mlp m;
    ck_assert_int_eq(nn_mlp_init(&m, p, &mc, msg, sizeof msg), AD_OK);
    nn_mlp_config bad = mc;
    bad.n_widths = 1;
    ck_assert_int_eq(nn_mlp_init(&m, p, &bad, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_str_eq(msg, "nn_mlp_init: n_widths = 1 (need 2 to 17)");
    bad = mc;
    bad.widths = NULL;
    ck_assert_int_eq(nn_mlp_init(&m, p, &bad, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_str_eq(msg, "nn_mlp_init: widths is NULL");
    bad = mc;
    bad.hidden_activation = (nn_activation)7;
    ck_assert_int_eq(nn_mlp_init(&m, p, &bad, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_str_eq(msg, "nn_mlp_init: hidden_activation = 7 (not a known value)");
    bad = mc;
    bad.output_init = (nn_init)-1;
    ck_assert_int_eq(nn_mlp_init(&m, p, &bad, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_str_eq(msg, "nn_mlp_init: output_init = -1 (not a known value)");
    ck_assert_int_eq(nn_params_finalize(p, NULL, msg, sizeof msg), AD_OK);

    static const struct {
        const char *expect;
        nn_optim_kind kind;
        double lr, beta1, beta2, eps, clip_norm;
    } cases[] = {
        {"nn_optim_new: kind = 5 (need NN_OPTIM_ADAM or NN_OPTIM_SGD)", (nn_optim_kind)5, 0.1, 0,
         0, 0, 0},
        {"nn_optim_new: lr = 0 (must be > 0)", NN_OPTIM_ADAM, 0, 0, 0, 0, 0},
        {"nn_optim_new: beta1 = 1 (must be in (0, 1); 0: 0.9)", NN_OPTIM_ADAM, 0.1, 1, 0, 0, 0},
        {"nn_optim_new: beta2 = -0.5 (must be in (0, 1); 0: 0.999)", NN_OPTIM_ADAM, 0.1, 0, -0.5,
         0, 0},
        {"nn_optim_new: eps = -1 (must be finite, > 0; 0: 1e-8)", NN_OPTIM_ADAM, 0.1, 0, 0, -1, 0},
        {"nn_optim_new: clip_norm = inf (must be finite, >= 0)", NN_OPTIM_SGD, 0.1, 0, 0, 0,
         INFINITY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nn_optim_config c = {.kind = cases[i].kind, .lr = cases[i].lr, .beta1 = cases[i].beta1,
                             .beta2 = cases[i].beta2, .eps = cases[i].eps,
                             .clip_norm = cases[i].clip_norm};
        ck_assert_ptr_null(nn_optim_new(p, &c, msg, sizeof msg));
        ck_assert_str_eq(msg, cases[i].expect);
    }
    nn_optim *o = nn_optim_new(p, &d, msg, sizeof msg);
    ck_assert_ptr_nonnull(o);
    nn_optim_free(o);
    nn_params_free(p);
}
END_TEST

Suite *nn_suite(void)
{
    Suite *s = suite_create("nn");
    TCase *tc = tcase_create("forward");
    tcase_add_test(tc, test_params_contiguous);
    tcase_add_test(tc, test_dense_values);
    tcase_add_test(tc, test_mlp_shapes_and_zero_output);
    tcase_add_test(tc, test_param_grads_accumulate);
    tcase_add_test(tc, test_adam_least_squares);
    tcase_add_test(tc, test_sgd_least_squares);
    tcase_add_test(tc, test_clip_and_nonfinite);
    tcase_add_test(tc, test_checkpoint_round_trip);
    suite_add_tcase(s, tc);
    tc = tcase_create("statistics");
    tcase_add_test(tc, test_init_variances);
    suite_add_tcase(s, tc);
    tc = tcase_create("gradcheck");
    tcase_add_test(tc, test_mlp_gradcheck);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_checkpoint_damaged_files);
    tcase_add_test(tc, test_config_defaults_and_fields);
    tcase_add_test(tc, test_checkpoint_label_and_version_1);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("memory");
    tcase_add_test(tc, test_alloc_failures);
    tcase_add_test(tc, test_checkpoint_load_alloc_failure);
    suite_add_tcase(s, tc);
    return s;
}
