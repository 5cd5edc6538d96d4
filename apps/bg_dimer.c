/* bg_dimer.c - bg-dimer: the Boltzmann generator for the bistable dimer in a
 * repulsive Lennard-Jones bath (76 coordinates), end to end:
 *   1. Metropolis data in the closed and the open state, solvent relabelled
 *      against the lattice (Hungarian);
 *   2. the umbrella-sampling + WHAM reference of dF(closed - open), with a
 *      standard error from independent repeats;
 *   3. a whitened RealNVP trained by example (ML), then by energy in stages of
 *      ML + KL + RC with the energy cut lowered stage by stage;
 *   4. generated samples, log weights, ESS, the reweighted F(d) and dF with
 *      bootstrap errors, energies, transitions; CSV, SVG, summary.json and
 *      report.md in --out.
 * --resume reuses the MC data, the umbrella reference and the last stage
 * checkpoint found in --out; stage k draws its random numbers from (seed, k),
 * so a resumed run reproduces an uninterrupted one bit for bit.
 * Exit status: 0 success, 1 runtime failure, 2 usage error.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apps/app_fs.h"
#include "apps/app_json.h"
#include "apps/app_options.h"
#include "apps/app_progress.h"
#include "apps/app_report.h"
#include "apps/app_svg.h"
#include "apps/dimer_sim.h"
#include "autodiff/ad.h"
#include "autodiff/ad_alloc.h"
#include "autodiff/ad_pool.h"
#include "flows/bg_sample.h"
#include "flows/bg_train.h"
#include "flows/flow_realnvp.h"
#include "nn/nn_checkpoint.h"
#include "sampling/smp_data.h"
#include "sampling/smp_profile.h"
#include "sampling/smp_reweight.h"

#define PROGRAM "bg-dimer"
#define N_STAGES_MAX 8
#define CACHE_VERSION 1

/* ---- the schedule ---- */

typedef struct schedule {
    /* data */
    int mc_chains;
    long mc_steps;
    int mc_stride;
    long mc_discard;      /* frames */
    /* umbrella */
    int us_windows, us_chains, us_repeats, us_bins, us_stride;
    long us_steps, us_discard;
    double us_k;
    /* flow */
    int n_blocks;
    flow_split_kind split;
    /* training */
    bg_stage stages[N_STAGES_MAX];
    int n_stages;
    /* analysis */
    int n_samples, sample_batch, n_bootstrap, profile_bins;
    int timing_repeats;
} schedule;

static void make_schedule(schedule *s, int quick, double kT)
{
    memset(s, 0, sizeof *s);
    s->n_blocks = 8;
    s->split = FLOW_SPLIT_ALTERNATE;
    s->us_k = 500;
    if (quick) {
        s->mc_chains = 8;
        s->mc_steps = 1500;
        s->mc_stride = 10;
        s->mc_discard = 50;
        s->us_windows = 11;
        s->us_chains = 8;
        s->us_repeats = 2;
        s->us_bins = 100;
        s->us_steps = 300;
        s->us_stride = 5;
        s->us_discard = 20;
        bg_stage st[] = {
            {"ML", 30, 128, 1e-3, 1, 0, 0, 1e4, 0},
            {"ML+KL+RC 1", 10, 128, 1e-4, 100, 1, 1, 1e4, 0},
            {"ML+KL+RC 2", 10, 128, 1e-4, 1, 1, 10, 1000, 0},
        };
        s->n_stages = 3;
        memcpy(s->stages, st, sizeof st);
        s->n_samples = 2000;
        s->sample_batch = 1000;
        s->n_bootstrap = 50;
        s->profile_bins = 20;
        s->timing_repeats = 1;
    } else {
        s->mc_chains = 40;
        s->mc_steps = 30000;
        s->mc_stride = 100;
        s->mc_discard = 100; /* 10 000 steps */
        s->us_windows = 35;
        s->us_chains = 32;
        s->us_repeats = 16;
        s->us_bins = 200;
        s->us_steps = 6000;
        s->us_stride = 10;
        s->us_discard = 150; /* 1500 steps */
        /* the paper's schedule (science.md 3.6) at batch 500 instead of 8000 */
        bg_stage st[] = {
            {"ML", 1000, 256, 1e-3, 1, 0, 0, 1e4, 0},
            {"ML+KL+RC 1", 200, 500, 1e-4, 100, 1, 1, 1e4, 0},
            {"ML+KL+RC 2", 200, 500, 1e-4, 100, 1, 5, 1e4, 0},
            {"ML+KL+RC 3", 200, 500, 1e-4, 100, 1, 10, 1e4, 0},
            {"ML+KL+RC 4", 800, 500, 1e-4, 20, 1, 10, 2000, 0},
            {"ML+KL+RC 5", 1600, 500, 1e-4, 0.1, 1, 10, 1000, 0},
        };
        s->n_stages = 6;
        memcpy(s->stages, st, sizeof st);
        s->n_samples = 100000;
        s->sample_batch = 5000;
        s->n_bootstrap = 200;
        s->profile_bins = 40;
        s->timing_repeats = 3;
    }
    for (int k = 0; k < s->n_stages; k++) s->stages[k].e_high *= kT;
}

/* ---- the run ---- */

typedef struct options {
    const char *out;
    uint64_t seed;
    double kT;
    int quick, threads, resume;
    const char *bond;
} options;

typedef struct model_result {
    double dF, dF_se, ess_fraction, ess, median_energy, transitions_per_1000;
    double final_loss, train_seconds, closed_fraction_raw;
    int n_samples, n_nonfinite, n_boot_used;
    long skipped;
} model_result;

typedef struct run {
    options opt;
    schedule sc;
    pot_dimer_params params;
    pot_potential pot;
    dimer_energy_ctx ectx;
    double start_clock, wall_seconds;
    /* data */
    ad_real *data;          /* [n_closed + n_open] rows: closed first */
    int n_closed, n_open, dim;
    ad_real *data_u;        /* energies of the data rows */
    double mc_acc[2], mc_u_first[2], mc_u_second[2], mc_seconds;
    int mc_transitions;
    int data_reused, umbrella_reused;
    /* reference */
    dimer_umbrella_out us;
    double us_seconds;
    /* model */
    flow_model *model;
    int first_stage;
    double stage_seconds[N_STAGES_MAX];
    bg_samples *samples;
    ad_real *d_bg;          /* [n] dimer distances of the samples */
    smp_profile *profile;   /* reweighted F(d) */
    model_result res;
    double mc_median;
    double t_energy_ms, t_flow_ms;
    int train_reused_stages;
} run;

static int fail(char *msg, size_t len, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *msg, size_t len, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, len, fmt, ap);
    va_end(ap);
    return code;
}

