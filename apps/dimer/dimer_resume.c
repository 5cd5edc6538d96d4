/* dimer_resume.c - what bg-dimer --resume reuses from --out (dimer_resume.h):
 * cache.json with the MC data's and the umbrella reference's statistics (the
 * data and the profile themselves are the CSV files), the last readable stage
 * checkpoint under ckpt/, the training log cut back to the stages kept, and
 * the per-stage training times.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apps/toolkit/app_buf.h"
#include "apps/toolkit/app_fs.h"
#include "apps/toolkit/app_json.h"
#include "apps/toolkit/app_record.h"
#include "apps/dimer/dimer_resume.h"
#include "autodiff/ad_alloc.h"
#include "sampling/smp_data.h"

#define DIMER_CACHE_VERSION 2

/* ---- cache (for --resume) ---- */

/* The settings the MC data (part 0) and the umbrella reference (part 1)
 * depend on; a cache written with other settings is not reused.  "us-kt":
 * the windows are the table's at kT >= 1 and longer below
 * (dimer_umbrella_length); caches from before that rule say "us-alt". */
static void schedule_fingerprint(const dimer_schedule *s, int part, char *buf, size_t len)
{
    if (part == 0)
        snprintf(buf, len, "mc %d %ld %d %ld", s->mc_chains, s->mc_steps, s->mc_stride,
                 s->mc_discard);
    else
        snprintf(buf, len, "us-kt %d %g %d %ld %d %ld %d %d", s->us_windows, s->us_k, s->us_chains,
                 s->us_steps, s->us_stride, s->us_discard, s->us_repeats, s->us_bins);
}

/* One temperature's cache as the code sees it: the run's own kT (cache.json,
 * data_closed.csv, ..., and the MC data's energies and transitions, which
 * only the run's kT keeps) or temperature j of --temperatures
 * (cache_kT<kT>.json, data_closed_kT<kT>.csv, ...): its file names and
 * pointers to where its numbers live in the run. */
typedef struct cache_view {
    int main;  /* the run's kT */
    double kT;
    char cache[96], closed[96], open[96], profile[96];
    ad_real **data;
    int *n_closed, *n_open;
    double *mc_acc, *mc_seconds, *us_seconds;
    dimer_umbrella_out *us;
} cache_view;

/* j < 0: the run's kT; otherwise temperature j of --temperatures. */
static void view_of(dimer_run *r, int j, cache_view *v)
{
    v->main = j < 0;
    if (v->main) {
        v->kT = r->opt.kT;
        snprintf(v->cache, sizeof v->cache, "cache.json");
        snprintf(v->closed, sizeof v->closed, "data_closed.csv");
        snprintf(v->open, sizeof v->open, "data_open.csv");
        snprintf(v->profile, sizeof v->profile, "umbrella_profile.csv");
        v->data = &r->data;
        v->n_closed = &r->n_closed;
        v->n_open = &r->n_open;
        v->mc_acc = r->mc_acc;
        v->mc_seconds = &r->mc_seconds;
        v->us = &r->us;
        v->us_seconds = &r->us_seconds;
        return;
    }
    dimer_temperature *t = &r->temps[j];
    v->kT = t->kT;
    dimer_temp_file(t->kT, "cache", ".json", v->cache, sizeof v->cache);
    dimer_temp_file(t->kT, "data_closed", ".csv", v->closed, sizeof v->closed);
    dimer_temp_file(t->kT, "data_open", ".csv", v->open, sizeof v->open);
    dimer_temp_file(t->kT, "umbrella_profile", ".csv", v->profile, sizeof v->profile);
    v->data = &t->data;
    v->n_closed = &t->n_closed;
    v->n_open = &t->n_open;
    v->mc_acc = t->mc_acc;
    v->mc_seconds = &t->mc_seconds;
    v->us = &t->us;
    v->us_seconds = &t->us_seconds;
}

/* Who wrote a cache: its format, the run's seed and schedule, its kT. */
static app_record_id cache_id(const dimer_run *r, const cache_view *v)
{
    app_record_id id = {.version = DIMER_CACHE_VERSION, .seed = r->opt.seed, .kT = v->kT,
                        .quick = r->opt.quick};
    return id;
}

