/* bg_loss.h - the Boltzmann-generator losses, on the tape (Noé et al. 2019;
 * docs/science.md §5.1-§5.3).  Each returns a scalar tensor owned by the tape.
 *
 *   J_ML = mean_x [ |F_xz(x)|^2 / (2 sigma^2) - log R_xz(x) ]       (by example)
 *   J_KL = mean_z [ u_reg(F_zx(z)) / kT - log R_zx(z) ],  z ~ N(0, sigma^2 I)
 *                                                                   (by energy)
 *   J_RC = - sum_k log h_k,  h_k = mean_b softmax-normalised Gaussian kernel
 *          memberships of r(x_b) in K bins over [r_min, r_max]     (RC entropy)
 * where sigma^2 is the prior's kT, u_reg the linlogcut regularisation
 * (potentials/pot_linlogcut.h) and log R the flow's log-determinant.  The
 * constant (dim/2) log(2 pi sigma^2) is dropped from J_ML and J_KL, as in both
 * reference codes, so J_KL >= -log Z_X + dim/2 (1 + log 2 pi) - ... is reached
 * at the Boltzmann distribution (docs/experiments.md gives the floors).
 */
#ifndef LIBBG_FLOWS_BG_LOSS_H
#define LIBBG_FLOWS_BG_LOSS_H

#include <stddef.h>

#include "autodiff/ad.h"
#include "bg_rc.h"
#include "flow_model.h"
#include "flow_prior.h"
#include "potentials/pot_potential.h"

/* J_ML on a data batch x [batch, dim_x]. */
ad_tensor *bg_loss_ml(ad_tape *t, const flow_model *m, const flow_prior *prior, ad_tensor *x);

/* Generated samples of one KL evaluation, kept for the RC loss and logging. */
typedef struct bg_kl_terms {
    ad_tensor *x;       /* F_zx(z) [batch, dim_x]             */
    ad_tensor *log_det; /* log R_zx(z) [batch]                 */
    ad_tensor *energy;  /* u(x) [batch], not regularised       */
} bg_kl_terms;

/* J_KL on prior draws z [batch, dim_z] for the target exp(-u/kT); the
 * energy is regularised with linlogcut(e_high, e_max) before dividing by kT.
 * `terms` (may be NULL) receives the generated samples. */
ad_tensor *bg_loss_kl(ad_tape *t, const flow_model *m, const pot_potential *u, double kT,
                      double e_high, double e_max, ad_tensor *z, bg_kl_terms *terms);

typedef struct bg_rc_loss_config {
    double r_min, r_max; /* range of the soft histogram (units of   */
                         /* the coordinate; finite, r_min < r_max)  */
    int n_kernels;       /* K (0: 11, the paper's choice; else     */
                         /* 2 .. 256)                              */
} bg_rc_loss_config;

/* {r_min, r_max, 11}. */
bg_rc_loss_config bg_rc_loss_config_default(double r_min, double r_max);
/* AD_OK, or AD_ERR_ARG with a message naming `who` and the invalid field. */
int bg_rc_loss_config_check(const char *who, const bg_rc_loss_config *cfg, char *msg,
                            size_t msg_len);

/* J_RC = -sum_k log h_k for the coordinate values r [batch] of generated
 * samples: kernel k centred at r_min + k (r_max - r_min)/(K - 1), width
 * (r_max - r_min)/K; each sample's memberships (kernel + 1e-6) normalised
 * over k; h_k the batch mean.  Minimal (K log K) for a flat histogram. */
ad_tensor *bg_loss_rc(ad_tape *t, ad_tensor *r, const bg_rc_loss_config *cfg);

/* The soft histogram of bg_loss_rc before its mean: S_k = sum_b of the
 * normalised memberships of r_b in kernel k, [K].  For a batch cut into
 * blocks (bg_train_config.grad_blocks) J_RC = -sum_k log(S_k / batch) with
 * S the sum of the blocks' S. */
ad_tensor *bg_loss_rc_sums(ad_tape *t, ad_tensor *r, const bg_rc_loss_config *cfg);

/* The seed report's variant, made differentiable: J = mean_b log p_KDE(r_b)
 * with a Gaussian KDE of the batch itself (leave-one-out, bandwidth h), so
 * minimising it lowers the density where samples crowd.  Choose h with
 * smp_kde_select_bandwidth (K-fold cross-validation) on a batch. */
ad_tensor *bg_loss_rc_kde(ad_tape *t, ad_tensor *r, double bandwidth);

/* ---- one temperature per batch row (multi-temperature training) ----
 * Row b carries its own temperature kT[b] (energy units, finite > 0) and its
 * share weight[b] of the loss (NULL: 1/batch each, the plain mean); the
 * training loop gives the rows of temperature k the weights
 * w_k / (sum_j w_j) / n_k, so each temperature contributes in proportion to
 * its weight however the batch is split.  With every kT[b] equal these are
 * the one-temperature losses above (equal to rounding). */

/* J_ML = sum_b c_b [ |F_xz(x_b)|^2 / (2 kT_b) - log R_xz(x_b) ]: row b of the
 * data batch x was drawn at temperature kT_b, whose prior is N(0, kT_b I).
 * Only the prior's dim is used. */
ad_tensor *bg_loss_ml_rows(ad_tape *t, const flow_model *m, const flow_prior *prior, ad_tensor *x,
                           const ad_real *kT, const ad_real *weight);

/* J_KL = sum_b c_b [ linlogcut(u(F_zx(z_b)); e_high_b, e_max_b) / kT_b
 *                    - log R_zx(z_b) ]
 * for z_b ~ N(0, kT_b I): the target of row b is exp(-u/kT_b).  e_high[b],
 * e_max[b] are the row's cut in energy units (finite, e_high_b <= e_max_b).
 * `terms` (may be NULL) receives the generated samples. */
ad_tensor *bg_loss_kl_rows(ad_tape *t, const flow_model *m, const pot_potential *u,
                           const ad_real *kT, const ad_real *weight, const ad_real *e_high,
                           const ad_real *e_max, ad_tensor *z, bg_kl_terms *terms);

/* J_RC averaged over groups of rows (the temperatures):
 *   J = - sum_g w_g sum_k log h_gk,  h_gk = mean over the rows of group g of
 * the normalised kernel memberships of r_b (as bg_loss_rc).  group[b] in
 * 0 .. n_groups-1 for every row, every group non-empty, group_weight[g]
 * (NULL: 1/n_groups each) finite >= 0.  With one group it is bg_loss_rc. */
ad_tensor *bg_loss_rc_groups(ad_tape *t, ad_tensor *r, const bg_rc_loss_config *cfg,
                             const int *group, int n_groups, const ad_real *group_weight);

/* The soft histograms of bg_loss_rc_groups before their means: S_gk = sum
 * over the rows b of group g of the normalised memberships of r_b in kernel
 * k, [n_groups, K] (a group may have no row: its sums are 0).  For a batch
 * cut into blocks (bg_train_config.grad_blocks) with several temperatures
 * J_RC = -sum_g w_g sum_k log(S_gk / n_g), S the sum of the blocks' S and
 * n_g the batch's rows of group g. */
ad_tensor *bg_loss_rc_group_sums(ad_tape *t, ad_tensor *r, const bg_rc_loss_config *cfg,
                                 const int *group, int n_groups);

#endif
