/* bg_loss.c - ML, KL and reaction-coordinate losses from tape ops. */
#include "bg_loss.h"

#include <math.h>

#include "autodiff/ad_status.h"

#include "autodiff/ad_op.h"
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

/* ---- one temperature per row ---- */

/* A [batch] tape constant from n values, or NULL after a tape error. */
static ad_tensor *row_constant(ad_tape *t, const ad_real *v, int batch)
{
    int shape[1] = {batch};
    return ad_tape_ok(t) ? ad_constant(t, 1, shape, v) : NULL;
}

/* The per-row loss shares: NULL weight -> the mean; else sum_b c_b y_b. */
static ad_tensor *weighted_rows(ad_tape *t, ad_tensor *per_sample, const ad_real *weight,
                                const char *fn)
{
    if (!ad_tape_ok(t)) return ad_tape_poison(t);
    if (!weight) return ad_mean(t, per_sample);
    int batch = per_sample->shape[0];
    for (int b = 0; b < batch; b++)
        if (!(weight[b] >= 0) || !isfinite((double)weight[b]))
            return ad_tape_fail(t, AD_ERR_ARG, "%s: weight[%d] = %g (need finite >= 0)", fn, b,
                                (double)weight[b]);
    ad_tensor *c = row_constant(t, weight, batch);
    if (!c) return ad_tape_poison(t);
    return ad_sum(t, ad_mul(t, per_sample, c));
}

ad_tensor *bg_loss_ml_rows(ad_tape *t, const flow_model *m, const flow_prior *prior, ad_tensor *x,
                           const ad_real *kT, const ad_real *weight)
{
    static const char fn[] = "bg_loss_ml_rows";
    if (!ad_op_begin(t, fn, 1, &x)) return ad_tape_poison(t);
    if (!m || !prior) return ad_tape_fail(t, AD_ERR_ARG, "%s: %s is NULL", fn, m ? "prior" : "m");
    if (!kT) return ad_tape_fail(t, AD_ERR_ARG, "%s: kT is NULL", fn);
    ad_tensor *log_det = NULL;
    ad_tensor *z = flow_model_inverse(m, t, x, &log_det);
    /* |z_b|^2 / (2 kT_b) - log R_xz(x_b), weighted over the batch */
    ad_tensor *per_sample = ad_sub(t, flow_prior_energy_rows(t, prior, z, kT), log_det);
    return weighted_rows(t, per_sample, weight, fn);
}

/* y_b = linlogcut(e_b; lo_b, hi_b) with a cut per row (pot_linlogcut_value),
 * de_b += dy_b * slope_b; the cut values (inputs 1, 2) are constants. */
static void linlogcut_rows_backward(ad_tape *t, ad_node *n)
{
    ad_tensor *e = n->inputs[0], *lo = n->inputs[1], *hi = n->inputs[2];
    ad_real *ge = ad_node_grad(t, e);
    if (!ge) return;
    const ad_real *gy = n->output->grad;
    for (size_t i = 0; i < e->size; i++) {
        double v = e->data[i], a = lo->data[i], b = hi->data[i];
        double slope = (!isfinite(v) || v >= b) ? 0 : v < a ? 1 : 1 / (v - a + 1);
        ge[i] += gy[i] * (ad_real)slope;
    }
}
static const ad_op OP_LINLOGCUT_ROWS = {"linlogcut_rows", linlogcut_rows_backward};

static ad_tensor *linlogcut_rows(ad_tape *t, ad_tensor *e, const ad_real *e_high,
                                 const ad_real *e_max, const char *fn)
{
    if (!ad_op_begin(t, fn, 1, &e)) return ad_tape_poison(t);
    if (!e_high || !e_max)
        return ad_tape_fail(t, AD_ERR_ARG, "%s: %s is NULL", fn, e_high ? "e_max" : "e_high");
    int batch = e->shape[0];
    for (int b = 0; b < batch; b++)
        if (!isfinite((double)e_high[b]) || !isfinite((double)e_max[b]) || e_high[b] > e_max[b])
            return ad_tape_fail(t, AD_ERR_ARG,
                                "%s: e_high[%d] = %g, e_max[%d] = %g (need finite e_high <= "
                                "e_max)",
                                fn, b, (double)e_high[b], b, (double)e_max[b]);
    ad_tensor *in[3] = {e, row_constant(t, e_high, batch), row_constant(t, e_max, batch)};
    if (!ad_tape_ok(t)) return ad_tape_poison(t);
    ad_tensor *y = ad_tape_tensor(t, 1, e->shape);
    if (!y->valid) return y;
    for (int b = 0; b < batch; b++)
        y->data[b] = (ad_real)pot_linlogcut_value(e->data[b], e_high[b], e_max[b]);
    ad_tape_record(t, &OP_LINLOGCUT_ROWS, y, 3, in);
    return y;
}

