/* smp_mc.c - batched Metropolis Monte Carlo: all chains propose together and
 * their energies come from one call per step. */
#include "smp_mc.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int fail(char *msg, size_t msg_len, int code, const char *text)
{
    if (msg && msg_len) snprintf(msg, msg_len, "smp_mc_run: %s", text);
    return code;
}

long smp_mc_n_frames(const smp_mc_config *cfg)
{
    if (!cfg || cfg->stride < 1 || cfg->n_steps < 0) return 0;
    return (cfg->keep_initial ? 1 : 0) + cfg->n_steps / cfg->stride;
}

int smp_mc_run(const smp_mc_config *cfg, smp_energy_fn energy, void *ctx, const ad_real *x0,
               ad_real *out, ad_real *u_out, smp_mc_stats *stats, char *msg, size_t msg_len)
{
    char text[200];
    if (!cfg || !energy || !x0 || !out)
        return fail(msg, msg_len, AD_ERR_ARG, "bad arguments (NULL config, energy, x0 or out)");
    if (cfg->dim < 1 || cfg->n_chains < 1 || cfg->n_steps < 0 || cfg->stride < 1 ||
        !(cfg->sigma > 0 && isfinite(cfg->sigma)) || !(cfg->kT > 0 && isfinite(cfg->kT))) {
        snprintf(text, sizeof text, "bad config (dim %d, n_chains %d, n_steps %ld, stride %d, "
                 "sigma %g, kT %g)", cfg->dim, cfg->n_chains, cfg->n_steps, cfg->stride,
                 cfg->sigma, cfg->kT);
        return fail(msg, msg_len, AD_ERR_ARG, text);
    }
    const int dim = cfg->dim, nc = cfg->n_chains;
    const size_t size = (size_t)nc * (size_t)dim;
    for (size_t k = 0; k < size; k++)
        if (!isfinite(x0[k])) {
            snprintf(text, sizeof text, "start of chain %zu, coordinate %zu is not finite (%g)",
                     k / (size_t)dim, k % (size_t)dim, (double)x0[k]);
            return fail(msg, msg_len, AD_ERR_NUMERIC, text);
        }
    ad_real *x = ad_malloc(2 * size * sizeof(ad_real) + 2 * (size_t)nc * sizeof(ad_real));
    if (!x) return fail(msg, msg_len, AD_ERR_NOMEM, "out of memory");
    ad_real *x_new = x + size, *u = x_new + size, *u_new = u + nc;
    memcpy(x, x0, size * sizeof(ad_real));
    int status = energy(ctx, x, nc, dim, u, msg, msg_len);
    for (int c = 0; c < nc && status == AD_OK; c++)
        if (!isfinite(u[c])) {
            snprintf(text, sizeof text, "energy of the start of chain %d is not finite (%g)", c,
                     (double)u[c]);
            status = fail(msg, msg_len, AD_ERR_NUMERIC, text);
        }
    ad_rng rng;
    ad_rng_seed(&rng, cfg->seed, 0);
    long frame = 0, accepted = 0, proposed = 0;
    if (status == AD_OK && cfg->keep_initial) {
        memcpy(out, x, size * sizeof(ad_real));
        if (u_out) memcpy(u_out, u, (size_t)nc * sizeof(ad_real));
        frame = 1;
    }
    const double beta = 1 / cfg->kT;
    for (long step = 1; step <= cfg->n_steps && status == AD_OK; step++) {
        for (size_t k = 0; k < size; k++)
            x_new[k] = x[k] + (ad_real)(cfg->sigma * ad_rng_normal(&rng));
        status = energy(ctx, x_new, nc, dim, u_new, msg, msg_len);
        if (status != AD_OK) break;
        proposed += nc;
        for (int c = 0; c < nc; c++) {
            /* accept with probability min(1, exp(-beta du)); a proposal with a
             * NaN or +inf energy is always rejected (the comparison fails) */
            double du = (double)u_new[c] - (double)u[c];
            double r = ad_rng_uniform(&rng);
            if (du <= 0 || log(r) < -beta * du) {
                memcpy(x + (size_t)c * dim, x_new + (size_t)c * dim, (size_t)dim * sizeof(ad_real));
                u[c] = u_new[c];
                accepted++;
            }
        }
        if (step % cfg->stride == 0) {
            memcpy(out + (size_t)frame * size, x, size * sizeof(ad_real));
            if (u_out) memcpy(u_out + (size_t)frame * nc, u, (size_t)nc * sizeof(ad_real));
            frame++;
        }
    }
    if (stats) {
        stats->n_proposed = proposed;
        stats->n_accepted = accepted;
        stats->acceptance = stats->n_proposed ? (double)accepted / (double)stats->n_proposed : 0;
    }
    ad_free(x);
    return status;
}

int smp_potential_energy(void *ctx, const ad_real *x, int n, int dim, ad_real *u, char *msg,
                         size_t msg_len)
{
    const smp_potential_ctx *pc = ctx;
    if (!pc || !pc->potential || !pc->scratch) {
        if (msg && msg_len) snprintf(msg, msg_len, "smp_potential_energy: NULL context");
        return AD_ERR_ARG;
    }
    if (dim != pc->potential->dim) {
        if (msg && msg_len)
            snprintf(msg, msg_len, "smp_potential_energy: dimension %d, but %s has dimension %d",
                     dim, pc->potential->name ? pc->potential->name : "the potential",
                     pc->potential->dim);
        return AD_ERR_SHAPE;
    }
    return pot_energy_eval(pc->potential, pc->scratch, x, n, u, msg, msg_len);
}
