/* dimer_resume.h - what bg-dimer --resume reuses (dimer_resume.c). */
#ifndef LIBBG_APPS_DIMER_DIMER_RESUME_H
#define LIBBG_APPS_DIMER_DIMER_RESUME_H

#include <stddef.h>

#include "apps/dimer/dimer_state.h"

int dimer_cache_write(dimer_run *r, char *msg, size_t len);
/* 0 (nothing reused), 1 (the MC data) or 2 (the data and the umbrella reference) */
int dimer_cache_load(dimer_run *r);
/* The same for temperature j of --temperatures (not the run's kT):
 * cache_kT<kT>.json, written after its MC data (us = 0) and again after its
 * umbrella reference (us = 1), and read back with its data_*_kT<kT>.csv and
 * umbrella_profile_kT<kT>.csv when the manifest verifies them: 0, 1 or 2 as
 * above. */
int dimer_temp_cache_write(dimer_run *r, int j, int us, char *msg, size_t len);
int dimer_temp_cache_load(dimer_run *r, int j);
/* Sets r->first_stage from the stage checkpoints that the manifest verifies
 * (with --resume and reused data) and trims the log to the stages kept. */
void dimer_resume_stages(dimer_run *r);
/* ckpt/stage_seconds.csv: write (write != 0) or read r->stage_seconds */
void dimer_stage_seconds_io(dimer_run *r, int write);

#endif
