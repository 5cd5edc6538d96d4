/* dimer_analysis.c - the analysis of bg-dimer (dimer_run.h): generated
 * samples, their log weights and ESS, the reweighted dF(closed - open) and
 * F(d) with bootstrap errors, energies and transitions, the training log's
 * final loss, and bg_samples.csv / bg_profile.csv.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/app_fs.h"
#include "apps/dimer_run.h"
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

int dimer_analyse(dimer_run *r, char *msg, size_t len)
{
    const dimer_schedule *s = &r->sc;
    flow_prior prior = {r->model->dim_z, r->opt.kT};
    int rc = bg_sample(r->model, &prior, &r->pot, r->opt.kT, s->n_samples, s->sample_batch,
                       dimer_derive_seed(r->opt.seed, 50), &r->samples, msg, len);
    if (rc != AD_OK) return rc;
    bg_samples *b = r->samples;
    int n = b->n;
    r->d_bg = ad_malloc((size_t)n * sizeof *r->d_bg);
    ad_real *d_in = ad_malloc((size_t)n * sizeof *d_in);
    if (!r->d_bg || !d_in) {
        ad_free(d_in);
        return dimer_fail(msg, len, AD_ERR_NOMEM, "out of memory");
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
    smp_bootstrap_config boot = {s->n_bootstrap, dimer_derive_seed(r->opt.seed, 60)};
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
            fprintf(stderr, "%s: warning: no dF from the samples: %s\n", DIMER_PROGRAM, why);
            r->res.dF = r->res.dF_se = NAN;
        }
    }
    if (rc == AD_OK) {
        smp_profile_config pc = {s->profile_bins, 0.5, 2.5, 0, boot};
        char why[256];
        if (smp_profile_histogram(&pc, d_in, b->log_w, n, &r->profile, why, sizeof why) != AD_OK) {
            fprintf(stderr, "%s: warning: no reweighted profile: %s\n", DIMER_PROGRAM, why);
            r->profile = NULL;
        }
    }
    ad_free(d_in);
    if (rc != AD_OK) return rc;
    /* MC energies */
    int nd = r->n_closed + r->n_open;
    r->data_u = ad_malloc((size_t)nd * sizeof *r->data_u);
    if (!r->data_u) return dimer_fail(msg, len, AD_ERR_NOMEM, "out of memory");
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

int dimer_samples_csv_write(dimer_run *r, char *msg, size_t len)
{
    const bg_samples *b = r->samples;
    ad_real *v = ad_malloc((size_t)b->n * 3 * sizeof *v);
    if (!v) return dimer_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    for (int i = 0; i < b->n; i++) {
        v[3 * i] = r->d_bg[i];
        v[3 * i + 1] = b->energy[i];
        v[3 * i + 2] = b->log_w[i];
    }
    char path[1024];
    dimer_out_path(r, "bg_samples.csv", path, sizeof path);
    const char *names[3] = {"d", "energy", "log_w"};
    int rc = smp_csv_write(path, v, b->n, 3, names, msg, len);
    ad_free(v);
    if (rc != AD_OK || !r->profile) return rc;
    int nb = r->profile->n_bins;
    v = ad_malloc((size_t)nb * 3 * sizeof *v);
    if (!v) return dimer_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    for (int j = 0; j < nb; j++) {
        v[3 * j] = r->profile->center[j];
        v[3 * j + 1] = r->profile->F[j];
        v[3 * j + 2] = r->profile->se[j];
    }
    dimer_out_path(r, "bg_profile.csv", path, sizeof path);
    const char *pnames[3] = {"d", "F", "F_se"};
    rc = smp_csv_write(path, v, nb, 3, pnames, msg, len);
    ad_free(v);
    return rc;
}
