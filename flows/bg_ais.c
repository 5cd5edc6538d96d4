/* bg_ais.c - annealed importance sampling in the latent space (bg_ais.h). */
#include "bg_ais.h"

#include <math.h>
#include <string.h>

#include "autodiff/ad_dist.h"
#include "nn/nn_params.h"
#include "sampling/smp_reweight.h"

bg_ais_config bg_ais_config_default(void)
{
    bg_ais_config c = {.n_temps = 100, .mcmc_steps = 1, .beta_power = 1.0, .step = 0.1,
                       .target_acceptance = 0.3, .n_pilot = 256, .leapfrog = 0, .state = NULL,
                       .start_scale = 1.0, .state_ctx = NULL, .progress = NULL,
                       .progress_ctx = NULL, .progress_step = NULL};
    return c;
}

/* The rows of one batch of chains: current states and proposals. */
typedef struct ais_rows {
    ad_real *z, *x, *log_det, *u, *l;
    ad_real *g; /* [b * dim_z] gradient of l (HMC only, else NULL) */
} ais_rows;

typedef struct ais_work {
    const flow_model *m;
    const pot_potential *pot;
    double kT;
    double kz;      /* variance of the start N(0, kz I): c kT (bg_ais.h)  */
    ad_tape *t;
    ais_rows prop;  /* proposals, one batch           */
    ad_real *mom;   /* HMC momenta, one batch          */
    double *h0;     /* HMC energies at the start       */
    double *log_w;  /* annealed log weights, one batch: sums of K terms,
                     * kept in double in both builds (stored as ad_real) */
    int *label;     /* start state of each chain (with cfg->state) */
    ad_real *pack;  /* MPI only: rows passed between ranks         */
    const bg_ais_config *cfg;
    long steps_done, steps_total; /* for cfg->progress_step */
    int status; /* of the first failed evaluation  */
    char why[256];
} ais_work;

/* Rows [lo, lo + b) of r, as a block of rows of its own. */
static ais_rows rows_from(const ais_rows *r, long lo, int dz, int dx)
{
    ais_rows s = {r->z + (size_t)lo * dz, r->x + (size_t)lo * dx, r->log_det + lo, r->u + lo,
                  r->l + lo, r->g ? r->g + (size_t)lo * dz : NULL};
    return s;
}

/* Row i of r as one record of an exchange under MPI: x, log R, u, l, then
 * the de values of row i of extra (the gradient or z; nothing when de is 0). */
static void pack_row(const ais_rows *r, const ad_real *extra, long i, int dx, int de, ad_real *p)
{
    memcpy(p, r->x + (size_t)i * dx, (size_t)dx * sizeof *p);
    p[dx] = r->log_det[i];
    p[dx + 1] = r->u[i];
    p[dx + 2] = r->l[i];
    if (de) memcpy(p + dx + 3, extra + (size_t)i * de, (size_t)de * sizeof *p);
}

static void unpack_row(ais_rows *r, ad_real *extra, long i, int dx, int de, const ad_real *p)
{
    memcpy(r->x + (size_t)i * dx, p, (size_t)dx * sizeof *p);
    r->log_det[i] = p[dx];
    r->u[i] = p[dx + 1];
    r->l[i] = p[dx + 2];
    if (de) memcpy(extra + (size_t)i * de, p + dx + 3, (size_t)de * sizeof *p);
}

/* Under MPI each rank evaluates its share [lo, hi) of the b rows (the
 * chains stay the same on every rank: each rank draws every random number
 * and takes every decision); then every rank receives all rows' x, log R,
 * u, l and, with_g, the gradient g (ad_dist.h).  A row's values do not
 * depend on the other rows of its batch, so any split gives the same
 * numbers.  Returns the agreed status. */
static int share_rows(ais_work *w, ais_rows *r, int b, long lo, long hi, int with_g, int st)
{
    if (ad_dist_size() == 1) return st;
    const int dx = w->m->dim_x, de = with_g ? w->m->dim_z : 0;
    const size_t width = (size_t)dx + 3 + de;
    for (long i = lo; i < hi && st == AD_OK; i++)
        pack_row(r, r->g, i, dx, de, w->pack + (size_t)i * width);
    st = ad_dist_gather(st, w->pack, width * sizeof(ad_real), b, w->why, sizeof w->why);
    for (int i = 0; i < b && st == AD_OK; i++)
        unpack_row(r, r->g, i, dx, de, w->pack + (size_t)i * width);
    return st;
}

