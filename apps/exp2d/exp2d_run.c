/* exp2d_run.c - what every part of a 2-D run shares: the four models, the
 * per-part seeds, the names of the state pairs, CSV output in --out, and
 * releasing a run.  The parts (exp2d_data.c, exp2d_train.c,
 * exp2d_analysis.c, exp2d_figures.c) call into this file and never into
 * each other; exp2d_main.c runs them in order. */
#include "apps/exp2d/exp2d.h"
#include "apps/exp2d/exp2d_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/toolkit/app_fs.h"
#include "autodiff/ad_alloc.h"
#include "sampling/smp_data.h"

/* The seed of part `tag` of a run.  The files of format version 2 were made
 * with splitmix64 applied to seed * golden + tag * C1 + C2 (golden, C1 and C2
 * the splitmix64 constants); that key, one splitmix64 step back, goes
 * through the library's seed derivation so that the numbers stay the same. */
uint64_t exp2d_seed(uint64_t seed, uint64_t tag)
{
    const uint64_t golden = 0x9E3779B97F4A7C15ull;
    uint64_t key = seed * golden + tag * 0xBF58476D1CE4E5B9ull + 0x94D049BB133111EBull;
    return ad_rng_derive_seed(key - golden, 0);
}

static const struct {
    const char *name, *slug;
    double w_ml, w_kl, w_rc; /* w_rc is a flag here; the weight is the schedule's */
} MODEL_SPECS[EXP2D_N_MODELS] = {
    {"ML", "ml", 1, 0, 0},
    {"KL", "kl", 0, 1, 0},
    {"ML+KL", "ml_kl", 1, 1, 0},
    {"ML+KL+RC", "ml_kl_rc", 1, 1, 1},
};

_Static_assert(APP_MAX_TEMPERATURES == BG_MAX_TEMPERATURES,
               "--temperatures holds as many values as a generator");

void exp2d_run_init(exp2d_run *run)
{
    run->kT = run->opt.kT;
    run->sched = run->opt.quick ? run->sys->quick : run->sys->full;
    run->n_temps = run->opt.temperatures.n;
    for (int j = 0; j < run->n_temps; j++) {
        run->temps[j].kT = run->opt.temperatures.kT[j];
        run->temps[j].is_main = run->temps[j].kT == run->kT;
    }
    for (int k = 0; k < EXP2D_N_MODELS; k++) {
        exp2d_model *m = &run->models[k];
        m->name = MODEL_SPECS[k].name;
        m->slug = MODEL_SPECS[k].slug;
        m->w_ml = MODEL_SPECS[k].w_ml;
        m->w_kl = MODEL_SPECS[k].w_kl;
        m->w_rc = MODEL_SPECS[k].w_rc > 0 ? run->sched.w_rc : 0;
    }
}

void exp2d_temp_file(double kT, const char *stem, const char *suffix, char *buf, size_t len)
{
    snprintf(buf, len, "%s_kT%g%s", stem, kT, suffix);
}

void exp2d_pair_name(const exp2d_system *sys, int k, char *buf, size_t len)
{
    snprintf(buf, len, "%s-%s", sys->state_names[k + 1], sys->state_names[0]);
}

int exp2d_write_csv(const exp2d_run *run, const char *name, const ad_real *x, int n, int dim,
                     const char *const *cols, char *msg, size_t len)
{
    char path[1024];
    if (app_fs_join(path, sizeof path, run->opt.out, name) != AD_OK)
        return ad_status_fail(msg, len, AD_ERR_ARG, "output path too long: %s/%s", run->opt.out,
                              name);
    return smp_csv_write(path, x, n, dim, cols, msg, len);
}

/* loss_<slug>.csv: iteration, loss and the unweighted J_ML, J_KL, J_RC. */
int exp2d_write_loss_csv(const exp2d_run *run, const exp2d_model *m, char *msg, size_t len)
{
    int n = m->n_iterations;
    ad_real *tab = ad_malloc(sizeof(ad_real) * 5 * (size_t)(n > 0 ? n : 1));
    if (!tab) return ad_status_fail(msg, len, AD_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        tab[5 * i] = i + 1;
        for (int c = 0; c < 4; c++) tab[5 * i + 1 + c] = m->loss[4 * i + c];
    }
    static const char *const cols[5] = {"iteration", "loss", "ml", "kl", "rc"};
    char name[128];
    snprintf(name, sizeof name, "loss_%s.csv", m->slug);
    int status = exp2d_write_csv(run, name, tab, n, 5, cols, msg, len);
    ad_free(tab);
    return status;
}

void exp2d_run_release(exp2d_run *run)
{
    app_run_close(run->run);
    ad_free(run->profile_center);
    ad_free(run->profile_exact);
    ad_free(run->map_u);
    ad_free(run->data);
    ad_free(run->data_u);
    ad_free(run->data_chain);
    for (int k = 0; k < EXP2D_N_MODELS; k++) {
        exp2d_model *m = &run->models[k];
        bg_generator_free(m->gen);
        ad_free(m->loss);
        ad_free(m->profile);
        ad_free(m->plot_x);
        ad_free(m->plot_z);
        ad_free(m->plot_state);
        ad_free(m->interp);
    }
    for (int j = 0; j < run->n_temps; j++) {
        exp2d_temperature *t = &run->temps[j];
        if (!t->is_main) {
            ad_free(t->profile_exact);
            ad_free(t->data);
        }
        for (int k = 0; k < EXP2D_N_MODELS; k++) ad_free(t->models[k].profile);
    }
    ad_free(run->curve);
    memset(run, 0, sizeof *run);
}
