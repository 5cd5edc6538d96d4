/* smp_profile_states.c - free-energy differences between states from
 * weighted samples, with bootstrap standard errors (declared in
 * smp_profile.h).  dF_s = -log(W_s / W_ref), W_s the total weight in state s. */
#include <math.h>
#include <string.h>

#include "autodiff/ad_alloc.h"
#include "autodiff/ad_rng.h"
#include "sampling/smp_analysis_impl.h"
#include "sampling/smp_profile.h"

/* dF[s] = -log(W[s] / W[ref]); +inf where W[s] = 0. */
static void state_df(const double *W, int n_states, int ref, double *dF)
{
    for (int s = 0; s < n_states; s++)
        dF[s] = W[s] > 0 ? -log(W[s] / W[ref]) : INFINITY;
}

/* The state free energies; n_used[n_states] (may be NULL) gets the number of
 * resamples with a finite value per state. */
static int states_core(const smp_states_config *cfg, const int *labels, const ad_real *log_w,
                       int n, double *dF, double *se, double *population, int *n_used,
                       const char *fn, char *msg, size_t msg_len)
{
    if (!cfg || !labels || !dF)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: NULL argument", fn);
    if (n <= 0)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: n = %d samples (need n > 0)", fn, n);
    int ns = cfg->n_states, ref = cfg->reference;
    if (ns < 1)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: n_states = %d (need >= 1)", fn, ns);
    if (ref < 0 || ref >= ns)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: reference = %d (need 0..%d)", fn, ref,
                              ns - 1);
    if (cfg->boot.n_bootstrap < 0)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: boot.n_bootstrap = %d (need >= 0)",
                              fn, cfg->boot.n_bootstrap);
    double *w = ad_malloc((size_t)n * sizeof *w);
    /* W, Wb, dfb, then the bootstrap replicates dF_b[b * ns + s] */
    size_t nboot = (size_t)cfg->boot.n_bootstrap;
    double *work = ad_calloc((size_t)ns * (3 + nboot), sizeof *work);
    double *col = ad_malloc((nboot + 1) * sizeof *col);
    int rc = AD_OK, excluded;
    double shift;
    if (!w || !work || !col) {
        rc = ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", fn);
        goto done;
    }
    rc = smp_weights_shifted(log_w, n, w, &excluded, &shift, msg, msg_len);
    if (rc != AD_OK) {
        rc = ad_status_fail(msg, msg_len, rc, "%s: no finite log-weight among %d samples", fn, n);
        goto done;
    }
    double *W = work, *Wb = work + ns, *dfb = work + 2 * ns, *reps = work + 3 * ns;
    for (int i = 0; i < n; i++)
        if (labels[i] >= 0 && labels[i] < ns) W[labels[i]] += w[i];
    if (!(W[ref] > 0)) {
        rc = ad_status_fail(msg, msg_len, AD_ERR_NUMERIC, "%s: reference state %d has no weight",
                            fn, ref);
        goto done;
    }
    double wtot = 0.0;
    for (int s = 0; s < ns; s++) wtot += W[s];
    state_df(W, ns, ref, dfb);
    for (int s = 0; s < ns; s++) {
        dF[s] = dfb[s];
        if (population) population[s] = W[s] / wtot;
    }
    ad_rng rng;
    ad_rng_seed(&rng, cfg->boot.seed, 0);
    for (size_t b = 0; b < nboot; b++) {
        memset(Wb, 0, (size_t)ns * sizeof *Wb);
        for (int k = 0; k < n; k++) {
            int i = (int)ad_rng_below(&rng, (uint64_t)n);
            if (labels[i] >= 0 && labels[i] < ns) Wb[labels[i]] += w[i];
        }
        /* a resample without the reference gives NAN for every state: excluded */
        if (Wb[ref] > 0)
            state_df(Wb, ns, ref, reps + b * ns);
        else
            for (int s = 0; s < ns; s++) reps[b * ns + s] = NAN;
    }
    for (int s = 0; s < ns; s++) {
        int used;
        for (size_t b = 0; b < nboot; b++) col[b] = reps[b * ns + s];
        double sd = smp_std_finite(col, (int)nboot, &used);
        if (se) se[s] = s == ref ? 0 : (isfinite(dfb[s]) ? sd : NAN);
        if (n_used) n_used[s] = used;
    }
