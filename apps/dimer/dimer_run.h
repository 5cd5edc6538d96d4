/* dimer_run.h - the dimer experiment (bg-dimer): its pipeline, the top of
 * the program.  The files form a star around the run state (dimer_state.h):
 * each part includes it and the headers of the parts below it, none
 * includes this one; dimer_run.c runs them in order.
 *   dimer_run.c       the pipeline: --out and its settings, then the parts
 *   dimer_report.c    summary.json and report.md
 *   dimer_figures.c   the SVG figures
 *   dimer_analysis.c  samples, ESS, reweighted dF and F(d), the training log
 *   dimer_train.c     the generator, its training and the timing measurements
 *   dimer_data.c      MC data in both states, the umbrella reference
 *   dimer_resume.c    cache.json, stage checkpoints and logs for --resume
 *   dimer_state.c     the run state: file names in --out, manifest records,
 *                     release
 *   dimer_schedule.c  the quick and full schedules (named tables)
 *   dimer_sim.c       lattice starts, threaded energies, Monte Carlo and
 *                     umbrella sampling of the dimer
 * With --temperatures the data, the umbrella reference and the analysis are
 * repeated at every temperature of the list (dimer_temperature) and the one
 * generator is trained at all of them (and, by energy alone, at those of
 * --train-temperatures).  Every step returns AD_OK or an
 * error code with msg filled.
 */
#ifndef LIBBG_APPS_DIMER_DIMER_RUN_H
#define LIBBG_APPS_DIMER_DIMER_RUN_H

#include <stddef.h>

#include "apps/dimer/dimer_state.h"

/* dimer_run.c: the pipeline.  dimer_run_open sets the schedule and opens
 * --out (app_run_open: AD_ERR_ARG is the user's mistake); dimer_run_all then
 * runs the pipeline. */
int dimer_run_open(dimer_run *r, char *msg, size_t len);
int dimer_run_all(dimer_run *r, char *msg, size_t len);

#endif
