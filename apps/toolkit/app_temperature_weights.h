/* app_temperature_weights.h - --temperature-weights: how much of each
 * training batch goes to each temperature of a multi-temperature run.
 *
 * The option takes kT:W pairs separated by commas, e.g. 0.5:2,2:3: the
 * temperature kT (one of --temperatures or --train-temperatures, written
 * as a number equal to it: "2" and "2.0" are the same) gets weight W, a
 * number from APP_WEIGHT_MIN to APP_WEIGHT_MAX (0.001 to 1000: a batch
 * gives every temperature at least one row, so larger ratios change
 * nothing but could make the shares overflow or vanish); every
 * temperature not named keeps weight 1.  A
 * temperature's rows of a batch are in proportion to its weight: the J_KL
 * and J_RC rows among all training temperatures, the J_ML rows among those
 * of --temperatures (the ones with data) (bg_temperature.weight and
 * bg_temperature_data.weight, flows/bg_train.h). */
#ifndef LIBBG_APPS_TOOLKIT_APP_TEMPERATURE_WEIGHTS_H
#define LIBBG_APPS_TOOLKIT_APP_TEMPERATURE_WEIGHTS_H

#include <stddef.h>

#include "apps/toolkit/app_json.h"
#include "apps/toolkit/app_options.h"
#include "flows/bg_train.h"

#define APP_WEIGHT_MIN 0.001
#define APP_WEIGHT_MAX 1000.0

/* The parsed pairs, in increasing order of kT; n = 0: none given. */
typedef struct app_temperature_weights {
    int n;
    double kT[APP_MAX_TEMPERATURES];
    double weight[APP_MAX_TEMPERATURES];
} app_temperature_weights;

#define APP_TEMPERATURE_WEIGHTS_OPTION(dest)                                                   \
    {"temperature-weights", APP_OPT_STRING, (dest),                                            \
     "with --temperatures: each training temperature's share of the batch rows, as kT:W "     \
     "pairs, e.g. 0.5:2,2:3 (kT one of --temperatures or --train-temperatures, W 0.001 to "  \
     "1000; shares are proportional to W: J_KL and J_RC rows among all training temperatures, "\
     "J_ML rows among those of --temperatures); default: 1 each",                              \
     "LIST", 0, 0, 0, 0, 0}

/* Parse text (kT:W pairs as above) into *out, sorted by kT: AD_OK, or
 * AD_ERR_ARG with the reason in why for an empty list or entry, a missing
 * ':', a value that is not a finite number, kT not > 0, W outside
 * [APP_WEIGHT_MIN, APP_WEIGHT_MAX], the same kT twice or more than
 * APP_MAX_TEMPERATURES pairs.  *out is changed only on
 * success. */
int app_temperature_weights_parse(const char *text, app_temperature_weights *out, char *why,
                                  size_t why_size);

/* After the options are parsed: text is the option's value (NULL: not
 * given; *out is then emptied).  AD_ERR_ARG with "program: --temperature-
 * weights: ... (try --help)" in msg when the text does not parse, the
 * option is given without --temperatures (t->n == 0), or it names a
 * temperature that is in neither t nor extra (--train-temperatures). */
int app_temperature_weights_check(const char *program, const char *text,
                                  const app_temperatures *t, const app_temperatures *extra,
                                  app_temperature_weights *out, char *msg, size_t size);

/* The weight of temperature kT: the one given for it, else 1. */
double app_temperature_weight(const app_temperature_weights *w, double kT);

/* The training temperatures of a multi-temperature run in the form the
 * library takes them (bg_generator_config.temperatures): those of t
 * (--temperatures) in their order, then those of extra
 * (--train-temperatures; may be NULL), each with its weight in w.  out
 * holds at least t->n + extra->n entries; returns that number. */
int app_training_temperatures(const app_temperatures *t, const app_temperatures *extra,
                              const app_temperature_weights *w, bg_temperature *out);

/* The pairs as text, "kT:W" joined by commas, in %.17g with exact != 0
 * (the form for settings and records), otherwise %g; "" when none.
 * Returns the length it needed, like snprintf. */
size_t app_temperature_weights_text(const app_temperature_weights *w, int exact, char *buf,
                                    size_t size);

/* In summary.json: "temperature_weights": [{"kT": .., "weight": ..}, ...]
 * as a key of the open object, only when pairs were given (n > 0). */
void app_temperature_weights_json(app_json *w, const app_temperature_weights *tw);

/* For report.md: how a batch is split over the temperatures, "split evenly
 * over the temperatures" or "split over the temperatures in proportion to
 * the weights kT:W = 0.5:2, 2:3 (--temperature-weights; 1 for the others)". */
void app_temperature_weights_phrase(const app_temperature_weights *tw, char *buf, size_t size);

#endif
