/* test_apps_options.c - the declarative option parser of the programs. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "apps/toolkit/app_options.h"
#include "apps/toolkit/app_temperature_weights.h"
#include "autodiff/ad.h"
#include "ck_util.h"

/* the options of a typical program, reset for every test */
static int quick, threads;
static uint64_t seed;
static double kT, ratio;
static const char *out;

static const app_option table[] = {
    {"out", APP_OPT_STRING, &out, "output directory", "DIR", 0, 0, 0, 0, 0},
    {"seed", APP_OPT_UINT64, &seed, "random seed", NULL, 0, 0, 0, 0, 0},
    {"kT", APP_OPT_DOUBLE, &kT, "temperature", NULL, 1, 0, 1e-6, 0, 0},
    {"quick", APP_OPT_FLAG, &quick, "short run", NULL, 0, 0, 0, 0, 0},
    {"threads", APP_OPT_INT, &threads, "worker threads", NULL, 1, 1, 1, 64, 0},
    {"ratio", APP_OPT_DOUBLE, &ratio, "may be inf (default: 2 with --quick)", NULL, 0, 0, 0, 0,
     1},
};
static const app_cli cli = {"bg-doublewell", "The double-well experiment.", table, 6};

static void reset(void)
{
    quick = 0;
    threads = 4;
    seed = 1;
    kT = 1;
    ratio = 0;
    out = "out/doublewell";
}

/* Parse a NULL-terminated list of arguments (argv[0] is added). */
static int parse(char *msg, size_t size, const char *const *args)
{
    char *argv[32] = {"bg-doublewell"};
    int argc = 1;
    while (args[argc - 1]) {
        argv[argc] = (char *)args[argc - 1];
        argc++;
    }
    return app_options_parse(&cli, argc, argv, msg, size);
}

#define PARSE(...) parse(msg, sizeof msg, (const char *const[]){__VA_ARGS__, NULL})

START_TEST(test_every_kind)
{
    char msg[256];
    reset();
    ck_assert_int_eq(PARSE("--out", "res/dw", "--seed", "42", "--kT", "0.5", "--quick",
                           "--threads", "8", "--ratio", "-2.5e-3"),
                     AD_OK);
    ck_assert_str_eq(out, "res/dw");
    ck_assert(seed == 42);
    ck_assert_double_eq(kT, 0.5);
    ck_assert_int_eq(quick, 1);
    ck_assert_int_eq(threads, 8);
    ck_assert_double_eq(ratio, -2.5e-3);
    ck_assert_str_eq(msg, "");
}
END_TEST

START_TEST(test_equals_form)
{
    char msg[256];
    reset();
    ck_assert_int_eq(PARSE("--out=a=b", "--seed=7", "--kT=2", "--threads=-0"), AD_ERR_ARG);
    ck_assert_str_eq(msg, "bg-doublewell: --threads: -0 is out of range [1, 64] (try --help)");
    reset();
    ck_assert_int_eq(PARSE("--out=a=b", "--seed=7", "--kT=2", "--threads=+3", "--seed=9"), AD_OK);
    ck_assert_str_eq(out, "a=b");
    ck_assert(seed == 9); /* the last one wins */
    ck_assert_double_eq(kT, 2);
    ck_assert_int_eq(threads, 3);
    reset();
    ck_assert_int_eq(PARSE("--out=--odd"), AD_OK); /* the = form takes any value */
    ck_assert_str_eq(out, "--odd");
}
END_TEST

