/* dimer_train.h - the generator of a dimer run, its training and the timing
 * measurements (dimer_train.c). */
#ifndef LIBBG_APPS_DIMER_DIMER_TRAIN_H
#define LIBBG_APPS_DIMER_DIMER_TRAIN_H

#include <stddef.h>

#include "apps/dimer/dimer_state.h"

int dimer_model_build(dimer_run *r, char *msg, size_t len);
int dimer_measure_timing(dimer_run *r, char *msg, size_t len);
int dimer_train(dimer_run *r, char *msg, size_t len);

#endif
