/* nn_optim.c - Adam and SGD on the flat parameter block. */
#include "nn_optim.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "autodiff/fast/ad_pool.h"

struct nn_optim {
    nn_params *params;     /* the model's parameters (not owned)      */
    nn_optim_config cfg;   /* with defaults filled in                 */
    size_t n;              /* scalars in the block                    */
    ad_real *m;            /* Adam first moments (NULL for SGD)       */
    ad_real *v;            /* Adam second moments                     */
    long steps;            /* updates made                            */
    double beta1_power;    /* beta1^steps, for the bias correction    */
    double beta2_power;    /* beta2^steps                             */
};

nn_optim_config nn_optim_config_default(double lr)
{
    nn_optim_config c = {.kind = NN_OPTIM_ADAM, .lr = lr, .beta1 = 0.9, .beta2 = 0.999,
                         .eps = 1e-8, .clip_norm = 0};
    return c;
}

nn_optim *nn_optim_new(nn_params *p, const nn_optim_config *cfg, char *msg, size_t msg_len)
{
#define FAIL(...)                                              \
    do {                                                       \
        if (msg && msg_len) snprintf(msg, msg_len, __VA_ARGS__); \
        return NULL;                                           \
    } while (0)
    if (!p || !cfg) FAIL("nn_optim_new: NULL argument");
    if (!nn_params_finalized(p)) FAIL("nn_optim_new: the parameters are not finalized");
    nn_optim_config c = *cfg;
    if (c.beta1 == 0) c.beta1 = 0.9;
    if (c.beta2 == 0) c.beta2 = 0.999;
    if (c.eps == 0) c.eps = 1e-8;
    if (c.kind != NN_OPTIM_ADAM && c.kind != NN_OPTIM_SGD)
        FAIL("nn_optim_new: kind = %d (need NN_OPTIM_ADAM or NN_OPTIM_SGD)", (int)c.kind);
    if (!(c.lr > 0) || !isfinite(c.lr)) FAIL("nn_optim_new: lr = %g (must be > 0)", c.lr);
    if (!(c.beta1 > 0 && c.beta1 < 1))
        FAIL("nn_optim_new: beta1 = %g (must be in (0, 1); 0: 0.9)", cfg->beta1);
    if (!(c.beta2 > 0 && c.beta2 < 1))
        FAIL("nn_optim_new: beta2 = %g (must be in (0, 1); 0: 0.999)", cfg->beta2);
    if (!(c.eps > 0) || !isfinite(c.eps))
        FAIL("nn_optim_new: eps = %g (must be finite, > 0; 0: 1e-8)", cfg->eps);
    if (!(c.clip_norm >= 0) || !isfinite(c.clip_norm))
        FAIL("nn_optim_new: clip_norm = %g (must be finite, >= 0)", c.clip_norm);
    /* The update runs in ad_real, with the betas rounded to it (1 - b is
     * then exact); the bias corrections, in double, must use those same
     * betas, or in a float build the first steps would be off by
     * u / (1 - beta2), ~6e-5 for beta2 = 0.999.  (Rounded here, once: GCC 12
     * at -O2 dropped the float round trip when it was written next to the
     * update's own conversions.)  Nothing changes in the double build. */
    c.beta1 = (double)(ad_real)c.beta1;
    c.beta2 = (double)(ad_real)c.beta2;
    if (!(c.beta1 < 1) || !(c.beta2 < 1))
        FAIL("nn_optim_new: beta1 = %g, beta2 = %g round to 1 in this precision", cfg->beta1,
             cfg->beta2);
    nn_optim *o = ad_calloc(1, sizeof *o);
    if (!o) FAIL("nn_optim_new: out of memory");
    o->params = p;
    o->cfg = c;
    o->n = nn_params_size(p);
    if (c.kind == NN_OPTIM_ADAM) {
        o->m = ad_calloc(o->n ? o->n : 1, sizeof(ad_real));
        o->v = ad_calloc(o->n ? o->n : 1, sizeof(ad_real));
        if (!o->m || !o->v) {
            nn_optim_free(o);
            FAIL("nn_optim_new: out of memory");
        }
    }
    nn_optim_reset(o);
    return o;
#undef FAIL
}