START_TEST(test_unknown_and_positional)
{
    char msg[256];
    reset();
    ck_assert_int_eq(PARSE("--bogus"), AD_ERR_ARG);
    ck_assert_str_eq(msg, "bg-doublewell: unknown option '--bogus' (try --help)");
    ck_assert_int_eq(PARSE("--bogus=3"), AD_ERR_ARG);
    ck_assert_str_eq(msg, "bg-doublewell: unknown option '--bogus' (try --help)");
    ck_assert_int_eq(PARSE("-x"), AD_ERR_ARG);
    ck_assert_str_eq(msg, "bg-doublewell: unknown option '-x' (try --help)");
    ck_assert_int_eq(PARSE("--seeds", "3"), AD_ERR_ARG); /* no prefix matching */
    ck_assert_int_eq(PARSE("--", "x"), AD_ERR_ARG);
    ck_assert_int_eq(PARSE("--=3"), AD_ERR_ARG);
    ck_assert_int_eq(PARSE("extra"), AD_ERR_ARG);
    ck_assert_str_eq(msg, "bg-doublewell: unexpected argument 'extra' (try --help)");
    /* user bytes are made printable and the message stays one bounded line */
    ck_assert_int_eq(PARSE("--a\nb\x01\xff"), AD_ERR_ARG);
    ck_assert_str_eq(msg, "bg-doublewell: unknown option '--a?b?\?' (try --help)");
    char longname[300] = "--";
    memset(longname + 2, 'z', 250);
    longname[252] = '\0';
    ck_assert_int_eq(PARSE(longname), AD_ERR_ARG);
    ck_assert_ptr_null(strchr(msg, '\n'));
    ck_assert(strlen(msg) < 120);
    ck_assert_ptr_nonnull(strstr(msg, "...' (try --help)"));
}
END_TEST

START_TEST(test_missing_value)
{
    char msg[256];
    reset();
    ck_assert_int_eq(PARSE("--seed"), AD_ERR_ARG);
    ck_assert_str_eq(msg, "bg-doublewell: --seed: missing value (try --help)");
    ck_assert_int_eq(PARSE("--out", "--quick"), AD_ERR_ARG);
    ck_assert_str_eq(msg, "bg-doublewell: --out: missing value (try --help)");
    ck_assert_int_eq(PARSE("--out="), AD_ERR_ARG);
    ck_assert_str_eq(msg, "bg-doublewell: --out: empty value (try --help)");
    ck_assert_int_eq(PARSE("--quick=1"), AD_ERR_ARG);
    ck_assert_str_eq(msg, "bg-doublewell: --quick takes no value (try --help)");
}
END_TEST

START_TEST(test_bad_numbers)
{
    char msg[256];
    reset();
    ck_assert_int_eq(PARSE("--threads", "abc"), AD_ERR_ARG);
    ck_assert_str_eq(msg, "bg-doublewell: --threads: 'abc' is not an integer (try --help)");
    ck_assert_int_eq(PARSE("--seed", "abc"), AD_ERR_ARG);
    ck_assert_str_eq(msg,
                     "bg-doublewell: --seed: 'abc' is not a non-negative integer (try --help)");
    ck_assert_int_eq(PARSE("--kT", "abc"), AD_ERR_ARG);
    ck_assert_str_eq(msg, "bg-doublewell: --kT: 'abc' is not a number (try --help)");
    static const char *const bad_int[] = {"",    " 5",  "5 ", "5x", "0x10",
                                          "1e3", "1.0", "+",  "-",  "--5"};
    for (size_t i = 0; i < sizeof bad_int / sizeof *bad_int; i++) {
        char arg[32];
        snprintf(arg, sizeof arg, "--threads=%s", bad_int[i]);
        ck_assert_msg(PARSE(arg) == AD_ERR_ARG, "accepted %s", arg);
    }
    static const char *const bad_seed[] = {"-1", "-0", " 1", "1.5", "0x1", "", "1 "};
    for (size_t i = 0; i < sizeof bad_seed / sizeof *bad_seed; i++) {
        char arg[32];
        snprintf(arg, sizeof arg, "--seed=%s", bad_seed[i]);
        ck_assert_msg(PARSE(arg) == AD_ERR_ARG, "accepted %s", arg);
    }
    static const char *const bad_kT[] = {"nan", "inf", "-inf", "NaN", "infinity", "1e999",
                                         "0x1p3", " 1", "1 ", "1,5", ".", "e5", ""};
    for (size_t i = 0; i < sizeof bad_kT / sizeof *bad_kT; i++) {
        char arg[32];
        snprintf(arg, sizeof arg, "--kT=%s", bad_kT[i]);
        ck_assert_msg(PARSE(arg) == AD_ERR_ARG, "accepted %s", arg);
    }
    ck_assert_int_eq(PARSE("--kT", "nan"), AD_ERR_ARG);
    ck_assert_str_eq(msg, "bg-doublewell: --kT: 'nan' is not a finite number (try --help)");
    ck_assert_int_eq(PARSE("--kT", "1e999"), AD_ERR_ARG);
    ck_assert_str_eq(msg, "bg-doublewell: --kT: '1e999' is too large (try --help)");
    /* an option that allows non-finite values */
    ck_assert_int_eq(PARSE("--ratio", "inf"), AD_OK);
    ck_assert(isinf(ratio) && ratio > 0);
    ck_assert_int_eq(PARSE("--ratio", "nan"), AD_OK);
    ck_assert(isnan(ratio));
    ck_assert_int_eq(PARSE("--kT", ".5", "--ratio", "1e-400"), AD_OK); /* underflow to 0 is fine */
    ck_assert_double_eq(kT, 0.5);
}
END_TEST

