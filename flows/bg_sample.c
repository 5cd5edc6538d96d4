/* bg_sample.c - generation without a tape, energies, log weights, and latent
 * interpolation. */
#include "bg_sample.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "autodiff/ad_dist.h"
#include "sampling/smp_reweight.h"

void bg_samples_free(bg_samples *s)
{
    if (!s) return;
    ad_free(s->x);
    ad_free(s->z);
    ad_free(s->log_det);
    ad_free(s->energy);
    ad_free(s->log_w);
    ad_free(s);
}

bg_samples *bg_samples_new(int n, int dim_x, int dim_z)
{
    bg_samples *s = ad_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->n = n;
    s->dim_x = dim_x;
    s->dim_z = dim_z;
    s->x = ad_malloc((size_t)n * dim_x * sizeof(ad_real));
    s->z = ad_malloc((size_t)n * dim_z * sizeof(ad_real));
    s->log_det = ad_malloc((size_t)n * sizeof(ad_real));
    s->energy = ad_malloc((size_t)n * sizeof(ad_real));
    s->log_w = ad_malloc((size_t)n * sizeof(ad_real));
    if (!s->x || !s->z || !s->log_det || !s->energy || !s->log_w) {
        bg_samples_free(s);
        return NULL;
    }
    return s;
}

int bg_map_batch(const flow_model *m, const pot_potential *u, ad_tape *t, const ad_real *z, int b,
                 ad_real *x_out, ad_real *log_det_out, ad_real *u_out)
{
    ad_tape_reset(t);
    ad_tape_set_grad_enabled(t, 0);
    int shape[2] = {b, m->dim_z};
    ad_tensor *zt = ad_constant(t, 2, shape, z);
    ad_tensor *log_det = NULL;
    ad_tensor *x = flow_model_forward(m, t, zt, &log_det);
    if (!ad_tape_ok(t)) return ad_tape_status(t);
    memcpy(x_out, x->data, (size_t)b * m->dim_x * sizeof(ad_real));
    if (log_det_out) memcpy(log_det_out, log_det->data, (size_t)b * sizeof(ad_real));
    if (u && u_out) {
        /* Evaluate the energy only on finite rows: a NaN coordinate would
         * make the potential report an error for the whole batch. */
        ad_tensor *e = pot_energy(t, u, x);
        if (!ad_tape_ok(t)) {
            for (int i = 0; i < b; i++)
                u_out[i] = NAN;
            return AD_OK;
        }
        memcpy(u_out, e->data, (size_t)b * sizeof(ad_real));
    }
    return AD_OK;
}

int bg_sample_check_args(const char *who, const flow_model *m, const flow_prior *prior,
                         const pot_potential *u, double kT, int n, int batch, char *msg,
                         size_t msg_len)
{
    if (!m || !prior || !u || n <= 0 || batch <= 0 || !(kT > 0))
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: bad arguments (n %d, batch %d)", who,
                              n, batch);
    if (prior->dim != m->dim_z || u->dim != m->dim_x)
        return ad_status_fail(msg, msg_len, AD_ERR_SHAPE,
                              "%s: prior %d / potential %d do not match the model %d -> %d", who,
                              prior->dim, u->dim, m->dim_z, m->dim_x);
    if (fabs(prior->kT - kT) > 1e-12 * kT)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG,
                              "%s: the prior's kT (%g) must equal the target kT (%g)", who,
                              prior->kT, kT);
    return AD_OK;
}

/* Under MPI: every rank receives the rows [0, n) of x, log_det and energy
 * that the ranks computed for their shares (ad_dist.h); status is agreed
 * first. */
static int gather_rows(bg_samples *s, int n, int status, char *msg, size_t msg_len)
{
    status = ad_dist_gather(status, s->x, (size_t)s->dim_x * sizeof(ad_real), n, msg, msg_len);
    status = ad_dist_gather(status, s->log_det, sizeof(ad_real), n, msg, msg_len);
    return ad_dist_gather(status, s->energy, sizeof(ad_real), n, msg, msg_len);
}