static double sum_sq(const ad_real *v, int n)
{
    double s = 0;
    for (int j = 0; j < n; j++)
        s += (double)v[j] * v[j];
    return s;
}

/* l(z) -> l'(z) = l(z) - |z|^2/(2 kT) + |z|^2/(2 kz) + (d/2) log(kz/kT) for a
 * wider start (bg_ais.h); nothing when kz = kT. */
static void to_wide_start(const ais_work *w, ais_rows *r, int b)
{
    if (w->kz == w->kT) return;
    const int dz = w->m->dim_z;
    const double a = 0.5 / w->kz - 0.5 / w->kT, c = 0.5 * dz * log(w->kz / w->kT);
    for (int i = 0; i < b; i++)
        r->l[i] = (ad_real)((double)r->l[i] + a * sum_sq(r->z + (size_t)i * dz, dz) + c);
}

/* x, log R_zx, u and l(z) of n rows whose z is set (this rank's rows). */
static int eval_own_rows(ais_work *w, ais_rows *r, int b)
{
    int st = bg_map_batch(w->m, w->pot, w->t, r->z, b, r->x, r->log_det, r->u);
    if (st != AD_OK)
        return ad_status_fail(w->why, sizeof w->why, st, "bg_ais_sample: %s", ad_tape_error(w->t));
    smp_bg_weight_input in = {b, w->m->dim_z, r->u, r->z, r->log_det, w->kT};
    st = smp_bg_log_weights(&in, r->l, NULL, w->why, sizeof w->why);
    if (st == AD_OK) to_wide_start(w, r, b);
    return st;
}

/* x, log R_zx, u and l(z) of b rows whose z is set. */
static int eval_rows(ais_work *w, ais_rows *r, int b)
{
    long lo, hi;
    ad_dist_share(b, &lo, &hi);
    int st = AD_OK;
    if (hi > lo) {
        ais_rows mine = rows_from(r, lo, w->m->dim_z, w->m->dim_x);
        st = eval_own_rows(w, &mine, (int)(hi - lo));
    }
    return share_rows(w, r, b, lo, hi, 0, st);
}

/* The same with the gradient of l in r->g, by a reverse pass through the
 * energy and the flow (weights switched off: input gradients only).  A
 * batch the potential rejects (a non-finite coordinate) gets l = NaN. */
static int eval_own_rows_grad(ais_work *w, ais_rows *r, int b)
{
    const int dz = w->m->dim_z;
    ad_tape *t = w->t;
    ad_tape_reset(t);
    ad_tape_set_grad_enabled(t, 1);
    int shape[2] = {b, dz};
    ad_tensor *zt = ad_tape_input(t, 2, shape, r->z), *log_det = NULL;
    ad_tensor *x = flow_model_forward(w->m, t, zt, &log_det);
    if (!ad_tape_ok(t))
        return ad_status_fail(w->why, sizeof w->why, ad_tape_status(t), "bg_ais_sample: %s",
                              ad_tape_error(t));
    ad_tensor *e = pot_energy(t, w->pot, x);
    if (!ad_tape_ok(t)) {
        for (int i = 0; i < b; i++)
            r->l[i] = NAN;
        return AD_OK;
    }
    ad_tensor *obj = ad_sub(t, log_det, ad_scale(t, e, 1.0 / w->kT));
    int st = ad_tape_ok(t) ? ad_backward(t, obj) : ad_tape_status(t);
    if (st != AD_OK)
        return ad_status_fail(w->why, sizeof w->why, st, "bg_ais_sample: %s", ad_tape_error(t));
    memcpy(r->x, x->data, (size_t)b * w->m->dim_x * sizeof(ad_real));
    memcpy(r->log_det, log_det->data, (size_t)b * sizeof(ad_real));
    memcpy(r->u, e->data, (size_t)b * sizeof(ad_real));
    for (size_t j = 0; j < (size_t)b * dz; j++)
        r->g[j] = zt->grad[j] + r->z[j] / w->kz;
    smp_bg_weight_input in = {b, dz, r->u, r->z, r->log_det, w->kT};
    st = smp_bg_log_weights(&in, r->l, NULL, w->why, sizeof w->why);
    if (st == AD_OK) to_wide_start(w, r, b);
    return st;
}

