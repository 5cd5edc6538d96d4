/* dimer_sim.c - lattice starts, threaded energies, Metropolis data and the
 * umbrella-sampling reference of the dimer experiment. */
#include "apps/dimer/dimer_sim.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sampling/smp_hungarian.h"
#include "sampling/smp_mc.h"
#include "sampling/smp_umbrella.h"

void dimer_lattice(ad_real *x, int n_solvent, double d)
{
    x[0] = (ad_real)(-d / 2);
    x[1] = 0;
    x[2] = (ad_real)(d / 2);
    x[3] = 0;
    int side = 1;
    while (side * side < n_solvent) side++;
    /* Noé: linspace(-4, 4, 8)[1:-1] * 1.05 for side 6, i.e. +-3.0, spacing 1.2 */
    double half = side > 1 ? 3.0 : 0.0, step = side > 1 ? 2 * half / (side - 1) : 0.0;
    for (int k = 0; k < n_solvent; k++) {
        x[4 + 2 * k] = (ad_real)(-half + step * (k % side));
        x[5 + 2 * k] = (ad_real)(-half + step * (k / side));
    }
}

int dimer_energy_ctx_init(dimer_energy_ctx *c, const pot_potential *pot)
{
    memset(c, 0, sizeof *c);
    c->pot = pot;
    int n = ad_threads_get();
    for (int i = 0; i < n; i++)
        if (!(c->tapes[i] = ad_tape_new(0))) return AD_ERR_NOMEM;
    return AD_OK;
}

void dimer_energy_ctx_release(dimer_energy_ctx *c)
{
    for (int i = 0; i < AD_THREADS_MAX; i++) {
        ad_tape_free(c->tapes[i]);
        c->tapes[i] = NULL;
    }
}

/* One parallel-for over contiguous chunks of the batch. */
typedef struct energy_job {
    dimer_energy_ctx *c;
    const ad_real *x;
    ad_real *u, *forces; /* forces NULL: energies only */
    int n, dim, n_tasks;
    int status[AD_THREADS_MAX];
    char msg[AD_THREADS_MAX][128];
} energy_job;

static void energy_task(void *vjob, int task, int worker)
{
    energy_job *j = vjob;
    int lo = (int)((long)j->n * task / j->n_tasks),
        hi = (int)((long)j->n * (task + 1) / j->n_tasks);
    ad_tape *t = j->c->tapes[worker];
    if (!t) {
        j->status[task] = AD_ERR_NOMEM;
        snprintf(j->msg[task], sizeof j->msg[task], "no scratch tape for worker %d", worker);
        return;
    }
    const ad_real *x = j->x + (size_t)lo * j->dim;
    if (hi <= lo) return;
    if (j->forces)
        j->status[task] = pot_forces(j->c->pot, t, x, hi - lo, j->u + lo,
                                     j->forces + (size_t)lo * j->dim, j->msg[task],
                                     sizeof j->msg[task]);
    else
        j->status[task] = pot_energy_eval(j->c->pot, t, x, hi - lo, j->u + lo, j->msg[task],
                                          sizeof j->msg[task]);
}

static int run_energy(dimer_energy_ctx *c, const ad_real *x, int n, int dim, ad_real *u,
                      ad_real *forces, char *msg, size_t msg_len)
{
    static energy_job job; /* large; one energy call at a time per process */
    int threads = ad_threads_get();
    int n_tasks = n / 16 < threads ? n / 16 : threads;
    if (n_tasks < 1) n_tasks = 1;
    for (int i = 0; i < threads && i < AD_THREADS_MAX; i++)
        if (!c->tapes[i] && !(c->tapes[i] = ad_tape_new(0))) {
            snprintf(msg, msg_len, "dimer energy: out of memory");
            return AD_ERR_NOMEM;
        }
    job.c = c;
    job.x = x;
    job.u = u;
    job.forces = forces;
    job.n = n;
    job.dim = dim;
    job.n_tasks = n_tasks;
    for (int i = 0; i < n_tasks; i++) job.status[i] = AD_OK;
    if (n_tasks == 1)
        energy_task(&job, 0, 0);
    else
        ad_parallel_for(n_tasks, energy_task, &job);
    for (int i = 0; i < n_tasks; i++)
        if (job.status[i] != AD_OK) {
            snprintf(msg, msg_len, "%s", job.msg[i]);
            return job.status[i];
        }
    return AD_OK;
}