int bg_sample(const flow_model *m, const flow_prior *prior, const pot_potential *u, double kT,
              int n, int batch, uint64_t seed, bg_samples **out, char *msg, size_t msg_len)
{
    *out = NULL;
    int status = bg_sample_check_args("bg_sample", m, prior, u, kT, n, batch, msg, msg_len);
    if (status != AD_OK) return status;
    bg_samples *s = bg_samples_new(n, m->dim_x, m->dim_z);
    ad_tape *t = ad_tape_new(0);
    if (!s || !t)
        status = ad_status_fail(msg, msg_len, AD_ERR_NOMEM,
                                "bg_sample: out of memory for %d samples", n);
    status = ad_dist_agree(status, msg, msg_len);
    if (status != AD_OK) {
        bg_samples_free(s);
        ad_tape_free(t);
        return status;
    }
    ad_rng rng;
    ad_rng_seed(&rng, seed, 0);
    status = flow_prior_sample(prior, &rng, s->z, n);
    /* every rank draws all of z; under MPI each maps its share of the rows
     * (a row's x, log_det and energy do not depend on the other rows of its
     * batch, so any split gives the same numbers) */
    long lo, hi;
    ad_dist_share(n, &lo, &hi);
    for (int start = (int)lo; status == AD_OK && start < hi; start += batch) {
        int b = hi - start < batch ? (int)hi - start : batch;
        status =
            bg_map_batch(m, u, t, s->z + (size_t)start * m->dim_z, b,
                         s->x + (size_t)start * m->dim_x, s->log_det + start, s->energy + start);
        if (status != AD_OK) {
            ad_status_fail(msg, msg_len, status, "bg_sample: %s", ad_tape_error(t));
        }
    }
    status = gather_rows(s, n, status, msg, msg_len);
    s->kT = kT;
    if (status == AD_OK) {
        smp_bg_weight_input in = {n, m->dim_z, s->energy, s->z, s->log_det, kT};
        status = smp_bg_log_weights(&in, s->log_w, &s->n_nonfinite, msg, msg_len);
    }
    if (status == AD_OK) {
        /* Count rows whose configuration itself is not finite as well. */
        for (int i = 0; i < n; i++) {
            int finite = 1;
            for (int k = 0; k < m->dim_x && finite; k++)
                finite = isfinite(s->x[(size_t)i * m->dim_x + k]);
            if (!finite && isfinite(s->log_w[i])) {
                s->log_w[i] = NAN;
                s->n_nonfinite++;
            } else if (!finite || !isfinite(s->log_w[i])) {
                s->log_w[i] = NAN;
            }
        }
    }
    ad_tape_free(t);
    if (status != AD_OK) {
        bg_samples_free(s);
        return status;
    }
    *out = s;
    return AD_OK;
}

int bg_interpolate(const flow_model *m, const pot_potential *u, const ad_real *x_a,
                   const ad_real *x_b, int n_points, ad_real *path_x, ad_real *path_u, char *msg,
                   size_t msg_len)
{
    if (!m || !x_a || !x_b || n_points < 2 || !path_x)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "bg_interpolate: bad arguments");
    if (u && u->dim != m->dim_x)
        return ad_status_fail(msg, msg_len, AD_ERR_SHAPE,
                              "bg_interpolate: potential dimension %d, "
                              "model %d",
                              u->dim, m->dim_x);
    ad_tape *t = ad_tape_new(0);
    ad_real *z = ad_malloc((size_t)n_points * m->dim_z * sizeof(ad_real));
    ad_real *ends = ad_malloc((size_t)2 * m->dim_x * sizeof(ad_real));
    int status = AD_OK;
    if (!t || !z || !ends) {
        status = ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "bg_interpolate: out of memory");
        goto done;
    }
    ad_tape_set_grad_enabled(t, 0);
    memcpy(ends, x_a, (size_t)m->dim_x * sizeof(ad_real));
    memcpy(ends + m->dim_x, x_b, (size_t)m->dim_x * sizeof(ad_real));
    int shape[2] = {2, m->dim_x};
    ad_tensor *zz = flow_model_inverse(m, t, ad_constant(t, 2, shape, ends), NULL);
    if (!ad_tape_ok(t)) {
        status =
            ad_status_fail(msg, msg_len, ad_tape_status(t), "bg_interpolate: %s", ad_tape_error(t));
        goto done;
    }
    for (int p = 0; p < n_points; p++) {
        double l = (double)p / (n_points - 1);
        for (int k = 0; k < m->dim_z; k++)
            z[(size_t)p * m->dim_z + k] = zz->data[k] + l * (zz->data[m->dim_z + k] - zz->data[k]);
    }
    status = bg_map_batch(m, u, t, z, n_points, path_x, NULL, path_u);
    if (status != AD_OK)
        ad_status_fail(msg, msg_len, status, "bg_interpolate: %s", ad_tape_error(t));
done:
    ad_free(ends);
    ad_free(z);
    ad_tape_free(t);
    return status;
}
