/* exp2d_main.c - a 2-D run from the command line: the options, --out (its
 * lock and manifest), then the parts in order: references and Monte Carlo
 * data, training, analysis, CSV files, figures, summary.json and report.md. */
#include "apps/exp2d/exp2d.h"
#include "apps/exp2d/exp2d_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "apps/toolkit/app_dist.h"
#include "apps/toolkit/app_options.h"
#include "apps/toolkit/app_progress.h"
#include "autodiff/ad_alloc.h"
#include "autodiff/fast/ad_pool.h"

/* ---- the whole run ----------------------------------------------------- */

int exp2d_run_all(exp2d_run *run, char *msg, size_t len)
{
    run->start_clock = app_clock_seconds();
    exp2d_run_init(run);
    ad_tape *scratch = ad_tape_new(0);
    if (!scratch) return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    int status = exp2d_references(run, scratch, msg, len);
    if (status == AD_OK) status = exp2d_mc(run, scratch, msg, len);
    if (status == AD_OK && run->n_temps) status = exp2d_temperature_data(run, scratch, msg, len);
    ad_tape_free(scratch);
    if (status == AD_OK) status = exp2d_train_all(run, msg, len);
    if (status == AD_OK) status = exp2d_analyse_all(run, msg, len);
    if (status == AD_OK && run->n_temps) status = exp2d_analyse_temperatures(run, msg, len);
    if (status == AD_OK) status = exp2d_write_csvs(run, msg, len);
    if (status == AD_OK && run->n_temps) status = exp2d_write_temperature_csvs(run, msg, len);
    if (status == AD_OK) status = exp2d_write_figures(run, msg, len);
    run->wall_seconds = app_clock_seconds() - run->start_clock;
    if (status == AD_OK) status = exp2d_write_summary(run, msg, len);
    if (status == AD_OK) status = exp2d_write_report(run, msg, len);
    /* the final outputs, for the record (they are never reused) */
    static const char *const outputs[] = {"mc_data.csv", "mc_data.svg", "samples.svg",
                                          "profiles.svg", "interpolation.svg", "loss.svg",
                                          "summary.json", "report.md"};
    for (size_t i = 0; status == AD_OK && run->run && i < sizeof outputs / sizeof *outputs; i++)
        status = app_run_note(run->run, outputs[i], outputs[i], 0, EXP2D_STAGE_OUTPUTS, msg, len);
    for (int k = 0; status == AD_OK && run->run && k < EXP2D_N_MODELS; k++) {
        static const char *const what[2] = {"profile", "interpolation"};
        for (int w = 0; status == AD_OK && w < 2; w++) {
            char name[128];
            snprintf(name, sizeof name, "%s_%s.csv", what[w], run->models[k].slug);
            status = app_run_note(run->run, name, name, 0, EXP2D_STAGE_OUTPUTS, msg, len);
        }
    }
    if (run->n_temps) {
        static const char *const more[] = {"temperatures.csv", "temperatures.svg",
                                           "temperature_profiles.svg"};
        for (size_t i = 0; status == AD_OK && run->run && i < sizeof more / sizeof *more; i++)
            status = app_run_note(run->run, more[i], more[i], 0, EXP2D_STAGE_OUTPUTS, msg, len);
        for (int j = 0; status == AD_OK && run->run && j < run->n_temps; j++) {
            char name[96];
            exp2d_temp_file(run->temps[j].kT, "profiles", ".csv", name, sizeof name);
            status = app_run_note(run->run, name, name, 0, EXP2D_STAGE_OUTPUTS, msg, len);
        }
    }
    if (status == AD_OK && run->run) status = app_run_save(run->run, msg, len);
    return status;
}

static int default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > 4) n = 4;
    return (int)n;
}

/* The settings of the manifest: everything the numbers depend on (not the
 * thread count: results do not depend on it). */