int dimer_energy(void *ctx, const ad_real *x, int n, int dim, ad_real *u, char *msg,
                 size_t msg_len)
{
    return run_energy(ctx, x, n, dim, u, NULL, msg, msg_len);
}

int dimer_relax_solvent(dimer_energy_ctx *c, ad_real *x, int n, int n_steps, double max_move,
                        char *msg, size_t msg_len)
{
    int dim = c->pot->dim;
    ad_real *u = ad_malloc((size_t)n * sizeof *u), *f = ad_malloc((size_t)n * dim * sizeof *f);
    int rc = (u && f) ? AD_OK : AD_ERR_NOMEM;
    if (rc != AD_OK) snprintf(msg, msg_len, "dimer_relax_solvent: out of memory");
    for (int s = 0; s < n_steps && rc == AD_OK; s++) {
        rc = run_energy(c, x, n, dim, u, f, msg, msg_len);
        for (int i = 0; i < n && rc == AD_OK; i++)
            for (int k = 4; k < dim; k++) {
                double step = 1e-3 * f[(size_t)i * dim + k];
                if (!isfinite(step)) step = 0;
                if (step > max_move) step = max_move;
                if (step < -max_move) step = -max_move;
                x[(size_t)i * dim + k] += (ad_real)step;
            }
    }
    ad_free(u);
    ad_free(f);
    return rc;
}

int dimer_relabel(ad_real *x, int n, int n_solvent, char *msg, size_t msg_len)
{
    int np = 2 + n_solvent;
    ad_real *ref = ad_malloc((size_t)2 * np * sizeof *ref);
    if (!ref) {
        snprintf(msg, msg_len, "dimer_relabel: out of memory");
        return AD_ERR_NOMEM;
    }
    dimer_lattice(ref, n_solvent, POT_DIMER_D_SPLIT);
    int rc = smp_relabel_solvent(x, n, np, 2, ref, msg, msg_len);
    ad_free(ref);
    return rc;
}

int dimer_mc_state(dimer_energy_ctx *c, const dimer_mc_config *cfg, dimer_mc_result *out,
                   char *msg, size_t msg_len)
{
    memset(out, 0, sizeof *out);
    const pot_dimer_params *p = c->pot->params;
    int dim = c->pot->dim, nc = cfg->n_chains;
    smp_mc_config mc = smp_mc_config_default(dim, cfg->kT);
    mc.n_chains = nc;
    mc.sigma = cfg->sigma;
    mc.n_steps = cfg->n_steps;
    mc.stride = cfg->stride;
    mc.seed = cfg->seed;
    mc.progress = cfg->progress;
    mc.progress_ctx = cfg->progress_ctx;
    long nf = smp_mc_n_frames(&mc);
    if (nf <= cfg->n_discard) {
        snprintf(msg, msg_len, "dimer MC: %ld frames, %ld discarded", nf, cfg->n_discard);
        return AD_ERR_ARG;
    }
    ad_real *x0 = ad_malloc((size_t)nc * dim * sizeof *x0);
    ad_real *frames = ad_malloc((size_t)nf * nc * dim * sizeof *frames);
    ad_real *u = ad_malloc((size_t)nf * nc * sizeof *u);
    int rc = (x0 && frames && u) ? AD_OK : AD_ERR_NOMEM;
    if (rc != AD_OK) snprintf(msg, msg_len, "dimer MC: out of memory");
    if (rc == AD_OK) {
        dimer_lattice(x0, p->n_solvent, cfg->d_start);
        rc = dimer_relax_solvent(c, x0, 1, 300, 0.02, msg, msg_len);
        for (int k = 1; k < nc; k++) memcpy(x0 + (size_t)k * dim, x0, (size_t)dim * sizeof *x0);
    }
    smp_mc_stats st;
    if (rc == AD_OK) rc = smp_mc_run(&mc, dimer_energy, c, x0, frames, u, &st, msg, msg_len);
    if (rc == AD_OK) {
        long keep = nf - cfg->n_discard;
        out->n_frames = (int)keep;
        out->n = (int)(keep * nc);
        out->acceptance = st.acceptance;
        out->x = ad_malloc((size_t)out->n * dim * sizeof *out->x);
        if (!out->x) {
            rc = AD_ERR_NOMEM;
            snprintf(msg, msg_len, "dimer MC: out of memory");
        }
    }
    if (rc == AD_OK) {
        memcpy(out->x, frames + (size_t)cfg->n_discard * nc * dim,
               (size_t)out->n * dim * sizeof *out->x);
        const ad_real *uk = u + (size_t)cfg->n_discard * nc;
        long half = out->n / 2;
        double s1 = 0, s2 = 0;
        for (long i = 0; i < out->n; i++) {
            if (i < half)
                s1 += uk[i];
            else
                s2 += uk[i];
        }
        out->mean_u_first = half ? s1 / half : NAN;
        out->mean_u_second = s2 / (out->n - half);
        rc = dimer_relabel(out->x, out->n, p->n_solvent, msg, msg_len);
    }
    ad_free(x0);
    ad_free(frames);
    ad_free(u);
    if (rc != AD_OK) {
        ad_free(out->x);
        out->x = NULL;
    }
    return rc;
}

