/* dimer_analysis.c - the analysis of bg-dimer (dimer_analysis.h): the
 * generator's samples, their log weights and ESS, the reweighted
 * dF(closed - open) and F(d) with bootstrap errors (bg_generator.h, the
 * states split by the dimer distance), energies and transitions, the same
 * after latent annealing (bg_ais.h), the training log's final loss, and
 * bg_samples.csv / bg_profile.csv.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apps/toolkit/app_fs.h"
#include "apps/toolkit/app_progress.h"
#include "apps/dimer/dimer_analysis.h"
#include "autodiff/ad_alloc.h"
#include "sampling/smp_data.h"
#include "sampling/smp_reweight.h"

static int cmp_real(const void *a, const void *b)
{
    ad_real x = *(const ad_real *)a, y = *(const ad_real *)b;
    if (isnan(x)) return isnan(y) ? 0 : 1;
    if (isnan(y)) return -1;
    return (x > y) - (x < y);
}

/* Median with NaN counted as +infinity (a non-finite sample is not low). */
static double median_of(const ad_real *v, int n)
{
    if (n <= 0) return NAN;
    ad_real *c = ad_malloc((size_t)n * sizeof *c);
    if (!c) return NAN;
    memcpy(c, v, (size_t)n * sizeof *c);
    qsort(c, (size_t)n, sizeof *c, cmp_real);
    double m = n % 2 ? c[n / 2] : 0.5 * ((double)c[n / 2 - 1] + c[n / 2]);
    ad_free(c);
    return m;
}

/* ---- 4. samples and analysis ---- */

/* The range of d that the free energies and F(d) count (the umbrella
 * reference's): a sample outside is in no state and no bin. */
#define D_LO 0.5
#define D_HI 2.5

/* d within [D_LO, D_HI], NaN outside (a bg_rc value function). */
static double d_in_range(const ad_real *x, const void *ctx)
{
    (void)ctx;
    double d = pot_dimer_distance_of(x);
    return d >= D_LO && d <= D_HI ? d : NAN;
}

/* The states of dF: 0 closed (d < POT_DIMER_D_SPLIT), 1 open, -1 outside
 * [D_LO, D_HI]. */
static int split_state(const ad_real *x, void *ctx)
{
    ad_real d = (ad_real)d_in_range(x, ctx);
    if (!isfinite((double)d)) return -1;
    return (double)d >= POT_DIMER_D_SPLIT;
}

/* Distances, state fractions, transitions, median energy, ESS, the
 * reweighted dF and F(d) of one sample set b; *d_out and *prof are r's. */
static int analyse_set(dimer_run *r, const bg_samples *b, uint64_t boot_seed, ad_real **d_out,
                       smp_profile **prof, dimer_model_result *res, char *msg, size_t len)
{
    const dimer_schedule *s = &r->sc;
    int n = b->n;
    ad_real *dd = *d_out = ad_malloc((size_t)n * sizeof *dd);
    if (!dd) return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    int closed = 0, transitions = 0, prev = -1, n_trans_pairs = 0;
    for (int i = 0; i < n; i++) {
        double d = pot_dimer_distance_of(b->x + (size_t)i * b->dim_x);
        dd[i] = (ad_real)d;
        int lab = isfinite(d) ? d < POT_DIMER_D_SPLIT : -1;
        closed += lab == 1;
        if (lab >= 0) {
            if (prev >= 0) {
                transitions += lab != prev;
                n_trans_pairs++;
            }
            prev = lab;
        }
    }
    res->n_samples = n;
    res->n_nonfinite = b->n_nonfinite;
    res->closed_fraction_raw = (double)closed / n;
    res->transitions_per_1000 = n_trans_pairs ? 1000.0 * transitions / n_trans_pairs : NAN;
    res->median_energy = median_of(b->energy, n);
    bg_states states = bg_states_function(2, split_state, NULL);
    states.boot = (smp_bootstrap_config){.n_bootstrap = s->n_bootstrap, .seed = boot_seed};
    bg_free_energies fe;
    char why[512];
    int q = bg_generator_free_energies(r->gen, b, &states, &fe, NULL, why, sizeof why);
    if (q == AD_OK) {
        res->ess = fe.ess;
        res->ess_fraction = fe.ess_fraction;
    } else {
        /* the closed state (the reference) has no weight: dF is NaN below
         * but the ESS is still reported; no finite log weight at all is an
         * error here */
        smp_weight_stats ws;
        int rc = smp_weights_stats(b->log_w, n, &ws, msg, len);
        if (rc != AD_OK) return rc;
        res->ess = ws.ess;
        res->ess_fraction = ws.ess_fraction;
    }
    if (q == AD_OK && isfinite(fe.dF[1])) {
        res->dF = -fe.dF[1]; /* fe.dF[1] = F_open - F_closed */
        res->dF_se = fe.se[1];
    } else {
        fprintf(stderr, "%s: warning: no dF from the samples: %s\n", DIMER_PROGRAM,
                q == AD_OK ? "the open state has no weight" : why);
        res->dF = res->dF_se = NAN;
    }
    bg_rc rc_d = {0};
    rc_d.kind = BG_RC_CUSTOM;
    rc_d.value_fn = d_in_range;
    smp_profile_config pc = smp_profile_config_default(D_LO, D_HI);
    pc.n_bins = s->profile_bins;
    pc.boot = states.boot;
    if (bg_generator_profile(r->gen, b, &rc_d, &pc, prof, NULL, why, sizeof why) != AD_OK)
        fprintf(stderr, "%s: warning: no reweighted profile: %s\n", DIMER_PROGRAM, why);
    return AD_OK;
}

