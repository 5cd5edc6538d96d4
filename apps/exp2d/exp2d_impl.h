/* exp2d_impl.h - the parts of a 2-D run as exp2d_main.c calls them, and
 * what they share (exp2d_run.c).  Private to apps/exp2d. */
#ifndef LIBBG_APPS_EXP2D_EXP2D_IMPL_H
#define LIBBG_APPS_EXP2D_EXP2D_IMPL_H

#include "apps/exp2d/exp2d.h"

/* exp2d_run.c */
uint64_t exp2d_seed(uint64_t seed, uint64_t tag);
/* The schedule, kT and the four models' names and weights from run->opt. */
void exp2d_run_init(exp2d_run *run);
/* x [n, dim] as DIR/name with the column names cols. */
int exp2d_write_csv(const exp2d_run *run, const char *name, const ad_real *x, int n, int dim,
                    const char *const *cols, char *msg, size_t len);
/* loss_<slug>.csv: iteration, loss and the unweighted J_ML, J_KL, J_RC. */
int exp2d_write_loss_csv(const exp2d_run *run, const exp2d_model *m, char *msg, size_t len);

/* "<stem>_kT<kT><suffix>" (kT in %g): the files of one temperature of
 * --temperatures, e.g. profiles_kT0.5.csv. */
void exp2d_temp_file(double kT, const char *stem, const char *suffix, char *buf, size_t len);

/* exp2d_data.c */
int exp2d_references(exp2d_run *run, ad_tape *scratch, char *msg, size_t len);
int exp2d_mc(exp2d_run *run, ad_tape *scratch, char *msg, size_t len);
/* --temperatures: the reference and the MC data at every temperature (the
 * run's kT shares the run's), and the reference curve dF(kT) of the figure. */
int exp2d_temperature_data(exp2d_run *run, ad_tape *scratch, char *msg, size_t len);
/* exp2d_train.c */
int exp2d_train_all(exp2d_run *run, char *msg, size_t len);
/* exp2d_analysis.c */
int exp2d_analyse_all(exp2d_run *run, char *msg, size_t len);
int exp2d_write_csvs(const exp2d_run *run, char *msg, size_t len);
/* --temperatures: every model sampled at every temperature (the run's kT
 * shares the run's results), and temperatures.csv, profiles_kT<kT>.csv. */
int exp2d_analyse_temperatures(exp2d_run *run, char *msg, size_t len);
int exp2d_write_temperature_csvs(const exp2d_run *run, char *msg, size_t len);

#endif
