/* smp_mc.c - batched Metropolis Monte Carlo: all chains propose together and
 * their energies come from one call per step. */
#include "smp_mc.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "autodiff/ad_dist.h"

static int fail(char *msg, size_t msg_len, int code, const char *text)
{
    if (msg && msg_len) snprintf(msg, msg_len, "smp_mc_run: %s", text);
    return code;
}

smp_mc_config smp_mc_config_default(int dim, double kT)
{
    smp_mc_config c;
    memset(&c, 0, sizeof c);
    c.dim = dim;
    c.n_chains = 1;
    c.sigma = 0.1;
    c.kT = kT;
    c.n_steps = 10000;
    c.stride = 10;
    c.keep_initial = 0;
    c.seed = 1;
    return c;
}

/* The first invalid field of cfg, named, into text; NULL when it is valid. */
static const char *config_error(const smp_mc_config *cfg, char *text, size_t len)
{
    if (cfg->dim < 1)
        snprintf(text, len, "dim = %d (need >= 1)", cfg->dim);
    else if (cfg->n_chains < 1)
        snprintf(text, len, "n_chains = %d (need >= 1)", cfg->n_chains);
    else if (!(cfg->sigma > 0 && isfinite(cfg->sigma)))
        snprintf(text, len, "sigma = %g (need finite, > 0)", cfg->sigma);
    else if (!(cfg->kT > 0 && isfinite(cfg->kT)))
        snprintf(text, len, "kT = %g (need finite, > 0)", cfg->kT);
    else if (cfg->n_steps < 0)
        snprintf(text, len, "n_steps = %ld (need >= 0)", cfg->n_steps);
    else if (cfg->stride < 1)
        snprintf(text, len, "stride = %d (need >= 1)", cfg->stride);
    else if (cfg->keep_initial != 0 && cfg->keep_initial != 1)
        snprintf(text, len, "keep_initial = %d (need 0 or 1)", cfg->keep_initial);
    else
        return NULL;
    return text;
}

long smp_mc_n_frames(const smp_mc_config *cfg)
{
    if (!cfg || cfg->stride < 1 || cfg->n_steps < 0) return 0;
    return (cfg->keep_initial ? 1 : 0) + cfg->n_steps / cfg->stride;
}

/* Chains per rank below which every rank computes every energy itself:
 * an exchange per step costs more than a few energies save. */
#define DIST_MIN_CHAINS 16

/* The energies of the n configurations x.  Under MPI, with at least
 * DIST_MIN_CHAINS chains per rank, each rank evaluates its share of them and
 * every rank receives all (autodiff/ad_dist.h), so the chains run
 * identically on every rank whatever their number; this needs an energy
 * that computes each configuration alone, as every potential here does. */
static int energies(smp_energy_fn energy, void *ctx, const ad_real *x, int n, int dim, ad_real *u,
                    char *msg, size_t msg_len)
{
    if (ad_dist_size() == 1 || n < DIST_MIN_CHAINS * ad_dist_size())
        return energy(ctx, x, n, dim, u, msg, msg_len);
    long lo, hi;
    ad_dist_share(n, &lo, &hi);
    int status = AD_OK;
    if (hi > lo)
        status = energy(ctx, x + (size_t)lo * dim, (int)(hi - lo), dim, u + lo, msg, msg_len);
    return ad_dist_gather(status, u, sizeof *u, n, msg, msg_len);
}

int smp_mc_run(const smp_mc_config *cfg, smp_energy_fn energy, void *ctx, const ad_real *x0,
               ad_real *out, ad_real *u_out, smp_mc_stats *stats, char *msg, size_t msg_len)
{
    char text[200];
    if (!cfg || !energy || !x0 || !out)
        return fail(msg, msg_len, AD_ERR_ARG, "bad arguments (NULL config, energy, x0 or out)");
    if (config_error(cfg, text, sizeof text)) return fail(msg, msg_len, AD_ERR_ARG, text);
    const int dim = cfg->dim, nc = cfg->n_chains;
    const size_t size = (size_t)nc * (size_t)dim;
    for (size_t k = 0; k < size; k++)
        if (!isfinite(x0[k])) {
            snprintf(text, sizeof text, "start of chain %zu, coordinate %zu is not finite (%g)",
                     k / (size_t)dim, k % (size_t)dim, (double)x0[k]);
            return fail(msg, msg_len, AD_ERR_NUMERIC, text);
        }
    ad_real *x = ad_malloc(2 * size * sizeof(ad_real) + 2 * (size_t)nc * sizeof(ad_real));
    /* under MPI a rank without memory ends every rank here */
    int status = ad_dist_agree(x ? AD_OK : fail(msg, msg_len, AD_ERR_NOMEM, "out of memory"),
                               msg, msg_len);
    if (status != AD_OK) {
        ad_free(x);
        return status;
    }
    ad_real *x_new = x + size, *u = x_new + size, *u_new = u + nc;
    memcpy(x, x0, size * sizeof(ad_real));
    status = energies(energy, ctx, x, nc, dim, u, msg, msg_len);
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
        status = energies(energy, ctx, x_new, nc, dim, u_new, msg, msg_len);
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
        if (cfg->progress) cfg->progress(step, cfg->n_steps, cfg->progress_ctx);
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

int smp_mc_sample(const smp_mc_config *cfg, const pot_potential *u, const ad_real *x0,
                  smp_dataset **out, smp_mc_stats *stats, char *msg, size_t msg_len)
{
    static const char fn[] = "smp_mc_sample";
    char text[200];
    if (out) *out = NULL;
    if (!cfg || !u || !x0 || !out)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: %s is NULL", fn,
                              !cfg ? "cfg" : !u ? "u" : !x0 ? "x0" : "out");
    if (config_error(cfg, text, sizeof text))
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, "%s: %s", fn, text);
    if (!u->energy || cfg->dim != u->dim)
        return ad_status_fail(msg, msg_len, AD_ERR_SHAPE,
                              "%s: dim = %d, but the potential %s has dim %d%s", fn, cfg->dim,
                              u->name ? u->name : "", u->dim, u->energy ? "" : " and no energy");
    long frames = smp_mc_n_frames(cfg);
    if (frames > INT_MAX / cfg->n_chains)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG,
                              "%s: %ld frames of %d chains are more rows than a data set holds",
                              fn, frames, cfg->n_chains);
    smp_dataset *d = smp_dataset_new((int)frames * cfg->n_chains, cfg->dim);
    ad_tape *scratch = ad_tape_new(0);
    if (!d || !scratch) {
        smp_dataset_free(d);
        ad_tape_free(scratch);
        return ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "%s: out of memory", fn);
    }
    smp_potential_ctx pc = {.potential = u, .scratch = scratch};
    int status = smp_mc_run(cfg, smp_potential_energy, &pc, x0, d->x, NULL, stats, msg, msg_len);
    ad_tape_free(scratch);
    if (status != AD_OK) {
        smp_dataset_free(d);
        return status;
    }
    *out = d;
    return AD_OK;
}
