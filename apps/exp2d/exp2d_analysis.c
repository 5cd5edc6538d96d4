/* exp2d_analysis.c - analysing the trained models of a 2-D run: samples,
 * reweighting, state free energies, profiles, latent interpolation, and the
 * CSV files of the data, profiles and paths. */
#include "apps/exp2d/exp2d.h"
#include "apps/exp2d/exp2d_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/ad_alloc.h"
#include "flows/bg_generator.h"
#include "flows/bg_sample.h"
#include "sampling/smp_basins.h"
#include "sampling/smp_data.h"
#include "sampling/smp_profile.h"

/* ---- analysis of one model ------------------------------------------ */

static int analyse_model(exp2d_run *run, int k, char *msg, size_t len)
{
    const exp2d_system *sys = run->sys;
    const exp2d_schedule *sc = &run->sched;
    exp2d_model *m = &run->models[k];
    bg_samples *s = NULL;
    char why[512];
    int status = bg_generator_sample(m->gen, sc->n_samples,
                                     exp2d_seed(run->opt.seed, 40 + (uint64_t)k), &s, why,
                                     sizeof why);
    if (status != AD_OK) return ad_status_fail(msg, len, status, "sampling %s: %s", m->name, why);
    int n = s->n, bins = sys->profile_bins;
    int *labels = ad_malloc(sizeof(int) * (size_t)n);
    m->profile = ad_malloc(sizeof(double) * 4 * (size_t)bins);
    m->n_plot = n < 1500 ? n : 1500;
    m->plot_x = ad_malloc(sizeof(double) * 2 * (size_t)m->n_plot);
    m->plot_z = ad_malloc(sizeof(double) * 2 * (size_t)m->n_plot);
    m->plot_state = ad_malloc(sizeof(int) * (size_t)m->n_plot);
    smp_profile *hist = NULL, *kde = NULL;
    if (!labels || !m->profile || !m->plot_x || !m->plot_z || !m->plot_state) {
        status = ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory analysing %s", m->name);
        goto done;
    }
    m->n_samples = n;
    m->n_nonfinite = s->n_nonfinite;
    bg_states states = bg_states_basins(sys->minima, sys->n_minima);
    states.boot = (smp_bootstrap_config){sc->n_bootstrap,
                                         exp2d_seed(run->opt.seed, 60 + (uint64_t)k)};
    bg_free_energies fe;
    status = bg_generator_free_energies(m->gen, s, &states, &fe, labels, why, sizeof why);
    if (status != AD_OK) {
        status = ad_status_fail(msg, len, status, "%s: state free energies: %s", m->name, why);
        goto done;
    }
    m->ess_fraction = fe.ess_fraction;
    for (int st = 0; st < sys->n_minima; st++) {
        m->delta_f[st] = fe.dF[st];
        m->delta_f_se[st] = fe.se[st];
        m->population[st] = fe.population[st];
    }
    /* the histogram and the KDE share the bins and the bootstrap seed */
    smp_profile_config pc = smp_profile_config_default(sys->profile_lo, sys->profile_hi);
    pc.n_bins = bins;
    pc.bandwidth = 0; /* the histogram first; the KDE's is set below */
    pc.boot = (smp_bootstrap_config){.n_bootstrap = sc->n_bootstrap,
                                     .seed = exp2d_seed(run->opt.seed, 80 + (uint64_t)k)};
    status = bg_generator_profile(m->gen, s, &sys->rc, &pc, &hist, NULL, why, sizeof why);
    if (status == AD_OK) {
        pc.bandwidth = sys->kde_bandwidth * sqrt(run->kT);
        pc.boot.n_bootstrap = sc->n_bootstrap_kde;
        status = bg_generator_profile(m->gen, s, &sys->rc, &pc, NULL, &kde, why, sizeof why);
    }
    if (status != AD_OK) {
        status = ad_status_fail(msg, len, status, "%s: profile: %s", m->name, why);
        goto done;
    }
    double sum2 = 0;
    int used = 0, relevant = 0;
    for (int j = 0; j < bins; j++) {
        m->profile[4 * j] = hist->F[j];
        m->profile[4 * j + 1] = hist->se[j];
        m->profile[4 * j + 2] = kde->F[j];
        m->profile[4 * j + 3] = kde->se[j];
        double e = run->profile_exact[j];
        relevant += e <= 10;
        if (e <= 10 && isfinite(hist->F[j])) {
            sum2 += (hist->F[j] - e) * (hist->F[j] - e);
            used++;
        }
    }
    m->profile_rmse = used ? sqrt(sum2 / used) : NAN;
    m->profile_coverage = relevant ? (double)used / relevant : 0;
    for (int i = 0; i < m->n_plot; i++) { /* labels are -1 where log_w is not finite */
        m->plot_x[2 * i] = s->x[2 * i];
        m->plot_x[2 * i + 1] = s->x[2 * i + 1];
        m->plot_z[2 * i] = s->z[2 * i];
        m->plot_z[2 * i + 1] = s->z[2 * i + 1];
        m->plot_state[i] = labels[i];
    }
done:
    smp_profile_free(hist);
    smp_profile_free(kde);
    ad_free(labels);
    bg_samples_free(s);
    return status;
}

/* End points of the interpolation paths: the first pair of each pair of
 * states is the two minima, the others are random MC frames of the two
 * basins. */
