/* bench_workloads.c - building and running the workloads of bg-bench. */
#include "apps/bench/bench_workloads.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "autodiff/ad.h"
#include "flows/bg_loss.h"
#include "flows/bg_sample.h"
#include "flows/flow_realnvp.h"
#include "nn/nn_optim.h"
#include "potentials/pot_dimer.h"
#include "potentials/pot_double_well.h"
#include "potentials/pot_muller_brown.h"
#include "sampling/smp_mc.h"

/* The KL loss's energy regularisation, as in the peer and the seed. */
#define BENCH_E_HIGH 1e4
#define BENCH_E_MAX 1e20
/* Samples drawn per sample_* iteration, and the batch they are drawn in. */
#define BENCH_SAMPLE_N 100000
#define BENCH_SAMPLE_BATCH 10000
/* Rows of the ML training data. */
#define BENCH_N_DATA 10000

const bench_spec BENCH_SPECS[] = {
    {"dw_ml", BENCH_TRAIN_ML, BENCH_DOUBLE_WELL, 3, 100, 2048, 1e-3, 0, 0,
     "ML loss on double-well data"},
    {"dw_kl", BENCH_TRAIN_KL, BENCH_DOUBLE_WELL, 3, 100, 2048, 1e-3, 0, 0,
     "KL loss, double-well energy"},
    {"mb_ml", BENCH_TRAIN_ML, BENCH_MUELLER_BROWN, 5, 100, 200, 1e-2, 0, 0,
     "ML loss on Mueller-Brown data"},
    {"mb_kl", BENCH_TRAIN_KL, BENCH_MUELLER_BROWN, 5, 100, 1000, 1e-3, 0, 0,
     "KL loss, Mueller-Brown energy"},
    {"dimer_ml", BENCH_TRAIN_ML, BENCH_DIMER, 8, 200, 8000, 1e-4, 0, 0,
     "ML loss on dimer configurations"},
    {"dimer_kl", BENCH_TRAIN_KL, BENCH_DIMER, 8, 200, 1000, 1e-3, 0, 0,
     "KL loss, dimer energy"},
    {"dimer_energy", BENCH_ENERGY, BENCH_DIMER, 0, 0, 1000, 0, 0, 0,
     "dimer energy and forces only"},
    {"sample_dimer", BENCH_SAMPLE, BENCH_DIMER, 8, 200, BENCH_SAMPLE_N, 0, 0, 0,
     "generate, energy, log-weights, no tape"},
    {"gemm_1024", BENCH_GEMM, BENCH_NO_SYSTEM, 0, 0, 1024, 0, 1024, 1024,
     "1024x1024x1024 matrix product"},
    {"gemm_flow", BENCH_GEMM, BENCH_NO_SYSTEM, 0, 0, 8000, 0, 200, 200,
     "[8000x200] x [200x200], as in dimer_ml"},
    {"cpl_affine", BENCH_COUPLING_AFFINE, BENCH_DIMER, 1, 200, 1000, 0, 0, 0,
     "one block of affine couplings at dim 76, forward + backward"},
    {"cpl_spline", BENCH_COUPLING_SPLINE, BENCH_DIMER, 1, 200, 1000, 0, 0, 0,
     "the same with 8-bin spline couplings (one conditioner)"},
};
const int BENCH_N_SPECS = (int)(sizeof BENCH_SPECS / sizeof BENCH_SPECS[0]);

struct bench_run {
    bench_spec spec;
    int dim;
    /* potentials (their parameter structs must outlive the potential) */
    pot_double_well_params dw;
    pot_muller_brown_params mb;
    pot_dimer_params dimer;
    pot_potential pot;
    double kT;
    /* flows */
    flow_model *model;
    nn_optim *opt;
    flow_prior prior;
    ad_tape *tape;
    ad_rng rng;
    ad_real *data;   /* [n_data * dim] ML data or energy configurations */
    int n_data;
    ad_real *batch;  /* [batch * dim] the current batch                 */
    ad_real *out_u;  /* [batch] energies                                */
    ad_real *out_f;  /* [batch * dim] forces                            */
    /* GEMM operands */
    ad_real *a, *b, *c;
};