static int eval_rows_grad(ais_work *w, ais_rows *r, int b)
{
    long lo, hi;
    ad_dist_share(b, &lo, &hi);
    int st = AD_OK;
    if (hi > lo) {
        ais_rows mine = rows_from(r, lo, w->m->dim_z, w->m->dim_x);
        st = eval_own_rows_grad(w, &mine, (int)(hi - lo));
    }
    return share_rows(w, r, b, lo, hi, 1, st);
}

static void copy_row(ais_rows *to, const ais_rows *from, int i, int dz, int dx)
{
    memcpy(to->z + (size_t)i * dz, from->z + (size_t)i * dz, (size_t)dz * sizeof(ad_real));
    memcpy(to->x + (size_t)i * dx, from->x + (size_t)i * dx, (size_t)dx * sizeof(ad_real));
    to->log_det[i] = from->log_det[i];
    to->u[i] = from->u[i];
    to->l[i] = from->l[i];
    if (to->g)
        memcpy(to->g + (size_t)i * dz, from->g + (size_t)i * dz, (size_t)dz * sizeof(ad_real));
}

/* Is the move from l_old to l_new (the rest of the log ratio in lr) taken?
 * A proposal without a finite l is never taken; a chain without one (its
 * weight is already zero or undefined) takes any finite proposal. */
static int accept(double l_old, double l_new, double lr, ad_rng *rng)
{
    if (!isfinite(l_new)) return 0;
    if (!isfinite(l_old)) return 1;
    return lr >= 0 || log(ad_rng_uniform(rng)) < lr;
}

/* May chain i move to the proposal's configuration?  Only within the state
 * it started in, when the config names states. */
static int same_state(const ais_work *w, int i)
{
    const bg_ais_config *c = w->cfg;
    return !c->state || c->state(w->prop.x + (size_t)i * w->m->dim_x, c->state_ctx) == w->label[i];
}

/* One random-walk Metropolis step of every chain at beta, width s (units of
 * sqrt kz).  Returns the number of moves taken, or -1 on error. */
static long rwm_step(ais_work *w, ad_rng *rng, int b, ais_rows *cur, double beta, double s)
{
    const int dz = w->m->dim_z, dx = w->m->dim_x;
    const double sd = s * sqrt(w->kz);
    for (size_t j = 0; j < (size_t)b * dz; j++)
        w->prop.z[j] = cur->z[j] + sd * ad_rng_normal(rng);
    if ((w->status = eval_rows(w, &w->prop, b)) != AD_OK) return -1;
    long acc = 0;
    for (int i = 0; i < b; i++) {
        double dq = (sum_sq(cur->z + (size_t)i * dz, dz) - sum_sq(w->prop.z + (size_t)i * dz, dz)) /
                    (2 * w->kz);
        if (accept(cur->l[i], w->prop.l[i], dq + beta * ((double)w->prop.l[i] - cur->l[i]), rng) &&
            same_state(w, i)) {
            copy_row(cur, &w->prop, i, dz, dx);
            acc++;
        }
    }
    return acc;
}

/* -log pi_beta of row i (without its constant) */
static double neg_log_pi(const ais_rows *r, int i, int dz, double kT, double beta)
{
    return sum_sq(r->z + (size_t)i * dz, dz) / (2 * kT) - beta * r->l[i];
}

/* p += h grad log pi_beta(z) for every row */
static void kick(ad_real *p, const ais_rows *r, size_t n, double kT, double beta, double h)
{
    for (size_t j = 0; j < n; j++)
        p[j] += h * (beta * r->g[j] - r->z[j] / kT);
}

/* One Hamiltonian Monte Carlo step (unit masses, `leapfrog` steps of size
 * s sqrt(kz)) of every chain at beta.  Moves taken, or -1 on error. */
static long hmc_step(ais_work *w, ad_rng *rng, int b, ais_rows *cur, double beta, double s,
                     int leapfrog)
{
    const int dz = w->m->dim_z, dx = w->m->dim_x;
    const size_t n = (size_t)b * dz;
    const double h = s * sqrt(w->kz);
    ad_real *p = w->mom;
    for (size_t j = 0; j < n; j++)
        p[j] = ad_rng_normal(rng);
    for (int i = 0; i < b; i++)
        w->h0[i] = neg_log_pi(cur, i, dz, w->kz, beta) + 0.5 * sum_sq(p + (size_t)i * dz, dz);
    memcpy(w->prop.z, cur->z, n * sizeof(ad_real));
    memcpy(w->prop.g, cur->g, n * sizeof(ad_real));
    kick(p, cur, n, w->kz, beta, 0.5 * h);
    for (int k = 0; k < leapfrog; k++) {
        for (size_t j = 0; j < n; j++)
            w->prop.z[j] += h * p[j];
        if ((w->status = eval_rows_grad(w, &w->prop, b)) != AD_OK) return -1;
        kick(p, &w->prop, n, w->kz, beta, k + 1 < leapfrog ? h : 0.5 * h);
    }
    long acc = 0;
    for (int i = 0; i < b; i++) {
        double h1 = neg_log_pi(&w->prop, i, dz, w->kz, beta) + 0.5 * sum_sq(p + (size_t)i * dz, dz);
        if (accept(cur->l[i], w->prop.l[i], w->h0[i] - h1, rng) && same_state(w, i)) {
            copy_row(cur, &w->prop, i, dz, dx);
            acc++;
        }
    }
    return acc;
}

