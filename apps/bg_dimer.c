/* bg_dimer.c - bg-dimer: the Boltzmann generator for the bistable dimer in a
 * repulsive Lennard-Jones bath (76 coordinates), end to end:
 *   1. Metropolis data in the closed and the open state, solvent relabelled
 *      against the lattice (Hungarian);
 *   2. the umbrella-sampling + WHAM reference of dF(closed - open), with a
 *      standard error from independent repeats;
 *   3. a whitened RealNVP trained by example (ML), then by energy in stages of
 *      ML + KL + RC with the energy cut lowered stage by stage;
 *   4. generated samples, log weights, ESS, the reweighted F(d) and dF with
 *      bootstrap errors, energies, transitions;
 *   5. the same from flow samples annealed towards the Boltzmann density by
 *      HMC in the latent space, with exact importance weights (bg_ais.h);
 *      CSV, SVG, summary.json and report.md in --out.
 * --out holds manifest.json (apps/toolkit/app_run.h): the settings and a checksum of
 * every file written.  --resume reuses the MC data, the umbrella reference
 * and the last stage checkpoint that the manifest verifies; stage k draws its
 * random numbers from (seed, k), so a resumed run reproduces an
 * uninterrupted one bit for bit.  A directory holding a run of other
 * settings is refused unless --restart.
 * Exit status: 0 success, 1 runtime failure, 2 usage error.
 * This file holds the options and main; the pipeline is dimer_run.h and the
 * apps/dimer_*.c files it lists.
 */
#include <stdio.h>
#include <string.h>

#include "apps/toolkit/app_dist.h"
#include "apps/toolkit/app_fs.h"
#include "apps/toolkit/app_options.h"
#include "apps/dimer/dimer_run.h"
#include "autodiff/ad.h"
#include "autodiff/ad_alloc.h"
#include "autodiff/fast/ad_pool.h"