int bench_spec_dim(const bench_spec *s)
{
    switch (s->system) {
    case BENCH_DOUBLE_WELL:
    case BENCH_MUELLER_BROWN:
        return 2;
    case BENCH_DIMER: {
        pot_dimer_params p = pot_dimer_params_seed();
        return pot_dimer_dim(&p);
    }
    case BENCH_NO_SYSTEM:
        break;
    }
    return 0;
}

double bench_spec_gflop(const bench_spec *s)
{
    if (s->kind == BENCH_GEMM) return 2.0 * s->batch * s->gemm_n * s->gemm_k / 1e9;
    if (s->kind == BENCH_ENERGY) return 0;
    /* S and T of both couplings of a block: d1 -> w -> w -> d2 and back;
     * a spline coupling has one conditioner d1 -> w -> w -> d2 (3K - 1). */
    int dim = bench_spec_dim(s), d1 = dim / 2, d2 = dim - d1;
    double w = s->width;
    double net12 = 2 * (d1 * w + w * w + w * d2), net21 = 2 * (d2 * w + w * w + w * d1);
    if (s->kind == BENCH_COUPLING_SPLINE) {
        double k = 3 * BENCH_SPLINE_BINS - 1;
        net12 = d1 * w + w * w + w * d2 * k;
        net21 = d2 * w + w * w + w * d1 * k;
    }
    double per_sample = s->blocks * 2 * (net12 + net21);
    return (s->kind == BENCH_SAMPLE ? 1 : 3) * per_sample * s->batch / 1e9;
}

/* A dimer configuration: solvent on a 6 x 6 lattice of spacing 1.2 with
 * small noise, the dimer at (+-d/2, 0), d in [1, 2). */
static void dimer_configuration(ad_real *x, int n_solvent, ad_rng *r)
{
    double d = 1.0 + ad_rng_uniform(r);
    x[0] = -d / 2;
    x[1] = 0;
    x[2] = d / 2;
    x[3] = 0;
    int k = 2;
    for (int i = 0; i < 6 && k < 2 + n_solvent; i++)
        for (int j = 0; j < 6 && k < 2 + n_solvent; j++, k++) {
            x[2 * k] = -3 + 1.2 * i + 0.05 * ad_rng_normal(r);
            x[2 * k + 1] = -3 + 1.2 * j + 0.05 * ad_rng_normal(r);
        }
}

/* n_data rows of data: Metropolis chains for the 2-D systems (started in
 * the minima), noisy lattice configurations for the dimer. */
static int make_data(bench_run *r, char *msg, size_t msg_len)
{
    r->n_data = BENCH_N_DATA;
    r->data = ad_malloc((size_t)r->n_data * r->dim * sizeof(ad_real));
    if (!r->data) return ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "out of memory for data");
    if (r->spec.system == BENCH_DIMER) {
        for (int i = 0; i < r->n_data; i++)
            dimer_configuration(r->data + (size_t)i * r->dim, r->dimer.n_solvent, &r->rng);
        return AD_OK;
    }
    enum { CHAINS = 100 };
    ad_real x0[2 * CHAINS];
    static const ad_real DW_MIN[2][2] = {{-1.77, 0}, {1.69, 0}};
    static const ad_real MB_MIN[3][2] = {{-0.558, 1.442}, {-0.050, 0.467}, {0.624, 0.028}};
    for (int c = 0; c < CHAINS; c++) {
        const ad_real *m = r->spec.system == BENCH_DOUBLE_WELL ? DW_MIN[c % 2] : MB_MIN[c % 3];
        x0[2 * c] = m[0];
        x0[2 * c + 1] = m[1];
    }
    double sigma = r->spec.system == BENCH_DOUBLE_WELL ? 0.1 : 0.02;
    smp_mc_config mc = smp_mc_config_default(2, r->kT);
    mc.n_chains = CHAINS;
    mc.sigma = sigma;
    mc.n_steps = BENCH_N_DATA / CHAINS;
    mc.stride = 1;
    mc.seed = 7;
    ad_tape *scratch = ad_tape_new(0);
    if (!scratch) return ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "out of memory");
    smp_potential_ctx ctx = {&r->pot, scratch};
    int status = smp_mc_run(&mc, smp_potential_energy, &ctx, x0, r->data, NULL, NULL, msg, msg_len);
    ad_tape_free(scratch);
    return status;
}

