/* fuzz_options.c - libFuzzer target for app_options_parse.
 *
 * The input is split into arguments at NUL and newline bytes (argv[0] is
 * the program name) and parsed against a table with every option kind,
 * bounds and non-finite doubles.  Properties: the status is AD_OK,
 * APP_OPTIONS_HELP or AD_ERR_ARG; an error gives one printable line that
 * names the program and ends in "(try --help)"; success leaves every value
 * within its bounds, doubles finite unless allowed, strings pointing into
 * argv, a temperature list of at most APP_MAX_TEMPERATURES finite values in
 * its bounds in strictly increasing order; the --help text is generated
 * without trouble afterwards.
 */
#include <math.h>
#include <stdint.h>

#include "apps/toolkit/app_options.h"
#include "autodiff/ad.h"
#include "tests/fuzz/fuzz_util.h"

#define FUZZ_OPT_MAX_ARGS 64

static int fuzz_options_run(const uint8_t *data, size_t size, const char *scratch, char *why,
                            size_t why_len)
{
    (void)scratch;
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *argv[FUZZ_OPT_MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = "bg-fuzz";
    for (size_t i = 0, start = 0; i <= size && argc < FUZZ_OPT_MAX_ARGS + 1; i++)
        if (i == size || text[i] == '\0' || text[i] == '\n') {
            text[i] = '\0';
            if (i > start || i < size) argv[argc++] = text + start;
            start = i + 1;
        }
    argv[argc] = NULL;

    int quick = 0, steps = 10, level = 3;
    double kT = 1, lr = 1e-3, shift = 0;
    uint64_t seed = 1, count = 5;
    const char *out = "out/fuzz", *name = NULL;
    app_temperatures temps = {0};
    const app_option opts[] = {
        {"quick", APP_OPT_FLAG, &quick, "a short run", NULL, 0, 0, 0, 0, 0},
        {"steps", APP_OPT_INT, &steps, "iterations", "N", 1, 0, 1, 0, 0},
        {"level", APP_OPT_INT, &level, "level", NULL, 1, 1, -5, 5, 0},
        {"kT", APP_OPT_DOUBLE, &kT, "temperature", "X", 1, 0, 1e-6, 0, 0},
        {"lr", APP_OPT_DOUBLE, &lr, "learning rate", NULL, 1, 1, 0, 1, 0},
        {"shift", APP_OPT_DOUBLE, &shift, "shift (may be nan or inf)", NULL, 0, 0, 0, 0, 1},
        {"seed", APP_OPT_UINT64, &seed, "random seed", "N", 0, 0, 0, 0, 0},
        {"count", APP_OPT_UINT64, &count, "count", NULL, 1, 1, 1, 1000, 0},
        {"out", APP_OPT_STRING, &out, "output directory", "DIR", 0, 0, 0, 0, 0},
        {"name", APP_OPT_STRING, &name, "a name", NULL, 0, 0, 0, 0, 0},
        {"temperatures", APP_OPT_TEMPERATURES, &temps, "a list", "LIST", 1, 1, 0.1, 10, 0},
    };
    const app_cli cli = {"bg-fuzz", "Fuzzing the option parser.", opts,
                         (int)(sizeof opts / sizeof opts[0])};
    char msg[300];
    memset(msg, 'x', sizeof msg);
    int st = app_options_parse(&cli, argc, argv, msg, sizeof msg);
    int bad = 0;
    size_t len = strnlen(msg, sizeof msg);
    if (len == sizeof msg) {
        bad = fuzz_violation(why, why_len, "message not terminated");
    } else if (st == AD_ERR_ARG) {
        if (strncmp(msg, "bg-fuzz: ", 9) != 0 || len < 13 ||
            strcmp(msg + len - 12, "(try --help)") != 0)
            bad = fuzz_violation(why, why_len, "bad message '%s'", msg);
        for (size_t i = 0; !bad && i < len; i++)
            if ((unsigned char)msg[i] < 0x20 || (unsigned char)msg[i] >= 0x7F)
                bad = fuzz_violation(why, why_len, "unprintable byte in the message");
    } else if (st == AD_OK || st == APP_OPTIONS_HELP) {
        if (st == AD_OK && msg[0]) bad = fuzz_violation(why, why_len, "message after success");
        if (st == AD_OK && !(steps >= 1 && level >= -5 && level <= 5 && kT >= 1e-6 &&
                             isfinite(kT) && lr >= 0 && lr <= 1 && count >= 1 && count <= 1000 &&
                             (quick == 0 || quick == 1)))
            bad = fuzz_violation(why, why_len, "a value outside its bounds was accepted");
        if (st == AD_OK && out != NULL && strcmp(out, "out/fuzz") != 0 &&
            !(out >= text && out <= text + size))
            bad = fuzz_violation(why, why_len, "a string does not point into argv");
        if (st == AD_OK && name && !name[0])
            bad = fuzz_violation(why, why_len, "an empty string was accepted");
        if (st == AD_OK && (temps.n < 0 || temps.n > APP_MAX_TEMPERATURES))
            bad = fuzz_violation(why, why_len, "a list of %d temperatures", temps.n);
        for (int k = 0; st == AD_OK && !bad && k < temps.n && k < APP_MAX_TEMPERATURES; k++)
            if (!(isfinite(temps.kT[k]) && temps.kT[k] >= 0.1 && temps.kT[k] <= 10) ||
                (k > 0 && !(temps.kT[k] > temps.kT[k - 1])))
                bad = fuzz_violation(why, why_len, "temperature %d (%g) out of bounds or order",
                                     k, temps.kT[k]);
    } else {
        bad = fuzz_violation(why, why_len, "undocumented status %d", st);
    }
    /* --help text with whatever values the destinations now hold */
    char usage[2048];
    size_t need = app_options_usage(&cli, usage, sizeof usage);
    if (!bad && (need == 0 || strnlen(usage, sizeof usage) >= sizeof usage))
        bad = fuzz_violation(why, why_len, "usage text failed");
    free(text);
    return bad;
}

#ifdef LIBBG_FUZZ_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[600];
    if (fuzz_options_run(data, size, NULL, why, sizeof why)) {
        fprintf(stderr, "fuzz_options: %s\n", why);
        abort();
    }
    return 0;
}
#endif