static int open_out(exp2d_run *run, char *msg, size_t len)
{
    const exp2d_system *sys = run->sys;
    const exp2d_schedule *s = run->opt.quick ? &sys->quick : &sys->full;
    char seed[32], kT[40], mc[128], train[256], analysis[160];
    char temps[APP_MAX_TEMPERATURES * 26], train_temps[APP_MAX_TEMPERATURES * 26], coupling[96];
    char weights[APP_MAX_TEMPERATURES * 52];
    app_temperature_weights_text(&run->opt.temperature_weights, 1, weights, sizeof weights);
    app_temperatures_text(&run->opt.temperatures, 1, temps, sizeof temps);
    app_temperatures_text(&run->opt.train_temperatures, 1, train_temps, sizeof train_temps);
    app_coupling_text(&run->opt.coupling, coupling, sizeof coupling);
    app_run_u64_str(run->opt.seed, seed, sizeof seed);
    snprintf(kT, sizeof kT, "%.17g", run->opt.kT);
    snprintf(mc, sizeof mc, "steps %ld stride %d sigma %.17g", sys->mc_steps, sys->mc_stride,
             sys->mc_sigma);
    snprintf(train, sizeof train,
             "ml: it %d batch %d lr %.17g; others: it %d batch %d lr %.17g w_rc %.17g "
             "e_high %.17g",
             s->ml_iterations, s->ml_batch, s->ml_lr, s->iterations, s->batch, s->lr, s->w_rc,
             s->e_high);
    if (run->opt.grad_blocks > 1) { /* a setting only when it changes the numbers */
        size_t n = strlen(train);
        snprintf(train + n, sizeof train - n, " grad_blocks %d", run->opt.grad_blocks);
    }
    snprintf(analysis, sizeof analysis, "samples %d bootstrap %d bootstrap_kde %d interp %d",
             s->n_samples, s->n_bootstrap, s->n_bootstrap_kde, s->interp_points);
    /* the temperature lists and a spline coupling only when given, so that a
     * run without them keeps its fingerprint */
    app_run_setting set[12] = { /* 7 always, at most 4 when given */
        {"system", sys->name}, {"seed", seed},   {"kT", kT},
        {"schedule", run->opt.quick ? "quick" : "full"}, {"mc", mc},
        {"training", train},   {"analysis", analysis},
    };
    int n_set = 7;
    if (run->opt.temperatures.n) set[n_set++] = (app_run_setting){"temperatures", temps};
    if (run->opt.train_temperatures.n)
        set[n_set++] = (app_run_setting){"train_temperatures", train_temps};
    if (weights[0]) set[n_set++] = (app_run_setting){"temperature_weights", weights};
    if (coupling[0]) set[n_set++] = (app_run_setting){"coupling", coupling};
    app_run_config c = {.program = sys->program,
                        .format_version = EXP2D_FORMAT_VERSION,
                        .out = run->opt.out,
                        .settings = set,
                        .n_settings = n_set,
                        .resume = run->opt.resume,
                        .restart = run->opt.restart};
    return app_run_open(&run->run, &c, msg, len);
}