static int dimer_state(const ad_real *x, void *ctx)
{
    (void)ctx;
    return pot_dimer_is_closed(x);
}

/* Progress of latent AIS on stderr, as training reports: an iteration is
 * one annealing temperature of one batch of chains. */
typedef struct ais_progress {
    app_progress pg;
    int n_temps, n;
} ais_progress;

static void on_ais_step(long done, long total, void *ctx)
{
    ais_progress *a = ctx;
    if (done == 1) app_progress_stage(&a->pg, 0, 0, "latent AIS", total);
    /* the batches done, as a share of all chains (under MPI the counts are
     * those of rank 0's batches) */
    long batches = total / a->n_temps, chains = done / a->n_temps * a->n / (batches ? batches : 1);
    app_progress_value v = {"chains done", (double)chains};
    app_progress_update(&a->pg, done, &v, 1);
    if (done == total) app_progress_done(&a->pg);
}

/* The flow's samples annealed to the Boltzmann density at kT (bg_ais.h):
 * chains from z ~ N(0, kT I), seed `seed`, into *out (the caller's). */
static int ais_at(dimer_run *r, double kT, uint64_t seed, bg_samples **out, bg_ais_stats *stats,
                  double *seconds, char *msg, size_t len)
{
    const dimer_schedule *s = &r->sc;
    const bg_generator *g = r->gen;
    bg_ais_config c = s->ais;
    double t0 = app_clock_seconds();
    ais_progress ap = {.n_temps = c.n_temps, .n = s->ais_chains};
    app_progress_init(&ap.pg, stderr, 10.0);
    c.state = dimer_state;
    c.progress = NULL;
    c.progress_step = on_ais_step;
    c.progress_ctx = &ap;
    if (kT == g->kT)
        fprintf(stderr,
                "%s: latent AIS: %d chains x %d temperatures x %d HMC step(s) of %d leapfrog "
                "steps, each chain kept in its starting state\n",
                DIMER_PROGRAM, s->ais_chains, c.n_temps, c.mcmc_steps, c.leapfrog);
    else
        fprintf(stderr,
                "%s: latent AIS at kT = %g: %d chains x %d temperatures x %d HMC step(s) of %d "
                "leapfrog steps\n",
                DIMER_PROGRAM, kT, s->ais_chains, c.n_temps, c.mcmc_steps, c.leapfrog);
    flow_prior prior = {g->prior.dim, kT};
    int rc = bg_ais_sample(g->model, kT == g->kT ? &g->prior : &prior, g->potential, kT,
                           s->ais_chains, s->ais_batch, &c, seed, out, stats, msg, len);
    if (rc != AD_OK) app_progress_done(&ap.pg);
    *seconds = app_clock_seconds() - t0;
    return rc;
}