void nn_optim_free(nn_optim *o)
{
    if (!o) return;
    ad_free(o->m);
    ad_free(o->v);
    ad_free(o);
}

void nn_optim_reset(nn_optim *o)
{
    if (!o) return;
    if (o->m) memset(o->m, 0, o->n * sizeof(ad_real));
    if (o->v) memset(o->v, 0, o->n * sizeof(ad_real));
    o->steps = 0;
    o->beta1_power = 1;
    o->beta2_power = 1;
}

/* One update of the whole block, split over the thread pool in fixed
 * chunks of NN_PARAMS_CHUNK (each parameter's update involves only its own
 * values, so the result does not depend on the split). */

typedef struct {
    ad_real *w;
    const ad_real *g;
    ad_real *m, *v;
    size_t n;
    ad_real lr, b1, b2, eps, c1, c2;
    int sgd;
} update;

static void update_chunk(void *ctx, int task, int worker)
{
    (void)worker;
    const update *u = ctx;
    size_t i0 = (size_t)task * NN_PARAMS_CHUNK;
    size_t i1 = i0 + NN_PARAMS_CHUNK < u->n ? i0 + NN_PARAMS_CHUNK : u->n;
    ad_real *restrict w = u->w, *restrict m = u->m, *restrict v = u->v;
    const ad_real *restrict g = u->g;
    if (u->sgd) {
        for (size_t i = i0; i < i1; i++) w[i] -= u->lr * g[i];
        return;
    }
    for (size_t i = i0; i < i1; i++) {
        m[i] = u->b1 * m[i] + (1 - u->b1) * g[i];
        v[i] = u->b2 * v[i] + (1 - u->b2) * g[i] * g[i];
        w[i] -= u->lr * (m[i] * u->c1) / (AD_MATH(sqrt)(v[i] * u->c2) + u->eps);
    }
}

int nn_optim_step(nn_optim *o, double *grad_norm)
{
    if (!o) return AD_ERR_ARG;
    ad_real *w = nn_params_values(o->params), *g = nn_params_grads(o->params);
    double norm = nn_params_grad_norm(o->params);
    if (grad_norm) *grad_norm = norm;
    if (!isfinite(norm)) return AD_ERR_NUMERIC;
    if (o->cfg.clip_norm > 0 && norm > o->cfg.clip_norm) {
        ad_real f = (ad_real)(o->cfg.clip_norm / norm);
        for (size_t i = 0; i < o->n; i++) g[i] *= f;
    }
    update u = {w, g, o->m, o->v, o->n, (ad_real)o->cfg.lr, 0, 0, 0, 0, 0,
                o->cfg.kind == NN_OPTIM_SGD};
    if (!u.sgd) {
        u.b1 = (ad_real)o->cfg.beta1;
        u.b2 = (ad_real)o->cfg.beta2;
        u.eps = (ad_real)o->cfg.eps;
        o->beta1_power *= o->cfg.beta1;
        o->beta2_power *= o->cfg.beta2;
        u.c1 = (ad_real)(1 / (1 - o->beta1_power));
        u.c2 = (ad_real)(1 / (1 - o->beta2_power));
    }
    ad_parallel_for((int)((o->n + NN_PARAMS_CHUNK - 1) / NN_PARAMS_CHUNK), update_chunk, &u);
    o->steps++;
    return AD_OK;
}

void nn_optim_set_lr(nn_optim *o, double lr)
{
    if (o && lr > 0 && isfinite(lr)) o->cfg.lr = lr;
}
double nn_optim_lr(const nn_optim *o) { return o ? o->cfg.lr : 0; }
long nn_optim_steps(const nn_optim *o) { return o ? o->steps : 0; }
