/* dimer_analysis.h - the analysis of a dimer run (dimer_analysis.c). */
#ifndef LIBBG_APPS_DIMER_DIMER_ANALYSIS_H
#define LIBBG_APPS_DIMER_DIMER_ANALYSIS_H

#include <stddef.h>

#include "apps/dimer/dimer_state.h"

int dimer_analyse(dimer_run *r, char *msg, size_t len);
void dimer_log_read(dimer_run *r, dimer_log_rows *lr);
double dimer_final_loss(const dimer_log_rows *lr, int last_stage);
int dimer_samples_csv_write(dimer_run *r, char *msg, size_t len);
/* --temperatures: plain and annealed samples at every other temperature,
 * analysed and freed; then temperatures.csv and bg_profile_kT<kT>.csv,
 * ais_profile_kT<kT>.csv. */
int dimer_analyse_temperatures(dimer_run *r, char *msg, size_t len);
int dimer_temperature_csvs_write(dimer_run *r, char *msg, size_t len);

#endif
