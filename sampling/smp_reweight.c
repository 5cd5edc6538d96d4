/* smp_reweight.c - log-space importance weights and the Kish ESS. */
#include "sampling/smp_reweight.h"

#include <math.h>

#include "sampling/smp_analysis_impl.h"

double smp_logsumexp(const ad_real *a, int n, int *n_excluded)
{
    int bad = 0;
    double mx = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (!isfinite((double)a[i]))
            bad++;
        else if ((double)a[i] > mx)
            mx = (double)a[i];
    }
    if (n_excluded) *n_excluded = n > 0 ? bad : 0;
    if (mx == -INFINITY) return -INFINITY;
    double s = 0.0; /* >= 1: the maximum contributes exp(0) */
    for (int i = 0; i < n; i++)
        if (isfinite((double)a[i])) s += exp((double)a[i] - mx);
    return mx + log(s);
}

int smp_weights_stats(const ad_real *log_w, int n, smp_weight_stats *stats, char *msg,
                      size_t msg_len)
{
    if (!log_w || !stats)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "smp_weights_stats: NULL argument");
    if (n <= 0)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "smp_weights_stats: n = %d (need n > 0)",
                              n);
    int bad = 0;
    double mx = -INFINITY;
    for (int i = 0; i < n; i++) {
        double lw = (double)log_w[i];
        if (!isfinite(lw))
            bad++;
        else if (lw > mx)
            mx = lw;
    }
    if (bad == n)
        return ad_status_fail(msg, msg_len, AD_ERR_NUMERIC,
                        "smp_weights_stats: no finite log-weight among %d samples", n);
    /* With v_i = exp(log w_i - m): sum w = e^m S1, sum w^2 = e^{2m} S2, so
     * ESS = S1^2 / S2 with no dependence on m (shift invariance). */
    double s1 = 0.0, s2 = 0.0;
    for (int i = 0; i < n; i++) {
        double lw = (double)log_w[i];
        if (!isfinite(lw)) continue;
        double v = exp(lw - mx);
        s1 += v;
        s2 += v * v;
    }
    stats->n = n;
    stats->n_used = n - bad;
    stats->n_excluded = bad;
    stats->log_max = mx;
    stats->log_sum = mx + log(s1);
    stats->ess = s1 * s1 / s2;
    stats->ess_fraction = stats->ess / n;
    return AD_OK;
}

int smp_weights_normalize(const ad_real *log_w, int n, ad_real *w, smp_weight_stats *stats,
                          char *msg, size_t msg_len)
{
    if (!w) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "smp_weights_normalize: NULL output");
    smp_weight_stats st;
    int rc = smp_weights_stats(log_w, n, &st, msg, msg_len);
    if (rc != AD_OK) return rc;
    for (int i = 0; i < n; i++) {
        double lw = (double)log_w[i];
        w[i] = isfinite(lw) ? (ad_real)exp(lw - st.log_sum) : 0;
    }
    if (stats) *stats = st;
    return AD_OK;
}

int smp_bg_log_weights(const smp_bg_weight_input *in, ad_real *log_w, int *n_nonfinite,
                       char *msg, size_t msg_len)
{
    if (!in || !log_w || !in->u || !in->z || !in->log_det)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "smp_bg_log_weights: NULL argument");
    if (in->n <= 0 || in->dim <= 0)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG,
                              "smp_bg_log_weights: n = %d, dim = %d (need > 0)", in->n, in->dim);
    if (!(in->kT > 0) || !isfinite(in->kT))
        return ad_status_fail(msg, msg_len, AD_ERR_ARG,
                              "smp_bg_log_weights: kT = %g (need finite > 0)", in->kT);
    int bad = 0;
    for (int i = 0; i < in->n; i++) {
        const ad_real *z = in->z + (size_t)i * in->dim;
        double z2 = 0.0;
        for (int k = 0; k < in->dim; k++) z2 += (double)z[k] * z[k];
        /* log w = log e^{-u/kT} - log p_X(x),  log p_X = log p_Z(z) - log R_zx */
        double lw = -(double)in->u[i] / in->kT + z2 / (2.0 * in->kT) + (double)in->log_det[i];
        if (!isfinite(lw)) bad++;
        log_w[i] = (ad_real)lw;
    }
    if (n_nonfinite) *n_nonfinite = bad;
    return AD_OK;
}
