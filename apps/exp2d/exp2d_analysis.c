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

/* ---- several temperatures (--temperatures) ----------------------------- */

/* Model k at temperature j: samples at that kT, state free energies and
 * the histogram profile along the RC, in units of that kT.  The run's own kT
 * takes the results of the analysis above (the same samples). */
static int analyse_model_at(exp2d_run *run, int k, int j, char *msg, size_t len)
{
    const exp2d_system *sys = run->sys;
    const exp2d_schedule *sc = &run->sched;
    const exp2d_model *m = &run->models[k];
    exp2d_temperature *t = &run->temps[j];
    exp2d_temp_model *tm = &t->models[k];
    int bins = sys->profile_bins;
    tm->profile = ad_malloc(sizeof(double) * 2 * (size_t)bins);
    if (!tm->profile) return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    if (t->is_main) {
        for (int st = 0; st < sys->n_minima; st++) {
            tm->delta_f[st] = m->delta_f[st];
            tm->delta_f_se[st] = m->delta_f_se[st];
        }
        tm->ess_fraction = m->ess_fraction;
        tm->n_samples = m->n_samples;
        tm->n_nonfinite = m->n_nonfinite;
        tm->extrapolation = bg_generator_extrapolates(m->gen, t->kT);
        for (int b = 0; b < bins; b++) {
            tm->profile[2 * b] = m->profile[4 * b];
            tm->profile[2 * b + 1] = m->profile[4 * b + 1];
        }
        return AD_OK;
    }
    uint64_t tag = 4 * (uint64_t)j + (uint64_t)k;
    bg_samples *s = NULL;
    smp_profile *hist = NULL;
    char why[512];
    int status = bg_generator_sample_at(m->gen, t->kT, sc->n_samples,
                                        exp2d_seed(run->opt.seed, 300 + tag), &s, why, sizeof why);
    if (status != AD_OK)
        return ad_status_fail(msg, len, status, "sampling %s at kT = %g: %s", m->name, t->kT, why);
    bg_states states = bg_states_basins(sys->minima, sys->n_minima);
    states.boot = (smp_bootstrap_config){sc->n_bootstrap, exp2d_seed(run->opt.seed, 400 + tag)};
    bg_free_energies fe;
    status = bg_generator_free_energies(m->gen, s, &states, &fe, NULL, why, sizeof why);
    if (status == AD_OK) {
        for (int st = 0; st < sys->n_minima; st++) {
            tm->delta_f[st] = fe.dF[st];
            tm->delta_f_se[st] = fe.se[st];
        }
        tm->ess_fraction = fe.ess_fraction;
        tm->n_samples = s->n;
        tm->n_nonfinite = s->n_nonfinite;
        tm->extrapolation = fe.extrapolation;
        smp_profile_config pc = smp_profile_config_default(sys->profile_lo, sys->profile_hi);
        pc.n_bins = bins;
        pc.bandwidth = 0;
        pc.boot = (smp_bootstrap_config){.n_bootstrap = sc->n_bootstrap,
                                         .seed = exp2d_seed(run->opt.seed, 500 + tag)};
        status = bg_generator_profile(m->gen, s, &sys->rc, &pc, &hist, NULL, why, sizeof why);
        if (status == AD_OK)
            for (int b = 0; b < bins; b++) {
                tm->profile[2 * b] = hist->F[b];
                tm->profile[2 * b + 1] = hist->se[b];
            }
    }
    if (status != AD_OK)
        ad_status_fail(msg, len, status, "%s at kT = %g: %s", m->name, t->kT, why);
    smp_profile_free(hist);
    bg_samples_free(s);
    return status;
}

int exp2d_analyse_temperatures(exp2d_run *run, char *msg, size_t len)
{
    int status = AD_OK;
    for (int j = 0; j < run->n_temps && status == AD_OK; j++)
        for (int k = 0; k < EXP2D_N_MODELS && status == AD_OK; k++)
            status = analyse_model_at(run, k, j, msg, len);
    return status;
}