START_TEST(test_range)
{
    char msg[256];
    reset();
    ck_assert_int_eq(PARSE("--threads", "0"), AD_ERR_ARG);
    ck_assert_str_eq(msg, "bg-doublewell: --threads: 0 is out of range [1, 64] (try --help)");
    ck_assert_int_eq(PARSE("--threads", "65"), AD_ERR_ARG);
    ck_assert_int_eq(PARSE("--threads", "64"), AD_OK);
    ck_assert_int_eq(threads, 64);
    ck_assert_int_eq(PARSE("--kT", "0"), AD_ERR_ARG);
    ck_assert_str_eq(msg, "bg-doublewell: --kT: 0 is below the minimum 1e-06 (try --help)");
    ck_assert_int_eq(PARSE("--kT", "-1"), AD_ERR_ARG);
}
END_TEST

START_TEST(test_huge_integers)
{
    char msg[256];
    reset();
    ck_assert_int_eq(PARSE("--seed", "18446744073709551615"), AD_OK);
    ck_assert(seed == UINT64_MAX);
    ck_assert_int_eq(PARSE("--seed", "18446744073709551616"), AD_ERR_ARG);
    ck_assert_str_eq(msg, "bg-doublewell: --seed: '18446744073709551616' is too large (at most "
                          "18446744073709551615) (try --help)");
    ck_assert_int_eq(PARSE("--threads", "2147483648"), AD_ERR_ARG);
    ck_assert_str_eq(
        msg, "bg-doublewell: --threads: '2147483648' is too large for an integer (try --help)");
    ck_assert_int_eq(PARSE("--threads", "-99999999999999999999999"), AD_ERR_ARG);
    char digits[2000];
    memset(digits, '9', sizeof digits - 1);
    digits[sizeof digits - 1] = '\0';
    ck_assert_int_eq(PARSE("--seed", digits), AD_ERR_ARG);
    ck_assert(strlen(msg) < 160);
    ck_assert_int_eq(PARSE("--threads", digits), AD_ERR_ARG);
    ck_assert_int_eq(PARSE("--kT", digits), AD_ERR_ARG); /* 1e1999 overflows */
    ck_assert(seed == UINT64_MAX);                        /* failures left it alone */
}
END_TEST

START_TEST(test_help)
{
    char msg[256];
    reset();
    ck_assert_int_eq(PARSE("--help"), APP_OPTIONS_HELP);
    ck_assert_int_eq(PARSE("--seed", "1", "-h"), APP_OPTIONS_HELP);
    ck_assert_int_eq(PARSE("--bogus", "--help"), APP_OPTIONS_HELP); /* help wins */
    char usage[2048];
    size_t need = app_options_usage(&cli, usage, sizeof usage);
    ck_assert_uint_eq(need, strlen(usage));
    ck_assert_ptr_nonnull(strstr(usage, "usage: bg-doublewell [options]\n"));
    ck_assert_ptr_nonnull(strstr(usage, "The double-well experiment."));
    ck_assert_ptr_nonnull(strstr(usage, "--out DIR"));
    ck_assert_ptr_nonnull(strstr(usage, "output directory (default out/doublewell)"));
    ck_assert_ptr_nonnull(strstr(usage, "--seed N"));
    ck_assert_ptr_nonnull(strstr(usage, "--quick "));
    ck_assert_ptr_nonnull(strstr(usage, "--help"));
    /* a help line that names its default gets no second one */
    ck_assert_ptr_nonnull(strstr(usage, "may be inf (default: 2 with --quick)\n"));
    ck_assert_ptr_nonnull(strstr(usage, "worker threads (default "));
    char small[16];
    ck_assert_uint_eq(app_options_usage(&cli, small, sizeof small), need); /* truncates safely */
    ck_assert_uint_eq(strlen(small), sizeof small - 1);
    /* handle: -1 means "go on" */
    char *argv[] = {"bg-doublewell", "--quick", NULL};
    ck_assert_int_eq(app_options_handle(&cli, 2, argv), -1);
    ck_assert_int_eq(quick, 1);
}
END_TEST