/* b chains from the z already in cur through the K temperatures; their
 * annealed log weights to w->log_w.  steps[K] are the proposal widths, set
 * by adaptation when adapt != 0. */
static int run_chains(ais_work *w, const bg_ais_config *c, ad_rng *rng, int b, ais_rows *cur,
                      double *steps, int adapt, long *n_acc, long *n_prop)
{
    const int K = c->n_temps;
    int st = c->leapfrog ? eval_rows_grad(w, cur, b) : eval_rows(w, cur, b);
    if (st != AD_OK) return st;
    for (int i = 0; c->state && i < b; i++)
        w->label[i] = c->state(cur->x + (size_t)i * w->m->dim_x, c->state_ctx);
    for (int i = 0; i < b; i++)
        w->log_w[i] = 0;
    double beta_prev = 0, s = c->step;
    for (int k = 1; k <= K; k++) {
        double beta = k == K ? 1.0 : pow((double)k / K, c->beta_power);
        for (int i = 0; i < b; i++)
            w->log_w[i] += (beta - beta_prev) * cur->l[i];
        beta_prev = beta;
        if (!adapt) s = steps[k - 1];
        long acc_k = 0;
        for (int step = 0; step < c->mcmc_steps; step++) {
            long a = c->leapfrog ? hmc_step(w, rng, b, cur, beta, s, c->leapfrog)
                                 : rwm_step(w, rng, b, cur, beta, s);
            if (a < 0) return w->status;
            acc_k += a;
        }
        *n_acc += acc_k;
        *n_prop += (long)b * c->mcmc_steps;
        if (adapt) {
            steps[k - 1] = s;
            double a = (double)acc_k / ((double)b * c->mcmc_steps);
            s *= exp(2.0 * (a - c->target_acceptance));
        } else if (c->progress_step) {
            c->progress_step(++w->steps_done, w->steps_total, c->progress_ctx);
        }
    }
    return AD_OK;
}

/* Rows start.. of a bg_samples (its log_w holds l while a chain runs) with
 * the gradient buffer g (may be NULL). */
static ais_rows rows_of(bg_samples *s, int start, ad_real *g)
{
    ais_rows r = {s->z + (size_t)start * s->dim_z, s->x + (size_t)start * s->dim_x,
                  s->log_det + start, s->energy + start, s->log_w + start, g};
    return r;
}

static int check_args(const flow_model *m, const flow_prior *prior, const pot_potential *u,
                      double kT, int n, int batch, const bg_ais_config *c, char *msg,
                      size_t msg_len)
{
    int st = bg_sample_check_args("bg_ais_sample", m, prior, u, kT, n, batch, msg, msg_len);
    if (st != AD_OK) return st;
    if (!c) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "bg_ais_sample: no config");
    const char *bad = NULL, *need = NULL;
    double value = 0;
#define AIS_BAD(cond, field, req)                                                              \
    if (!bad && (cond)) {                                                                      \
        bad = #field;                                                                          \
        need = req;                                                                            \
        value = (double)c->field;                                                              \
    }
    AIS_BAD(c->n_temps < 1, n_temps, ">= 1")
    AIS_BAD(c->mcmc_steps < 1, mcmc_steps, ">= 1")
    AIS_BAD(!(c->beta_power > 0) || !isfinite(c->beta_power), beta_power, "finite > 0")
    AIS_BAD(!(c->step > 0) || !isfinite(c->step), step, "finite > 0")
    AIS_BAD(!(c->target_acceptance > 0 && c->target_acceptance < 1), target_acceptance,
            "in (0, 1)")
    AIS_BAD(c->n_pilot < 0, n_pilot, ">= 0")
    AIS_BAD(c->leapfrog < 0, leapfrog, ">= 0")
    AIS_BAD(!(c->start_scale >= 0) || !isfinite(c->start_scale), start_scale,
            "finite > 0, or 0 for 1")
