/* dimer_resume.h - what bg-dimer --resume reuses (dimer_resume.c). */
#ifndef LIBBG_APPS_DIMER_DIMER_RESUME_H
#define LIBBG_APPS_DIMER_DIMER_RESUME_H

#include <stddef.h>

#include "apps/dimer/dimer_state.h"

/* The cache of one temperature: j < 0 the run's kT (cache.json, beside
 * data_closed.csv, data_open.csv and umbrella_profile.csv), otherwise
 * temperature j of --temperatures (cache_kT<kT>.json, beside
 * data_*_kT<kT>.csv and umbrella_profile_kT<kT>.csv).  Written, and recorded
 * in the manifest, after the MC data (us = 0) and again after the umbrella
 * reference (us = 1). */
int dimer_cache_write(dimer_run *r, int j, int us, char *msg, size_t len);
/* Reads it back with its files when the manifest verifies them: 0 (nothing
 * reused), 1 (the MC data) or 2 (the data and the umbrella reference). */
int dimer_cache_load(dimer_run *r, int j);
/* Sets r->first_stage from the stage checkpoints that the manifest verifies
 * (with --resume and reused data) and trims the log to the stages kept. */
void dimer_resume_stages(dimer_run *r);
/* ckpt/stage_seconds.csv: write (write != 0) or read r->stage_seconds */
void dimer_stage_seconds_io(dimer_run *r, int write);

#endif