/* ---- --temperatures: the list kind ---- */

static app_temperatures temps;
static const app_option temp_table[] = {
    {"temperatures", APP_OPT_TEMPERATURES, &temps, "training temperatures", NULL, 1, 1, 0.1, 10,
     0},
    {"quick", APP_OPT_FLAG, &quick, "short run", NULL, 0, 0, 0, 0, 0},
};
static const app_cli temp_cli = {"bg-doublewell", NULL, temp_table, 2};

static int parse_temps(char *msg, size_t size, const char *value)
{
    char *argv[3] = {"bg-doublewell", "--temperatures", (char *)value};
    return app_options_parse(&temp_cli, 3, argv, msg, size);
}

START_TEST(test_temperature_list)
{
    char msg[256], text[512];
    temps = (app_temperatures){0};
    ck_assert_int_eq(parse_temps(msg, sizeof msg, "2,0.5,1.5,1"), AD_OK);
    ck_assert_int_eq(temps.n, 4); /* sorted */
    ck_assert_double_eq(temps.kT[0], 0.5);
    ck_assert_double_eq(temps.kT[1], 1);
    ck_assert_double_eq(temps.kT[2], 1.5);
    ck_assert_double_eq(temps.kT[3], 2);
    ck_assert_uint_eq(app_temperatures_text(&temps, 0, text, sizeof text), 11);
    ck_assert_str_eq(text, "0.5,1,1.5,2");
    ck_assert_int_eq(parse_temps(msg, sizeof msg, "0.1,+0.3,10"), AD_OK);
    ck_assert_int_eq(temps.n, 3);
    app_temperatures_text(&temps, 1, text, sizeof text); /* %.17g reads back exactly */
    ck_assert_str_eq(text, "0.10000000000000001,0.29999999999999999,10");
    char small[6];
    ck_assert_uint_eq(app_temperatures_text(&temps, 0, small, sizeof small), 10);
    ck_assert_str_eq(small, "0.1"); /* cut between values, never inside one */
    /* sixteen values are fine, the same as one value */
    ck_assert_int_eq(parse_temps(msg, sizeof msg, "1,2,3,4,5,6,7,8,9,10,1.5,2.5,3.5,4.5,5.5,6.5"),
                     AD_OK);
    ck_assert_int_eq(temps.n, 16);
    ck_assert_int_eq(parse_temps(msg, sizeof msg, "0.7"), AD_OK);
    ck_assert_int_eq(temps.n, 1);
    /* --help shows the value name and, given, the list as the default */
    char usage[1024];
    app_options_usage(&temp_cli, usage, sizeof usage);
    ck_assert_ptr_nonnull(strstr(usage, "--temperatures LIST"));
    ck_assert_ptr_nonnull(strstr(usage, "(default 0.7)"));
    /* the equals form and the last-one-wins rule of every option */
    char *argv[] = {"p", "--temperatures=1,2", "--temperatures", "3", NULL};
    ck_assert_int_eq(app_options_parse(&temp_cli, 4, argv, msg, sizeof msg), AD_OK);
    ck_assert_int_eq(temps.n, 1);
    ck_assert_double_eq(temps.kT[0], 3);
}
END_TEST

/* Each bad list is refused with one message naming the problem, and the
 * destination keeps its earlier value. */