#undef AIS_BAD
    if (bad)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "bg_ais_sample: %s = %g (need %s)", bad,
                              value, need);
    return AD_OK;
}

/* After each rank ran the batches it owns (ad_dist_share over the nb
 * batches of `batch` rows): every rank receives every row of s and the
 * counts summed over ranks.  Returns the agreed status. */
static int gather_batches(ais_work *w, bg_samples *s, int batch, long nb, int st, long *n_acc,
                          long *n_prop, long *n_eval)
{
    const int dz = s->dim_z, dx = s->dim_x;
    const size_t width = (size_t)dx + 3 + dz;
    ais_rows all = rows_of(s, 0, NULL);
    long lo, hi;
    ad_dist_share(nb, &lo, &hi);
    for (long r = lo * batch; r < hi * batch && r < s->n && st == AD_OK; r++)
        pack_row(&all, s->z, r, dx, dz, w->pack + (size_t)r * width);
    st = ad_dist_gather(st, w->pack, (size_t)batch * width * sizeof(ad_real), nb, w->why,
                        sizeof w->why);
    for (long r = 0; r < s->n && st == AD_OK; r++)
        unpack_row(&all, s->z, r, dx, dz, w->pack + (size_t)r * width);
    long counts[3] = {*n_acc, *n_prop, *n_eval};
    st = ad_dist_sum_long(st, counts, 3, w->why, sizeof w->why);
    *n_acc = counts[0];
    *n_prop = counts[1];
    *n_eval = counts[2];
    return st;
}