/* 5. the flow's samples annealed to the Boltzmann density (bg_ais.h) */
static int dimer_analyse_ais(dimer_run *r, char *msg, size_t len)
{
    int rc = ais_at(r, r->gen->kT, ad_rng_derive_seed(r->opt.seed, 70), &r->ais_samples,
                    &r->ais_stats, &r->ais_seconds, msg, len);
    if (rc != AD_OK) return rc;
    rc = analyse_set(r, r->ais_samples, ad_rng_derive_seed(r->opt.seed, 71), &r->d_ais,
                     &r->ais_profile, &r->ais_res, msg, len);
    return rc;
}

int dimer_analyse(dimer_run *r, char *msg, size_t len)
{
    const dimer_schedule *s = &r->sc;
    int rc = bg_generator_sample(r->gen, s->n_samples, ad_rng_derive_seed(r->opt.seed, 50),
                                 &r->samples, msg, len);
    if (rc == AD_OK)
        rc = analyse_set(r, r->samples, ad_rng_derive_seed(r->opt.seed, 60), &r->d_bg, &r->profile,
                         &r->res, msg, len);
    if (rc == AD_OK && s->ais_chains > 0) rc = dimer_analyse_ais(r, msg, len);
    if (rc != AD_OK) return rc;
    /* MC energies */
    int nd = r->n_closed + r->n_open;
    r->data_u = ad_malloc((size_t)nd * sizeof *r->data_u);
    if (!r->data_u) return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    rc = dimer_energy(&r->ectx, r->data, nd, r->dim, r->data_u, msg, len);
    if (rc != AD_OK) return rc;
    r->mc_median = median_of(r->data_u, nd);
    return AD_OK;
}

/* ---- the training log ---- */

void dimer_log_read(dimer_run *r, dimer_log_rows *lr)
{
    lr->n = 0;
    lr->v = NULL;
    char path[1024], msg[256], *text = NULL;
    size_t len = 0;
    dimer_out_path(r, "train_log.csv", path, sizeof path);
    if (app_fs_read_file(path, &text, &len, msg, sizeof msg) != AD_OK) return;
    int cap = 0;
    for (size_t i = 0; i < len; i++) cap += text[i] == '\n';
    lr->v = ad_malloc((size_t)(cap + 1) * 5 * sizeof(double));
    if (!lr->v) {
        ad_free(text);
        return;
    }
    char *line = strchr(text, '\n');
    while (line && line[1]) {
        line++;
        int stage;
        long it;
        double loss, ml, kl;
        char a[64], b[64], c[64];
        if (sscanf(line, "%d,%ld,%63[^,],%63[^,],%63[^,]", &stage, &it, a, b, c) == 5) {
            loss = strtod(a, NULL);
            ml = strtod(b, NULL);
            kl = strtod(c, NULL);
            double *row = lr->v + 5 * lr->n++;
            row[0] = lr->n;
            row[1] = stage;
            row[2] = loss;
            row[3] = ml;
            row[4] = kl;
        }
        line = strchr(line, '\n');
    }
    ad_free(text);
}

/* Mean loss over the last 10 % of the last stage, from the log. */
double dimer_final_loss(const dimer_log_rows *lr, int last_stage)
{
    int n_last = 0;
    for (int i = 0; i < lr->n; i++) n_last += (int)lr->v[5 * i + 1] == last_stage;
    int tail = (n_last + 9) / 10, seen = 0, used = 0;
    double s = 0;
    for (int i = 0; i < lr->n; i++) {
        if ((int)lr->v[5 * i + 1] != last_stage) continue;
        if (seen++ < n_last - tail) continue;
        if (isfinite(lr->v[5 * i + 2])) {
            s += lr->v[5 * i + 2];
            used++;
        }
    }
    return used ? s / used : NAN;
}

/* ---- CSV outputs ---- */