static void choose_interp_ends(exp2d_run *run)
{
    const exp2d_system *sys = run->sys;
    int pairs[EXP2D_MAX_MINIMA * EXP2D_MAX_MINIMA][2], n_pairs = 0;
    for (int a = 0; a < sys->n_minima; a++)
        for (int b = a + 1; b < sys->n_minima; b++) {
            pairs[n_pairs][0] = a;
            pairs[n_pairs][1] = b;
            n_pairs++;
        }
    ad_rng rng;
    ad_rng_seed(&rng, exp2d_seed(run->opt.seed, 3), 0);
    for (int p = 0; p < EXP2D_N_INTERP; p++) {
        for (int e = 0; e < 2; e++) {
            int state = pairs[p % n_pairs][e];
            const ad_real *x = sys->minima + 2 * state;
            if (p >= n_pairs) { /* a random frame of that basin (up to 1000 tries) */
                for (int tries = 0; tries < 1000; tries++) {
                    int i = (int)(ad_rng_uniform(&rng) * run->n_data);
                    if (i >= run->n_data) i = run->n_data - 1;
                    if (smp_nearest_minimum(run->data + 2 * i, sys->minima, sys->n_minima) ==
                        state) {
                        x = run->data + 2 * i;
                        break;
                    }
                }
            }
            run->interp_ends[4 * p + 2 * e] = x[0];
            run->interp_ends[4 * p + 2 * e + 1] = x[1];
        }
    }
}

static int interpolate_model(exp2d_run *run, int k, char *msg, size_t len)
{
    exp2d_model *m = &run->models[k];
    int np = run->sched.interp_points;
    m->interp = ad_malloc(sizeof(double) * 3 * (size_t)EXP2D_N_INTERP * np);
    ad_real *px = ad_malloc(sizeof(ad_real) * 2 * (size_t)np);
    ad_real *pu = ad_malloc(sizeof(ad_real) * (size_t)np);
    int status = AD_OK;
    if (!m->interp || !px || !pu) status = ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    for (int p = 0; p < EXP2D_N_INTERP && status == AD_OK; p++) {
        char why[512];
        status = bg_interpolate(m->gen->model, &run->sys->potential, run->interp_ends + 4 * p,
                                run->interp_ends + 4 * p + 2, np, px, pu, why, sizeof why);
        if (status != AD_OK) {
            ad_status_fail(msg, len, status, "interpolation with %s: %s", m->name, why);
            break;
        }
        for (int i = 0; i < np; i++) {
            double *row = m->interp + 3 * ((size_t)p * np + i);
            row[0] = px[2 * i];
            row[1] = px[2 * i + 1];
            row[2] = pu[i];
        }
    }
    ad_free(px);
    ad_free(pu);
    return status;
}

int exp2d_analyse_all(exp2d_run *run, char *msg, size_t len)
{
    choose_interp_ends(run);
    int status = AD_OK;
    for (int k = 0; k < EXP2D_N_MODELS && status == AD_OK; k++) {
        status = analyse_model(run, k, msg, len);
        if (status == AD_OK) status = interpolate_model(run, k, msg, len);
    }
    return status;
}

int exp2d_write_csvs(const exp2d_run *run, char *msg, size_t len)
{
    const exp2d_system *sys = run->sys;
    int status;
    int n = run->n_data;
    ad_real *tab = ad_malloc(sizeof(ad_real) * 4 * (size_t)(n > 1 ? n : 1));
    if (!tab) return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        tab[4 * i] = run->data[2 * i];
        tab[4 * i + 1] = run->data[2 * i + 1];
        tab[4 * i + 2] = run->data_u[i];
        tab[4 * i + 3] = run->data_chain[i];
    }
    const char *mc_cols[4] = {sys->coord_names[0], sys->coord_names[1], "u", "chain"};
    status = exp2d_write_csv(run, "mc_data.csv", tab, n, 4, mc_cols, msg, len);
    ad_free(tab);
    if (status != AD_OK) return status;

    int bins = sys->profile_bins, np = run->sched.interp_points;
    size_t cap = (size_t)bins * 6;
    if ((size_t)EXP2D_N_INTERP * np * 5 > cap) cap = (size_t)EXP2D_N_INTERP * np * 5;
    tab = ad_malloc(sizeof(ad_real) * cap);
    if (!tab) return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    for (int k = 0; k < EXP2D_N_MODELS && status == AD_OK; k++) {
        const exp2d_model *m = &run->models[k];
        char name[128];
        status = exp2d_write_loss_csv(run, m, msg, len);
        if (status != AD_OK) break;

        for (int j = 0; j < bins; j++) {
            tab[6 * j] = run->profile_center[j];
            for (int c = 0; c < 4; c++) tab[6 * j + 1 + c] = m->profile[4 * j + c];
            tab[6 * j + 5] = run->profile_exact[j];
        }
        const char *prof_cols[6] = {sys->rc_name, "F_hist", "se_hist", "F_kde", "se_kde",
                                    "F_exact"};
        snprintf(name, sizeof name, "profile_%s.csv", m->slug);
        status = exp2d_write_csv(run, name, tab, bins, 6, prof_cols, msg, len);
        if (status != AD_OK) break;

        for (int p = 0; p < EXP2D_N_INTERP; p++)
            for (int i = 0; i < np; i++) {
                size_t row = (size_t)p * np + i;
                tab[5 * row] = p;
                tab[5 * row + 1] = (double)i / (np - 1);
                for (int c = 0; c < 3; c++) tab[5 * row + 2 + c] = m->interp[3 * row + c];
            }
        const char *int_cols[5] = {"pair", "lambda", sys->coord_names[0], sys->coord_names[1],
                                   "u"};
        snprintf(name, sizeof name, "interpolation_%s.csv", m->slug);
        status = exp2d_write_csv(run, name, tab, EXP2D_N_INTERP * np, 5, int_cols, msg, len);
    }
    ad_free(tab);
    return status;
}
