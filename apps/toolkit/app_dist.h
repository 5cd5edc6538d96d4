/* app_dist.h - a program under `mpirun -np N` (the MPI build; in the default
 * build every function here does what one process needs and nothing more).
 *
 *     int main(int argc, char **argv)
 *     {
 *         if (app_dist_begin("bg-x", &argc, &argv) != 0) return 1;
 *         return app_dist_end(x_main(argc, argv));
 *     }
 *
 * app_dist_begin starts MPI (autodiff/ad_dist.h) when an MPI launcher
 * started the program (the environment names a rank: OMPI_COMM_WORLD_SIZE,
 * PMI_RANK, PMI_SIZE or PMIX_RANK) or BG_MPI=1 asks for it; otherwise the
 * program runs as one process without starting MPI.  It makes every rank but
 * rank 0 quiet: its standard output goes to /dev/null, its standard error
 * to a scratch file kept for its last line.  So the progress, the messages
 * and the --help text appear once; files are written by rank 0 (the
 * library's writers are collective: ad_dist_root_begin).  app_dist_end
 * agrees on the exit codes of the ranks: every rank exits with the code of
 * the lowest rank that failed, and when rank 0 itself succeeded it prints
 * that rank's last line of standard error (its message).  Ranks that fall
 * out of step (one failed where the others went on) are stopped together:
 * rank 0 prints the message and MPI_Abort ends the job with its code.
 *
 * Testing aid: BG_DIST_FAULT=alloc@R with BG_DIST_FAULT_ALLOC=N makes every
 * allocation of rank R fail after N more successful ones (ad_alloc.h).
 */
#ifndef LIBBG_APPS_TOOLKIT_APP_DIST_H
#define LIBBG_APPS_TOOLKIT_APP_DIST_H

/* Start (see above): 0, or 1 with a line on stderr when MPI cannot start
 * (the program then exits with that code). */
int app_dist_begin(const char *program, int *argc, char ***argv);
/* The agreed exit code (see above), after MPI is finished. */
int app_dist_end(int code);
/* A default thread count: `cores` divided between the ranks on this
 * machine, at least 1. */
int app_dist_threads(int cores);

#endif
