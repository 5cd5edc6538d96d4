/* dimer_resume.c - what bg-dimer --resume reuses from --out (dimer_run.h):
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
#include "apps/dimer/dimer_run.h"
#include "autodiff/ad_alloc.h"
#include "sampling/smp_data.h"

#define DIMER_CACHE_VERSION 2

/* ---- cache (for --resume) ---- */

/* The settings the MC data (part 0) and the umbrella reference (part 1)
 * depend on; a cache written with other settings is not reused. */
static void schedule_fingerprint(const dimer_schedule *s, int part, char *buf, size_t len)
{
    if (part == 0)
        snprintf(buf, len, "mc %d %ld %d %ld", s->mc_chains, s->mc_steps, s->mc_stride,
                 s->mc_discard);
    else
        snprintf(buf, len, "us-alt %d %g %d %ld %d %ld %d %d", s->us_windows, s->us_k, s->us_chains,
                 s->us_steps, s->us_stride, s->us_discard, s->us_repeats, s->us_bins);
}

int dimer_cache_write(dimer_run *r, char *msg, size_t len)
{
    char fp[256], fp_us[256];
    schedule_fingerprint(&r->sc, 0, fp, sizeof fp);
    schedule_fingerprint(&r->sc, 1, fp_us, sizeof fp_us);
    app_json w;
    app_json_init(&w, 1);
    app_json_object_begin(&w);
    app_json_key_int(&w, "version", DIMER_CACHE_VERSION);
    app_json_key_string(&w, "bond", r->opt.bond);
    app_json_key_number(&w, "kT", r->opt.kT);
    char seed[32];
    app_run_u64_str(r->opt.seed, seed, sizeof seed);
    app_json_key_string(&w, "seed", seed);
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
    char path[APP_RUN_PATH_MAX];
    dimer_out_path(r, "cache.json", path, sizeof path);
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

/* The number at key, finite and within [lo, hi]. */
static int get_real(const app_json_value *root, const char *key, double lo, double hi, double *out)
{
    double v;
    if (app_json_get_number(root, key, &v) != AD_OK || !isfinite(v) || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

/* The integer at key within [lo, hi]. */
static int get_int(const app_json_value *root, const char *key, long long lo, long long hi,
                   long long *out)
{
    double v;
    return app_json_get_number(root, key, &v) == AD_OK &&
           app_run_double_to_long(v, lo, hi, out) == AD_OK;
}

/* An array of exactly n finite numbers (n < 0: at least one, at most -n). */
static int get_reals(const app_json_value *root, const char *key, long n, double **dst,
                     size_t *count)
{
    const app_json_value *a = app_json_member(root, key);
    if (!a || a->type != APP_JSON_ARRAY) return 0;
    if (n >= 0 ? a->n_items != (size_t)n : a->n_items < 1 || a->n_items > (size_t)-n) return 0;
    for (size_t i = 0; i < a->n_items; i++)
        if (a->items[i].type != APP_JSON_NUMBER || !isfinite(a->items[i].number)) return 0;
    if (!*dst) {
        *dst = ad_malloc(a->n_items * sizeof **dst);
        if (!*dst) return 0;
    }
    for (size_t i = 0; i < a->n_items; i++) (*dst)[i] = a->items[i].number;
    if (count) *count = a->n_items;
    return 1;
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

/* Reload what --resume may reuse: returns 0 (nothing), 1 (the MC data and its
 * statistics) or 2 (the data and the umbrella reference).  Every file must
 * match its checksum in the manifest (written by a run of these settings)
 * and every number must be finite and in range. */
int dimer_cache_load(dimer_run *r)
{
    char path[APP_RUN_PATH_MAX], msg[512], fp[256];
    static const char *const mc_files[3] = {"data_closed.csv", "data_open.csv", "cache.json"};
    if (!verified(r, mc_files, 3, "MC data", DIMER_STAGE_MC)) {
        if (r->run) app_run_forget_from(r->run, DIMER_STAGE_MC);
        return 0;
    }
    dimer_out_path(r, "cache.json", path, sizeof path);
    char *text = NULL;
    size_t tl = 0;
    app_json_value *root = NULL;
    int ok = app_fs_read_file(path, &text, &tl, msg, sizeof msg) == AD_OK &&
             app_json_parse(text, tl, &root, msg, sizeof msg) == AD_OK;
    ad_free(text);
    long long v = 0, nc = 0, no = 0, nb = 0, ns = 0;
    double kT = 0;
    schedule_fingerprint(&r->sc, 0, fp, sizeof fp);
    ok = ok && json_string_is(root, "bond", r->opt.bond) && json_string_is(root, "mc_schedule", fp);
    ok = ok && get_int(root, "version", DIMER_CACHE_VERSION, DIMER_CACHE_VERSION, &v);
    ok = ok && get_real(root, "kT", 0, 1e300, &kT) && kT == r->opt.kT;
    char seed[32];
    app_run_u64_str(r->opt.seed, seed, sizeof seed);
    ok = ok && json_string_is(root, "seed", seed);
    ok = ok && get_int(root, "quick", r->opt.quick, r->opt.quick, &v);
    ok = ok && get_int(root, "n_closed", 1, 100000000, &nc) &&
         get_int(root, "n_open", 1, 100000000, &no);
    ok = ok && get_real(root, "mc_seconds", 0, 1e12, &r->mc_seconds);
    ok = ok && get_int(root, "mc_transitions", 0, 2000000000, &v);
    if (ok) r->mc_transitions = (int)v;
    const char *keys2[3] = {"mc_acceptance", "mc_u_first", "mc_u_second"};
    double *dst[3] = {r->mc_acc, r->mc_u_first, r->mc_u_second};
    for (int k = 0; k < 3 && ok; k++) ok = get_reals(root, keys2[k], 2, &dst[k], NULL);
    if (ok) {
        r->n_closed = (int)nc;
        r->n_open = (int)no;
        r->data = ad_malloc((size_t)(r->n_closed + r->n_open) * r->dim * sizeof *r->data);
        ok = r->data != NULL;
    }
    if (ok) {
        dimer_out_path(r, "data_closed.csv", path, sizeof path);
        ok = read_csv_exact(path, r->dim, r->n_closed, r->data, 0);
    }
    if (ok) {
        dimer_out_path(r, "data_open.csv", path, sizeof path);
        ok = read_csv_exact(path, r->dim, r->n_open, r->data + (size_t)r->n_closed * r->dim, 0);
    }
    if (!ok) {
        fprintf(stderr, "%s: --resume: cache.json or the data files hold unusable values; "
                        "recomputing the MC data\n", DIMER_PROGRAM);
        ad_free(r->data);
        r->data = NULL;
        r->n_closed = r->n_open = 0;
        app_json_value_free(root);
        if (r->run) app_run_forget_from(r->run, DIMER_STAGE_MC);
        return 0;
    }
    /* the umbrella reference */
    static const char *const us_files[2] = {"umbrella_profile.csv", "cache.json"};
    int us = verified(r, us_files, 2, "umbrella reference", DIMER_STAGE_UMBRELLA);
    schedule_fingerprint(&r->sc, 1, fp, sizeof fp);
    us = us && json_string_is(root, "us_schedule", fp) && get_int(root, "us_bins", 1, 1000000, &nb);
    if (us) {
        r->us.n_bins = (int)nb;
        r->us.center = ad_malloc((size_t)3 * r->us.n_bins * sizeof(ad_real));
        size_t n_rep = 0;
        us = r->us.center && get_reals(root, "us_dF_repeat", -100000, &r->us.dF_repeat, &n_rep);
        r->us.n_repeats = (int)n_rep;
    }
    if (us) {
        r->us.F = r->us.center + r->us.n_bins;
        r->us.F_se = r->us.F + r->us.n_bins;
        us = get_real(root, "us_dF", -1e300, 1e300, &r->us.dF) &&
             get_real(root, "us_dF_se", 0, 1e300, &r->us.dF_se) &&
             get_real(root, "us_acceptance", 0, 1, &r->us.acceptance) &&
             get_real(root, "us_seconds", 0, 1e12, &r->us_seconds) &&
             get_int(root, "us_n_samples", 0, 9007199254740992LL, &ns);
        if (us) r->us.n_samples = (long)ns;
    }
    app_json_value_free(root);
    if (us) {
        ad_real *prof = ad_malloc((size_t)3 * r->us.n_bins * sizeof *prof);
        dimer_out_path(r, "umbrella_profile.csv", path, sizeof path);
        us = prof && read_csv_exact(path, 3, r->us.n_bins, prof, 1);
        for (int j = 0; us && j < r->us.n_bins; j++) {
            r->us.center[j] = prof[3 * j];
            r->us.F[j] = prof[3 * j + 1];
            r->us.F_se[j] = prof[3 * j + 2];
        }
        ad_free(prof);
    }
    if (!us) {
        dimer_umbrella_out_release(&r->us);
        if (r->run) app_run_forget_from(r->run, DIMER_STAGE_UMBRELLA);
    }
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

/* ---- the other temperatures of --temperatures ---- */

/* cache_kT<kT>.json: what cache.json is for the run's kT, for temperature j
 * (its MC statistics, then its umbrella reference's); us != 0 once the
 * reference is done. */
int dimer_temp_cache_write(dimer_run *r, int j, int us, char *msg, size_t len)
{
    const dimer_temperature *t = &r->temps[j];
    char fp[256], fp_us[256], name[96];
    schedule_fingerprint(&r->sc, 0, fp, sizeof fp);
    schedule_fingerprint(&r->sc, 1, fp_us, sizeof fp_us);
    app_json w;
    app_json_init(&w, 1);
    app_json_object_begin(&w);
    app_json_key_int(&w, "version", DIMER_CACHE_VERSION);
    app_json_key_string(&w, "bond", r->opt.bond);
    app_json_key_number(&w, "kT", t->kT);
    char seed[32];
    app_run_u64_str(r->opt.seed, seed, sizeof seed);
    app_json_key_string(&w, "seed", seed);
    app_json_key_int(&w, "quick", r->opt.quick);
    app_json_key_string(&w, "mc_schedule", fp);
    app_json_key_int(&w, "n_closed", t->n_closed);
    app_json_key_int(&w, "n_open", t->n_open);
    app_json_key(&w, "mc_acceptance");
    app_json_number_array(&w, t->mc_acc, 2);
    app_json_key_number(&w, "mc_seconds", t->mc_seconds);
    if (us) {
        app_json_key_string(&w, "us_schedule", fp_us);
        app_json_key_number(&w, "us_dF", t->us.dF);
        app_json_key_number(&w, "us_dF_se", t->us.dF_se);
        app_json_key(&w, "us_dF_repeat");
        app_json_number_array(&w, t->us.dF_repeat, (size_t)t->us.n_repeats);
        app_json_key_number(&w, "us_acceptance", t->us.acceptance);
        app_json_key_number(&w, "us_n_samples", (double)t->us.n_samples);
        app_json_key_number(&w, "us_seconds", t->us_seconds);
        app_json_key_int(&w, "us_bins", t->us.n_bins);
    }
    app_json_object_end(&w);
    int rc = app_json_finish(&w, msg, len);
    char path[APP_RUN_PATH_MAX];
    dimer_temp_file(t->kT, "cache", ".json", name, sizeof name);
    dimer_out_path(r, name, path, sizeof path);
    if (rc == AD_OK) rc = app_fs_write_atomic(path, w.out.data, w.out.len, msg, len);
    app_json_free(&w);
    if (rc == AD_OK)
        rc = dimer_record(r, name, us ? DIMER_STAGE_UMBRELLA : DIMER_STAGE_MC, msg, len);
    return rc;
}

/* Whether the manifest verifies every name (written at stage >= stage). */
static int all_reusable(dimer_run *r, const char *const *names, int n, int stage)
{
    char why[512];
    for (int i = 0; i < n; i++) {
        int st = 0;
        if (!r->run || !app_run_reusable(r->run, names[i], &st, why, sizeof why) || st < stage)
            return 0;
    }
    return 1;
}

int dimer_temp_cache_load(dimer_run *r, int j)
{
    dimer_temperature *t = &r->temps[j];
    char closed[96], open[96], prof[96], cache[96], path[APP_RUN_PATH_MAX], msg[512], fp[256];
    dimer_temp_file(t->kT, "data_closed", ".csv", closed, sizeof closed);
    dimer_temp_file(t->kT, "data_open", ".csv", open, sizeof open);
    dimer_temp_file(t->kT, "umbrella_profile", ".csv", prof, sizeof prof);
    dimer_temp_file(t->kT, "cache", ".json", cache, sizeof cache);
    const char *const mc_files[3] = {closed, open, cache};
    if (!all_reusable(r, mc_files, 3, DIMER_STAGE_MC)) return 0;
    dimer_out_path(r, cache, path, sizeof path);
    char *text = NULL;
    size_t tl = 0;
    app_json_value *root = NULL;
    int ok = app_fs_read_file(path, &text, &tl, msg, sizeof msg) == AD_OK &&
             app_json_parse(text, tl, &root, msg, sizeof msg) == AD_OK;
    ad_free(text);
    long long v = 0, nc = 0, no = 0, nb = 0, ns = 0;
    double kT = 0;
    schedule_fingerprint(&r->sc, 0, fp, sizeof fp);
    ok = ok && json_string_is(root, "bond", r->opt.bond) && json_string_is(root, "mc_schedule", fp);
    ok = ok && get_int(root, "version", DIMER_CACHE_VERSION, DIMER_CACHE_VERSION, &v);
    ok = ok && get_real(root, "kT", 0, 1e300, &kT) && kT == t->kT;
    char seed[32];
    app_run_u64_str(r->opt.seed, seed, sizeof seed);
    ok = ok && json_string_is(root, "seed", seed);
    ok = ok && get_int(root, "quick", r->opt.quick, r->opt.quick, &v);
    ok = ok && get_int(root, "n_closed", 1, 100000000, &nc) &&
         get_int(root, "n_open", 1, 100000000, &no);
    ok = ok && get_real(root, "mc_seconds", 0, 1e12, &t->mc_seconds);
    double *acc = t->mc_acc;
    ok = ok && get_reals(root, "mc_acceptance", 2, &acc, NULL);
    if (ok) {
        t->n_closed = (int)nc;
        t->n_open = (int)no;
        t->data = ad_malloc((size_t)(t->n_closed + t->n_open) * r->dim * sizeof *t->data);
        ok = t->data != NULL;
    }
    if (ok) {
        dimer_out_path(r, closed, path, sizeof path);
        ok = read_csv_exact(path, r->dim, t->n_closed, t->data, 0);
    }
    if (ok) {
        dimer_out_path(r, open, path, sizeof path);
        ok = read_csv_exact(path, r->dim, t->n_open, t->data + (size_t)t->n_closed * r->dim, 0);
    }
    if (!ok) {
        ad_free(t->data);
        t->data = NULL;
        t->n_closed = t->n_open = 0;
        app_json_value_free(root);
        return 0;
    }
    /* the umbrella reference */
    const char *const us_files[2] = {prof, cache};
    int us = all_reusable(r, us_files, 2, DIMER_STAGE_UMBRELLA);
    schedule_fingerprint(&r->sc, 1, fp, sizeof fp);
    us = us && json_string_is(root, "us_schedule", fp) && get_int(root, "us_bins", 1, 1000000, &nb);
    dimer_umbrella_out *u = &t->us;
    if (us) {
        u->n_bins = (int)nb;
        u->center = ad_malloc((size_t)3 * u->n_bins * sizeof(ad_real));
        size_t n_rep = 0;
        us = u->center && get_reals(root, "us_dF_repeat", -100000, &u->dF_repeat, &n_rep);
        u->n_repeats = (int)n_rep;
    }
    if (us) {
        u->F = u->center + u->n_bins;
        u->F_se = u->F + u->n_bins;
        us = get_real(root, "us_dF", -1e300, 1e300, &u->dF) &&
             get_real(root, "us_dF_se", 0, 1e300, &u->dF_se) &&
             get_real(root, "us_acceptance", 0, 1, &u->acceptance) &&
             get_real(root, "us_seconds", 0, 1e12, &t->us_seconds) &&
             get_int(root, "us_n_samples", 0, 9007199254740992LL, &ns);
        if (us) u->n_samples = (long)ns;
    }
    app_json_value_free(root);
    if (us) {
        ad_real *p = ad_malloc((size_t)3 * u->n_bins * sizeof *p);
        dimer_out_path(r, prof, path, sizeof path);
        us = p && read_csv_exact(path, 3, u->n_bins, p, 1);
        for (int b = 0; us && b < u->n_bins; b++) {
            u->center[b] = p[3 * b];
            u->F[b] = p[3 * b + 1];
            u->F_se[b] = p[3 * b + 2];
        }
        ad_free(p);
    }
    if (!us) dimer_umbrella_out_release(u);
    return us ? 2 : 1;
}