static int run_main(const exp2d_system *sys, int argc, char **argv)
{
    char default_out[256];
    snprintf(default_out, sizeof default_out, "out/%s", sys->name);
    exp2d_options o = {.out = default_out, .seed = 1, .kT = 1.0,
                       .threads = app_dist_threads(default_threads()), .grad_blocks = 1};
    const app_option opts[] = {
        {"out", APP_OPT_STRING, &o.out,
         "output directory, with manifest.json and a lock (at most " APP_RUN_STR(
             APP_RUN_OUT_MAX) " characters)",
         "DIR", 0, 0, 0,
         0, 0},
        {"seed", APP_OPT_UINT64, &o.seed, "random seed", "N", 0, 0, 0, 0, 0},
        {"kT", APP_OPT_DOUBLE, &o.kT, "temperature in energy units, 0.1 to 10", "X", 1,
         1, 0.1, 10, 0},
        {"quick", APP_OPT_FLAG, &o.quick, "a reduced schedule that finishes in seconds", NULL, 0, 0,
         0, 0, 0},
        {"threads", APP_OPT_INT, &o.threads,
         "threads for the linear algebra (by default the cores, at most 4)", "N", 1, 1, 1, AD_THREADS_MAX,
         0},
        {"resume", APP_OPT_FLAG, &o.resume,
         "reuse the models already trained in DIR by an interrupted run with the same settings "
         "(each only when manifest.json verifies its files)",
         NULL, 0, 0, 0, 0, 0},
        {"grad-blocks", APP_OPT_INT, &o.grad_blocks,
         "cut every training batch into G blocks of rows whose gradients are added in block "
         "order: the numbers are then the same for any number of MPI ranks, which share the "
         "blocks (default 1: the whole batch at once)",
         "G", 1, 1, 1, 4096, 0},
        {"restart", APP_OPT_FLAG, &o.restart,
         "discard the files of an earlier run with other settings in DIR (without it such a "
         "directory is refused)",
         NULL, 0, 0, 0, 0, 0},
        {"temperatures", APP_OPT_TEMPERATURES, &o.temperatures,
         "train one generator per model at these temperatures (comma-separated kT values, "
         "0.1 to 10, at most " APP_RUN_STR(APP_MAX_TEMPERATURES) ", e.g. 0.5,1,2) and report "
         "every model at each of them against quadrature; default: --kT alone",
         "LIST", 1, 1, 0.1, 10, 0},
        APP_TRAIN_TEMPERATURES_OPTION(&o.train_temperatures),
        APP_TEMPERATURE_WEIGHTS_OPTION(&o.temperature_weights_text),
        APP_COUPLING_OPTIONS(&o.coupling),
    };
    const app_cli cli = {sys->program, sys->description, opts, (int)(sizeof opts / sizeof *opts)};
    int code = app_options_handle(&cli, argc, argv);
    if (code >= 0) return code;
    char msg[1024];
    if (app_coupling_check(sys->program, &o.coupling, msg, sizeof msg) != AD_OK ||
        app_train_temperatures_check(sys->program, &o.temperatures, &o.train_temperatures, msg,
                                     sizeof msg) != AD_OK ||
        app_temperature_weights_check(sys->program, o.temperature_weights_text, &o.temperatures,
                                      &o.train_temperatures, &o.temperature_weights, msg,
                                      sizeof msg) != AD_OK) {
        fprintf(stderr, "%s\n", msg);
        return 2;
    }
    exp2d_run *run = ad_calloc(1, sizeof *run);
    if (!run) {
        fprintf(stderr, "%s: out of memory\n", sys->program);
        return 1;
    }
    run->sys = sys;
    run->opt = o;
    /* --out: its name, the lock, the manifest; before any work */
    int status = open_out(run, msg, sizeof msg);
    if (status != AD_OK) {
        fprintf(stderr, "%s: %s\n", sys->program, msg);
        exp2d_run_release(run);
        ad_free(run);
        return status == AD_ERR_ARG ? 2 : 1;
    }
    ad_threads_set(o.threads);
    status = exp2d_run_all(run, msg, sizeof msg);
    if (status == AD_OK) {
        fprintf(stderr, "%s: done in %.1f s; results in %s (summary.json, report.md)\n",
                sys->program, run->wall_seconds, o.out);
        for (int k = 0; k < EXP2D_N_MODELS; k++) {
            const exp2d_model *m = &run->models[k];
            fprintf(stderr, "  %-9s", m->name);
            for (int p = 0; p + 1 < sys->n_minima; p++) {
                char pair[64];
                exp2d_pair_name(sys, p, pair, sizeof pair);
                fprintf(stderr, "  dF(%s) %6.3f +- %.3f (exact %.3f)", pair, m->delta_f[p + 1],
                        m->delta_f_se[p + 1], run->ref.delta_f[p + 1]);
            }
            fprintf(stderr, "  ESS/n %.3f\n", m->ess_fraction);
        }
        for (int j = 0; j < run->n_temps; j++) {
            const exp2d_temperature *t = &run->temps[j];
            fprintf(stderr, "  at kT %g:\n", t->kT);
            for (int k = 0; k < EXP2D_N_MODELS; k++) {
                const exp2d_temp_model *m = &t->models[k];
                fprintf(stderr, "    %-9s", run->models[k].name);
                for (int p = 0; p + 1 < sys->n_minima; p++) {
                    char pair[64];
                    exp2d_pair_name(sys, p, pair, sizeof pair);
                    fprintf(stderr, "  dF(%s) %6.3f +- %.3f (exact %.3f)", pair,
                            m->delta_f[p + 1], m->delta_f_se[p + 1], t->ref.delta_f[p + 1]);
                }
                fprintf(stderr, "  ESS/n %.3f\n", m->ess_fraction);
            }
        }
    } else {
        fprintf(stderr, "%s: %s\n", sys->program, msg);
    }
    exp2d_run_release(run);
    ad_free(run);
    ad_threads_shutdown();
    return status == AD_OK ? 0 : 1;
}

/* Under mpirun (the MPI build) every rank runs the whole program; rank 0
 * writes (apps/toolkit/app_dist.h). */
int exp2d_main(const exp2d_system *sys, int argc, char **argv)
{
    if (app_dist_begin(sys->program, &argc, &argv) != 0) return 1;
    return app_dist_end(run_main(sys, argc, argv));
}