/* ---- umbrella sampling ---- */

typedef struct umbrella_start {
    dimer_energy_ctx *c;
    const dimer_umbrella_config *cfg;
} umbrella_start;

static double coord_distance(void *ctx, const ad_real *x, int dim)
{
    (void)ctx;
    (void)dim;
    return pot_dimer_distance_of(x);
}

/* Window starts: equilibrated frames of one state for every window of a
 * repeat (closed frames in even repeats, open frames in odd ones), spread
 * over the data set by a stride that differs per window and repeat, with the
 * dimer stretched or compressed about its centre to d = r0 along its own
 * axis, then the solvent relaxed around it.  Starting whole repeats from
 * either state exposes hysteresis: the solvent around the dimer relaxes
 * slowly, and windows too short to forget their start give a dF that
 * depends on it (dimer_umbrella_starts compares the two halves). */
static int umbrella_start_fn(void *ctx, int window, double center, int repeat, int n_chains,
                             int dim, ad_real *x, char *msg, size_t msg_len)
{
    const umbrella_start *s = ctx;
    const dimer_umbrella_config *cfg = s->cfg;
    (void)center;
    int closed = repeat % 2 == 0;
    const ad_real *src = closed ? cfg->closed : cfg->open;
    int n_src = closed ? cfg->n_closed : cfg->open ? cfg->n_open : 0;
    if (!src || n_src < 1) {
        snprintf(msg, msg_len, "umbrella start: no %s-state frames", closed ? "closed" : "open");
        return AD_ERR_ARG;
    }
    for (int k = 0; k < n_chains; k++) {
        long slot = ((long)repeat * cfg->n_windows + window) * n_chains + k;
        long idx = (slot * 7919L + 13) % n_src;
        ad_real *xk = x + (size_t)k * dim;
        memcpy(xk, src + (size_t)idx * dim, (size_t)dim * sizeof *xk);
        double cx = 0.5 * (xk[0] + xk[2]), cy = 0.5 * (xk[1] + xk[3]);
        double dx = xk[2] - xk[0], dy = xk[3] - xk[1], d = hypot(dx, dy);
        if (!(d > 0)) {
            dx = 1;
            dy = 0;
            d = 1;
        }
        dx /= d;
        dy /= d;
        xk[0] = (ad_real)(cx - 0.5 * center * dx);
        xk[1] = (ad_real)(cy - 0.5 * center * dy);
        xk[2] = (ad_real)(cx + 0.5 * center * dx);
        xk[3] = (ad_real)(cy + 0.5 * center * dy);
    }
    return dimer_relax_solvent(s->c, x, n_chains, 100, 0.02, msg, msg_len);
}

