/* dimer_figures.h - the SVG figures of a dimer run (dimer_figures.c). */
#ifndef LIBBG_APPS_DIMER_DIMER_FIGURES_H
#define LIBBG_APPS_DIMER_DIMER_FIGURES_H

#include <stddef.h>

#include "apps/dimer/dimer_state.h"

/* fig_energy, fig_distance, fig_configurations,
 * fig_free_energy and fig_loss (.svg), in that order; with --temperatures
 * also fig_temperatures.svg (dF against kT) and fig_temperature_profiles.svg. */
int dimer_figures_write(dimer_run *r, const dimer_log_rows *lr, char *msg, size_t len);
/* The paper's umbrella dF(closed - open) at kT (mean of its three runs, its
 * energy, units of that kT), NAN at a temperature it did not report. */
double dimer_paper_umbrella(double kT);

#endif