int bg_ais_sample(const flow_model *m, const flow_prior *prior, const pot_potential *u, double kT,
                  int n, int batch, const bg_ais_config *cfg, uint64_t seed, bg_samples **out,
                  bg_ais_stats *stats, char *msg, size_t msg_len)
{
    *out = NULL;
    int st = check_args(m, prior, u, kT, n, batch, cfg, msg, msg_len);
    if (st != AD_OK) return st;
    const int dz = m->dim_z, dx = m->dim_x, K = cfg->n_temps, hmc = cfg->leapfrog > 0;
    if (batch > n) batch = n;
    int b_pilot = cfg->n_pilot < batch ? cfg->n_pilot : batch;
    const double c_start = cfg->start_scale > 0 ? cfg->start_scale : 1.0;
    ais_work w = {m, u, kT, c_start == 1.0 ? kT : c_start * kT, ad_tape_new(0), {0}, NULL,
                  NULL, NULL, NULL, NULL, cfg, 0, 0, AD_OK, {0}};
    const flow_prior wide = c_start == 1.0 ? *prior : (flow_prior){prior->dim, w.kz};
    bg_samples *s = bg_samples_new(n, dx, dz);
    bg_samples *prop = bg_samples_new(batch, dx, dz);
    bg_samples *pilot = bg_samples_new(b_pilot > 0 ? b_pilot : 1, dx, dz);
    ad_real *g_prop = NULL, *g_pilot = NULL;
    double *steps = ad_malloc((size_t)K * sizeof *steps);
    ad_real *g_cur = NULL;
    int ok = w.t && s && prop && pilot && steps;
    w.log_w = ad_malloc((size_t)batch * sizeof(double));
    w.label = ad_malloc((size_t)batch * sizeof(int));
    if (hmc) {
        w.mom = ad_malloc((size_t)batch * dz * sizeof(ad_real));
        w.h0 = ad_malloc((size_t)batch * sizeof(double));
        g_cur = ad_malloc((size_t)batch * dz * sizeof(ad_real));
        g_prop = ad_malloc((size_t)batch * dz * sizeof(ad_real));
        g_pilot = ad_malloc((size_t)(b_pilot > 0 ? b_pilot : 1) * dz * sizeof(ad_real));
    }
    /* MPI: rows of one batch passed between ranks, or every batch's rows */
    if (ad_dist_size() > 1) {
        size_t nb = ((size_t)n + batch - 1) / batch;
        size_t rows = nb >= (size_t)ad_dist_size() ? nb * batch : (size_t)batch;
        ok = ok && (w.pack = ad_malloc(rows * ((size_t)dx + 3 + (size_t)dz) * sizeof(ad_real))) !=
                       NULL;
    }
    if (!ok || !w.log_w || !w.label || (hmc && (!w.mom || !w.h0 || !g_cur || !g_prop || !g_pilot)))
        st = ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "bg_ais_sample: out of memory for %d chains",
                            n);
    st = ad_dist_agree(st, msg, msg_len);
    if (st != AD_OK) goto done;
    s->kT = kT;
    w.prop = rows_of(prop, 0, g_prop);
    int grads_were_on = hmc ? nn_params_set_requires_grad(m->params, 0) : 1;
    long n_acc = 0, n_prop = 0, n_eval = 0, per_step = hmc ? cfg->leapfrog : 1;
    ad_rng rng;
    for (int k = 0; k < K; k++)
        steps[k] = cfg->step;
    if (b_pilot > 0) {
        ad_rng_seed(&rng, seed, 0);
        ais_rows cur = rows_of(pilot, 0, g_pilot);
        st = flow_prior_sample(&wide, &rng, cur.z, b_pilot);
        if (st == AD_OK) st = run_chains(&w, cfg, &rng, b_pilot, &cur, steps, 1, &n_acc, &n_prop);
        n_eval += (long)b_pilot * (1 + (long)K * cfg->mcmc_steps * per_step);
        n_acc = n_prop = 0;
    }
    /* The production batches: with at least as many batches as ranks, each
     * rank runs the batches it owns alone (a batch's chains depend only on
     * its own random stream and the pilot's widths) and the rows are
     * gathered at the end; with fewer, every batch is shared row by row. */
    const long nb = (n + batch - 1) / batch;
    const int by_batch = ad_dist_size() > 1 && nb >= ad_dist_size();
    long b_lo = 0, b_hi = nb;
    if (by_batch) ad_dist_share(nb, &b_lo, &b_hi);
    const long own_rows = (b_hi > b_lo) ? (b_hi == nb ? n : b_hi * batch) - b_lo * batch : 0;
    w.steps_total = (b_hi - b_lo) * K;
    long n_eval_prod = 0;
    if (by_batch) ad_dist_local_begin();
    for (long bi = b_lo + 1; st == AD_OK && bi <= b_hi; bi++) {
        int start = (int)((bi - 1) * batch);
        int b = n - start < batch ? n - start : batch;
        ais_rows cur = rows_of(s, start, g_cur);
        ad_rng_seed(&rng, seed, (uint64_t)bi);
        st = flow_prior_sample(&wide, &rng, cur.z, b);
        if (st == AD_OK) st = run_chains(&w, cfg, &rng, b, &cur, steps, 0, &n_acc, &n_prop);
        for (int i = 0; st == AD_OK && i < b; i++) cur.l[i] = (ad_real)w.log_w[i];
        n_eval_prod += (long)b * (1 + (long)K * cfg->mcmc_steps * per_step);
        /* progress in chains of the whole run (each rank's share scaled) */
        long done = start + b - b_lo * batch;
        if (st == AD_OK && cfg->progress)
            cfg->progress(by_batch ? (int)((double)done * n / own_rows) : start + b, n,
                          cfg->progress_ctx);
    }
    if (by_batch) {
        ad_dist_local_end();
        st = gather_batches(&w, s, batch, nb, st, &n_acc, &n_prop, &n_eval_prod);
    }
    n_eval += n_eval_prod;
    if (hmc) nn_params_set_requires_grad(m->params, grads_were_on);
    if (st != AD_OK) {
        if (msg && msg_len && w.why[0]) ad_status_fail(msg, msg_len, st, "%s", w.why);
        goto done;
    }
    s->n_nonfinite = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(s->log_w[i])) {
            s->log_w[i] = NAN;
            s->n_nonfinite++;
        }
    }
    if (stats) {
        stats->acceptance = n_prop ? (double)n_acc / n_prop : NAN;
        stats->step_min = stats->step_max = steps[0];
        for (int k = 1; k < K; k++) {
            if (steps[k] < stats->step_min) stats->step_min = steps[k];
            if (steps[k] > stats->step_max) stats->step_max = steps[k];
        }
        stats->evaluations = n_eval;
    }
    *out = s;
    s = NULL;
done:
    bg_samples_free(s);
    ad_tape_free(w.t);
    ad_free(steps);
    bg_samples_free(prop);
    bg_samples_free(pilot);
    ad_free(g_prop);
    ad_free(g_pilot);
    ad_free(w.log_w);
    ad_free(w.label);
    ad_free(w.pack);
    ad_free(w.mom);
    ad_free(w.h0);
    ad_free(g_cur);
    return st;
}
