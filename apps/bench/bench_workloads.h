/* bench_workloads.h - the standard workloads timed by bg-bench.
 *
 * A workload is a plain spec (bench_spec: a row of the table in
 * docs/performance.md); bench_setup builds everything one iteration needs
 * (model, optimizer, tape, data, buffers), bench_iteration runs one
 * iteration and bench_free releases it all.  A training iteration is what
 * bg_train does per step: zero the gradients, draw a batch (data rows with
 * replacement, or prior samples), the loss on a fresh tape, backward, Adam.
 * The bench_run is the caller's (bench_free).
 */
#ifndef LIBBG_APPS_BENCH_BENCH_WORKLOADS_H
#define LIBBG_APPS_BENCH_BENCH_WORKLOADS_H

#include <stddef.h>

typedef enum {
    BENCH_TRAIN_ML,  /* ML loss on data                          */
    BENCH_TRAIN_KL,  /* KL loss against the system's energy       */
    BENCH_ENERGY,    /* energies and forces of a batch            */
    BENCH_SAMPLE,    /* generation, energies, log weights         */
    BENCH_GEMM,      /* one matrix product m x k times k x n      */
    BENCH_COUPLING_AFFINE, /* forward + backward of `blocks` blocks of */
    BENCH_COUPLING_SPLINE  /* affine / spline couplings (the same      */
                           /* hidden layers), sum(x) + sum(log det)    */
} bench_kind;

/* Bins of the spline couplings of BENCH_COUPLING_SPLINE (the default). */
#define BENCH_SPLINE_BINS 8

typedef enum { BENCH_DOUBLE_WELL, BENCH_MUELLER_BROWN, BENCH_DIMER, BENCH_NO_SYSTEM } bench_system;

typedef struct bench_spec {
    const char *name;     /* "dw_ml"                                        */
    bench_kind kind;
    bench_system system;
    int blocks;           /* RealNVP blocks (two couplings each)            */
    int width;            /* hidden width of S and T (2 hidden layers)      */
    int batch;            /* samples per iteration (GEMM: rows m)           */
    double lr;            /* Adam learning rate (the peer's)                */
    int gemm_n, gemm_k;   /* GEMM: columns n and inner size k               */
    const char *what;     /* one line for the table                         */
} bench_spec;

/* The standard workloads, in table order. */
extern const bench_spec BENCH_SPECS[];
extern const int BENCH_N_SPECS;

/* Coordinates per configuration of the spec's system (0 for GEMM). */
int bench_spec_dim(const bench_spec *s);
/* Dense-layer (matrix product) GFLOP per iteration, counted as the peer
 * does: 2 in out per layer and sample, times 3 for training (forward and
 * the two backward products); 0 when the workload has no dense layers. */
double bench_spec_gflop(const bench_spec *s);

typedef struct bench_run bench_run;

/* Build a workload; NULL with a message on failure. */
bench_run *bench_setup(const bench_spec *s, char *msg, size_t msg_len);
/* One iteration: AD_OK, or an error code with a message. */
int bench_iteration(bench_run *r, char *msg, size_t msg_len);
void bench_free(bench_run *r); /* accepts NULL */

#endif