static int setup_potential(bench_run *r)
{
    r->kT = 1;
    switch (r->spec.system) {
    case BENCH_DOUBLE_WELL:
        r->dw = pot_double_well_defaults();
        r->pot = pot_double_well(&r->dw);
        return 1;
    case BENCH_MUELLER_BROWN:
        r->mb = pot_muller_brown_defaults();
        r->pot = pot_muller_brown(&r->mb);
        return 1;
    case BENCH_DIMER:
        r->dimer = pot_dimer_params_seed();
        r->pot = pot_dimer(&r->dimer);
        return 1;
    case BENCH_NO_SYSTEM:
        break;
    }
    return 0;
}

static int setup_flow(bench_run *r, char *msg, size_t msg_len)
{
    flow_realnvp_preset preset = r->spec.system == BENCH_DIMER ? FLOW_REALNVP_DIMER
                                 : r->spec.system == BENCH_MUELLER_BROWN
                                     ? FLOW_REALNVP_MUELLER_BROWN
                                     : FLOW_REALNVP_DOUBLE_WELL;
    flow_realnvp_config cfg = flow_realnvp_preset_config(preset);
    int widths[2] = {r->spec.width, r->spec.width};
    cfg.n_blocks = r->spec.blocks;
    cfg.n_hidden = 2;
    cfg.hidden_widths = widths;
    /* The seed's identity start (zero output layers): a random start can
     * map prior draws where the Mueller-Brown energy overflows. */
    cfg.t_output_random = 0;
    cfg.seed = 1;
    if (r->spec.kind == BENCH_COUPLING_SPLINE) {
        cfg.coupling = FLOW_COUPLING_SPLINE;
        cfg.spline.bins = BENCH_SPLINE_BINS;
    }
    r->model = flow_realnvp_new(&cfg, msg, msg_len);
    if (!r->model) return AD_ERR_ARG;
    r->prior.dim = r->model->dim_z;
    r->prior.kT = r->kT;
    if (r->spec.kind == BENCH_TRAIN_ML || r->spec.kind == BENCH_TRAIN_KL) {
        nn_optim_config oc = nn_optim_config_default(r->spec.lr);
        r->opt = nn_optim_new(r->model->params, &oc, msg, msg_len);
        if (!r->opt) return AD_ERR_NOMEM;
    }
    return AD_OK;
}

bench_run *bench_setup(const bench_spec *s, char *msg, size_t msg_len)
{
    bench_run *r = ad_calloc(1, sizeof *r);
    if (!r) {
        ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "out of memory");
        return NULL;
    }
    r->spec = *s;
    r->dim = bench_spec_dim(s);
    ad_rng_seed(&r->rng, 1, 3);
    int status = AD_OK;
    if (s->kind == BENCH_GEMM) {
        size_t m = (size_t)s->batch, n = (size_t)s->gemm_n, k = (size_t)s->gemm_k;
        r->a = ad_malloc(m * k * sizeof(ad_real));
        r->b = ad_malloc(k * n * sizeof(ad_real));
        r->c = ad_malloc(m * n * sizeof(ad_real));
        if (!r->a || !r->b || !r->c) {
            status = ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "out of memory");
        } else {
            ad_rng_fill_uniform(&r->rng, r->a, m * k, -1, 1);
            ad_rng_fill_uniform(&r->rng, r->b, k * n, -1, 1);
        }
    } else if (!setup_potential(r)) {
        status = ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: no system", s->name);
    } else {
        r->tape = ad_tape_new(0);
        r->batch = ad_malloc((size_t)s->batch * r->dim * sizeof(ad_real));
        r->out_u = ad_malloc((size_t)s->batch * sizeof(ad_real));
        r->out_f = ad_malloc((size_t)s->batch * r->dim * sizeof(ad_real));
        if (!r->tape || !r->batch || !r->out_u || !r->out_f)
            status = ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "out of memory");
        if (status == AD_OK && s->kind != BENCH_ENERGY) status = setup_flow(r, msg, msg_len);
        if (status == AD_OK && (s->kind == BENCH_TRAIN_ML || s->kind == BENCH_ENERGY))
            status = make_data(r, msg, msg_len);
        if (status == AD_OK && s->kind == BENCH_ENERGY)
            memcpy(r->batch, r->data, (size_t)s->batch * r->dim * sizeof(ad_real));
        if (status == AD_OK &&
            (s->kind == BENCH_COUPLING_AFFINE || s->kind == BENCH_COUPLING_SPLINE))
            status = flow_prior_sample(&r->prior, &r->rng, r->batch, s->batch);
    }
    if (status != AD_OK) {
        bench_free(r);
        return NULL;
    }
    return r;
}