static const char *const BAD_TEMPS[][2] = {
    {"", "--temperatures: empty value"},
    {",", "an empty entry in ','"},
    {"1,,2", "an empty entry in '1,,2'"},
    {"1,2,", "an empty entry in '1,2,'"},
    {"0.5,-1", "'-1' is not positive"},
    {"0", "'0' is not positive"},
    {"-0", "'-0' is not positive"},
    {"1,inf", "'inf' is not a finite number"},
    {"nan", "'nan' is not a finite number"},
    {"1e999", "'1e999' is too large"},
    {"1,abc", "'abc' is not a number"},
    {"1, 2", "' 2' is not a number"},
    {"0x1p1", "'0x1p1' is not a number"},
    {"1,1.0", "1 is given twice"},
    {"0.5,2,0.50", "0.5 is given twice"},
    {"0.05", "0.05 is out of range [0.1, 10]"},
    {"1,2,3,4,5,6,7,8,9,10,1.5,2.5,3.5,4.5,5.5,6.5,7.5", "17 values (at most 16)"},
    {"1,2,3,4,5,6,7,8,9,10,1.5,2.5,3.5,4.5,5.5,6.5,7.5,8.5,,", "20 values (at most 16)"},
};

START_TEST(test_temperature_list_errors)
{
    char msg[256];
    temps = (app_temperatures){.n = 1, .kT = {0.7}};
    ck_assert_int_eq(parse_temps(msg, sizeof msg, BAD_TEMPS[_i][0]), AD_ERR_ARG);
    ck_assert_msg(strstr(msg, BAD_TEMPS[_i][1]) != NULL, "'%s': %s", BAD_TEMPS[_i][0], msg);
    ck_assert_msg(strncmp(msg, "bg-doublewell: --temperatures: ", 31) == 0, "%s", msg);
    ck_assert_ptr_nonnull(strstr(msg, "(try --help)"));
    ck_assert_int_eq(temps.n, 1);
    ck_assert_double_eq(temps.kT[0], 0.7);
    /* the parser on its own says the same, without the program's frame */
    char why[160];
    app_temperatures out = {0};
    if (BAD_TEMPS[_i][0][0]) {
        ck_assert_int_eq(app_temperatures_parse(BAD_TEMPS[_i][0], 1, 0.1, 1, 10, &out, why,
                                                sizeof why),
                         AD_ERR_ARG);
        ck_assert_msg(strstr(msg, why) != NULL, "%s vs %s", why, msg);
        ck_assert_int_eq(out.n, 0);
    }
    ck_assert_int_eq(app_temperatures_parse(NULL, 0, 0, 0, 0, &out, why, sizeof why),
                     AD_ERR_ARG);
    ck_assert_str_eq(why, "an empty list");
}
END_TEST

/* ---- --train-temperatures: beside --temperatures ---- */

/* --temperatures and --train-temperatures as parsed from list and extra
 * (NULL: not given). */
static void parse_lists(const char *list, const char *extra, app_temperatures *t,
                        app_temperatures *e)
{
    char why[128];
    *t = *e = (app_temperatures){0};
    if (list)
        ck_assert_int_eq(app_temperatures_parse(list, 0, 0, 0, 0, t, why, sizeof why), AD_OK);
    if (extra)
        ck_assert_int_eq(app_temperatures_parse(extra, 0, 0, 0, 0, e, why, sizeof why), AD_OK);
}

static int check_train(const char *list, const char *extra, char *msg, size_t size)
{
    app_temperatures t, e;
    parse_lists(list, extra, &t, &e);
    return app_train_temperatures_check("bg-dimer", &t, &e, msg, size);
}