/* Mean and standard error of the repeats q = first, first + 2, ... */
static void every_other_repeat(const dimer_umbrella_out *u, int first, double *mean, double *se)
{
    double s = 0, s2 = 0;
    int n = 0;
    for (int q = first; q < u->n_repeats; q += 2)
        if (isfinite(u->dF_repeat[q])) {
            s += u->dF_repeat[q];
            n++;
        }
    *mean = n ? s / n : NAN;
    for (int q = first; q < u->n_repeats; q += 2)
        if (isfinite(u->dF_repeat[q])) s2 += (u->dF_repeat[q] - *mean) * (u->dF_repeat[q] - *mean);
    *se = n > 1 ? sqrt(s2 / (n - 1) / n) : NAN;
}

void dimer_umbrella_starts(const dimer_umbrella_out *u, dimer_umbrella_hysteresis *h)
{
    every_other_repeat(u, 0, &h->closed_starts, &h->closed_starts_se);
    every_other_repeat(u, 1, &h->open_starts, &h->open_starts_se);
    h->difference = h->closed_starts - h->open_starts;
    h->difference_se = sqrt(h->closed_starts_se * h->closed_starts_se +
                            h->open_starts_se * h->open_starts_se);
}

void dimer_umbrella_out_release(dimer_umbrella_out *u)
{
    if (!u) return;
    ad_free(u->center);
    ad_free(u->dF_repeat);
    memset(u, 0, sizeof *u);
}

int dimer_umbrella(dimer_energy_ctx *c, const dimer_umbrella_config *cfg,
                   dimer_umbrella_out *out, char *msg, size_t msg_len)
{
    memset(out, 0, sizeof *out);
    umbrella_start st = {c, cfg};
    smp_umbrella_config uc = smp_umbrella_config_default(c->pot->dim, cfg->kT);
    uc.n_windows = cfg->n_windows;
    uc.center_lo = cfg->lo;
    uc.center_hi = cfg->hi;
    uc.k = cfg->k;
    uc.kT = cfg->kT;
    uc.sigma = cfg->sigma;
    uc.n_steps = cfg->n_steps;
    uc.stride = cfg->stride;
    uc.n_discard = cfg->n_discard;
    uc.n_chains = cfg->n_chains;
    uc.n_repeats = cfg->n_repeats;
    uc.seed = cfg->seed;
    uc.coord = coord_distance;
    uc.start = umbrella_start_fn;
    uc.start_ctx = &st;
    uc.wham.n_bins = cfg->n_bins;
    uc.wham.lo = cfg->lo;
    uc.wham.hi = cfg->hi;
    uc.wham.r_split = POT_DIMER_D_SPLIT;
    uc.wham.n_blocks = 4;
    uc.progress = cfg->progress;
    uc.progress_ctx = cfg->progress_ctx;
    smp_umbrella_result *res = NULL;
    int rc = smp_umbrella_run(&uc, dimer_energy, c, &res, msg, msg_len);
    if (rc != AD_OK) return rc;
    int nb = res->wham->n_bins, R = res->n_repeats;
    out->center = ad_malloc((size_t)3 * nb * sizeof(ad_real));
    out->dF_repeat = ad_malloc((size_t)R * sizeof(double));
    if (!out->center || !out->dF_repeat) {
        smp_umbrella_result_free(res);
        dimer_umbrella_out_release(out);
        snprintf(msg, msg_len, "dimer umbrella: out of memory");
        return AD_ERR_NOMEM;
    }
    out->n_bins = nb;
    out->F = out->center + nb;
    out->F_se = out->F + nb;
    memcpy(out->center, res->wham->center, (size_t)nb * sizeof(ad_real));
    memcpy(out->F, res->wham->F, (size_t)nb * sizeof(ad_real));
    memcpy(out->F_se, res->wham->F_se, (size_t)nb * sizeof(ad_real));
    /* smp_ gives F(d >= 1.5) - F(d < 1.5) = F_open - F_closed */
    out->dF = -res->dF;
    out->dF_se = res->dF_se;
    out->n_repeats = R;
    for (int q = 0; q < R; q++) out->dF_repeat[q] = -res->dF_repeat[q];
    double acc = 0;
    for (int k = 0; k < res->n_windows; k++) acc += res->acceptance[k];
    out->acceptance = acc / res->n_windows;
    out->n_samples = res->wham->n_used;
    smp_umbrella_result_free(res);
    return AD_OK;
}