static int train_iteration(bench_run *r, char *msg, size_t msg_len)
{
    const bench_spec *s = &r->spec;
    ad_tape *t = r->tape;
    nn_params_zero_grad(r->model->params);
    ad_tape_reset(t);
    int shape[2] = {s->batch, r->dim};
    ad_tensor *loss;
    if (s->kind == BENCH_TRAIN_ML) {
        for (int i = 0; i < s->batch; i++) {
            uint64_t row = ad_rng_below(&r->rng, (uint64_t)r->n_data);
            memcpy(r->batch + (size_t)i * r->dim, r->data + row * r->dim,
                   (size_t)r->dim * sizeof(ad_real));
        }
        loss = bg_loss_ml(t, r->model, &r->prior, ad_constant(t, 2, shape, r->batch));
    } else {
        flow_prior_sample(&r->prior, &r->rng, r->batch, s->batch);
        loss = bg_loss_kl(t, r->model, &r->pot, r->kT, BENCH_E_HIGH, BENCH_E_MAX,
                          ad_constant(t, 2, shape, r->batch), NULL);
    }
    if (ad_backward(t, loss) != AD_OK)
        return ad_status_fail(msg, msg_len, ad_tape_status(t), "%s", ad_tape_error(t));
    int status = nn_optim_step(r->opt, NULL);
    if (status != AD_OK)
        return ad_status_fail(msg, msg_len, status, "non-finite gradient (loss %g)",
                              (double)loss->data[0]);
    return AD_OK;
}

/* The couplings alone: z (fixed prior draws) -> x on a fresh tape,
 * sum(x) + sum(log det), backward to the parameters; no optimizer step. */
static int coupling_iteration(bench_run *r, char *msg, size_t msg_len)
{
    ad_tape *t = r->tape;
    nn_params_zero_grad(r->model->params);
    ad_tape_reset(t);
    int shape[2] = {r->spec.batch, r->dim};
    ad_tensor *logdet = NULL;
    ad_tensor *x = flow_model_forward(r->model, t, ad_constant(t, 2, shape, r->batch), &logdet);
    ad_tensor *loss = ad_add(t, ad_sum(t, x), ad_sum(t, logdet));
    if (ad_backward(t, loss) != AD_OK)
        return ad_status_fail(msg, msg_len, ad_tape_status(t), "%s", ad_tape_error(t));
    return AD_OK;
}

int bench_iteration(bench_run *r, char *msg, size_t msg_len)
{
    const bench_spec *s = &r->spec;
    switch (s->kind) {
    case BENCH_TRAIN_ML:
    case BENCH_TRAIN_KL:
        return train_iteration(r, msg, msg_len);
    case BENCH_ENERGY:
        return pot_forces(&r->pot, r->tape, r->batch, s->batch, r->out_u, r->out_f, msg,
                          msg_len);
    case BENCH_SAMPLE: {
        bg_samples *out = NULL;
        int status = bg_sample(r->model, &r->prior, &r->pot, r->kT, s->batch,
                               BENCH_SAMPLE_BATCH, 11, &out, msg, msg_len);
        bg_samples_free(out);
        return status;
    }
    case BENCH_COUPLING_AFFINE:
    case BENCH_COUPLING_SPLINE:
        return coupling_iteration(r, msg, msg_len);
    case BENCH_GEMM:
        ad_gemm(0, 0, s->batch, s->gemm_n, s->gemm_k, 1, r->a, s->gemm_k, r->b, s->gemm_n, 0,
                r->c, s->gemm_n);
        return AD_OK;
    }
    return ad_status_fail(msg, msg_len, AD_ERR_ARG, "unknown workload kind");
}

void bench_free(bench_run *r)
{
    if (!r) return;
    nn_optim_free(r->opt);
    flow_model_free(r->model);
    ad_tape_free(r->tape);
    ad_free(r->data);
    ad_free(r->batch);
    ad_free(r->out_u);
    ad_free(r->out_f);
    ad_free(r->a);
    ad_free(r->b);
    ad_free(r->c);
    ad_free(r);
}
