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

#include "apps/app_buf.h"
#include "apps/app_fs.h"
#include "apps/app_json.h"
#include "apps/dimer_run.h"
#include "autodiff/ad_alloc.h"
#include "nn/nn_checkpoint.h"
#include "sampling/smp_data.h"

#define DIMER_CACHE_VERSION 1

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

/* Reload what --resume may reuse: returns 0 (nothing), 1 (the MC data and its
 * statistics) or 2 (the data and the umbrella reference). */
int dimer_cache_load(dimer_run *r)
{
    char path[1024], msg[512], fp[256];
    dimer_out_path(r, "cache.json", path, sizeof path);
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
    ok = ok && app_json_get_number(root, "version", &v) == AD_OK && v == DIMER_CACHE_VERSION;
    ok = ok && app_json_get_number(root, "kT", &v) == AD_OK && v == r->opt.kT;
    ok = ok && app_json_get_number(root, "seed_lo", &v) == AD_OK &&
         v == (double)(r->opt.seed & 0xffffffffu);
    ok =
        ok && app_json_get_number(root, "seed_hi", &v) == AD_OK && v == (double)(r->opt.seed >> 32);
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
        dimer_out_path(r, "data_closed.csv", path, sizeof path);
        ok = read_csv_exact(path, r->dim, r->n_closed, r->data, 0);
    }
    if (ok) {
        dimer_out_path(r, "data_open.csv", path, sizeof path);
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
        dimer_out_path(r, "umbrella_profile.csv", path, sizeof path);
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

/* ---- stage checkpoints ---- */

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

void dimer_stage_seconds_io(dimer_run *r, int write)
{
    char path[1024], msg[256];
    dimer_out_path(r, "ckpt/stage_seconds.csv", path, sizeof path);
    if (write) {
        ad_real v[DIMER_N_STAGES_MAX];
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

void dimer_resume_stages(dimer_run *r, const char *prefix, const char *log_path)
{
    char path[1024], why[512];
    r->first_stage = 0;
    if (r->opt.resume && !r->data_reused)
        fprintf(stderr, "%s: new MC data: stage checkpoints in %s are not reused\n", DIMER_PROGRAM,
                r->opt.out);
    if (r->opt.resume && r->data_reused) {
        for (int k = r->sc.n_stages - 1; k >= 0; k--) {
            bg_checkpoint_path(prefix, k, path, sizeof path);
            if (access(path, R_OK) != 0) continue;
            if (nn_checkpoint_load(r->model->params, path, why, sizeof why) == AD_OK) {
                r->first_stage = k + 1;
                break;
            }
            fprintf(stderr, "%s: ignoring %s: %s\n", DIMER_PROGRAM, path, why);
        }
        if (r->first_stage > 0) {
            fprintf(stderr, "%s: resuming after stage %d of %d (%s)\n", DIMER_PROGRAM,
                    r->first_stage, r->sc.n_stages, path);
            truncate_log(log_path, r->first_stage);
            dimer_stage_seconds_io(r, 0);
        }
    }
}
