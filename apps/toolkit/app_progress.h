/* app_progress.h - the training progress line on stderr.
 *
 *   stage 2/4  it 120/500  loss -7.62 (ml 0.31 kl -7.9)  84 it/s  eta 4s
 *
 * On a terminal the line is rewritten in place ("\r", text, clear to the end
 * of the line); otherwise a full line is printed at the first update, at most
 * every `interval` seconds after that, and at the last iteration.  Time comes
 * from the monotonic clock.  app_progress_format is the pure formatting part,
 * tested on a buffer.  The app_progress object holds no allocation.
 */
#ifndef LIBBG_APPS_TOOLKIT_APP_PROGRESS_H
#define LIBBG_APPS_TOOLKIT_APP_PROGRESS_H

#include <stddef.h>
#include <stdio.h>

typedef struct {
    const char *name; /* "loss", "ml", "kl" */
    double value;
} app_progress_value;

typedef struct {
    int stage, n_stages;              /* "stage 2/4"; omitted when n_stages <= 0  */
    const char *stage_name;           /* optional, printed after the stage ("KL") */
    long iteration, total;            /* iterations done, and planned             */
    const app_progress_value *values; /* the first is the main loss; the rest go  */
    int n_values;                     /* in parentheses                           */
    double elapsed;                   /* seconds since the stage started          */
} app_progress_line;

/* Format one line (no newline) into buf; returns what snprintf returns. */
int app_progress_format(char *buf, size_t size, const app_progress_line *line);
/* Seconds as "4s", "2m05s", "1h02m". */
void app_progress_format_duration(char *buf, size_t size, double seconds);

/* Seconds on the monotonic clock (arbitrary origin). */
double app_clock_seconds(void);

typedef struct {
    FILE *stream;          /* where lines go (stderr by default)             */
    int tty;               /* 1: rewrite in place; set by init, may be forced */
    double interval;       /* seconds between lines when not a terminal      */
    int stage, n_stages;   /* current stage                                  */
    const char *stage_name;
    long total;            /* iterations planned in this stage               */
    double stage_start;    /* clock at app_progress_stage                    */
    double last_print;     /* clock at the last printed line                 */
    int printed;           /* a line of this stage was printed               */
    int line_open;         /* terminal: a line without its newline is shown  */
    char last[256];        /* the last formatted line                        */
} app_progress;

/* stream NULL means stderr; interval <= 0 means 5 seconds. */
void app_progress_init(app_progress *p, FILE *stream, double interval);
/* Start stage `stage` of n_stages (name may be NULL) with `total` iterations. */
void app_progress_stage(app_progress *p, int stage, int n_stages, const char *name, long total);
/* Report `iteration` iterations done with the current values. */
void app_progress_update(app_progress *p, long iteration, const app_progress_value *values,
                         int n_values);
/* End the stage: a line left open on a terminal gets its newline.  (The
 * update at iteration == total always prints, terminal or not.) */
void app_progress_done(app_progress *p);

#endif