int exp2d_write_temperature_csvs(const exp2d_run *run, char *msg, size_t len)
{
    const exp2d_system *sys = run->sys;
    int n_pairs = sys->n_minima - 1, bins = sys->profile_bins;
    /* temperatures.csv: kT, the reference dF of every pair, then for every
     * model its dF and SE of every pair and its ESS / n */
    int cols = 1 + n_pairs + EXP2D_N_MODELS * (2 * n_pairs + 1);
    enum { NAME = 64 };
    char *names = ad_malloc((size_t)cols * NAME);
    const char **colp = ad_malloc(sizeof(char *) * (size_t)(cols > 2 + 2 * EXP2D_N_MODELS
                                                               ? cols
                                                               : 2 + 2 * EXP2D_N_MODELS));
    size_t rows = (size_t)(run->n_temps > bins ? run->n_temps : bins);
    ad_real *tab = ad_malloc(sizeof(ad_real) * rows * (size_t)(cols > 10 ? cols : 10));
    int status = AD_OK;
    if (!names || !colp || !tab) {
        status = ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
        goto done;
    }
    char pair[48];
    int c = 0;
    snprintf(names + NAME * c++, NAME, "kT");
    for (int p = 0; p < n_pairs; p++) {
        exp2d_pair_name(sys, p, pair, sizeof pair);
        snprintf(names + NAME * c++, NAME, "ref_%s", pair);
    }
    for (int k = 0; k < EXP2D_N_MODELS; k++) {
        for (int p = 0; p < n_pairs; p++) {
            exp2d_pair_name(sys, p, pair, sizeof pair);
            snprintf(names + NAME * c++, NAME, "%s_%s", run->models[k].slug, pair);
            snprintf(names + NAME * c++, NAME, "%s_%s_se", run->models[k].slug, pair);
        }
        snprintf(names + NAME * c++, NAME, "%s_ess", run->models[k].slug);
    }
    for (int i = 0; i < cols; i++) colp[i] = names + NAME * i;
    for (int j = 0; j < run->n_temps; j++) {
        const exp2d_temperature *t = &run->temps[j];
        ad_real *row = tab + (size_t)j * cols;
        c = 0;
        row[c++] = (ad_real)t->kT;
        for (int p = 0; p < n_pairs; p++) row[c++] = (ad_real)t->ref.delta_f[p + 1];
        for (int k = 0; k < EXP2D_N_MODELS; k++) {
            for (int p = 0; p < n_pairs; p++) {
                row[c++] = (ad_real)t->models[k].delta_f[p + 1];
                row[c++] = (ad_real)t->models[k].delta_f_se[p + 1];
            }
            row[c++] = (ad_real)t->models[k].ess_fraction;
        }
    }
    status = exp2d_write_csv(run, "temperatures.csv", tab, run->n_temps, cols, colp, msg, len);
    /* profiles_kT<kT>.csv: coordinate, F_exact, F and SE of every model */
    int pcols = 2 + 2 * EXP2D_N_MODELS;
    c = 0;
    snprintf(names + NAME * c++, NAME, "%s", sys->rc_name);
    snprintf(names + NAME * c++, NAME, "F_exact");
    for (int k = 0; k < EXP2D_N_MODELS; k++) {
        snprintf(names + NAME * c++, NAME, "F_%s", run->models[k].slug);
        snprintf(names + NAME * c++, NAME, "se_%s", run->models[k].slug);
    }
    for (int i = 0; i < pcols; i++) colp[i] = names + NAME * i;
    for (int j = 0; j < run->n_temps && status == AD_OK; j++) {
        const exp2d_temperature *t = &run->temps[j];
        for (int b = 0; b < bins; b++) {
            ad_real *row = tab + (size_t)b * pcols;
            row[0] = (ad_real)run->profile_center[b];
            row[1] = (ad_real)t->profile_exact[b];
            for (int k = 0; k < EXP2D_N_MODELS; k++) {
                row[2 + 2 * k] = (ad_real)t->models[k].profile[2 * b];
                row[3 + 2 * k] = (ad_real)t->models[k].profile[2 * b + 1];
            }
        }
        char name[96];
        exp2d_temp_file(t->kT, "profiles", ".csv", name, sizeof name);
        status = exp2d_write_csv(run, name, tab, bins, pcols, colp, msg, len);
    }
done:
    ad_free(names);
    ad_free(colp);
    ad_free(tab);
    return status;
}