/* d, energy, log_w of one sample set and its profile (when there is one). */
static int set_csv_write(dimer_run *r, const bg_samples *b, const ad_real *dd,
                         const smp_profile *pr, const char *samples_name, const char *profile_name,
                         char *msg, size_t len)
{
    ad_real *v = ad_malloc((size_t)b->n * 3 * sizeof *v);
    if (!v) return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    for (int i = 0; i < b->n; i++) {
        v[3 * i] = dd[i];
        v[3 * i + 1] = b->energy[i];
        v[3 * i + 2] = b->log_w[i];
    }
    char path[1024];
    dimer_out_path(r, samples_name, path, sizeof path);
    const char *names[3] = {"d", "energy", "log_w"};
    int rc = smp_csv_write(path, v, b->n, 3, names, msg, len);
    ad_free(v);
    if (rc != AD_OK) return rc;
    dimer_out_path(r, profile_name, path, sizeof path);
    if (!pr) {
        /* no profile this run: a file of an earlier run must not stay beside it */
        if (unlink(path) != 0 && errno != ENOENT)
            return ad_status_fail(msg, len, AD_ERR_IO, "cannot remove the stale %s: %s", path,
                              strerror(errno));
        return AD_OK;
    }
    int nb = pr->n_bins;
    v = ad_malloc((size_t)nb * 3 * sizeof *v);
    if (!v) return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    for (int j = 0; j < nb; j++) {
        v[3 * j] = pr->center[j];
        v[3 * j + 1] = pr->F[j];
        v[3 * j + 2] = pr->se[j];
    }
    const char *pnames[3] = {"d", "F", "F_se"};
    rc = smp_csv_write(path, v, nb, 3, pnames, msg, len);
    ad_free(v);
    return rc;
}

int dimer_samples_csv_write(dimer_run *r, char *msg, size_t len)
{
    int rc = set_csv_write(r, r->samples, r->d_bg, r->profile, "bg_samples.csv", "bg_profile.csv",
                           msg, len);
    if (rc == AD_OK && r->ais_samples)
        rc = set_csv_write(r, r->ais_samples, r->d_ais, r->ais_profile, "ais_samples.csv",
                           "ais_profile.csv", msg, len);
    return rc;
}

/* ---- several temperatures (--temperatures) ---- */

int dimer_analyse_temperatures(dimer_run *r, char *msg, size_t len)
{
    const dimer_schedule *s = &r->sc;
    int rc = AD_OK;
    for (int j = 0; j < r->n_temps && rc == AD_OK; j++) {
        dimer_temperature *t = &r->temps[j];
        t->extrapolation = bg_generator_extrapolates(r->gen, t->kT);
        if (t->is_main) { /* the run's own results */
            t->has_ais = r->ais_samples != NULL;
            continue;
        }
        /* the energies of this temperature's MC data, for their median */
        int nd = t->n_closed + t->n_open;
        ad_real *u = ad_malloc((size_t)nd * sizeof *u);
        if (!u) return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
        rc = dimer_energy(&r->ectx, t->data, nd, r->dim, u, msg, len);
        t->mc_median = median_of(u, nd);
        ad_free(u);
        if (rc != AD_OK) return rc;
        bg_samples *b = NULL;
        ad_real *d = NULL;
        fprintf(stderr, "%s: %d samples at kT = %g\n", DIMER_PROGRAM, s->n_samples, t->kT);
        rc = bg_generator_sample_at(r->gen, t->kT, s->n_samples,
                                    ad_rng_derive_seed(r->opt.seed, 400 + (uint64_t)j), &b, msg,
                                    len);
        if (rc == AD_OK)
            rc = analyse_set(r, b, ad_rng_derive_seed(r->opt.seed, 500 + (uint64_t)j), &d,
                             &t->profile, &t->res, msg, len);
        bg_samples_free(b);
        ad_free(d);
        b = NULL;
        d = NULL;
        if (rc == AD_OK && s->ais_chains > 0) {
            bg_ais_stats st;
            rc = ais_at(r, t->kT, ad_rng_derive_seed(r->opt.seed, 600 + (uint64_t)j), &b, &st,
                        &t->ais_seconds, msg, len);
            if (rc == AD_OK)
                rc = analyse_set(r, b, ad_rng_derive_seed(r->opt.seed, 700 + (uint64_t)j), &d,
                                 &t->ais_profile, &t->ais_res, msg, len);
            t->has_ais = rc == AD_OK;
            t->ais_acceptance = st.acceptance;
            bg_samples_free(b);
            ad_free(d);
        }
        if (rc == AD_OK)
            fprintf(stderr, "%s: at kT = %g: umbrella %.3f +- %.3f; BG %.3f +- %.3f (ESS/n %.4f)%s\n",
                    DIMER_PROGRAM, t->kT, t->us.dF, t->us.dF_se, t->res.dF, t->res.dF_se,
                    t->res.ess_fraction, t->has_ais ? "; with latent AIS:" : "");
        if (rc == AD_OK && t->has_ais)
            fprintf(stderr, "%s:   BG + latent AIS %.3f +- %.3f (ESS/n %.4f)\n", DIMER_PROGRAM,
                    t->ais_res.dF, t->ais_res.dF_se, t->ais_res.ess_fraction);
    }
    return rc;
}

