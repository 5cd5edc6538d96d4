/* test_autodiff_print.c - the printed tape (text and DOT), exact text. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/ad.h"
#include "ck_util.h"

/* Run a printer into memory and return the text (static buffer). */
static const char *printed(void (*print)(const ad_tape *, FILE *), const ad_tape *t)
{
    static char buf[4096];
    FILE *f = fmemopen(buf, sizeof buf, "w");
    ck_assert_ptr_nonnull(f);
    print(t, f);
    fclose(f);
    return buf;
}

/* f = sum(a * x^2 + b) with a named x and loss, an unnamed parameter b and
 * a constant weight: every kind of input appears. */
static ad_tape *small_tape(ad_tensor *a, ad_tensor *b, ad_tensor **loss)
{
    ad_tape *t = ad_tape_new(0);
    ad_tensor *x = ad_tape_input(t, 1, (int[]){3}, (ad_real[]){1, 2, 3});
    x->name = "x";
    ad_tensor *w = ad_constant(t, 1, (int[]){3}, (ad_real[]){1, 1, 1});
    ad_tensor *f = ad_add(t, ad_mul(t, a, ad_square(t, x)), b);
    *loss = ad_sum(t, ad_mul(t, f, w));
    (*loss)->name = "loss";
    return t;
}

START_TEST(test_print_text)
{
    ad_tensor *a = ad_tensor_new_param(0, NULL), *b = ad_tensor_new_param(0, NULL), *loss;
    a->data[0] = 2;
    a->name = "a";
    ad_tape *t = small_tape(a, b, &loss);
    ck_assert(ad_tape_ok(t));
    ck_assert_str_eq(printed(ad_tape_print, t),
                     "tape: 5 nodes (tN is the output of node N)\n"
                     "node  op           inputs                      -> output\n"
                     "   0  square       leaf x[3]                   -> t0[3]\n"
                     "   1  mul          param a[], t0[3]            -> t1[3]\n"
                     "   2  add          t1[3], param[]              -> t2[3]\n"
                     "   3  mul          t2[3], const[3]             -> t3[3]\n"
                     "   4  sum          t3[3]                       -> loss[]\n");
    ck_assert_int_eq(ad_backward(t, loss), AD_OK);
    ck_assert_str_eq(printed(ad_tape_print, t),
                     "tape: 5 nodes (tN is the output of node N)\n"
                     "node  op           inputs                      -> output\n"
                     "   0  square       leaf x[3]                   -> t0[3]  grad\n"
                     "   1  mul          param a[], t0[3]            -> t1[3]  grad\n"
                     "   2  add          t1[3], param[]              -> t2[3]  grad\n"
                     "   3  mul          t2[3], const[3]             -> t3[3]  grad\n"
                     "   4  sum          t3[3]                       -> loss[]  grad\n");
    ad_exp(t, NULL);
    const char *s = printed(ad_tape_print, t);
    ck_assert_msg(strstr(s, "\nerror: ad_exp: bad argument #1 (NULL tensor)\n"), "%s", s);
    ad_tape_reset(t);
    ck_assert_str_eq(printed(ad_tape_print, t), "tape: 0 nodes (tN is the output of node N)\n");
    ad_tensor_free(a);
    ad_tensor_free(b);
    ad_tape_free(t);
}
END_TEST

START_TEST(test_print_dot)
{
    ad_tensor *a = ad_tensor_new_param(0, NULL), *b = ad_tensor_new_param(0, NULL), *loss;
    a->data[0] = 2;
    a->name = "a";
    ad_tape *t = small_tape(a, b, &loss);
    ck_assert_int_eq(ad_backward(t, loss), AD_OK);
    const char *s = printed(ad_tape_print_dot, t);
    static const char *lines[] = {
        "digraph tape {\n",
        "  op0 [shape=ellipse, label=\"square\"];\n",
        "  in0_0 [shape=record, label=\"{x | [3] | grad(x)}\"];\n",
        "  in0_0 -> op0;\n",
        "  t0 [shape=record, label=\"{t0 | [3] | grad(t0)}\"];\n",
        "  op0 -> t0;\n",
        "  in1_0 [shape=record, label=\"{a | 2 | grad(a) 14}\"];\n",
        "  t0 -> op1;\n",
        "  in2_1 [shape=record, label=\"{param | 0 | grad(param) 3}\"];\n",
        "  in3_1 [shape=record, label=\"{const | [3] | no grad}\"];\n",
        "  t4 [shape=record, label=\"{loss | 28 | grad(loss) 1}\"];\n",
        "  op4 -> t4;\n",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        ck_assert_msg(strstr(s, lines[i]) != NULL, "missing line %s in:\n%s", lines[i], s);
    ck_assert(strcmp(s + strlen(s) - 2, "}\n") == 0);
    /* each tensor is one vertex, however often it is used */
    ad_tape_reset(t);
    ad_tensor *x = ad_tape_input(t, 1, (int[]){2}, NULL);
    ad_mul(t, x, ad_add(t, x, x));
    s = printed(ad_tape_print_dot, t);
    ck_assert_ptr_null(strstr(s, "in0_1 ["));
    ck_assert_ptr_nonnull(strstr(s, "  in0_0 -> op1;\n"));
    ad_tensor_free(a);
    ad_tensor_free(b);
    ad_tape_free(t);
}
END_TEST

START_TEST(test_print_escapes)
{
    ad_tape *t = ad_tape_new(0);
    ad_tensor *x = ad_tape_input(t, 1, (int[]){2}, NULL);
    x->name = "x{1}|<y>";
    ad_neg(t, x);
    const char *s = printed(ad_tape_print_dot, t);
    ck_assert_msg(strstr(s, "label=\"{x\\{1\\}\\|\\<y\\> | [2] | no grad}\"") != NULL, "%s", s);
    ck_assert_str_eq(printed(ad_tape_print, NULL), "tape: none\n");
    ad_tape_free(t);
}
END_TEST

Suite *ad_print_suite(void)
{
    Suite *s = suite_create("autodiff-print");
    TCase *tc = tcase_create("forward");
    tcase_add_test(tc, test_print_text);
    tcase_add_test(tc, test_print_dot);
    tcase_add_test(tc, test_print_escapes);
    suite_add_tcase(s, tc);
    return s;
}
