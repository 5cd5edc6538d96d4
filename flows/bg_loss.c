/* bg_loss.c - ML, KL and reaction-coordinate losses from tape ops. */
#include "bg_loss.h"

#include <math.h>

#include "autodiff/ad_status.h"

#include "potentials/pot_linlogcut.h"

ad_tensor *bg_loss_ml(ad_tape *t, const flow_model *m, const flow_prior *prior, ad_tensor *x)
{
    ad_tensor *log_det = NULL;
    ad_tensor *z = flow_model_inverse(m, t, x, &log_det);
    /* |z|^2 / (2 sigma^2) - log R_xz, averaged over the batch. */
    ad_tensor *per_sample = ad_sub(t, flow_prior_energy(t, prior, z), log_det);
    return ad_mean(t, per_sample);
}

ad_tensor *bg_loss_kl(ad_tape *t, const flow_model *m, const pot_potential *u, double kT,
                      double e_high, double e_max, ad_tensor *z, bg_kl_terms *terms)
{
    if (!(kT > 0)) return ad_tape_fail(t, AD_ERR_ARG, "bg_loss_kl: kT must be > 0");
    ad_tensor *log_det = NULL;
    ad_tensor *x = flow_model_forward(m, t, z, &log_det);
    ad_tensor *energy = pot_energy(t, u, x);
    ad_tensor *reg = pot_linlogcut(t, energy, e_high, e_max);
    ad_tensor *per_sample = ad_sub(t, ad_scale(t, reg, 1.0 / kT), log_det);
    if (terms) {
        terms->x = x;
        terms->log_det = log_det;
        terms->energy = energy;
    }
    return ad_mean(t, per_sample);
}

bg_rc_loss_config bg_rc_loss_config_default(double r_min, double r_max)
{
    bg_rc_loss_config c = {.r_min = r_min, .r_max = r_max, .n_kernels = 11};
    return c;
}

int bg_rc_loss_config_check(const char *who, const bg_rc_loss_config *cfg, char *msg,
                            size_t msg_len)
{
    if (!who) who = "bg_rc_loss_config_check";
    if (!cfg) return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: rc_loss is NULL", who);
    if (!isfinite(cfg->r_min) || !isfinite(cfg->r_max) || !(cfg->r_min < cfg->r_max))
        return ad_status_fail(msg, msg_len, AD_ERR_ARG,
                              "%s: rc_loss.r_min = %g, rc_loss.r_max = %g (need finite, "
                              "r_min < r_max)",
                              who, cfg->r_min, cfg->r_max);
    if (cfg->n_kernels != 0 && (cfg->n_kernels < 2 || cfg->n_kernels > 256))
        return ad_status_fail(msg, msg_len, AD_ERR_ARG,
                              "%s: rc_loss.n_kernels = %d (need 2 .. 256, or 0 for 11)", who,
                              cfg->n_kernels);
    return AD_OK;
}

ad_tensor *bg_loss_rc(ad_tape *t, ad_tensor *r, const bg_rc_loss_config *cfg)
{
    if (!ad_op_begin(t, "bg_loss_rc", 1, &r)) return ad_tape_poison(t);
    int k = cfg->n_kernels > 0 ? cfg->n_kernels : 11;
    if (!(cfg->r_max > cfg->r_min) || k < 2)
        return ad_tape_fail(t, AD_ERR_ARG, "bg_loss_rc: need r_max > r_min and >= 2 kernels");
    if (r->n_dims != 1) return ad_tape_fail(t, AD_ERR_SHAPE, "bg_loss_rc: r must be [batch]");
    int batch = r->shape[0];
    double width = (cfg->r_max - cfg->r_min) / k;
    ad_real centres[256];
    if (k > 256) return ad_tape_fail(t, AD_ERR_ARG, "bg_loss_rc: at most 256 kernels");
    for (int i = 0; i < k; i++) centres[i] = cfg->r_min + i * (cfg->r_max - cfg->r_min) / (k - 1);
    int col[2] = {batch, 1}, row[2] = {1, k};
    ad_tensor *mu = ad_constant(t, 2, row, centres);
    ad_tensor *d = ad_sub(t, ad_reshape(t, r, 2, col), mu);                 /* [B,K] */
    ad_tensor *kern = ad_add_scalar(
        t, ad_exp(t, ad_scale(t, ad_square(t, d), -1.0 / (2 * width * width))), 1e-6);
    ad_tensor *norm = ad_reshape(t, ad_sum_axis(t, kern, 1), 2, col);      /* [B,1] */
    ad_tensor *member = ad_div(t, kern, norm);
    ad_tensor *h = ad_mean_axis(t, member, 0);                              /* [K]   */
    return ad_neg(t, ad_sum(t, ad_log(t, h)));
}

ad_tensor *bg_loss_rc_kde(ad_tape *t, ad_tensor *r, double bandwidth)
{
    if (!ad_op_begin(t, "bg_loss_rc_kde", 1, &r)) return ad_tape_poison(t);
    if (!(bandwidth > 0)) return ad_tape_fail(t, AD_ERR_ARG, "bg_loss_rc_kde: bandwidth <= 0");
    if (r->n_dims != 1 || r->shape[0] < 2)
        return ad_tape_fail(t, AD_ERR_SHAPE, "bg_loss_rc_kde: r must be [batch >= 2]");
    int b = r->shape[0];
    int col[2] = {b, 1}, row[2] = {1, b};
    /* log p(r_i) = log sum_{j != i} exp(-(r_i - r_j)^2 / 2h^2) - log((B-1) h sqrt(2 pi));
     * the diagonal is removed by adding -inf-like mask values before the LSE. */
    ad_tensor *d = ad_sub(t, ad_reshape(t, r, 2, col), ad_reshape(t, r, 2, row)); /* [B,B] */
    ad_tensor *logk = ad_scale(t, ad_square(t, d), -1.0 / (2 * bandwidth * bandwidth));
    ad_tensor *mask = ad_zeros(t, 2, (int[]){b, b});
    if (!ad_tape_ok(t)) return ad_tape_poison(t);
    for (int i = 0; i < b; i++) mask->data[(size_t)i * b + i] = -1e300;
    ad_tensor *lse = ad_logsumexp(t, ad_add(t, logk, mask), 1);
    double c = log((b - 1) * bandwidth * sqrt(2 * 3.14159265358979323846));
    return ad_add_scalar(t, ad_mean(t, lse), -c);
}
