/* dimer_state.c - what every part of a dimer run shares (dimer_state.h):
 * file names in --out, manifest records and releasing the run state. */
#include <stdio.h>
#include <string.h>

#include "apps/dimer/dimer_state.h"
#include "apps/toolkit/app_fs.h"
#include "autodiff/ad_alloc.h"

void dimer_out_path(const dimer_run *r, const char *name, char *buf, size_t len)
{
    if (app_fs_join(buf, len, r->opt.out, name) != AD_OK) buf[0] = 0;
}

int dimer_record(dimer_run *r, const char *name, int stage, char *msg, size_t len)
{
    if (!r->run) return AD_OK;
    return app_run_record(r->run, name, name, 0, stage, msg, len);
}

void dimer_ckpt_name(int k, char *buf, size_t len) { snprintf(buf, len, "ckpt/stage-stage%d.ckpt", k); }

void dimer_ckpt_label(const dimer_run *r, int stage, char *buf, size_t len)
{
    buf[0] = '\0';
    if (!r->run) return;
    app_run_label(r->run, stage, buf, len);
    app_label_append_settings(&r->opt.temperatures, &r->opt.coupling, buf, len);
}

void dimer_temp_file(double kT, const char *stem, const char *suffix, char *buf, size_t len)
{
    snprintf(buf, len, "%s_kT%g%s", stem, kT, suffix);
}

void dimer_run_release(dimer_run *r)
{
    app_run_close(r->run);
    r->run = NULL;
    dimer_energy_ctx_release(&r->ectx);
    dimer_umbrella_out_release(&r->us);
    bg_generator_free(r->gen);
    bg_samples_free(r->samples);
    smp_profile_free(r->profile);
    bg_samples_free(r->ais_samples);
    smp_profile_free(r->ais_profile);
    ad_free(r->d_ais);
    ad_free(r->data);
    ad_free(r->data_u);
    ad_free(r->d_bg);
    for (int j = 0; j < r->n_temps; j++) {
        dimer_temperature *t = &r->temps[j];
        ad_free(t->data);
        dimer_umbrella_out_release(&t->us);
        smp_profile_free(t->profile);
        smp_profile_free(t->ais_profile);
    }
    r->n_temps = 0;
}