int dimer_cache_write(dimer_run *r, int j, int us, char *msg, size_t len)
{
    cache_view v;
    view_of(r, j, &v);
    char fp[256], fp_us[256];
    schedule_fingerprint(&r->sc, 0, fp, sizeof fp);
    schedule_fingerprint(&r->sc, 1, fp_us, sizeof fp_us);
    app_record_id id = cache_id(r, &v);
    app_json w;
    app_json_init(&w, 1);
    app_record_begin(&w, &id);
    app_json_key_string(&w, "bond", r->opt.bond);
    app_json_key_string(&w, "mc_schedule", fp);
    app_json_key_int(&w, "n_closed", *v.n_closed);
    app_json_key_int(&w, "n_open", *v.n_open);
    app_json_key(&w, "mc_acceptance");
    app_json_number_array(&w, v.mc_acc, 2);
    app_json_key_number(&w, "mc_seconds", *v.mc_seconds);
    if (v.main) {
        app_json_key(&w, "mc_u_first");
        app_json_number_array(&w, r->mc_u_first, 2);
        app_json_key(&w, "mc_u_second");
        app_json_number_array(&w, r->mc_u_second, 2);
        app_json_key_int(&w, "mc_transitions", r->mc_transitions);
    }
    if (us) {
        app_json_key_string(&w, "us_schedule", fp_us);
        app_json_key_number(&w, "us_dF", v.us->dF);
        app_json_key_number(&w, "us_dF_se", v.us->dF_se);
        app_json_key(&w, "us_dF_repeat");
        app_json_number_array(&w, v.us->dF_repeat, (size_t)v.us->n_repeats);
        app_json_key_number(&w, "us_acceptance", v.us->acceptance);
        app_json_key_number(&w, "us_n_samples", (double)v.us->n_samples);
        app_json_key_number(&w, "us_seconds", *v.us_seconds);
        app_json_key_int(&w, "us_bins", v.us->n_bins);
    }
    int rc = app_record_finish(r->run, r->opt.out, &w, v.cache,
                               us ? DIMER_STAGE_UMBRELLA : DIMER_STAGE_MC, msg, len);
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

/* Whether the manifest verifies every name; otherwise one line on stderr
 * saying why and from where the run recomputes. */
static int verified(dimer_run *r, const char *const *names, int n, const char *what, int stage)
{
    char why[512];
    for (int i = 0; i < n; i++) {
        int st = 0;
        if (!r->run || !app_run_reusable(r->run, names[i], &st, why, sizeof why) ||
            st < stage) {
            if (r->run && st && st < stage)
                snprintf(why, sizeof why, "%s was written before the %s", names[i], what);
            fprintf(stderr, "%s: --resume: %s; recomputing the %s\n", DIMER_PROGRAM, why, what);
            return 0;
        }
    }
    return 1;
}

/* The MC data of view v and its statistics from root: 1 when all are there,
 * finite and in range (then *v->data is allocated and filled). */
static int load_mc(dimer_run *r, const app_json_value *root, const cache_view *v)
{
    char path[APP_RUN_PATH_MAX], fp[256];
    long long i = 0, nc = 0, no = 0;
    schedule_fingerprint(&r->sc, 0, fp, sizeof fp);
    int ok = app_record_string_is(root, "bond", r->opt.bond) &&
             app_record_string_is(root, "mc_schedule", fp) &&
             app_record_int(root, "n_closed", 1, 100000000, &nc) &&
             app_record_int(root, "n_open", 1, 100000000, &no) &&
             app_record_real(root, "mc_seconds", 0, 1e12, v->mc_seconds);
    double *acc = v->mc_acc;
    ok = ok && app_record_reals(root, "mc_acceptance", 2, &acc, NULL);
    if (ok && v->main) {
        double *u1 = r->mc_u_first, *u2 = r->mc_u_second;
        ok = app_record_int(root, "mc_transitions", 0, 2000000000, &i) &&
             app_record_reals(root, "mc_u_first", 2, &u1, NULL) &&
             app_record_reals(root, "mc_u_second", 2, &u2, NULL);
        if (ok) r->mc_transitions = (int)i;
    }
    if (ok) {
        *v->n_closed = (int)nc;
        *v->n_open = (int)no;
        *v->data = ad_malloc((size_t)(nc + no) * r->dim * sizeof **v->data);
        ok = *v->data != NULL;
    }
    if (ok) {
        dimer_out_path(r, v->closed, path, sizeof path);
        ok = read_csv_exact(path, r->dim, (int)nc, *v->data, 0);
    }
    if (ok) {
        dimer_out_path(r, v->open, path, sizeof path);
        ok = read_csv_exact(path, r->dim, (int)no, *v->data + (size_t)nc * r->dim, 0);
    }
    if (!ok) {
        ad_free(*v->data);
        *v->data = NULL;
        *v->n_closed = *v->n_open = 0;
    }
    return ok;
}

/* The umbrella reference of view v from root and its profile CSV: 1 when
 * all are there, finite and in range (otherwise v->us is released). */
static int load_umbrella(dimer_run *r, const app_json_value *root, const cache_view *v)
{
    char path[APP_RUN_PATH_MAX], fp[256];
    long long nb = 0, ns = 0;
    dimer_umbrella_out *u = v->us;
    schedule_fingerprint(&r->sc, 1, fp, sizeof fp);
    int ok = app_record_string_is(root, "us_schedule", fp) && app_record_int(root, "us_bins", 1, 1000000, &nb);
    if (ok) {
        u->n_bins = (int)nb;
        u->center = ad_malloc((size_t)3 * u->n_bins * sizeof(ad_real));
        size_t n_rep = 0;
        ok = u->center && app_record_reals(root, "us_dF_repeat", -100000, &u->dF_repeat, &n_rep);
        u->n_repeats = (int)n_rep;
    }
    if (ok) {
        u->F = u->center + u->n_bins;
        u->F_se = u->F + u->n_bins;
        ok = app_record_real(root, "us_dF", -1e300, 1e300, &u->dF) &&
             app_record_real(root, "us_dF_se", 0, 1e300, &u->dF_se) &&
             app_record_real(root, "us_acceptance", 0, 1, &u->acceptance) &&
             app_record_real(root, "us_seconds", 0, 1e12, v->us_seconds) &&
             app_record_int(root, "us_n_samples", 0, 9007199254740992LL, &ns);
        if (ok) u->n_samples = (long)ns;
    }
    if (ok) {
        ad_real *p = ad_malloc((size_t)3 * u->n_bins * sizeof *p);
        dimer_out_path(r, v->profile, path, sizeof path);
        ok = p && read_csv_exact(path, 3, u->n_bins, p, 1);
        for (int b = 0; ok && b < u->n_bins; b++) {
            u->center[b] = p[3 * b];
            u->F[b] = p[3 * b + 1];
            u->F_se[b] = p[3 * b + 2];
        }
        ad_free(p);
    }
    if (!ok) dimer_umbrella_out_release(u);
    return ok;
}

/* Reload what --resume may reuse of the run's kT (j < 0) or of temperature j:
 * returns 0 (nothing), 1 (the MC data and its statistics) or 2 (the data and
 * the umbrella reference).  Every file must match its checksum in the
 * manifest (written by a run of these settings) and every number must be
 * finite and in range.  What is not reused at the run's kT is forgotten in
 * the manifest, from its stage on. */
int dimer_cache_load(dimer_run *r, int j)
{
    cache_view v;
    view_of(r, j, &v);
    char what[64], msg[512];
    snprintf(what, sizeof what, v.main ? "MC data" : "MC data at kT = %g", v.kT);
    const char *const mc_files[3] = {v.closed, v.open, v.cache};
    app_json_value *root = NULL;
    int ok = verified(r, mc_files, 3, what, DIMER_STAGE_MC);
    if (ok) {
        app_record_id id = cache_id(r, &v);
        ok = app_record_read(r->run, v.cache, &id, &root, NULL, msg, sizeof msg) == AD_OK;
        if (ok && !(ok = load_mc(r, root, &v)))
            snprintf(msg, sizeof msg, "%s or the data files hold unusable values", v.cache);
        if (!ok)
            fprintf(stderr, "%s: --resume: %s; recomputing the %s\n", DIMER_PROGRAM, msg, what);
    }
    if (!ok) {
        app_json_value_free(root);
        if (v.main && r->run) app_run_forget_from(r->run, DIMER_STAGE_MC);
        return 0;
    }
    snprintf(what, sizeof what, v.main ? "umbrella reference" : "umbrella reference at kT = %g",
             v.kT);
    const char *const us_files[2] = {v.profile, v.cache};
    int us = verified(r, us_files, 2, what, DIMER_STAGE_UMBRELLA) && load_umbrella(r, root, &v);
    app_json_value_free(root);
    if (!us && v.main && r->run) app_run_forget_from(r->run, DIMER_STAGE_UMBRELLA);
    return us ? 2 : 1;
}

/* ---- stage checkpoints ---- */

void dimer_stage_seconds_io(dimer_run *r, int write)
{
    char path[APP_RUN_PATH_MAX], msg[256];
    dimer_out_path(r, "ckpt/stage_seconds.csv", path, sizeof path);
    if (write) {
        ad_real v[DIMER_N_STAGES_MAX];
        for (int k = 0; k < r->sc.n_stages; k++) v[k] = r->stage_seconds[k];
        smp_csv_write(path, v, r->sc.n_stages, 1, NULL, msg, sizeof msg);
    } else if (r->run && app_run_reusable(r->run, "ckpt/stage_seconds.csv", NULL, msg, sizeof msg)) {
        smp_dataset *d = NULL;
        if (smp_csv_read(path, 0, &d, msg, sizeof msg) == AD_OK) {
            for (int k = 0; k < d->n && k < r->sc.n_stages && d->dim == 1; k++)
                if (d->x[k] >= 0 && d->x[k] < 1e12) r->stage_seconds[k] = d->x[k];
            smp_dataset_free(d);
        }
    }
}

void dimer_resume_stages(dimer_run *r)
{
    char name[64], log_name[64], path[APP_RUN_PATH_MAX], why[512], want[1024];
    r->first_stage = 0;
    if (r->opt.resume && !r->data_reused)
        fprintf(stderr, "%s: new MC data: stage checkpoints in %s are not reused\n", DIMER_PROGRAM,
                r->opt.out);
    if (r->opt.resume && r->data_reused && r->run) {
        for (int k = r->sc.n_stages; k >= 1; k--) {
            int stage = DIMER_STAGE_TRAIN + k;
            dimer_ckpt_name(k, name, sizeof name);
            snprintf(log_name, sizeof log_name, "train_log.csv@%d", k);
            dimer_out_path(r, name, path, sizeof path);
            int st = 0;
            if (!app_run_reusable(r->run, name, &st, why, sizeof why)) {
                if (st || access(path, F_OK) == 0)
                    fprintf(stderr, "%s: --resume: ignoring %s: %s\n", DIMER_PROGRAM, name, why);
                continue;
            }
            if (st != stage) {
                fprintf(stderr, "%s: --resume: ignoring %s: written by another stage\n",
                        DIMER_PROGRAM, name);
                continue;
            }
            if (!app_run_reusable(r->run, log_name, NULL, why, sizeof why)) {
                fprintf(stderr, "%s: --resume: ignoring %s: train_log.csv: %s\n", DIMER_PROGRAM,
                        name, why);
                continue;
            }
            /* the log first: a failed load below leaves the parameters as
             * they were, and an earlier stage cuts the log further */
            if (app_run_truncate_to_record(r->run, log_name, why, sizeof why) != AD_OK) {
                fprintf(stderr, "%s: --resume: ignoring %s: %s\n", DIMER_PROGRAM, name, why);
                continue;
            }
            dimer_ckpt_label(r, stage, want, sizeof want);
            if (bg_generator_load_label(r->gen, path, want, why, sizeof why) != AD_OK) {
                fprintf(stderr, "%s: --resume: ignoring %s: %s\n", DIMER_PROGRAM, name, why);
                continue;
            }
            r->first_stage = k;
            break;
        }
        app_run_forget_from(r->run, DIMER_STAGE_TRAIN + r->first_stage + 1);
        if (r->first_stage > 0) {
            fprintf(stderr, "%s: resuming after stage %d of %d (%s)\n", DIMER_PROGRAM,
                    r->first_stage, r->sc.n_stages, path);
            dimer_stage_seconds_io(r, 0);
        } else {
            fprintf(stderr, "%s: --resume: no verified stage checkpoint; training from the "
                            "start\n", DIMER_PROGRAM);
        }
    } else if (r->run) {
        app_run_forget_from(r->run, DIMER_STAGE_TRAIN + 1);
    }
}