START_TEST(test_train_temperatures)
{
    char msg[256];
    /* none given, or a disjoint list beside --temperatures: fine */
    ck_assert_int_eq(check_train(NULL, NULL, msg, sizeof msg), AD_OK);
    ck_assert_int_eq(check_train("1", NULL, msg, sizeof msg), AD_OK);
    ck_assert_int_eq(check_train("0.5,1,2", "0.25,4", msg, sizeof msg), AD_OK);
    /* 16 together: the most a generator takes */
    ck_assert_int_eq(check_train("1,2,3,4,5,6,7,8", "1.5,2.5,3.5,4.5,5.5,6.5,7.5,8.5", msg,
                                 sizeof msg),
                     AD_OK);
    ck_assert_int_eq(check_train("1,2,3,4,5,6,7,8", "1.5,2.5,3.5,4.5,5.5,6.5,7.5,8.5,9.5", msg,
                                 sizeof msg),
                     AD_ERR_ARG);
    ck_assert_str_eq(msg, "bg-dimer: --temperatures and --train-temperatures give 17 "
                          "temperatures together (at most 16) (try --help)");
    ck_assert_int_eq(check_train(NULL, "4", msg, sizeof msg), AD_ERR_ARG);
    ck_assert_str_eq(msg, "bg-dimer: --train-temperatures needs --temperatures (try --help)");
    /* a value in both lists, however written */
    ck_assert_int_eq(check_train("0.5,1,2", "4,2.0", msg, sizeof msg), AD_ERR_ARG);
    ck_assert_str_eq(msg, "bg-dimer: --train-temperatures: 2 is already in --temperatures (list "
                          "each temperature once) (try --help)");
}
END_TEST

/* ---- --temperature-weights: kT:W pairs for the training temperatures ---- */

static int check_weights(const char *text, const char *list, const char *extra,
                         app_temperature_weights *w, char *msg, size_t size)
{
    app_temperatures t, e;
    parse_lists(list, extra, &t, &e);
    return app_temperature_weights_check("bg-dimer", text, &t, &e, w, msg, size);
}