done:
    ad_free(w);
    ad_free(work);
    ad_free(col);
    return rc;
}

int smp_state_free_energies(const smp_states_config *cfg, const int *labels, const ad_real *log_w,
                            int n, double *dF, double *se, double *population, char *msg,
                            size_t msg_len)
{
    return states_core(cfg, labels, log_w, n, dF, se, population, NULL,
                       "smp_state_free_energies", msg, msg_len);
}

/* Two states from labels (0 = A, 1 = B): dF(B - A) and its SE; both states
 * must have weight. */
static int two_state(const int *labels, const ad_real *log_w, int n,
                     const smp_bootstrap_config *boot, smp_estimate *dF, const char *fn,
                     char *msg, size_t msg_len)
{
    smp_states_config cfg = {.n_states = 2, .reference = 0,
                             .boot = {.n_bootstrap = 0, .seed = 0}};
    if (boot) cfg.boot = *boot;
    double df[2], se[2];
    int used[2];
    int rc = states_core(&cfg, labels, log_w, n, df, se, NULL, used, fn, msg, msg_len);
    if (rc == AD_ERR_NUMERIC && n > 0)
        return ad_status_fail(msg, msg_len, rc,
                              "%s: state A has no weight (or no finite log-weight)", fn);
    if (rc != AD_OK) return rc;
    if (!isfinite((double)df[1]))
        return ad_status_fail(msg, msg_len, AD_ERR_NUMERIC, "%s: state B has no weight", fn);
    dF->value = (double)df[1];
    dF->se = (double)se[1];
    dF->n_boot_used = used[1];
    return AD_OK;
}

int smp_delta_f_split_strided(const ad_real *r, int stride, const ad_real *log_w, int n,
                              double r_split, const smp_bootstrap_config *boot,
                              smp_estimate *dF, char *msg, size_t msg_len)
{
    static const char fn[] = "smp_delta_f_split";
    if (!r) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: r is NULL", fn);
    if (!dF) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: dF is NULL", fn);
    if (stride < 1)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: stride = %d (need >= 1)", fn, stride);
    if (n <= 0)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: n = %d samples (need n > 0)", fn, n);
    if (!isfinite(r_split))
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: r_split = %g (need finite)", fn,
                              r_split);
    int *labels = ad_malloc((size_t)n * sizeof *labels);
    if (!labels) return ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", fn);
    for (int i = 0; i < n; i++) {
        double ri = (double)r[(size_t)i * stride];
        labels[i] = !isfinite(ri) ? -1 : (ri >= r_split ? 1 : 0);
    }
    int rc = two_state(labels, log_w, n, boot, dF, fn, msg, msg_len);
    ad_free(labels);
    return rc;
}

int smp_delta_f_split(const ad_real *r, const ad_real *log_w, int n, double r_split,
                      const smp_bootstrap_config *boot, smp_estimate *dF, char *msg,
                      size_t msg_len)
{
    return smp_delta_f_split_strided(r, 1, log_w, n, r_split, boot, dF, msg, msg_len);
}

int smp_delta_f_predicate(smp_state_fn state, void *ctx, const ad_real *log_w, int n,
                          const smp_bootstrap_config *boot, smp_estimate *dF, char *msg,
                          size_t msg_len)
{
    static const char fn[] = "smp_delta_f_predicate";
    if (!state || !dF) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: NULL argument", fn);
    if (n <= 0)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: n = %d samples (need n > 0)", fn, n);
    int *labels = ad_malloc((size_t)n * sizeof *labels);
    if (!labels) return ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", fn);
    for (int i = 0; i < n; i++) {
        int s = state(ctx, i);
        labels[i] = (s == 0 || s == 1) ? s : -1;
    }
    int rc = two_state(labels, log_w, n, boot, dF, fn, msg, msg_len);
    ad_free(labels);
    return rc;
}