/* A profile as DIR/name (d, F, F_se), recorded by the caller. */
static int profile_csv_write(dimer_run *r, const smp_profile *pr, const char *name, char *msg,
                             size_t len)
{
    int nb = pr->n_bins;
    ad_real *v = ad_malloc((size_t)nb * 3 * sizeof *v);
    if (!v) return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    for (int j = 0; j < nb; j++) {
        v[3 * j] = pr->center[j];
        v[3 * j + 1] = pr->F[j];
        v[3 * j + 2] = pr->se[j];
    }
    char path[1024];
    dimer_out_path(r, name, path, sizeof path);
    const char *pnames[3] = {"d", "F", "F_se"};
    int rc = smp_csv_write(path, v, nb, 3, pnames, msg, len);
    ad_free(v);
    return rc;
}

int dimer_temperature_csvs_write(dimer_run *r, char *msg, size_t len)
{
    /* temperatures.csv: kT, the umbrella dF and SE, the BG's dF, SE, ESS / n,
     * and the same after latent AIS (NaN without) */
    enum { COLS = 9 };
    ad_real *v = ad_malloc((size_t)r->n_temps * COLS * sizeof *v);
    if (!v) return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    for (int j = 0; j < r->n_temps; j++) {
        const dimer_temperature *t = &r->temps[j];
        const dimer_umbrella_out *us = t->is_main ? &r->us : &t->us;
        const dimer_model_result *bg = t->is_main ? &r->res : &t->res;
        const dimer_model_result *ais = t->is_main ? &r->ais_res : &t->ais_res;
        ad_real *row = v + (size_t)j * COLS;
        row[0] = (ad_real)t->kT;
        row[1] = (ad_real)us->dF;
        row[2] = (ad_real)us->dF_se;
        row[3] = (ad_real)bg->dF;
        row[4] = (ad_real)bg->dF_se;
        row[5] = (ad_real)bg->ess_fraction;
        row[6] = (ad_real)(t->has_ais ? ais->dF : NAN);
        row[7] = (ad_real)(t->has_ais ? ais->dF_se : NAN);
        row[8] = (ad_real)(t->has_ais ? ais->ess_fraction : NAN);
    }
    static const char *const cols[COLS] = {"kT",     "umbrella", "umbrella_se",
                                           "bg",     "bg_se",    "bg_ess",
                                           "bg_ais", "bg_ais_se", "bg_ais_ess"};
    char path[1024];
    dimer_out_path(r, "temperatures.csv", path, sizeof path);
    int rc = smp_csv_write(path, v, r->n_temps, COLS, cols, msg, len);
    ad_free(v);
    for (int j = 0; j < r->n_temps && rc == AD_OK; j++) {
        const dimer_temperature *t = &r->temps[j];
        if (t->is_main) continue; /* bg_profile.csv, ais_profile.csv */
        char name[96];
        if (t->profile) {
            dimer_temp_file(t->kT, "bg_profile", ".csv", name, sizeof name);
            rc = profile_csv_write(r, t->profile, name, msg, len);
        }
        if (rc == AD_OK && t->ais_profile) {
            dimer_temp_file(t->kT, "ais_profile", ".csv", name, sizeof name);
            rc = profile_csv_write(r, t->ais_profile, name, msg, len);
        }
    }
    return rc;
}