START_TEST(test_temperature_weights)
{
    char msg[256], buf[256];
    app_temperature_weights w;
    /* not given: no pairs, every weight 1 */
    ck_assert_int_eq(check_weights(NULL, NULL, NULL, &w, msg, sizeof msg), AD_OK);
    ck_assert_int_eq(w.n, 0);
    ck_assert(app_temperature_weight(&w, 2) == 1);
    /* pairs in any order come out sorted by kT; a kT of either list, however written */
    ck_assert_int_eq(check_weights("4:0.5,2.0:3,0.5:2", "0.5,1,2", "4", &w, msg, sizeof msg),
                     AD_OK);
    app_temperature_weights ends;
    ck_assert_int_eq(check_weights("1:0.001,2:1000", "1,2", NULL, &ends, msg, sizeof msg), AD_OK);
    ck_assert(ends.weight[0] == 0.001 && ends.weight[1] == 1000);
    ck_assert_int_eq(w.n, 3);
    ck_assert(w.kT[0] == 0.5 && w.weight[0] == 2);
    ck_assert(w.kT[1] == 2 && w.weight[1] == 3);
    ck_assert(w.kT[2] == 4 && w.weight[2] == 0.5);
    ck_assert(app_temperature_weight(&w, 2) == 3 && app_temperature_weight(&w, 1) == 1);
    ck_assert_uint_eq(app_temperature_weights_text(&w, 0, buf, sizeof buf), 15);
    ck_assert_str_eq(buf, "0.5:2,2:3,4:0.5");
    app_temperature_weights_text(&w, 1, buf, sizeof buf); /* reads back to the same doubles */
    ck_assert_str_eq(buf, "0.5:2,2:3,4:0.5");
    app_temperature_weights_phrase(&w, buf, sizeof buf);
    ck_assert_ptr_nonnull(strstr(buf, "in proportion to the weights kT:W = 0.5:2, 2:3, 4:0.5"));
    /* the errors, each with its reason; the destination is left empty */
    static const struct {
        const char *text, *list, *why;
    } bad[] = {
        {"2:3", NULL, "needs --temperatures"},
        {"3:1", "1,2", "kT 3 is in neither --temperatures nor --train-temperatures"},
        {"", "1,2", "an empty list"},
        {"2:1,", "1,2", "an empty entry"},
        {"2", "1,2", "an entry without ':' (write kT:W, e.g. 2:3)"},
        {":2", "1,2", "an entry without a kT"},
        {"2:", "1,2", "an entry without a weight"},
        {"2:0", "1,2", "weight 0 is not positive"},
        {"2:-1", "1,2", "weight -1 is not positive"},
        {"2:0.0009", "1,2", "weight 0.0009 is out of range [0.001, 1000]"},
        {"2:1000.5", "1,2", "weight 1000.5 is out of range [0.001, 1000]"},
        {"1.0000001:2", "1,2",
         "kT 1.0000001 is in neither --temperatures nor --train-temperatures"},
        {"-2:1", "1,2", "kT -2 is not positive"},
        {"2:x", "1,2", "weight: 'x' is not a number"},
        {"2:nan", "1,2", "weight: 'nan' is not a finite number"},
        {"2:1e999", "1,2", "weight: '1e999' is too large"},
        {"2:1e308", "1,2", "weight 1e+308 is out of range [0.001, 1000]"},
        {"2:1,2.0:3", "1,2", "kT 2 is given twice"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_int_eq(check_weights(bad[i].text, bad[i].list, NULL, &w, msg, sizeof msg),
                         AD_ERR_ARG);
        char want[256];
        snprintf(want, sizeof want, "bg-dimer: --temperature-weights: %s (try --help)",
                 bad[i].why);
        ck_assert_str_eq(msg, want);
        ck_assert_int_eq(w.n, 0);
    }
    /* more pairs than a run has temperatures */
    ck_assert_int_eq(app_temperature_weights_parse("1:1,2:1,3:1,4:1,5:1,6:1,7:1,8:1,9:1,10:1,"
                                                   "11:1,12:1,13:1,14:1,15:1,16:1,17:1",
                                                   &w, buf, sizeof buf),
                     AD_ERR_ARG);
    ck_assert_str_eq(buf, "more than 16 pairs");
}
END_TEST

/* The list the library is given: --temperatures in order, then
 * --train-temperatures, each with its weight (1 where none is named). */
START_TEST(test_training_temperatures)
{
    char msg[256];
    app_temperatures t, e;
    app_temperature_weights w;
    parse_lists("2,0.5,1", "4,0.25", &t, &e);
    ck_assert_int_eq(check_weights("4:0.5,2:3", "2,0.5,1", "4,0.25", &w, msg, sizeof msg),
                     AD_OK);
    bg_temperature out[2 * APP_MAX_TEMPERATURES];
    ck_assert_int_eq(app_training_temperatures(&t, &e, &w, out), 5);
    static const double kT[5] = {0.5, 1, 2, 0.25, 4}, weight[5] = {1, 1, 3, 1, 0.5};
    for (int j = 0; j < 5; j++) {
        ck_assert(out[j].kT == kT[j]);
        ck_assert(out[j].weight == weight[j]);
    }
    /* no --train-temperatures, no weights */
    ck_assert_int_eq(check_weights(NULL, "2,0.5,1", NULL, &w, msg, sizeof msg), AD_OK);
    ck_assert_int_eq(app_training_temperatures(&t, NULL, &w, out), 3);
    for (int j = 0; j < 3; j++) ck_assert(out[j].kT == kT[j] && out[j].weight == 1);
}
END_TEST

/* ---- --coupling: the choice kind and the shared coupling options ---- */

static app_coupling coupling;
static const app_option coupling_table[] = {APP_COUPLING_OPTIONS(&coupling)};
static const app_cli coupling_cli = {"bg-dimer", NULL, coupling_table, 3};

static int parse_coupling(char *msg, size_t size, int argc, const char *a1, const char *a2,
                          const char *a3, const char *a4)
{
    char *argv[5] = {"bg-dimer", (char *)a1, (char *)a2, (char *)a3, (char *)a4};
    coupling = (app_coupling){0, 0, 0};
    int rc = app_options_parse(&coupling_cli, argc, argv, msg, size);
    if (rc == AD_OK) rc = app_coupling_check("bg-dimer", &coupling, msg, size);
    return rc;
}

START_TEST(test_coupling)
{
    char msg[256], text[96];
    /* nothing given: affine, empty settings text */
    ck_assert_int_eq(parse_coupling(msg, sizeof msg, 1, NULL, NULL, NULL, NULL), AD_OK);
    ck_assert_int_eq(coupling.kind, APP_COUPLING_AFFINE);
    ck_assert_int_eq(app_coupling_text(&coupling, text, sizeof text), 0);
    ck_assert_str_eq(text, "");
    ck_assert_int_eq(parse_coupling(msg, sizeof msg, 3, "--coupling", "affine", NULL, NULL), AD_OK);
    ck_assert_int_eq(coupling.kind, APP_COUPLING_AFFINE);
    /* spline: the defaults filled in */
    ck_assert_int_eq(parse_coupling(msg, sizeof msg, 2, "--coupling=spline", NULL, NULL, NULL),
                     AD_OK);
    ck_assert_int_eq(coupling.kind, APP_COUPLING_SPLINE);
    ck_assert_int_eq(coupling.bins, 8);
    ck_assert(coupling.bound == 5.0);
    app_coupling_text(&coupling, text, sizeof text);
    ck_assert_str_eq(text, "spline bins 8 bound 5");
    ck_assert_int_eq(
        parse_coupling(msg, sizeof msg, 5, "--spline-bins", "64", "--coupling", "spline"), AD_OK);
    ck_assert_int_eq(coupling.bins, 64);
    /* errors */
    ck_assert_int_eq(parse_coupling(msg, sizeof msg, 3, "--coupling", "Spline", NULL, NULL),
                     AD_ERR_ARG);
    ck_assert_str_eq(msg, "bg-dimer: --coupling: 'Spline' is not one of affine/spline (try --help)");
    ck_assert_int_eq(parse_coupling(msg, sizeof msg, 3, "--coupling", "affine|spline", NULL, NULL),
                     AD_ERR_ARG);
    ck_assert_int_eq(parse_coupling(msg, sizeof msg, 2, "--coupling=", NULL, NULL, NULL),
                     AD_ERR_ARG);
    ck_assert_int_eq(
        parse_coupling(msg, sizeof msg, 5, "--coupling", "spline", "--spline-bins", "1"),
        AD_ERR_ARG);
    ck_assert_str_eq(msg, "bg-dimer: --spline-bins: 1 is out of range [2, 64] (try --help)");
    ck_assert_int_eq(
        parse_coupling(msg, sizeof msg, 5, "--coupling", "spline", "--spline-bins", "65"),
        AD_ERR_ARG);
    ck_assert_int_eq(parse_coupling(msg, sizeof msg, 3, "--spline-bins", "8", NULL, NULL),
                     AD_ERR_ARG);
    ck_assert_str_eq(msg, "bg-dimer: --spline-bins needs --coupling spline (try --help)");
    ck_assert_int_eq(parse_coupling(msg, sizeof msg, 3, "--spline-bound", "3", NULL, NULL),
                     AD_ERR_ARG);
    ck_assert_str_eq(msg, "bg-dimer: --spline-bound needs --coupling spline (try --help)");
    /* --help shows the choices and the current choice as the default */
    coupling = (app_coupling){APP_COUPLING_SPLINE, 0, 0};
    char usage[2048];
    app_options_usage(&coupling_cli, usage, sizeof usage);
    ck_assert_msg(strstr(usage, "--coupling affine|spline") && strstr(usage, "(default spline)"),
                  "%s", usage);
}
END_TEST

Suite *apps_options_suite(void)
{
    Suite *s = suite_create("apps-options");
    TCase *tc = tcase_create("forward");
    tcase_add_test(tc, test_every_kind);
    tcase_add_test(tc, test_equals_form);
    tcase_add_test(tc, test_help);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_unknown_and_positional);
    tcase_add_test(tc, test_missing_value);
    tcase_add_test(tc, test_bad_numbers);
    tcase_add_test(tc, test_range);
    tcase_add_test(tc, test_huge_integers);
    tcase_add_loop_test(tc, test_temperature_list_errors, 0,
                        (int)(sizeof BAD_TEMPS / sizeof *BAD_TEMPS));
    suite_add_tcase(s, tc);
    tc = tcase_create("temperatures");
    tcase_add_test(tc, test_temperature_list);
    tcase_add_test(tc, test_coupling);
    tcase_add_test(tc, test_train_temperatures);
    tcase_add_test(tc, test_temperature_weights);
    tcase_add_test(tc, test_training_temperatures);
    suite_add_tcase(s, tc);
    return s;
}