static uint64_t derive_seed(uint64_t seed, uint64_t k)
{
    uint64_t z = seed + 0x9e3779b97f4a7c15ull * (k + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void out_path(const run *r, const char *name, char *buf, size_t len)
{
    if (app_fs_join(buf, len, r->opt.out, name) != AD_OK) buf[0] = 0;
}

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

/* ---- cache (for --resume) ---- */

/* The settings the MC data (part 0) and the umbrella reference (part 1)
 * depend on; a cache written with other settings is not reused. */
static void schedule_fingerprint(const schedule *s, int part, char *buf, size_t len)
{
    if (part == 0)
        snprintf(buf, len, "mc %d %ld %d %ld", s->mc_chains, s->mc_steps, s->mc_stride,
                 s->mc_discard);
    else
        snprintf(buf, len, "us %d %g %d %ld %d %ld %d %d", s->us_windows, s->us_k, s->us_chains,
                 s->us_steps, s->us_stride, s->us_discard, s->us_repeats, s->us_bins);
}

static int write_cache(run *r, char *msg, size_t len)
{
    char fp[256], fp_us[256];
    schedule_fingerprint(&r->sc, 0, fp, sizeof fp);
    schedule_fingerprint(&r->sc, 1, fp_us, sizeof fp_us);
    app_json w;
    app_json_init(&w, 1);
    app_json_object_begin(&w);
    app_json_key_int(&w, "version", CACHE_VERSION);
    app_json_key_string(&w, "bond", r->opt.bond);
    app_json_key_number(&w, "kT", r->opt.kT);
    app_json_key_number(&w, "seed_lo", (double)(r->opt.seed & 0xffffffffu));
    app_json_key_number(&w, "seed_hi", (double)(r->opt.seed >> 32));
    app_json_key_int(&w, "quick", r->opt.quick);
    app_json_key_string(&w, "mc_schedule", fp);
    app_json_key_string(&w, "us_schedule", fp_us);
    app_json_key_int(&w, "n_closed", r->n_closed);
    app_json_key_int(&w, "n_open", r->n_open);
    app_json_key(&w, "mc_acceptance");
    app_json_number_array(&w, r->mc_acc, 2);
    app_json_key(&w, "mc_u_first");
    app_json_number_array(&w, r->mc_u_first, 2);
    app_json_key(&w, "mc_u_second");
    app_json_number_array(&w, r->mc_u_second, 2);
    app_json_key_int(&w, "mc_transitions", r->mc_transitions);
    app_json_key_number(&w, "mc_seconds", r->mc_seconds);
    app_json_key_number(&w, "us_dF", r->us.dF);
    app_json_key_number(&w, "us_dF_se", r->us.dF_se);
    app_json_key(&w, "us_dF_repeat");
    app_json_number_array(&w, r->us.dF_repeat, (size_t)r->us.n_repeats);
    app_json_key_number(&w, "us_acceptance", r->us.acceptance);
    app_json_key_number(&w, "us_n_samples", (double)r->us.n_samples);
    app_json_key_number(&w, "us_seconds", r->us_seconds);
    app_json_key_int(&w, "us_bins", r->us.n_bins);
    app_json_object_end(&w);
    int rc = app_json_finish(&w, msg, len);
    char path[1024];
    out_path(r, "cache.json", path, sizeof path);
    if (rc == AD_OK) rc = app_fs_write_atomic(path, w.out.data, w.out.len, msg, len);
    app_json_free(&w);
    return rc;
}

static int read_csv_exact(const char *path, int dim, int n, ad_real *dst, int allow_nonfinite)
{
    smp_dataset *d = NULL;
    char msg[512];
    if (smp_csv_read(path, allow_nonfinite, &d, msg, sizeof msg) != AD_OK) return 0;
    int ok = d->dim == dim && d->n == n;
    if (ok) memcpy(dst, d->x, (size_t)n * dim * sizeof *dst);
    smp_dataset_free(d);
    return ok;
}

static int json_string_is(const app_json_value *root, const char *key, const char *want)
{
    const app_json_value *v = app_json_member(root, key);
    return v && v->type == APP_JSON_STRING && strcmp(v->string, want) == 0;
}

/* Reload what --resume may reuse: returns 0 (nothing), 1 (the MC data and its
 * statistics) or 2 (the data and the umbrella reference). */
static int load_cache(run *r)
{
    char path[1024], msg[512], fp[256];
    out_path(r, "cache.json", path, sizeof path);
    char *text = NULL;
    size_t tl = 0;
    if (app_fs_read_file(path, &text, &tl, msg, sizeof msg) != AD_OK) return 0;
    app_json_value *root = NULL;
    int rc = app_json_parse(text, tl, &root, msg, sizeof msg);
    ad_free(text);
    if (rc != AD_OK) return 0;
    double v, nc = 0, no = 0, nb = 0;
    schedule_fingerprint(&r->sc, 0, fp, sizeof fp);
    int ok = json_string_is(root, "bond", r->opt.bond) && json_string_is(root, "mc_schedule", fp);
    ok = ok && app_json_get_number(root, "version", &v) == AD_OK && v == CACHE_VERSION;
    ok = ok && app_json_get_number(root, "kT", &v) == AD_OK && v == r->opt.kT;
    ok = ok && app_json_get_number(root, "seed_lo", &v) == AD_OK &&
         v == (double)(r->opt.seed & 0xffffffffu);
    ok = ok && app_json_get_number(root, "seed_hi", &v) == AD_OK && v == (double)(r->opt.seed >> 32);
    ok = ok && app_json_get_number(root, "quick", &v) == AD_OK && v == r->opt.quick;
    ok = ok && app_json_get_number(root, "n_closed", &nc) == AD_OK &&
         app_json_get_number(root, "n_open", &no) == AD_OK && nc >= 1 && no >= 1 && nc < 1e8 &&
         no < 1e8;
    ok = ok && app_json_get_number(root, "mc_seconds", &r->mc_seconds) == AD_OK;
    if (ok && app_json_get_number(root, "mc_transitions", &v) == AD_OK) r->mc_transitions = (int)v;
    const char *keys2[3] = {"mc_acceptance", "mc_u_first", "mc_u_second"};
    double *dst[3] = {r->mc_acc, r->mc_u_first, r->mc_u_second};
    for (int k = 0; k < 3 && ok; k++) {
        const app_json_value *a = app_json_member(root, keys2[k]);
        ok = a && a->type == APP_JSON_ARRAY && a->n_items == 2;
        for (int i = 0; ok && i < 2; i++)
            dst[k][i] = a->items[i].type == APP_JSON_NUMBER ? a->items[i].number : NAN;
    }
    if (ok) {
        r->n_closed = (int)nc;
        r->n_open = (int)no;
        r->data = ad_malloc((size_t)(r->n_closed + r->n_open) * r->dim * sizeof *r->data);
        ok = r->data != NULL;
    }
    if (ok) {
        out_path(r, "data_closed.csv", path, sizeof path);
        ok = read_csv_exact(path, r->dim, r->n_closed, r->data, 0);
    }
    if (ok) {
        out_path(r, "data_open.csv", path, sizeof path);
        ok = read_csv_exact(path, r->dim, r->n_open, r->data + (size_t)r->n_closed * r->dim, 0);
    }
    if (!ok) {
        ad_free(r->data);
        r->data = NULL;
        r->n_closed = r->n_open = 0;
        app_json_value_free(root);
        return 0;
    }
    /* the umbrella reference */
    schedule_fingerprint(&r->sc, 1, fp, sizeof fp);
    const app_json_value *rep = app_json_member(root, "us_dF_repeat");
    int us = json_string_is(root, "us_schedule", fp) && rep && rep->type == APP_JSON_ARRAY &&
             rep->n_items >= 1 && app_json_get_number(root, "us_bins", &nb) == AD_OK && nb >= 1 &&
             nb < 1e6;
    if (us) {
        r->us.n_bins = (int)nb;
        r->us.center = ad_malloc((size_t)3 * r->us.n_bins * sizeof(ad_real));
        r->us.n_repeats = (int)rep->n_items;
        r->us.dF_repeat = ad_malloc(rep->n_items * sizeof(double));
        us = r->us.center && r->us.dF_repeat;
    }
    if (us) {
        r->us.F = r->us.center + r->us.n_bins;
        r->us.F_se = r->us.F + r->us.n_bins;
        for (size_t q = 0; q < rep->n_items; q++)
            r->us.dF_repeat[q] = rep->items[q].type == APP_JSON_NUMBER ? rep->items[q].number : NAN;
        us = app_json_get_number(root, "us_dF", &r->us.dF) == AD_OK &&
             app_json_get_number(root, "us_dF_se", &r->us.dF_se) == AD_OK &&
             app_json_get_number(root, "us_acceptance", &r->us.acceptance) == AD_OK &&
             app_json_get_number(root, "us_seconds", &r->us_seconds) == AD_OK;
        if (us && app_json_get_number(root, "us_n_samples", &v) == AD_OK) r->us.n_samples = (long)v;
    }
    app_json_value_free(root);
    if (us) {
        ad_real *prof = ad_malloc((size_t)3 * r->us.n_bins * sizeof *prof);
        out_path(r, "umbrella_profile.csv", path, sizeof path);
        us = prof && read_csv_exact(path, 3, r->us.n_bins, prof, 1);
        for (int j = 0; us && j < r->us.n_bins; j++) {
            r->us.center[j] = prof[3 * j];
            r->us.F[j] = prof[3 * j + 1];
            r->us.F_se[j] = prof[3 * j + 2];
        }
        ad_free(prof);
    }
    if (!us) dimer_umbrella_out_release(&r->us);
    return us ? 2 : 1;
}

/* ---- 1. Monte Carlo data ---- */

/* Label changes (d < 1.5 vs >= 1.5) along each chain of frame-major data. */
static int count_chain_transitions(const ad_real *x, int n_frames, int n_chains, int dim)
{
    int t = 0;
    for (int c = 0; c < n_chains; c++)
        for (int f = 1; f < n_frames; f++)
            t += pot_dimer_is_closed(x + ((size_t)f * n_chains + c) * dim) !=
                 pot_dimer_is_closed(x + ((size_t)(f - 1) * n_chains + c) * dim);
    return t;
}

static int run_mc(run *r, char *msg, size_t len)
{
    const schedule *s = &r->sc;
    double t0 = app_clock_seconds();
    dimer_mc_result res[2];
    const double d_start[2] = {0.93, 2.05}; /* the two bond minima */
    int rc = AD_OK;
    for (int k = 0; k < 2 && rc == AD_OK; k++) {
        dimer_mc_config mc = {d_start[k], s->mc_chains, s->mc_steps, s->mc_stride, s->mc_discard,
                              0.02 * sqrt(r->opt.kT), r->opt.kT, derive_seed(r->opt.seed, 1 + k)};
        fprintf(stderr, "%s: Monte Carlo in the %s state (%d chains x %ld steps)\n", PROGRAM,
                k ? "open" : "closed", mc.n_chains, mc.n_steps);
        rc = dimer_mc_state(&r->ectx, &mc, &res[k], msg, len);
        if (rc != AD_OK) {
            if (k) ad_free(res[0].x);
            return rc;
        }
        r->mc_acc[k] = res[k].acceptance;
        r->mc_u_first[k] = res[k].mean_u_first;
        r->mc_u_second[k] = res[k].mean_u_second;
    }
    r->mc_transitions = 0;
    for (int k = 0; k < 2; k++)
        r->mc_transitions += count_chain_transitions(res[k].x, res[k].n_frames, s->mc_chains, r->dim);
    r->n_closed = res[0].n;
    r->n_open = res[1].n;
    r->data = ad_malloc((size_t)(r->n_closed + r->n_open) * r->dim * sizeof *r->data);
    if (!r->data) rc = fail(msg, len, AD_ERR_NOMEM, "out of memory");
    if (rc == AD_OK) {
        memcpy(r->data, res[0].x, (size_t)r->n_closed * r->dim * sizeof *r->data);
        memcpy(r->data + (size_t)r->n_closed * r->dim, res[1].x,
               (size_t)r->n_open * r->dim * sizeof *r->data);
    }
    ad_free(res[0].x);
    ad_free(res[1].x);
    r->mc_seconds = app_clock_seconds() - t0;
    if (rc != AD_OK) return rc;
    char path[1024];
    out_path(r, "data_closed.csv", path, sizeof path);
    rc = smp_csv_write(path, r->data, r->n_closed, r->dim, NULL, msg, len);
    if (rc == AD_OK) {
        out_path(r, "data_open.csv", path, sizeof path);
        rc = smp_csv_write(path, r->data + (size_t)r->n_closed * r->dim, r->n_open, r->dim, NULL,
                           msg, len);
    }
    return rc;
}

/* ---- 2. umbrella reference ---- */

static int run_umbrella(run *r, char *msg, size_t len)
{
    const schedule *s = &r->sc;
    double t0 = app_clock_seconds();
    dimer_umbrella_config uc = {s->us_windows, 0.5, 2.5, s->us_k, r->opt.kT,
                                0.02 * sqrt(r->opt.kT), s->us_steps, s->us_stride, s->us_discard,
                                s->us_chains, s->us_repeats, s->us_bins,
                                derive_seed(r->opt.seed, 10), r->data, r->n_closed,
                                r->data + (size_t)r->n_closed * r->dim, r->n_open};
    fprintf(stderr, "%s: umbrella sampling (%d windows x %d chains x %ld steps x %d repeats)\n",
            PROGRAM, uc.n_windows, uc.n_chains, uc.n_steps, uc.n_repeats);
    int rc = dimer_umbrella(&r->ectx, &uc, &r->us, msg, len);
    if (rc != AD_OK) return rc;
    r->us_seconds = app_clock_seconds() - t0;
    ad_real *prof = ad_malloc((size_t)3 * r->us.n_bins * sizeof *prof);
    if (!prof) return fail(msg, len, AD_ERR_NOMEM, "out of memory");
    for (int j = 0; j < r->us.n_bins; j++) {
        prof[3 * j] = r->us.center[j];
        prof[3 * j + 1] = r->us.F[j];
        prof[3 * j + 2] = r->us.F_se[j];
    }
    char path[1024];
    out_path(r, "umbrella_profile.csv", path, sizeof path);
    const char *names[3] = {"d", "F", "F_se"};
    rc = smp_csv_write(path, prof, r->us.n_bins, 3, names, msg, len);
    ad_free(prof);
    return rc;
}

/* ---- 3. the Boltzmann generator ---- */

static int build_model(run *r, char *msg, size_t len)
{
    static const int widths[2] = {200, 200};
    flow_realnvp_config c = flow_realnvp_preset_config(FLOW_REALNVP_DIMER);
    c.dim = r->dim;
    c.n_blocks = r->sc.n_blocks;
    c.hidden_widths = widths;
    c.split = r->sc.split;
    c.whiten = 1;
    c.whiten_data = r->data;
    c.whiten_n = r->n_closed + r->n_open;
    c.seed = derive_seed(r->opt.seed, 30);
    r->model = flow_realnvp_new(&c, msg, len);
    return r->model ? AD_OK : AD_ERR_ARG;
}

typedef struct progress_ctx {
    app_progress *pg;
    run *r;
} progress_ctx;

static void on_progress(const bg_progress *p, void *vctx)
{
    progress_ctx *c = vctx;
    if (p->iteration <= 1 && !p->stage_done)
        app_progress_stage(c->pg, p->stage + 1, p->n_stages, p->stage_name, p->n_iterations);
    app_progress_value v[4] = {{"loss", p->loss}, {"ml", p->ml}, {"kl", p->kl}, {"rc", p->rc}};
    app_progress_update(c->pg, p->iteration, v, 4);
    if (p->stage_done) {
        app_progress_done(c->pg);
        if (p->stage < N_STAGES_MAX) c->r->stage_seconds[p->stage] = p->seconds;
    }
}

/* Keep only the log rows of stages 1..n_keep (an interrupted stage's rows go). */
static void truncate_log(const char *path, int n_keep)
{
    char *text = NULL, msg[256];
    size_t len = 0;
    if (app_fs_read_file(path, &text, &len, msg, sizeof msg) != AD_OK) return;
    app_buf b;
    app_buf_init(&b);
    char *line = text;
    int first = 1;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        size_t l = nl ? (size_t)(nl - line) + 1 : strlen(line);
        int stage = atoi(line);
        if (first || (stage >= 1 && stage <= n_keep)) app_buf_append(&b, line, l);
        first = 0;
        line = nl ? nl + 1 : NULL;
    }
    if (!b.err && b.data) app_fs_write_atomic(path, b.data, b.len, msg, sizeof msg);
    app_buf_free(&b);
    ad_free(text);
}

static void stage_times_io(run *r, int write)
{
    char path[1024], msg[256];
    out_path(r, "ckpt/stage_seconds.csv", path, sizeof path);
    if (write) {
        ad_real v[N_STAGES_MAX];
        for (int k = 0; k < r->sc.n_stages; k++) v[k] = r->stage_seconds[k];
        smp_csv_write(path, v, r->sc.n_stages, 1, NULL, msg, sizeof msg);
    } else {
        smp_dataset *d = NULL;
        if (smp_csv_read(path, 1, &d, msg, sizeof msg) == AD_OK) {
            for (int k = 0; k < d->n && k < r->sc.n_stages && d->dim == 1; k++)
                r->stage_seconds[k] = d->x[k];
            smp_dataset_free(d);
        }
    }
}

static int train(run *r, char *msg, size_t len)
{
    char prefix[1024], path[1024], log_path[1024], why[512];
    out_path(r, "ckpt", path, sizeof path);
    int rc = app_fs_mkdir_p(path, msg, len);
    if (rc != AD_OK) return rc;
    out_path(r, "ckpt/stage", prefix, sizeof prefix);
    out_path(r, "train_log.csv", log_path, sizeof log_path);
    r->first_stage = 0;
    if (r->opt.resume && !r->data_reused)
        fprintf(stderr, "%s: new MC data: stage checkpoints in %s are not reused\n", PROGRAM,
                r->opt.out);
    if (r->opt.resume && r->data_reused) {
        for (int k = r->sc.n_stages - 1; k >= 0; k--) {
            bg_checkpoint_path(prefix, k, path, sizeof path);
            if (access(path, R_OK) != 0) continue;
            if (nn_checkpoint_load(r->model->params, path, why, sizeof why) == AD_OK) {
                r->first_stage = k + 1;
                break;
            }
            fprintf(stderr, "%s: ignoring %s: %s\n", PROGRAM, path, why);
        }
        if (r->first_stage > 0) {
            fprintf(stderr, "%s: resuming after stage %d of %d (%s)\n", PROGRAM, r->first_stage,
                    r->sc.n_stages, path);
            truncate_log(log_path, r->first_stage);
            stage_times_io(r, 0);
        }
    }
    r->train_reused_stages = r->first_stage;
    if (r->first_stage < r->sc.n_stages) {
        app_progress pg;
        app_progress_init(&pg, stderr, 10.0);
        progress_ctx pc = {&pg, r};
        bg_rc rc_d = bg_rc_distance(0, 1);
        bg_train_config tc = {0};
        tc.model = r->model;
        tc.prior = (flow_prior){r->model->dim_z, r->opt.kT};
        tc.potential = &r->pot;
        tc.kT = r->opt.kT;
        tc.data = r->data;
        tc.n_data = r->n_closed + r->n_open;
        tc.rc = &rc_d;
        tc.rc_loss = (bg_rc_loss_config){0.5, 2.5, 11};
        tc.stages = r->sc.stages;
        tc.n_stages = r->sc.n_stages;
        tc.seed = derive_seed(r->opt.seed, 40);
        tc.log_path = log_path;
        tc.checkpoint_prefix = prefix;
        tc.progress = on_progress;
        tc.progress_ctx = &pc;
        bg_train_result res;
        rc = bg_train(&tc, r->first_stage, &res, why, sizeof why);
        if (rc != AD_OK) return fail(msg, len, rc, "training: %s", why);
        r->res.skipped = res.skipped;
        stage_times_io(r, 1);
    }
    r->res.train_seconds = 0;
    for (int k = 0; k < r->sc.n_stages; k++) r->res.train_seconds += r->stage_seconds[k];
    return AD_OK;
}

/* Mean loss over the last 10 % of the last stage, from the log. */
typedef struct log_rows {
    int n;
    double *v; /* [n * 5]: global iteration, stage, loss, ml, kl */
} log_rows;

static void read_log(run *r, log_rows *lr)
{
    lr->n = 0;
    lr->v = NULL;
    char path[1024], msg[256], *text = NULL;
    size_t len = 0;
    out_path(r, "train_log.csv", path, sizeof path);
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

static double final_loss_of(const log_rows *lr, int last_stage)
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

/* ---- timing ---- */

static int measure_timing(run *r, char *msg, size_t len)
{
    enum { B = 1000 };
    int dim = r->dim, n_data = r->n_closed + r->n_open;
    ad_real *x = ad_malloc((size_t)B * dim * sizeof *x), *u = ad_malloc(B * sizeof *u);
    ad_real *f = ad_malloc((size_t)B * dim * sizeof *f);
    ad_real *z = ad_malloc((size_t)B * r->model->dim_z * sizeof *z);
    ad_tape *t = ad_tape_new(0);
    int rc = (x && u && f && z && t) ? AD_OK : fail(msg, len, AD_ERR_NOMEM, "out of memory");
    for (int i = 0; rc == AD_OK && i < B; i++)
        memcpy(x + (size_t)i * dim, r->data + (size_t)(i % n_data) * dim, (size_t)dim * sizeof *x);
    double best_e = INFINITY, best_f = INFINITY;
    for (int k = 0; rc == AD_OK && k < r->sc.timing_repeats; k++) {
        double t0 = app_clock_seconds();
        rc = pot_forces(&r->pot, t, x, B, u, f, msg, len);
        double dt = app_clock_seconds() - t0;
        if (dt < best_e) best_e = dt;
    }
    ad_rng rng;
    ad_rng_seed(&rng, 12345, 0);
    flow_prior prior = {r->model->dim_z, 1.0};
    if (rc == AD_OK) rc = flow_prior_sample(&prior, &rng, z, B);
    for (int k = 0; rc == AD_OK && k < r->sc.timing_repeats; k++) {
        double t0 = app_clock_seconds();
        ad_tape_reset(t);
        int shape[2] = {B, r->model->dim_z};
        ad_tensor *zt = ad_constant(t, 2, shape, z), *ld = NULL;
        ad_tensor *xt = flow_model_forward(r->model, t, zt, &ld);
        ad_tensor *loss = ad_add(t, ad_sum(t, xt), ad_sum(t, ld));
        if (!ad_tape_ok(t)) rc = fail(msg, len, ad_tape_status(t), "%s", ad_tape_error(t));
        if (rc == AD_OK) rc = ad_backward(t, loss);
        double dt = app_clock_seconds() - t0;
        if (dt < best_f) best_f = dt;
    }
    nn_params_zero_grad(r->model->params);
    r->t_energy_ms = 1e3 * best_e;
    r->t_flow_ms = 1e3 * best_f;
    ad_tape_free(t);
    ad_free(x);
    ad_free(u);
    ad_free(f);
    ad_free(z);
    return rc;
}

/* ---- 4. samples and analysis ---- */

static int analyse(run *r, char *msg, size_t len)
{
    const schedule *s = &r->sc;
    flow_prior prior = {r->model->dim_z, r->opt.kT};
    int rc = bg_sample(r->model, &prior, &r->pot, r->opt.kT, s->n_samples, s->sample_batch,
                       derive_seed(r->opt.seed, 50), &r->samples, msg, len);
    if (rc != AD_OK) return rc;
    bg_samples *b = r->samples;
    int n = b->n;
    r->d_bg = ad_malloc((size_t)n * sizeof *r->d_bg);
    ad_real *d_in = ad_malloc((size_t)n * sizeof *d_in);
    if (!r->d_bg || !d_in) {
        ad_free(d_in);
        return fail(msg, len, AD_ERR_NOMEM, "out of memory");
    }
    int closed = 0, transitions = 0, prev = -1, n_trans_pairs = 0;
    for (int i = 0; i < n; i++) {
        const ad_real *xi = b->x + (size_t)i * b->dim_x;
        double d = pot_dimer_distance_of(xi);
        r->d_bg[i] = (ad_real)d;
        d_in[i] = (ad_real)(d >= 0.5 && d <= 2.5 ? d : NAN);
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
    r->res.n_samples = n;
    r->res.n_nonfinite = b->n_nonfinite;
    r->res.closed_fraction_raw = (double)closed / n;
    r->res.transitions_per_1000 = n_trans_pairs ? 1000.0 * transitions / n_trans_pairs : NAN;
    r->res.median_energy = median_of(b->energy, n);
    smp_weight_stats ws;
    rc = smp_weights_stats(b->log_w, n, &ws, msg, len);
    if (rc == AD_OK) {
        r->res.ess = ws.ess;
        r->res.ess_fraction = ws.ess_fraction;
    }
    smp_bootstrap_config boot = {s->n_bootstrap, derive_seed(r->opt.seed, 60)};
    smp_estimate est = {NAN, NAN, 0};
    if (rc == AD_OK) {
        char why[256];
        int q = smp_delta_f_split(d_in, b->log_w, n, POT_DIMER_D_SPLIT, &boot, &est, why,
                                  sizeof why);
        if (q == AD_OK) {
            /* smp_ gives F(d >= 1.5) - F(d < 1.5) = F_open - F_closed */
            r->res.dF = -est.value;
            r->res.dF_se = est.se;
            r->res.n_boot_used = est.n_boot_used;
        } else {
            fprintf(stderr, "%s: warning: no dF from the samples: %s\n", PROGRAM, why);
            r->res.dF = r->res.dF_se = NAN;
        }
    }
    if (rc == AD_OK) {
        smp_profile_config pc = {s->profile_bins, 0.5, 2.5, 0, boot};
        char why[256];
        if (smp_profile_histogram(&pc, d_in, b->log_w, n, &r->profile, why, sizeof why) != AD_OK) {
            fprintf(stderr, "%s: warning: no reweighted profile: %s\n", PROGRAM, why);
            r->profile = NULL;
        }
    }
    ad_free(d_in);
    if (rc != AD_OK) return rc;
    /* MC energies */
    int nd = r->n_closed + r->n_open;
    r->data_u = ad_malloc((size_t)nd * sizeof *r->data_u);
    if (!r->data_u) return fail(msg, len, AD_ERR_NOMEM, "out of memory");
    rc = dimer_energy(&r->ectx, r->data, nd, r->dim, r->data_u, msg, len);
    if (rc != AD_OK) return rc;
    r->mc_median = median_of(r->data_u, nd);
    return AD_OK;
}

/* ---- outputs ---- */

static int write_samples_csv(run *r, char *msg, size_t len)
{
    const bg_samples *b = r->samples;
    ad_real *v = ad_malloc((size_t)b->n * 3 * sizeof *v);
    if (!v) return fail(msg, len, AD_ERR_NOMEM, "out of memory");
    for (int i = 0; i < b->n; i++) {
        v[3 * i] = r->d_bg[i];
        v[3 * i + 1] = b->energy[i];
        v[3 * i + 2] = b->log_w[i];
    }
    char path[1024];
    out_path(r, "bg_samples.csv", path, sizeof path);
    const char *names[3] = {"d", "energy", "log_w"};
    int rc = smp_csv_write(path, v, b->n, 3, names, msg, len);
    ad_free(v);
    if (rc != AD_OK || !r->profile) return rc;
    int nb = r->profile->n_bins;
    v = ad_malloc((size_t)nb * 3 * sizeof *v);
    if (!v) return fail(msg, len, AD_ERR_NOMEM, "out of memory");
    for (int j = 0; j < nb; j++) {
        v[3 * j] = r->profile->center[j];
        v[3 * j + 1] = r->profile->F[j];
        v[3 * j + 2] = r->profile->se[j];
    }
    out_path(r, "bg_profile.csv", path, sizeof path);
    const char *pnames[3] = {"d", "F", "F_se"};
    rc = smp_csv_write(path, v, nb, 3, pnames, msg, len);
    ad_free(v);
    return rc;
}

/* Normalised histogram density of v[n] (optionally only where keep(i)) on
 * [lo, hi] into dens[nb]; every value counts in the normalisation. */
static void histo(const ad_real *v, int n, const int *sel, int want, double lo, double hi, int nb,
                  double *dens)
{
    double h = (hi - lo) / nb;
    long total = 0;
    for (int j = 0; j < nb; j++) dens[j] = 0;
    for (int i = 0; i < n; i++) {
        if (sel && sel[i] != want) continue;
        total++;
        double x = v[i];
        if (!(x >= lo && x < hi)) continue;
        dens[(int)((x - lo) / h)] += 1;
    }
    for (int j = 0; j < nb; j++) dens[j] = total ? dens[j] / (total * h) : 0;
}

static int figure_energy(run *r, char *msg, size_t len)
{
    enum { NB = 60 };
    int nd = r->n_closed + r->n_open;
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < nd; i++) {
        if (r->data_u[i] < lo) lo = r->data_u[i];
        if (r->data_u[i] > hi) hi = r->data_u[i];
    }
    lo = floor(lo - 10);
    hi = ceil(hi + 40);
    int *sel = ad_malloc((size_t)nd * sizeof *sel);
    if (!sel) return fail(msg, len, AD_ERR_NOMEM, "out of memory");
    for (int i = 0; i < nd; i++) sel[i] = i < r->n_closed ? 0 : 1;
    double edges[NB + 1], dc[NB], dop[NB], dbg[NB];
    for (int j = 0; j <= NB; j++) edges[j] = lo + (hi - lo) * j / NB;
    histo(r->data_u, nd, sel, 0, lo, hi, NB, dc);
    histo(r->data_u, nd, sel, 1, lo, hi, NB, dop);
    histo(r->samples->energy, r->samples->n, NULL, 0, lo, hi, NB, dbg);
    ad_free(sel);
    app_svg_figure *f = app_svg_figure_new(1, 1, 560, 380);
    app_svg_panel *p = app_svg_panel_at(f, 0, 0);
    app_svg_panel_title(p, "Energies: MC data vs BG samples (unweighted)");
    app_svg_panel_labels(p, "energy u(x) / kT units", "density");
    app_svg_histogram(p, edges, dc, NB, &(app_svg_style){.label = "MC closed"});
    app_svg_histogram(p, edges, dop, NB, &(app_svg_style){.label = "MC open"});
    app_svg_histogram(p, edges, dbg, NB, &(app_svg_style){.label = "BG samples", .width = 2.4});
    char path[1024];
    out_path(r, "fig_energy.svg", path, sizeof path);
    int rc = app_svg_save(f, path, msg, len);
    app_svg_figure_free(f);
    return rc;
}

static int figure_distance(run *r, char *msg, size_t len)
{
    enum { NB = 80 };
    int nd = r->n_closed + r->n_open;
    ad_real *dm = ad_malloc((size_t)nd * sizeof *dm);
    int *sel = ad_malloc((size_t)nd * sizeof *sel);
    if (!dm || !sel) {
        ad_free(dm);
        ad_free(sel);
        return fail(msg, len, AD_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < nd; i++) {
        dm[i] = (ad_real)pot_dimer_distance_of(r->data + (size_t)i * r->dim);
        sel[i] = i < r->n_closed ? 0 : 1;
    }
    double edges[NB + 1], dc[NB], dop[NB], dbg[NB];
    for (int j = 0; j <= NB; j++) edges[j] = 0.5 + 2.0 * j / NB;
    histo(dm, nd, sel, 0, 0.5, 2.5, NB, dc);
    histo(dm, nd, sel, 1, 0.5, 2.5, NB, dop);
    histo(r->d_bg, r->samples->n, NULL, 0, 0.5, 2.5, NB, dbg);
    for (int j = 0; j < NB; j++) {
        dc[j] *= (double)r->n_closed / nd; /* the 50/50 mixture the flow was shown */
        dop[j] *= (double)r->n_open / nd;
    }
    ad_free(dm);
    ad_free(sel);
    app_svg_figure *f = app_svg_figure_new(1, 1, 560, 380);
    app_svg_panel *p = app_svg_panel_at(f, 0, 0);
    app_svg_panel_title(p, "Dimer distance: MC data vs BG samples (unweighted)");
    app_svg_panel_labels(p, "dimer distance d", "density");
    app_svg_histogram(p, edges, dc, NB, &(app_svg_style){.label = "MC closed"});
    app_svg_histogram(p, edges, dop, NB, &(app_svg_style){.label = "MC open"});
    app_svg_histogram(p, edges, dbg, NB, &(app_svg_style){.label = "BG samples", .width = 2.4});
    app_svg_vline(p, POT_DIMER_D_SPLIT, &(app_svg_style){.dash = APP_SVG_DASHED});
    char path[1024];
    out_path(r, "fig_distance.svg", path, sizeof path);
    int rc = app_svg_save(f, path, msg, len);
    app_svg_figure_free(f);
    return rc;
}

/* Particle clouds and mean positions of up to 150 relabelled frames. */
static int config_panel(app_svg_panel *p, const char *title, const ad_real *src, const int *rows,
                        int n_rows, int dim, char *msg, size_t len)
{
    enum { MAXF = 150 };
    int nf = n_rows < MAXF ? n_rows : MAXF, np = dim / 2;
    app_svg_panel_title(p, title);
    app_svg_panel_labels(p, "x", "y");
    app_svg_panel_xrange(p, -4, 4);
    app_svg_panel_yrange(p, -4, 4);
    app_svg_panel_legend(p, APP_SVG_LEGEND_NONE);
    if (nf == 0) return AD_OK;
    ad_real *x = ad_malloc((size_t)nf * dim * sizeof *x);
    double *sx = ad_malloc((size_t)nf * np * 2 * sizeof *sx), *sy = sx ? sx + (size_t)nf * np : NULL;
    double *mx = ad_calloc((size_t)2 * np, sizeof *mx), *my = mx ? mx + np : NULL;
    if (!x || !sx || !mx) {
        ad_free(x);
        ad_free(sx);
        ad_free(mx);
        return fail(msg, len, AD_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < nf; i++)
        memcpy(x + (size_t)i * dim, src + (size_t)rows[(long)i * n_rows / nf] * dim,
               (size_t)dim * sizeof *x);
    int rc = dimer_relabel(x, nf, np - 2, msg, len);
    int ns = 0, nd = 0;
    double dx[2 * MAXF], dy[2 * MAXF];
    for (int i = 0; rc == AD_OK && i < nf; i++)
        for (int k = 0; k < np; k++) {
            double a = x[(size_t)i * dim + 2 * k], b = x[(size_t)i * dim + 2 * k + 1];
            mx[k] += a / nf;
            my[k] += b / nf;
            if (k < 2) {
                dx[nd] = a;
                dy[nd++] = b;
            } else {
                sx[ns] = a;
                sy[ns++] = b;
            }
        }
    if (rc == AD_OK) {
        app_svg_scatter(p, sx, sy, (size_t)ns,
                        &(app_svg_style){.color = "#9aa5b1", .alpha = 0.25, .radius = 1.2});
        app_svg_scatter(p, dx, dy, (size_t)nd,
                        &(app_svg_style){.color = "#d62728", .alpha = 0.3, .radius = 1.4});
        app_svg_scatter(p, mx + 2, my + 2, (size_t)np - 2,
                        &(app_svg_style){.color = "#1f3b73", .alpha = 1, .radius = 4});
        app_svg_scatter(p, mx, my, 2, &(app_svg_style){.color = "#d62728", .alpha = 1, .radius = 5});
        const double bx[5] = {-3, 3, 3, -3, -3}, by[5] = {-3, -3, 3, 3, -3};
        app_svg_line(p, bx, by, 5, &(app_svg_style){.color = "#444444", .width = 1});
    }
    ad_free(x);
    ad_free(sx);
    ad_free(mx);
    return rc;
}

static int figure_configurations(run *r, char *msg, size_t len)
{
    int nd = r->n_closed + r->n_open, n = r->samples->n;
    int *rows = ad_malloc((size_t)(nd > n ? nd : n) * sizeof *rows);
    if (!rows) return fail(msg, len, AD_ERR_NOMEM, "out of memory");
    app_svg_figure *f = app_svg_figure_new(2, 2, 380, 380);
    app_svg_figure_title(f, "150 relabelled frames and mean positions (dimer red, walls at 3)");
    int rc = AD_OK;
    for (int i = 0; i < r->n_closed; i++) rows[i] = i;
    rc = config_panel(app_svg_panel_at(f, 0, 0), "MC, closed", r->data, rows, r->n_closed, r->dim,
                      msg, len);
    for (int i = 0; i < r->n_open; i++) rows[i] = r->n_closed + i;
    if (rc == AD_OK)
        rc = config_panel(app_svg_panel_at(f, 0, 1), "MC, open", r->data, rows, r->n_open, r->dim,
                          msg, len);
    for (int state = 0; state < 2 && rc == AD_OK; state++) {
        int m = 0;
        for (int i = 0; i < n; i++)
            if (isfinite(r->samples->log_w[i]) &&
                (r->d_bg[i] < POT_DIMER_D_SPLIT) == (state == 0))
                rows[m++] = i;
        rc = config_panel(app_svg_panel_at(f, 1, state), state ? "BG, open" : "BG, closed",
                          r->samples->x, rows, m, r->dim, msg, len);
    }
    char path[1024];
    out_path(r, "fig_configurations.svg", path, sizeof path);
    if (rc == AD_OK) rc = app_svg_save(f, path, msg, len);
    app_svg_figure_free(f);
    ad_free(rows);
    return rc;
}

static int figure_free_energy(run *r, char *msg, size_t len)
{
    int nb = r->us.n_bins;
    double *x = ad_malloc((size_t)nb * 4 * sizeof *x);
    if (!x) return fail(msg, len, AD_ERR_NOMEM, "out of memory");
    double *y = x + nb, *lo = y + nb, *hi = lo + nb;
    for (int j = 0; j < nb; j++) {
        x[j] = r->us.center[j];
        y[j] = r->us.F[j];
        double se = isfinite(r->us.F_se[j]) ? r->us.F_se[j] : 0;
        lo[j] = y[j] - 2 * se;
        hi[j] = y[j] + 2 * se;
    }
    app_svg_figure *f = app_svg_figure_new(1, 1, 600, 400);
    app_svg_panel *p = app_svg_panel_at(f, 0, 0);
    char lab_us[128], lab_bg[128];
    snprintf(lab_us, sizeof lab_us, "umbrella+WHAM, dF = %.2f +- %.2f", r->us.dF, r->us.dF_se);
    snprintf(lab_bg, sizeof lab_bg, "BG reweighted, dF = %.2f +- %.2f", r->res.dF, r->res.dF_se);
    app_svg_panel_title(p, "F(d), bands +-2 SE; dF = F(closed) - F(open)");
    app_svg_panel_labels(p, "dimer distance d", "F(d) / kT");
    app_svg_panel_xrange(p, 0.5, 2.5);
    app_svg_band(p, x, lo, hi, (size_t)nb, &(app_svg_style){.color = "#1f77b4"});
    app_svg_line(p, x, y, (size_t)nb, &(app_svg_style){.label = lab_us, .color = "#1f77b4"});
    double ymax = 0;
    for (int j = 0; j < nb; j++)
        if (isfinite(y[j]) && y[j] > ymax) ymax = y[j];
    if (r->profile) {
        const smp_profile *pr = r->profile;
        int m = pr->n_bins;
        double *bx = ad_malloc((size_t)m * 4 * sizeof *bx);
        if (bx) {
            double *by = bx + m, *bl = by + m, *bh = bl + m;
            for (int j = 0; j < m; j++) {
                bx[j] = pr->center[j];
                by[j] = pr->F[j];
                double se = isfinite(pr->se[j]) ? pr->se[j] : 0;
                bl[j] = by[j] - 2 * se;
                bh[j] = by[j] + 2 * se;
            }
            app_svg_band(p, bx, bl, bh, (size_t)m, &(app_svg_style){.color = "#d62728"});
            app_svg_line(p, bx, by, (size_t)m,
                         &(app_svg_style){.label = lab_bg, .color = "#d62728"});
            ad_free(bx);
        }
    }
    app_svg_panel_yrange(p, -1, ymax + 3 > 5 ? ymax + 3 : 5);
    app_svg_vline(p, POT_DIMER_D_SPLIT, &(app_svg_style){.dash = APP_SVG_DASHED});
    char path[1024];
    out_path(r, "fig_free_energy.svg", path, sizeof path);
    int rc = app_svg_save(f, path, msg, len);
    app_svg_figure_free(f);
    ad_free(x);
    return rc;
}

static void quantiles(const double *v, int n, double *q05, double *q95)
{
    double *c = ad_malloc((size_t)(n > 0 ? n : 1) * sizeof *c);
    int m = 0;
    for (int i = 0; c && i < n; i++)
        if (isfinite(v[i])) c[m++] = v[i];
    *q05 = *q95 = NAN;
    if (c && m > 0) {
        for (int i = 1; i < m; i++) /* insertion sort is fine for a few thousand rows */
            for (int j = i; j > 0 && c[j - 1] > c[j]; j--) {
                double t = c[j];
                c[j] = c[j - 1];
                c[j - 1] = t;
            }
        *q05 = c[0];
        *q95 = c[(int)(0.95 * (m - 1))];
    }
    ad_free(c);
}

static int figure_loss(run *r, const log_rows *lr, char *msg, size_t len)
{
    app_svg_figure *f = app_svg_figure_new(1, 2, 440, 330);
    app_svg_figure_title(f, "Training losses (unweighted components)");
    int n = lr->n;
    double *it = ad_malloc((size_t)(n > 0 ? n : 1) * 3 * sizeof *it);
    if (!it) {
        app_svg_figure_free(f);
        return fail(msg, len, AD_ERR_NOMEM, "out of memory");
    }
    double *ml = it + n, *kl = ml + n;
    int has_kl = 0;
    for (int i = 0; i < n; i++) {
        it[i] = lr->v[5 * i];
        ml[i] = lr->v[5 * i + 3];
        kl[i] = lr->v[5 * i + 4] != 0 ? lr->v[5 * i + 4] : NAN;
        has_kl |= isfinite(kl[i]);
    }
    app_svg_panel *p = app_svg_panel_at(f, 0, 0);
    app_svg_panel_title(p, "J_ML");
    app_svg_panel_labels(p, "iteration", "J_ML");
    double a, b;
    quantiles(ml, n, &a, &b);
    if (isfinite(a) && b > a) app_svg_panel_yrange(p, a - 0.05 * (b - a), b);
    if (n > 0) app_svg_line(p, it, ml, (size_t)n, NULL);
    p = app_svg_panel_at(f, 0, 1);
    app_svg_panel_title(p, "J_KL (energy regularised)");
    app_svg_panel_labels(p, "iteration", "J_KL");
    quantiles(kl, n, &a, &b);
    if (isfinite(a) && b > a) app_svg_panel_yrange(p, a - 0.05 * (b - a), b);
    if (n > 0 && has_kl) app_svg_line(p, it, kl, (size_t)n, &(app_svg_style){.color = "#d62728"});
    ad_free(it);
    char path[1024];
    out_path(r, "fig_loss.svg", path, sizeof path);
    int rc = app_svg_save(f, path, msg, len);
    app_svg_figure_free(f);
    return rc;
}

static void json_dict1(app_json *w, const char *key, const char *name, double v)
{
    app_json_key(w, key);
    app_json_object_begin(w);
    app_json_key_number(w, name, v);
    app_json_object_end(w);
}

static int write_summary(run *r, char *msg, size_t len)
{
    app_json w;
    app_json_init(&w, 1);
    app_json_object_begin(&w);
    app_json_key_string(&w, "system", "dimer");
    app_json_key_string(&w, "bond", r->opt.bond);
    app_json_key_number(&w, "kT", r->opt.kT);
    app_json_key_number(&w, "seed", (double)r->opt.seed);
    app_json_key_bool(&w, "quick", r->opt.quick);
    app_json_key_int(&w, "dim", r->dim);
    app_json_key(&w, "reference");
    app_json_object_begin(&w);
    json_dict1(&w, "delta_f", "closed-open", r->us.dF);
    json_dict1(&w, "delta_f_stderr", "closed-open", r->us.dF_se);
    app_json_key(&w, "delta_f_repeats");
    app_json_number_array(&w, r->us.dF_repeat, (size_t)r->us.n_repeats);
    app_json_key_string(&w, "method", "umbrella+WHAM");
    app_json_key_int(&w, "n_windows", r->sc.us_windows);
    app_json_key_number(&w, "force_constant", r->sc.us_k);
    app_json_key_int(&w, "n_chains", r->sc.us_chains);
    app_json_key_int(&w, "steps_per_chain", (long long)r->sc.us_steps);
    app_json_key_int(&w, "n_repeats", r->sc.us_repeats);
    app_json_key_number(&w, "acceptance", r->us.acceptance);
    app_json_key_number(&w, "seconds", r->us_seconds);
    app_json_object_end(&w);
    app_json_key(&w, "mc");
    app_json_object_begin(&w);
    app_json_key_int(&w, "n_closed", r->n_closed);
    app_json_key_int(&w, "n_open", r->n_open);
    app_json_key(&w, "acceptance");
    app_json_number_array(&w, r->mc_acc, 2);
    app_json_key_int(&w, "transitions", r->mc_transitions);
    app_json_key_number(&w, "seconds", r->mc_seconds);
    app_json_object_end(&w);
    app_json_key(&w, "models");
    app_json_array_begin(&w);
    app_json_object_begin(&w);
    const model_result *m = &r->res;
    app_json_key_string(&w, "name", "ML+KL+RC");
    json_dict1(&w, "delta_f", "closed-open", m->dF);
    json_dict1(&w, "delta_f_stderr", "closed-open", m->dF_se);
    app_json_key_number(&w, "ess_fraction", m->ess_fraction);
    app_json_key_number(&w, "ess", m->ess);
    app_json_key_int(&w, "n_samples", m->n_samples);
    app_json_key_int(&w, "n_nonfinite", m->n_nonfinite);
    app_json_key_number(&w, "median_energy", m->median_energy);
    app_json_key_number(&w, "mc_median_energy", r->mc_median);
    app_json_key_number(&w, "transitions_per_1000", m->transitions_per_1000);
    app_json_key_number(&w, "closed_fraction_unweighted", m->closed_fraction_raw);
    app_json_key_number(&w, "final_loss", m->final_loss);
    app_json_key_number(&w, "train_seconds", m->train_seconds);
    app_json_key_int(&w, "skipped_steps", m->skipped);
    app_json_key_int(&w, "stages", r->sc.n_stages);
    app_json_key_int(&w, "resumed_after_stage", r->train_reused_stages);
    app_json_object_end(&w);
    app_json_array_end(&w);
    app_json_key(&w, "timing");
    app_json_object_begin(&w);
    app_json_key_number(&w, "energy_forces_ms_batch1000", r->t_energy_ms);
    app_json_key_number(&w, "flow_fwd_bwd_ms_batch1000", r->t_flow_ms);
    app_json_key_int(&w, "threads", ad_threads_get());
    app_json_object_end(&w);
    app_json_key_number(&w, "wall_seconds", r->wall_seconds);
    app_json_object_end(&w);
    int rc = app_json_finish(&w, msg, len);
    char path[1024];
    out_path(r, "summary.json", path, sizeof path);
    if (rc == AD_OK) rc = app_fs_write_atomic(path, w.out.data, w.out.len, msg, len);
    app_json_free(&w);
    return rc;
}

static int write_report(run *r, char *msg, size_t len)
{
    app_buf b;
    app_buf_init(&b);
    char t[1024];
    const model_result *m = &r->res;
    snprintf(t, sizeof t, "Dimer in a repulsive LJ bath (%s bond%s), kT = %g", r->opt.bond,
             r->opt.quick ? ", --quick" : "", r->opt.kT);
    app_report_heading(&b, 1, t);
    snprintf(t, sizeof t,
             "76 coordinates (2 dimer + 36 solvent particles). Seed %llu, %d thread(s), wall time "
             "%.1f s. A --quick run uses a tiny schedule; its numbers are not meant to meet the "
             "targets.",
             (unsigned long long)r->opt.seed, ad_threads_get(), r->wall_seconds);
    app_report_paragraph(&b, t);
    app_report_heading(&b, 2, "Results");
    char c[16][96];
    snprintf(c[0], 96, "%.3f +- %.3f", r->us.dF, r->us.dF_se);
    snprintf(c[1], 96, "%.3f +- %.3f", m->dF, m->dF_se);
    snprintf(c[2], 96, "%.4f (ESS %.1f of %d)", m->ess_fraction, m->ess, m->n_samples);
    snprintf(c[3], 96, "%.2f", m->median_energy);
    snprintf(c[4], 96, "%.2f", r->mc_median);
    snprintf(c[5], 96, "%.1f", m->transitions_per_1000);
    snprintf(c[6], 96, "%d in %d frames", r->mc_transitions, r->n_closed + r->n_open);
    snprintf(c[7], 96, "%d", m->n_nonfinite);
    snprintf(c[8], 96, "%.3f", m->closed_fraction_raw);
    snprintf(c[9], 96, "%.3f", m->final_loss);
    snprintf(c[10], 96, "%.1f", m->train_seconds);
    snprintf(c[11], 96, "%.2f", r->t_energy_ms);
    snprintf(c[12], 96, "%.1f", r->t_flow_ms);
    const char *hdr[2] = {"quantity", "value"};
    const char *cells[] = {
        "dF(closed - open), umbrella + WHAM (kT)", c[0],
        "dF(closed - open), BG reweighted (kT, bootstrap SE)", c[1],
        "ESS / n", c[2],
        "median energy, BG samples", c[3],
        "median energy, MC data (both states)", c[4],
        "closed-open transitions per 1000 BG samples", c[5],
        "closed-open transitions in the MC chains", c[6],
        "non-finite samples", c[7],
        "fraction closed, unweighted BG samples", c[8],
        "final loss (last 10 % of the last stage)", c[9],
        "training time (s)", c[10],
        "energy + forces, batch 1000 (ms)", c[11],
        "flow forward + backward, batch 1000 (ms)", c[12],
    };
    app_report_table(&b, 2, hdr, cells, 13);
    snprintf(t, sizeof t,
             "Umbrella repeats (dF closed - open):");
    app_buf_puts(&b, t);
    for (int q = 0; q < r->us.n_repeats; q++) app_buf_printf(&b, " %.3f", r->us.dF_repeat[q]);
    app_buf_puts(&b, ". The paper's three umbrella runs for its energy (paper bond, kT = 1) gave "
                     "-6.63, -7.12 and -7.55.\n\n");
    app_report_heading(&b, 2, "Setup");
    snprintf(t, sizeof t,
             "Monte Carlo: %d chains per state x %ld steps (sigma = 0.02 sqrt(kT), every "
             "coordinate moved), first %ld frames of stride %d dropped; %d closed and %d open "
             "frames, solvent relabelled against the lattice. Acceptance %.3f / %.3f; mean "
             "energy first/second half: closed %.2f / %.2f, open %.2f / %.2f.",
             r->sc.mc_chains, r->sc.mc_steps, r->sc.mc_discard, r->sc.mc_stride, r->n_closed,
             r->n_open, r->mc_acc[0], r->mc_acc[1], r->mc_u_first[0], r->mc_u_second[0],
             r->mc_u_first[1], r->mc_u_second[1]);
    app_report_paragraph(&b, t);
    snprintf(t, sizeof t,
             "Umbrella sampling: %d windows over d in [0.5, 2.5], k = %g, %d chains x %ld steps "
             "per window and repeat (first %ld frames of stride %d dropped), %d independent "
             "repeats, WHAM on %d bins; SE = std of the repeats / sqrt(repeats). Mean "
             "acceptance %.3f; %.1f s.",
             r->sc.us_windows, r->sc.us_k, r->sc.us_chains, r->sc.us_steps, r->sc.us_discard,
             r->sc.us_stride, r->sc.us_repeats, r->sc.us_bins, r->us.acceptance, r->us_seconds);
    app_report_paragraph(&b, t);
    snprintf(t, sizeof t,
             "Flow: whitening (PCA of the MC data, all 76 components) + RealNVP of %d blocks x 2 "
             "affine couplings, S/T nets 38 -> 200 -> 200 -> 38 (ReLU, tanh-bounded scale), "
             "%s channel split. Prior N(0, kT I).",
             r->sc.n_blocks, flow_split_kind_name(r->sc.split));
    app_report_paragraph(&b, t);
    const char *sh[8] = {"stage", "iterations", "batch", "lr", "w_ML", "w_KL", "w_RC", "E_high"};
    char sc[N_STAGES_MAX * 8][32];
    const char *scp[N_STAGES_MAX * 8];
    for (int k = 0; k < r->sc.n_stages; k++) {
        const bg_stage *st = &r->sc.stages[k];
        snprintf(sc[8 * k], 32, "%s", st->name);
        snprintf(sc[8 * k + 1], 32, "%d", st->n_iterations);
        snprintf(sc[8 * k + 2], 32, "%d", st->batch_size);
        snprintf(sc[8 * k + 3], 32, "%g", st->lr);
        snprintf(sc[8 * k + 4], 32, "%g", st->w_ml);
        snprintf(sc[8 * k + 5], 32, "%g", st->w_kl);
        snprintf(sc[8 * k + 6], 32, "%g", st->w_rc);
        snprintf(sc[8 * k + 7], 32, st->w_kl > 0 ? "%g" : "-", st->e_high);
        for (int j = 0; j < 8; j++) scp[8 * k + j] = sc[8 * k + j];
    }
    app_report_table(&b, 8, sh, scp, r->sc.n_stages);
    app_report_heading(&b, 2, "Figures");
    app_report_image(&b, "free energy profiles", "fig_free_energy.svg");
    app_report_image(&b, "energy distributions", "fig_energy.svg");
    app_report_image(&b, "dimer distance distributions", "fig_distance.svg");
    app_report_image(&b, "configurations", "fig_configurations.svg");
    app_report_image(&b, "training losses", "fig_loss.svg");
    app_report_paragraph(&b, "Files: summary.json; data_closed.csv, data_open.csv (MC, "
                             "relabelled); umbrella_profile.csv; bg_samples.csv (d, energy, "
                             "log_w); bg_profile.csv; train_log.csv; ckpt/ (stage "
                             "checkpoints); cache.json (for --resume).");
    int rc = b.err ? fail(msg, len, b.err, "out of memory") : AD_OK;
    char path[1024];
    out_path(r, "report.md", path, sizeof path);
    if (rc == AD_OK) rc = app_fs_write_atomic(path, b.data, b.len, msg, len);
    app_buf_free(&b);
    return rc;
}

static int run_all(run *r, char *msg, size_t len)
{
    r->start_clock = app_clock_seconds();
    make_schedule(&r->sc, r->opt.quick, r->opt.kT);
    r->params = strcmp(r->opt.bond, "seed") == 0 ? pot_dimer_params_seed() : pot_dimer_params_paper();
    r->pot = pot_dimer(&r->params);
    r->dim = r->pot.dim;
    int rc = dimer_energy_ctx_init(&r->ectx, &r->pot);
    if (rc != AD_OK) return fail(msg, len, rc, "out of memory");
    int cached = r->opt.resume ? load_cache(r) : 0;
    r->data_reused = cached >= 1;
    r->umbrella_reused = cached == 2;
    if (cached)
        fprintf(stderr, "%s: reusing the MC data%s in %s\n", PROGRAM,
                cached == 2 ? " and the umbrella reference" : "", r->opt.out);
    if (!r->data_reused) rc = run_mc(r, msg, len);
    if (rc == AD_OK && !r->umbrella_reused) rc = run_umbrella(r, msg, len);
    if (rc == AD_OK && cached < 2) rc = write_cache(r, msg, len);
    if (rc != AD_OK) return rc;
    fprintf(stderr, "%s: umbrella reference dF(closed - open) = %.3f +- %.3f\n", PROGRAM, r->us.dF,
            r->us.dF_se);
    rc = build_model(r, msg, len);
    if (rc == AD_OK) rc = measure_timing(r, msg, len);
    if (rc == AD_OK)
        fprintf(stderr, "%s: timing at batch 1000: energy+forces %.2f ms, flow fwd+bwd %.1f ms\n",
                PROGRAM, r->t_energy_ms, r->t_flow_ms);
    if (rc == AD_OK) rc = train(r, msg, len);
    if (rc == AD_OK) rc = analyse(r, msg, len);
    log_rows lr = {0, NULL};
    if (rc == AD_OK) {
        read_log(r, &lr);
        r->res.final_loss = final_loss_of(&lr, r->sc.n_stages);
    }
    if (rc == AD_OK) rc = write_samples_csv(r, msg, len);
    if (rc == AD_OK) rc = figure_energy(r, msg, len);
    if (rc == AD_OK) rc = figure_distance(r, msg, len);
    if (rc == AD_OK) rc = figure_configurations(r, msg, len);
    if (rc == AD_OK) rc = figure_free_energy(r, msg, len);
    if (rc == AD_OK) rc = figure_loss(r, &lr, msg, len);
    ad_free(lr.v);
    r->wall_seconds = app_clock_seconds() - r->start_clock;
    if (rc == AD_OK) rc = write_summary(r, msg, len);
    if (rc == AD_OK) rc = write_report(r, msg, len);
    return rc;
}

static void run_release(run *r)
{
    dimer_energy_ctx_release(&r->ectx);
    dimer_umbrella_out_release(&r->us);
    flow_model_free(r->model);
    bg_samples_free(r->samples);
    smp_profile_free(r->profile);
    ad_free(r->data);
    ad_free(r->data_u);
    ad_free(r->d_bg);
}

int main(int argc, char **argv)
{
    options o = {"out/dimer", 1, 1.0, 0, 2, 0, "paper"};
    const app_option opts[] = {
        {"out", APP_OPT_STRING, &o.out, "output directory (default out/dimer)", "DIR", 0, 0, 0, 0, 0},
        {"seed", APP_OPT_UINT64, &o.seed, "random seed (default 1)", "N", 0, 0, 0, 0, 0},
        {"kT", APP_OPT_DOUBLE, &o.kT, "temperature in energy units, 0.1 to 10 (default 1)", "X", 1,
         1, 0.1, 10, 0},
        {"quick", APP_OPT_FLAG, &o.quick, "a tiny schedule that finishes in seconds (smoke test)",
         NULL, 0, 0, 0, 0, 0},
        {"threads", APP_OPT_INT, &o.threads, "threads (default 2)", "N", 1, 1, 1, AD_THREADS_MAX, 0},
        {"bond", APP_OPT_STRING, &o.bond,
         "bond form: paper (tilted, s = 2, the published reference; default) or seed", "FORM", 0,
         0, 0, 0, 0},
        {"resume", APP_OPT_FLAG, &o.resume,
         "reuse the MC data, umbrella reference and the last stage checkpoint in --out", NULL, 0,
         0, 0, 0, 0},
    };
    const app_cli cli = {PROGRAM,
                         "The bistable dimer in a repulsive Lennard-Jones bath (76 coordinates): "
                         "MC data, an umbrella-sampling reference of dF(closed - open), a "
                         "Boltzmann generator trained by example and by energy, reweighted "
                         "free energies. Writes CSV, SVG, summary.json and report.md to --out.",
                         opts, (int)(sizeof opts / sizeof *opts)};
    int code = app_options_handle(&cli, argc, argv);
    if (code >= 0) return code;
    if (strcmp(o.bond, "paper") != 0 && strcmp(o.bond, "seed") != 0) {
        fprintf(stderr, "%s: --bond: '%s' is not paper or seed (try --help)\n", PROGRAM, o.bond);
        return 2;
    }
    if (!o.out[0]) {
        fprintf(stderr, "%s: --out: empty directory name (try --help)\n", PROGRAM);
        return 2;
    }
    char msg[1024];
    if (app_fs_check_writable_dir(o.out, msg, sizeof msg) != AD_OK) {
        fprintf(stderr, "%s: %s\n", PROGRAM, msg);
        return 2;
    }
    ad_threads_set(o.threads);
    run *r = ad_calloc(1, sizeof *r);
    if (!r) {
        fprintf(stderr, "%s: out of memory\n", PROGRAM);
        return 1;
    }
    r->opt = o;
    int status = run_all(r, msg, sizeof msg);
    if (status == AD_OK) {
        fprintf(stderr,
                "%s: done in %.1f s; results in %s (summary.json, report.md)\n"
                "  umbrella dF(closed-open) %.3f +- %.3f; BG %.3f +- %.3f; ESS/n %.4f; median "
                "energy BG %.2f, MC %.2f; transitions/1000 %.1f\n",
                PROGRAM, r->wall_seconds, o.out, r->us.dF, r->us.dF_se, r->res.dF, r->res.dF_se,
                r->res.ess_fraction, r->res.median_energy, r->mc_median,
                r->res.transitions_per_1000);
    } else {
        fprintf(stderr, "%s: %s\n", PROGRAM, msg);
    }
    run_release(r);
    ad_free(r);
    ad_threads_shutdown();
    return status == AD_OK ? 0 : 1;
}