ad_tensor *bg_loss_kl_rows(ad_tape *t, const flow_model *m, const pot_potential *u,
                           const ad_real *kT, const ad_real *weight, const ad_real *e_high,
                           const ad_real *e_max, ad_tensor *z, bg_kl_terms *terms)
{
    static const char fn[] = "bg_loss_kl_rows";
    if (!ad_op_begin(t, fn, 1, &z)) return ad_tape_poison(t);
    if (!m || !u) return ad_tape_fail(t, AD_ERR_ARG, "%s: %s is NULL", fn, m ? "u" : "m");
    if (z->n_dims != 2) return ad_tape_fail(t, AD_ERR_SHAPE, "%s: z must be [batch, dim]", fn);
    ad_tensor *inv = flow_prior_inverse_kT(t, kT, z->shape[0], fn);
    if (!inv) return ad_tape_poison(t);
    ad_tensor *log_det = NULL;
    ad_tensor *x = flow_model_forward(m, t, z, &log_det);
    ad_tensor *energy = pot_energy(t, u, x);
    if (!ad_tape_ok(t)) return ad_tape_poison(t);
    if (energy->n_dims != 1 || energy->shape[0] != z->shape[0])
        return ad_tape_fail(t, AD_ERR_SHAPE, "%s: the energy is not one value per row", fn);
    ad_tensor *reg = linlogcut_rows(t, energy, e_high, e_max, fn);
    /* u_reg(x_b) / kT_b - log R_zx(z_b) */
    ad_tensor *per_sample = ad_sub(t, ad_mul(t, reg, inv), log_det);
    if (terms) {
        terms->x = x;
        terms->log_det = log_det;
        terms->energy = energy;
    }
    return weighted_rows(t, per_sample, weight, fn);
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

/* The soft-histogram memberships [B, K] of r [batch] (the same ops for
 * bg_loss_rc and bg_loss_rc_groups); NULL after a tape error. */
static ad_tensor *rc_members(ad_tape *t, ad_tensor *r, const bg_rc_loss_config *cfg,
                             const char *fn)
{
    int k = cfg->n_kernels > 0 ? cfg->n_kernels : 11;
    if (!(cfg->r_max > cfg->r_min) || k < 2) {
        ad_tape_fail(t, AD_ERR_ARG, "%s: need r_max > r_min and >= 2 kernels", fn);
        return NULL;
    }
    if (r->n_dims != 1) {
        ad_tape_fail(t, AD_ERR_SHAPE, "%s: r must be [batch]", fn);
        return NULL;
    }
    int batch = r->shape[0];
    double width = (cfg->r_max - cfg->r_min) / k;
    ad_real centres[256];
    if (k > 256) {
        ad_tape_fail(t, AD_ERR_ARG, "%s: at most 256 kernels", fn);
        return NULL;
    }
    for (int i = 0; i < k; i++) centres[i] = cfg->r_min + i * (cfg->r_max - cfg->r_min) / (k - 1);
    int col[2] = {batch, 1}, row[2] = {1, k};
    ad_tensor *mu = ad_constant(t, 2, row, centres);
    ad_tensor *d = ad_sub(t, ad_reshape(t, r, 2, col), mu);                 /* [B,K] */
    ad_tensor *kern = ad_add_scalar(
        t, ad_exp(t, ad_scale(t, ad_square(t, d), -1.0 / (2 * width * width))), 1e-6);
    ad_tensor *norm = ad_reshape(t, ad_sum_axis(t, kern, 1), 2, col);      /* [B,1] */
    return ad_div(t, kern, norm);
}

ad_tensor *bg_loss_rc(ad_tape *t, ad_tensor *r, const bg_rc_loss_config *cfg)
{
    if (!ad_op_begin(t, "bg_loss_rc", 1, &r)) return ad_tape_poison(t);
    ad_tensor *member = rc_members(t, r, cfg, "bg_loss_rc");
    if (!member) return ad_tape_poison(t);
    ad_tensor *h = ad_mean_axis(t, member, 0);                              /* [K]   */
    return ad_neg(t, ad_sum(t, ad_log(t, h)));
}

ad_tensor *bg_loss_rc_sums(ad_tape *t, ad_tensor *r, const bg_rc_loss_config *cfg)
{
    if (!ad_op_begin(t, "bg_loss_rc_sums", 1, &r)) return ad_tape_poison(t);
    ad_tensor *member = rc_members(t, r, cfg, "bg_loss_rc_sums");
    if (!member) return ad_tape_poison(t);
    return ad_sum_axis(t, member, 0); /* [K] */
}

/* The arguments of the grouped J_RC terms; 0 with a tape error naming fn. */
static int group_args_ok(ad_tape *t, const char *fn, ad_tensor *r, const bg_rc_loss_config *cfg,
                         const int *group, int n_groups)
{
    if (!ad_op_begin(t, fn, 1, &r)) return 0;
    if (!cfg) ad_tape_fail(t, AD_ERR_ARG, "%s: cfg is NULL", fn);
    else if (!group) ad_tape_fail(t, AD_ERR_ARG, "%s: group is NULL", fn);
    else if (n_groups < 1)
        ad_tape_fail(t, AD_ERR_ARG, "%s: n_groups = %d (need >= 1)", fn, n_groups);
    else if (r->n_dims != 1) ad_tape_fail(t, AD_ERR_SHAPE, "%s: r must be [batch]", fn);
    return ad_tape_ok(t);
}

ad_tensor *bg_loss_rc_groups(ad_tape *t, ad_tensor *r, const bg_rc_loss_config *cfg,
                             const int *group, int n_groups, const ad_real *group_weight)
{
    static const char fn[] = "bg_loss_rc_groups";
    if (!group_args_ok(t, fn, r, cfg, group, n_groups)) return ad_tape_poison(t);
    int batch = r->shape[0];
    /* G[b, g] = 1 / n_g for the rows of group g: G^T M averages each group */
    int gshape[2] = {batch, n_groups}, wshape[1] = {n_groups};
    ad_tensor *gm = ad_zeros(t, 2, gshape);
    ad_tensor *w = ad_zeros(t, 1, wshape);
    if (!ad_tape_ok(t)) return ad_tape_poison(t);
    for (int b = 0; b < batch; b++) {
        if (group[b] < 0 || group[b] >= n_groups)
            return ad_tape_fail(t, AD_ERR_ARG, "%s: group[%d] = %d (need 0..%d)", fn, b, group[b],
                                n_groups - 1);
        w->data[group[b]] += 1; /* counts first */
    }
    for (int g = 0; g < n_groups; g++)
        if (w->data[g] == 0) return ad_tape_fail(t, AD_ERR_ARG, "%s: group %d has no row", fn, g);
    for (int b = 0; b < batch; b++)
        gm->data[(size_t)b * n_groups + group[b]] = (ad_real)(1.0 / w->data[group[b]]);
    for (int g = 0; g < n_groups; g++) {
        double wg = group_weight ? (double)group_weight[g] : 1.0 / n_groups;
        if (!(wg >= 0) || !isfinite(wg))
            return ad_tape_fail(t, AD_ERR_ARG, "%s: group_weight[%d] = %g (need finite >= 0)",
                                fn, g, wg);
        w->data[g] = (ad_real)wg;
    }
    ad_tensor *member = rc_members(t, r, cfg, fn);
    if (!member) return ad_tape_poison(t);
    ad_tensor *h = ad_matmul(t, gm, member, 1, 0);                          /* [G,K] */
    ad_tensor *per_group = ad_sum_axis(t, ad_log(t, h), 1);                 /* [G]   */
    return ad_neg(t, ad_sum(t, ad_mul(t, per_group, w)));
}

ad_tensor *bg_loss_rc_group_sums(ad_tape *t, ad_tensor *r, const bg_rc_loss_config *cfg,
                                 const int *group, int n_groups)
{
    static const char fn[] = "bg_loss_rc_group_sums";
    if (!group_args_ok(t, fn, r, cfg, group, n_groups)) return ad_tape_poison(t);
    int batch = r->shape[0];
    /* G[b, g] = 1 for the rows of group g: G^T M sums each group */
    int gshape[2] = {batch, n_groups};
    ad_tensor *gm = ad_zeros(t, 2, gshape);
    if (!ad_tape_ok(t)) return ad_tape_poison(t);
    for (int b = 0; b < batch; b++) {
        if (group[b] < 0 || group[b] >= n_groups)
            return ad_tape_fail(t, AD_ERR_ARG, "%s: group[%d] = %d (need 0..%d)", fn, b, group[b],
                                n_groups - 1);
        gm->data[(size_t)b * n_groups + group[b]] = 1;
    }
    ad_tensor *member = rc_members(t, r, cfg, fn);
    if (!member) return ad_tape_poison(t);
    return ad_matmul(t, gm, member, 1, 0); /* [G,K] */
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