static int dimer_main(int argc, char **argv)
{
    dimer_options o = {
        "out/dimer", 1, 1.0, 0, app_dist_threads(2), 0, 0, "paper", -1, -1, 1, {0}, {0, 0, 0},
        1.0, {0}, NULL, {0}};
    const app_option opts[] = {
        {"out", APP_OPT_STRING, &o.out,
         "output directory, with manifest.json and a lock (at most " APP_RUN_STR(
             APP_RUN_OUT_MAX) " characters)",
         "DIR", 0, 0, 0, 0,
         0},
        {"seed", APP_OPT_UINT64, &o.seed, "random seed", "N", 0, 0, 0, 0, 0},
        {"kT", APP_OPT_DOUBLE, &o.kT, "temperature in energy units, 0.1 to 10", "X", 1,
         1, 0.1, 10, 0},
        {"quick", APP_OPT_FLAG, &o.quick, "a tiny schedule that finishes in seconds (smoke test)",
         NULL, 0, 0, 0, 0, 0},
        {"threads", APP_OPT_INT, &o.threads, "threads", "N", 1, 1, 1, AD_THREADS_MAX,
         0},
        {"bond", APP_OPT_STRING, &o.bond,
         "bond form: paper (tilted, s = 2, the published reference) or seed", "FORM", 0, 0,
         0, 0, 0},
        {"resume", APP_OPT_FLAG, &o.resume,
         "reuse the MC data, umbrella reference and the last stage checkpoint in --out that "
         "manifest.json verifies (same settings, same checksum); the sampling and annealing "
         "are always redone, so --ais-chains, --ais-temps and --ais-start-scale may differ "
         "from the run in --out",
         NULL, 0, 0, 0, 0, 0},
        {"restart", APP_OPT_FLAG, &o.restart,
         "discard the files of an earlier run with other settings in --out (without it such a "
         "directory is refused)",
         NULL, 0, 0, 0, 0, 0},
        {"ais-chains", APP_OPT_INT, &o.ais_chains,
         "chains of annealed importance sampling in the latent space at each temperature (0: "
         "none; default 4000, --quick 200; half that with --temperatures of two or more)",
         "N", 1, 1, 0, 10000000, 0},
        {"grad-blocks", APP_OPT_INT, &o.grad_blocks,
         "cut every training batch into G blocks of rows whose gradients are added in block "
         "order: the numbers are then the same for any number of MPI ranks, which share the "
         "blocks (default 1: the whole batch at once)",
         "G", 1, 1, 1, 4096, 0},
        {"ais-temps", APP_OPT_INT, &o.ais_temps,
         "annealing steps from the flow to the Boltzmann density (default 1600, --quick 10)", "K", 1,
         1, 1, 100000, 0},
        {"ais-start-scale", APP_OPT_DOUBLE, &o.ais_start_scale,
         "the annealing's chains start from z ~ N(0, C kT I), C times the prior's variance, "
         "with the weights of that start: C > 1 reaches what the flow makes too thin (0.5 to "
         "10; default 1, the prior)",
         "C", 1, 1, 0.5, 10, 0},
        {"temperatures", APP_OPT_TEMPERATURES, &o.temperatures,
         "train the generator at these temperatures (comma-separated kT values, 0.1 to 10, at "
         "most " APP_RUN_STR(APP_MAX_TEMPERATURES) ", e.g. 0.5,1,2: MC data and an umbrella "
         "reference at each) and report it at each of them; default: --kT alone",
         "LIST", 1, 1, 0.1, 10, 0},
        APP_TRAIN_TEMPERATURES_OPTION(&o.train_temperatures),
        APP_TEMPERATURE_WEIGHTS_OPTION(&o.temperature_weights_text),
        APP_COUPLING_OPTIONS(&o.coupling),
    };
    const app_cli cli = {DIMER_PROGRAM,
                         "The bistable dimer in a repulsive Lennard-Jones bath (76 coordinates): "
                         "MC data, an umbrella-sampling reference of dF(closed - open), a "
                         "Boltzmann generator trained by example and by energy, reweighted "
                         "free energies. Writes CSV, SVG, summary.json and report.md to --out.",
                         opts, (int)(sizeof opts / sizeof *opts)};
    int code = app_options_handle(&cli, argc, argv);
    if (code >= 0) return code;
    if (strcmp(o.bond, "paper") != 0 && strcmp(o.bond, "seed") != 0) {
        fprintf(stderr, "%s: --bond: '%s' is not paper or seed (try --help)\n", DIMER_PROGRAM,
                o.bond);
        return 2;
    }
    char msg[1024];
    if (app_coupling_check(DIMER_PROGRAM, &o.coupling, msg, sizeof msg) != AD_OK ||
        app_train_temperatures_check(DIMER_PROGRAM, &o.temperatures, &o.train_temperatures, msg,
                                     sizeof msg) != AD_OK ||
        app_temperature_weights_check(DIMER_PROGRAM, o.temperature_weights_text, &o.temperatures,
                                      &o.train_temperatures, &o.temperature_weights, msg,
                                      sizeof msg) != AD_OK) {
        fprintf(stderr, "%s\n", msg);
        return 2;
    }
    dimer_run *r = ad_calloc(1, sizeof *r);
    if (!r) {
        fprintf(stderr, "%s: out of memory\n", DIMER_PROGRAM);
        return 1;
    }
    r->opt = o;
    /* --out: its name, the lock, the manifest; before any work */
    int status = dimer_run_open(r, msg, sizeof msg);
    if (status != AD_OK) {
        fprintf(stderr, "%s: %s\n", DIMER_PROGRAM, msg);
        dimer_run_release(r);
        ad_free(r);
        return status == AD_ERR_ARG ? 2 : 1;
    }
    ad_threads_set(o.threads);
    status = dimer_run_all(r, msg, sizeof msg);
    if (status == AD_OK) {
        fprintf(stderr,
                "%s: done in %.1f s; results in %s (summary.json, report.md)\n"
                "  umbrella dF(closed-open) %.3f +- %.3f; BG %.3f +- %.3f; ESS/n %.4f; median "
                "energy BG %.2f, MC %.2f; transitions/1000 %.1f\n",
                DIMER_PROGRAM, r->wall_seconds, o.out, r->us.dF, r->us.dF_se, r->res.dF,
                r->res.dF_se, r->res.ess_fraction, r->res.median_energy, r->mc_median,
                r->res.transitions_per_1000);
        if (r->ais_samples)
            fprintf(stderr, "  BG + latent AIS: dF %.3f +- %.3f; ESS/n %.4f; median energy %.2f\n",
                    r->ais_res.dF, r->ais_res.dF_se, r->ais_res.ess_fraction,
                    r->ais_res.median_energy);
    } else {
        fprintf(stderr, "%s: %s\n", DIMER_PROGRAM, msg);
    }
    dimer_run_release(r);
    ad_free(r);
    ad_threads_shutdown();
    return status == AD_OK ? 0 : 1;
}

/* Under mpirun (the MPI build) every rank runs dimer_main; rank 0 writes. */
int main(int argc, char **argv)
{
    if (app_dist_begin(DIMER_PROGRAM, &argc, &argv) != 0) return 1;
    return app_dist_end(dimer_main(argc, argv));
}
