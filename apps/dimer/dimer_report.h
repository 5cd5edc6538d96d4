/* dimer_report.h - summary.json and report.md of a dimer run
 * (dimer_report.c). */
#ifndef LIBBG_APPS_DIMER_DIMER_REPORT_H
#define LIBBG_APPS_DIMER_DIMER_REPORT_H

#include <stddef.h>

#include "apps/dimer/dimer_state.h"

int dimer_summary_write(dimer_run *r, char *msg, size_t len);
int dimer_report_write(dimer_run *r, char *msg, size_t len);

#endif
