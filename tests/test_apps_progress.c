/* test_apps_progress.c - the progress line (formatted on a buffer and
 * printed to a temporary file, never to the terminal) and the report.md
 * helpers. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "apps/toolkit/app_buf.h"
#include "apps/toolkit/app_progress.h"
#include "apps/toolkit/app_report.h"
#include "autodiff/ad.h"
#include "ck_util.h"

START_TEST(test_format)
{
    char buf[256];
    const app_progress_value v[3] = {{"loss", -7.6213}, {"ml", 0.3102}, {"kl", -7.9}};
    app_progress_line l = {2, 4, NULL, 120, 456, v, 3, 120.0 / 84};
    app_progress_format(buf, sizeof buf, &l);
    ck_assert_str_eq(buf, "stage 2/4  it 120/456  loss -7.62 (ml 0.31 kl -7.9)  84 it/s  eta 4s");
    /* one value, a stage name, a slow rate, a long remaining time */
    app_progress_line m = {1, 2, "KL", 3, 10000, v, 1, 4.0};
    app_progress_format(buf, sizeof buf, &m);
    ck_assert_str_eq(buf, "stage 1/2  KL  it 3/10000  loss -7.62  0.75 it/s  eta 3h42m");
    /* nothing known yet: no rate, no eta; no stages */
    app_progress_line n = {0, 0, NULL, 0, 500, NULL, 0, 0};
    app_progress_format(buf, sizeof buf, &n);
    ck_assert_str_eq(buf, "it 0/500");
    /* large, non-finite and two values */
    const app_progress_value w[2] = {{"loss", 12345.6}, {"kl", NAN}};
    app_progress_line o = {0, 0, NULL, 50, 0, w, 2, 0.5};
    app_progress_format(buf, sizeof buf, &o);
    ck_assert_str_eq(buf, "it 50  loss 12346 (kl nan)  100 it/s");
    /* a short buffer is truncated, not overrun */
    char small[12];
    ck_assert_int_gt(app_progress_format(small, sizeof small, &l), 11);
    ck_assert_str_eq(small, "stage 2/4  ");
}
END_TEST

START_TEST(test_duration)
{
    char buf[16];
    app_progress_format_duration(buf, sizeof buf, 4.4);
    ck_assert_str_eq(buf, "4s");
    app_progress_format_duration(buf, sizeof buf, 125);
    ck_assert_str_eq(buf, "2m05s");
    app_progress_format_duration(buf, sizeof buf, 3720);
    ck_assert_str_eq(buf, "1h02m");
    app_progress_format_duration(buf, sizeof buf, 1e12);
    ck_assert_str_eq(buf, ">99h");
    app_progress_format_duration(buf, sizeof buf, NAN);
    ck_assert_str_eq(buf, "?");
    app_progress_format_duration(buf, sizeof buf, -1);
    ck_assert_str_eq(buf, "?");
}
END_TEST

/* Everything written to a temporary stream. */
static const char *contents(FILE *f)
{
    static char buf[4096];
    fflush(f);
    rewind(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    return buf;
}

START_TEST(test_not_a_terminal)
{
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    app_progress p;
    app_progress_init(&p, f, 1000); /* lines at most every 1000 s */
    ck_assert_int_eq(p.tty, 0);
    app_progress_stage(&p, 1, 2, NULL, 10);
    const app_progress_value v[1] = {{"loss", 1.5}};
    for (long it = 1; it <= 10; it++) app_progress_update(&p, it, v, 1);
    app_progress_done(&p);
    const char *out = contents(f);
    /* the first and the last line only, each a full line */
    ck_assert_ptr_nonnull(strstr(out, "stage 1/2  it 1/10  loss 1.5"));
    ck_assert_ptr_nonnull(strstr(out, "stage 1/2  it 10/10  loss 1.5"));
    int lines = 0;
    for (const char *c = out; *c; c++) lines += *c == '\n';
    ck_assert_int_eq(lines, 2);
    ck_assert_ptr_null(strchr(out, '\r'));
    ck_assert_ptr_null(strchr(out, '\033'));
    fclose(f);
}
END_TEST

START_TEST(test_terminal)
{
    FILE *f = tmpfile();
    app_progress p;
    app_progress_init(&p, f, 0);
    p.tty = 1; /* as if stderr were a terminal */
    app_progress_stage(&p, 1, 1, NULL, 3);
    app_progress_update(&p, 1, NULL, 0);
    app_progress_update(&p, 3, NULL, 0);
    app_progress_done(&p);
    const char *out = contents(f);
    ck_assert(strncmp(out, "\rstage 1/1  it 1/3", 18) == 0);
    ck_assert_ptr_nonnull(strstr(out, "\033[K\rstage 1/1  it 3/3"));
    ck_assert(out[strlen(out) - 1] == '\n');
    ck_assert_int_eq(p.line_open, 0);
    fclose(f);
    double t0 = app_clock_seconds(), t1 = app_clock_seconds();
    ck_assert(t1 >= t0 && t0 > 0);
}
END_TEST

START_TEST(test_report)
{
    app_buf b;
    app_buf_init(&b);
    app_report_heading(&b, 2, "Free energies");
    const char *header[3] = {"model", "ΔF right-left", "note"};
    const char *cells[6] = {"KL", "-1.25", "a|b", "ML", NULL, "two\nlines"};
    ck_assert_int_eq(app_report_table(&b, 3, header, cells, 2), AD_OK);
    ck_assert_int_eq(app_report_image(&b, "profile [kT]", "fig profile(1).svg"), AD_OK);
    ck_assert_int_eq(app_report_paragraph(&b, "Done."), AD_OK);
    ck_assert_str_eq(b.data, "## Free energies\n\n"
                             "| model | ΔF right-left | note |\n"
                             "| --- | --- | --- |\n"
                             "| KL | -1.25 | a\\|b |\n"
                             "| ML |  | two lines |\n\n"
                             "![profile \\[kT\\]](fig%20profile%281%29.svg)\n\n"
                             "Done.\n\n");
    ck_assert_int_eq(app_report_table(&b, 0, header, cells, 1), AD_ERR_ARG);
    app_buf_free(&b);
}
END_TEST

Suite *apps_progress_suite(void)
{
    Suite *s = suite_create("apps-progress");
    TCase *tc = tcase_create("forward");
    tcase_add_test(tc, test_format);
    tcase_add_test(tc, test_duration);
    tcase_add_test(tc, test_not_a_terminal);
    tcase_add_test(tc, test_terminal);
    tcase_add_test(tc, test_report);
    suite_add_tcase(s, tc);
    return s;
}
