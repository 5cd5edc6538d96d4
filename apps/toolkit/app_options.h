/* app_options.h - a small declarative command-line parser for the programs.
 *
 * A program describes its options in a table of app_option and calls
 * app_options_parse.  Both `--name value` and `--name=value` are accepted;
 * `--help` (or `-h`) is detected and reported, never acted on: nothing here
 * prints unless asked (app_options_usage, app_options_handle) and nothing
 * calls exit().  String destinations point into argv (no copies, nothing to
 * free).  A repeated option keeps its last value.  A `--help` anywhere wins
 * over every other argument.  A value that starts with "--" is taken as a
 * forgotten value ("--out --quick"); write --out=--odd-name for such a name.
 * On an error the destinations may already hold values from earlier
 * arguments.  Numbers are decimal only (no hex, no leading spaces); huge
 * integers are reported as too large, never wrapped.
 *
 *     int quick = 0; uint64_t seed = 1; double kT = 1; const char *out = "out/dw";
 *     const app_option opts[] = {
 *         {"out", APP_OPT_STRING, &out, "output directory", "DIR"},
 *         {"seed", APP_OPT_UINT64, &seed, "random seed", "N"},
 *         {"kT", APP_OPT_DOUBLE, &kT, "temperature", "X", .has_min = 1, .min = 1e-6},
 *         {"quick", APP_OPT_FLAG, &quick, "a short run for smoke tests"},
 *     };
 *     const app_cli cli = {"bg-doublewell", "The double-well experiment.", opts, 4};
 *     int code = app_options_handle(&cli, argc, argv);
 *     if (code >= 0) return code;  // 0 after --help, 2 after a usage error
 */
#ifndef LIBBG_APPS_TOOLKIT_APP_OPTIONS_H
#define LIBBG_APPS_TOOLKIT_APP_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

typedef enum {
    APP_OPT_FLAG,   /* int *: set to 1 when present; takes no value       */
    APP_OPT_INT,    /* int *: decimal, within INT_MIN..INT_MAX             */
    APP_OPT_DOUBLE, /* double *: finite unless allow_nonfinite             */
    APP_OPT_STRING, /* const char **: points into argv                     */
    APP_OPT_UINT64, /* uint64_t *: decimal, 0..UINT64_MAX, no sign         */
    APP_OPT_TEMPERATURES, /* app_temperatures *: a comma-separated list of   */
                    /* temperatures (see below); min / max bound each one  */
    APP_OPT_CHOICE  /* int *: the index of the value among the names that  */
                    /* value_name lists, separated by '|' ("affine|spline") */
} app_opt_kind;

/* A list of temperatures (kT in energy units), as --temperatures 0.5,1,2
 * gives it: 1 .. APP_MAX_TEMPERATURES decimal numbers separated by commas
 * (no spaces, no empty entries), each finite, > 0 and within the option's
 * min / max, no value twice ("1" and "1.0" are the same value).  The parser
 * sorts the list in increasing order, so that the same set gives the same
 * run whatever its order on the command line.  n = 0: the option was not
 * given (initialise the destination to {0}). */
#define APP_MAX_TEMPERATURES 16
typedef struct app_temperatures {
    int n;
    double kT[APP_MAX_TEMPERATURES];
} app_temperatures;

/* The list as text, the values joined by commas: with exact != 0 in %.17g
 * (reads back to the same doubles: the form for settings and records),
 * otherwise in %g (for messages and titles).  "" for an empty list.
 * Returns the length it needed, like snprintf. */
size_t app_temperatures_text(const app_temperatures *t, int exact, char *buf, size_t size);

/* The decimal number of the len characters at text (no spaces, no hex;
 * "nan" and "inf" are refused) into *out: AD_OK, or AD_ERR_ARG with the
 * reason in why ("'x' is not a number", "... is too large", "... is not a
 * finite number"). */
int app_read_number(const char *text, size_t len, double *out, char *why, size_t why_size);

/* Parse text as APP_OPT_TEMPERATURES does, the values bounded by
 * [min, max] when has_min / has_max.  AD_OK, or AD_ERR_ARG with the reason
 * in why ("'-1' is not positive"); *out is changed only on success. */
int app_temperatures_parse(const char *text, int has_min, double min, int has_max, double max,
                           app_temperatures *out, char *why, size_t why_size);

/* The option every program offers beside --temperatures: further training
 * temperatures, trained by energy alone (J_KL and J_RC, no data there). */
#define APP_TRAIN_TEMPERATURES_OPTION(dest)                                                      \
    {"train-temperatures", APP_OPT_TEMPERATURES, (dest),                                         \
     "with --temperatures: train also at these temperatures, by energy alone (J_KL and J_RC; "  \
     "no data, reference or estimates there), e.g. 0.25,4 so that the ends of --temperatures "  \
     "lie inside the trained range (comma-separated kT values, 0.1 to 10, none of "             \
     "--temperatures, at most " APP_RUN_STR(APP_MAX_TEMPERATURES) " together with them); "      \
     "default: none",                                                                            \
     "LIST", 1, 1, 0.1, 10, 0}

