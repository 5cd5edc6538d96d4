/* dimer_data.h - the data of a dimer run (dimer_data.c). */
#ifndef LIBBG_APPS_DIMER_DIMER_DATA_H
#define LIBBG_APPS_DIMER_DIMER_DATA_H

#include <stddef.h>

#include "apps/dimer/dimer_state.h"

/* The MC data (data_*.csv) and the umbrella reference; with
 * --temperatures the same at every other temperature (data_closed_kT<kT>.csv,
 * data_open_kT<kT>.csv, umbrella_profile_kT<kT>.csv). */
int dimer_mc(dimer_run *r, char *msg, size_t len);
int dimer_reference(dimer_run *r, char *msg, size_t len);
int dimer_temperature_data(dimer_run *r, char *msg, size_t len);

#endif
