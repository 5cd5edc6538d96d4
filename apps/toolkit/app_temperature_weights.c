/* app_temperature_weights.c - parsing and checking --temperature-weights. */
#include "apps/toolkit/app_temperature_weights.h"

#include <stdio.h>
#include <string.h>

#include "autodiff/ad.h"

#define WHY(...) (snprintf(why, why_size, __VA_ARGS__), AD_ERR_ARG)

/* One number of an entry: which (kT or weight) is named in messages. */
static int read_positive(const char *p, size_t len, const char *which, double *out, char *why,
                         size_t why_size)
{
    char inner[160];
    if (len == 0) return WHY("an entry without a %s", which);
    if (app_read_number(p, len, out, inner, sizeof inner) != AD_OK)
        return WHY("%s: %s", which, inner);
    if (!(*out > 0)) return WHY("%s %.15g is not positive", which, *out);
    return AD_OK;
}

int app_temperature_weights_parse(const char *text, app_temperature_weights *out, char *why,
                                  size_t why_size)
{
    app_temperature_weights w = {0};
    if (!text || !*text) return WHY("an empty list");
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0) return WHY("an empty entry");
        if (w.n == APP_MAX_TEMPERATURES) return WHY("more than %d pairs", APP_MAX_TEMPERATURES);
        const char *colon = memchr(p, ':', len);
        if (!colon) return WHY("an entry without ':' (write kT:W, e.g. 2:3)");
        size_t klen = (size_t)(colon - p);
        double kT = 0, weight = 0;
        if (read_positive(p, klen, "kT", &kT, why, why_size) != AD_OK ||
            read_positive(colon + 1, len - klen - 1, "weight", &weight, why, why_size) != AD_OK)
            return AD_ERR_ARG;
        if (weight < APP_WEIGHT_MIN || weight > APP_WEIGHT_MAX)
            return WHY("weight %.15g is out of range [%g, %g]", weight, APP_WEIGHT_MIN,
                       APP_WEIGHT_MAX);
        for (int k = 0; k < w.n; k++)
            if (w.kT[k] == kT) return WHY("kT %.15g is given twice", kT);
        int at = w.n; /* insert in increasing order of kT */
        while (at > 0 && w.kT[at - 1] > kT) {
            w.kT[at] = w.kT[at - 1];
            w.weight[at] = w.weight[at - 1];
            at--;
        }
        w.kT[at] = kT;
        w.weight[at] = weight;
        w.n++;
        if (!comma) break;
        p = comma + 1;
    }
    *out = w;
    return AD_OK;
}

#undef WHY

static int in_list(const app_temperatures *t, double kT)
{
    for (int i = 0; t && i < t->n; i++)
        if (t->kT[i] == kT) return 1;
    return 0;
}

int app_temperature_weights_check(const char *program, const char *text,
                                  const app_temperatures *t, const app_temperatures *extra,
                                  app_temperature_weights *out, char *msg, size_t size)
{
    const char *prog = program ? program : "program";
    memset(out, 0, sizeof *out);
    if (!text) return AD_OK;
    char why[200];
    int st = AD_OK;
    if (app_temperature_weights_parse(text, out, why, sizeof why) != AD_OK) {
        st = AD_ERR_ARG;
    } else if (!t || !t->n) {
        snprintf(why, sizeof why, "needs --temperatures");
        st = AD_ERR_ARG;
    } else {
        for (int i = 0; i < out->n && st == AD_OK; i++)
            if (!in_list(t, out->kT[i]) && !in_list(extra, out->kT[i])) {
                snprintf(why, sizeof why,
                         "kT %.15g is in neither --temperatures nor --train-temperatures",
                         out->kT[i]);
                st = AD_ERR_ARG;
            }
    }
    if (st != AD_OK) {
        memset(out, 0, sizeof *out);
        if (msg && size)
            snprintf(msg, size, "%s: --temperature-weights: %s (try --help)", prog, why);
    }
    return st;
}

double app_temperature_weight(const app_temperature_weights *w, double kT)
{
    for (int i = 0; w && i < w->n; i++)
        if (w->kT[i] == kT) return w->weight[i];
    return 1;
}

int app_training_temperatures(const app_temperatures *t, const app_temperatures *extra,
                              const app_temperature_weights *w, bg_temperature *out)
{
    int n = 0;
    for (int j = 0; j < t->n; j++)
        out[n++] = (bg_temperature){.kT = t->kT[j], .weight = app_temperature_weight(w, t->kT[j])};
    for (int j = 0; extra && j < extra->n; j++)
        out[n++] = (bg_temperature){.kT = extra->kT[j],
                                    .weight = app_temperature_weight(w, extra->kT[j])};
    return n;
}

size_t app_temperature_weights_text(const app_temperature_weights *w, int exact, char *buf,
                                    size_t size)
{
    size_t need = 0;
    if (size) buf[0] = '\0';
    for (int k = 0; w && k < w->n; k++) {
        char one[80];
        int n = snprintf(one, sizeof one, exact ? "%s%.17g:%.17g" : "%s%g:%g", k ? "," : "",
                         w->kT[k], w->weight[k]);
        if (n < 0) break;
        if (need + (size_t)n < size) memcpy(buf + need, one, (size_t)n + 1);
        else if (size && need < size) buf[need] = '\0';
        need += (size_t)n;
    }
    return need;
}

void app_temperature_weights_json(app_json *w, const app_temperature_weights *tw)
{
    if (!tw || !tw->n) return;
    app_json_key(w, "temperature_weights");
    app_json_array_begin(w);
    for (int i = 0; i < tw->n; i++) {
        app_json_object_begin(w);
        app_json_key_number(w, "kT", tw->kT[i]);
        app_json_key_number(w, "weight", tw->weight[i]);
        app_json_object_end(w);
    }
    app_json_array_end(w);
}

void app_temperature_weights_phrase(const app_temperature_weights *tw, char *buf, size_t size)
{
    if (!size) return;
    if (!tw || !tw->n) {
        snprintf(buf, size, "split evenly over the temperatures");
        return;
    }
    char pairs[APP_MAX_TEMPERATURES * 40] = "";
    size_t n = 0;
    for (int i = 0; i < tw->n && n < sizeof pairs; i++)
        n += (size_t)snprintf(pairs + n, sizeof pairs - n, "%s%g:%g", i ? ", " : "", tw->kT[i],
                              tw->weight[i]);
    snprintf(buf, size,
             "split over the temperatures in proportion to the weights kT:W = %s "
             "(--temperature-weights; 1 for the others)",
             pairs);
}