/* After parsing: AD_ERR_ARG with the reason in msg ("program: ...") when
 * extra (--train-temperatures) is given without a list in t
 * (--temperatures), holds a value that is also in t, or the two hold more
 * than APP_MAX_TEMPERATURES together; AD_OK otherwise (also when extra is
 * empty). */
int app_train_temperatures_check(const char *program, const app_temperatures *t,
                                 const app_temperatures *extra, char *msg, size_t size);

/* The coupling family of the flows, as --coupling, --spline-bins and
 * --spline-bound give it (the same three options in every program: put
 * APP_COUPLING_OPTIONS(&c) in the option table, then call
 * app_coupling_check after parsing).  kind: APP_COUPLING_AFFINE (the
 * default) or APP_COUPLING_SPLINE; bins and bound are 0 until given, and
 * app_coupling_check sets them to the spline's defaults (8 bins on [-5, 5],
 * flows/flow_spline_op.h) for a spline run. */
enum { APP_COUPLING_AFFINE = 0, APP_COUPLING_SPLINE = 1 };
#define APP_COUPLING_DEFAULT_BINS 8
#define APP_COUPLING_DEFAULT_BOUND 5.0
typedef struct app_coupling {
    int kind;     /* APP_COUPLING_AFFINE or APP_COUPLING_SPLINE          */
    int bins;     /* spline bins, 2 .. 64 (0: not given)                 */
    double bound; /* the splines live on [-bound, bound] (0: not given)  */
} app_coupling;

#define APP_COUPLING_OPTIONS(c)                                                                \
    {"coupling", APP_OPT_CHOICE, &(c)->kind,                                                \
     "the coupling layers of the flow: affine (RealNVP) or spline (rational-quadratic)",     \
     "affine|spline", 0, 0, 0, 0, 0},                                                        \
    {"spline-bins", APP_OPT_INT, &(c)->bins,                                                \
     "bins of each spline, 2 to 64 (--coupling spline only; default 8)", "K", 1, 1, 2, 64,  \
     0},                                                                                     \
    {"spline-bound", APP_OPT_DOUBLE, &(c)->bound,                                           \
     "the splines act on [-B, B] of the latent coordinates and are the identity outside "   \
     "(--coupling spline only; default 5)",                                                  \
     "B", 1, 1, 0.1, 1000, 0}

/* After parsing: AD_ERR_ARG with "program: --spline-bins needs --coupling
 * spline (try --help)" when a spline setting was given for an affine run;
 * otherwise AD_OK, the spline's unset fields set to their defaults. */
int app_coupling_check(const char *program, app_coupling *c, char *msg, size_t size);

/* The coupling as settings text: "" for affine (so that an affine run keeps
 * the fingerprint it had before the option existed), otherwise
 * "spline bins 8 bound 5" (bound in %.17g).  Returns what snprintf returns. */
int app_coupling_text(const app_coupling *c, char *buf, size_t size);

/* Append to the string in buf the settings a checkpoint label carries
 * beyond the run's own label: " temperatures=LIST" when t holds a list
 * (exact values), " coupling=TEXT" for a spline run; nothing otherwise. */
void app_label_append_settings(const app_temperatures *t, const app_coupling *c, char *buf,
                               size_t size);

/* Append to the string in buf the coupling as a title reads it:
 * ", spline couplings (8 bins on [-5, 5])" for a spline run, nothing for
 * affine. */
void app_coupling_append_title(const app_coupling *c, char *buf, size_t size);

typedef struct {
    const char *name;       /* long name without the leading "--"            */
    app_opt_kind kind;      /* what the value is                             */
    void *dest;             /* where the value goes (type given by kind)     */
    const char *help;       /* one line for --help                           */
    const char *value_name; /* shown in --help ("DIR"); NULL: from the kind  */
    int has_min, has_max;   /* 1: check value >= min / value <= max          */
    double min, max;        /* bounds (compared in double precision)         */
    int allow_nonfinite;    /* doubles only: accept nan and inf              */
} app_option;

typedef struct {
    const char *program;       /* name used in messages ("bg-doublewell")  */
    const char *description;   /* a paragraph for --help                   */
    const app_option *options; /* the table                                */
    int n_options;             /* its length                               */
} app_cli;

/* app_options_parse returns this (a positive value) when --help was given. */
#define APP_OPTIONS_HELP 1

/* Parse argv[1..argc-1].  Returns AD_OK, APP_OPTIONS_HELP, or AD_ERR_ARG with
 * one line in msg such as
 *   "bg-doublewell: --seed: 'abc' is not an integer (try --help)". */
int app_options_parse(const app_cli *cli, int argc, char **argv, char *msg, size_t msg_size);

/* The --help text generated from the table, into buf (truncated if small):
 * each option's help line followed by " (default V)", V the destination's
 * value at the time of the call, unless the help line mentions "default"
 * itself (a default that depends on other options, say).  Returns the
 * length it needed, like snprintf. */
size_t app_options_usage(const app_cli *cli, char *buf, size_t size);
void app_options_print_usage(const app_cli *cli, FILE *stream);

/* Parse and act: usage to stdout after --help (returns 0), the message line to
 * stderr after an error (returns 2), or -1 when the program should go on. */
int app_options_handle(const app_cli *cli, int argc, char **argv);

#endif
