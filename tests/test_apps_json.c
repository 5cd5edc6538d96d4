/* test_apps_json.c - the JSON writer and reader of the programs. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "apps/toolkit/app_json.h"
#include "autodiff/ad.h"
#include "ck_util.h"

/* The small summary-like document used by several tests. */
static void write_doc(app_json *w)
{
    app_json_object_begin(w);
    app_json_key_string(w, "system", "doublewell");
    app_json_key_int(w, "seed", 42);
    app_json_key_number(w, "x", 0.1);
    app_json_key_bool(w, "quick", 1);
    app_json_key(w, "models");
    app_json_array_begin(w);
    app_json_object_begin(w);
    app_json_key_string(w, "name", "KL");
    app_json_key(w, "delta_f");
    app_json_object_begin(w);
    app_json_key_number(w, "right-left", -1.25);
    app_json_key_number(w, "bad", NAN);
    app_json_object_end(w);
    app_json_object_end(w);
    app_json_array_end(w);
    app_json_key(w, "empty");
    app_json_array_begin(w);
    app_json_array_end(w);
    app_json_key(w, "v");
    app_json_number_array(w, (const double[]){1, 2.5, INFINITY}, 3);
    app_json_object_end(w);
}

START_TEST(test_writer_exact)
{
    app_json w;
    app_json_init(&w, 0);
    write_doc(&w);
    ck_assert_int_eq(app_json_finish(&w, NULL, 0), AD_OK);
    ck_assert_str_eq(
        w.out.data,
        "{\"system\":\"doublewell\",\"seed\":42,\"x\":0.1,\"quick\":true,"
        "\"models\":[{\"name\":\"KL\",\"delta_f\":{\"right-left\":-1.25,\"bad\":null}}],"
        "\"empty\":[],\"v\":[1,2.5,null]}\n");
    app_json_free(&w);

    app_json_init(&w, 1);
    app_json_object_begin(&w);
    app_json_key_int(&w, "a", 1);
    app_json_key(&w, "b");
    app_json_array_begin(&w);
    app_json_null(&w);
    app_json_string(&w, "s");
    app_json_array_end(&w);
    app_json_key(&w, "c");
    app_json_object_begin(&w);
    app_json_object_end(&w);
    app_json_key(&w, "d");
    app_json_number_array(&w, (const double[]){3, 4}, 2);
    app_json_object_end(&w);
    ck_assert_int_eq(app_json_finish(&w, NULL, 0), AD_OK);
    ck_assert_str_eq(w.out.data, "{\n  \"a\": 1,\n  \"b\": [\n    null,\n    \"s\"\n  ],\n"
                                 "  \"c\": {},\n  \"d\": [3,4]\n}\n");
    app_json_free(&w);
}
END_TEST

START_TEST(test_writer_escaping)
{
    app_json w;
    app_json_init(&w, 0);
    app_json_array_begin(&w);
    app_json_string(&w, "a\"b\\c/\n\t\r\b\f\x01\x1f\x7f");
    app_json_string(&w, "caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x98\x80");     /* valid UTF-8 kept */
    app_json_string(&w, "x\xff" "y\xc3" "z\xed\xa0\x80" "w\xc0\xaf"); /* invalid: U+FFFD */
    app_json_string(&w, NULL);
    app_json_array_end(&w);
    ck_assert_int_eq(app_json_finish(&w, NULL, 0), AD_OK);
    ck_assert_str_eq(w.out.data,
                     "[\"a\\\"b\\\\c/\\n\\t\\r\\b\\f\\u0001\\u001f\x7f\","
                     "\"caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x98\x80\","
                     "\"x\\ufffdy\\ufffdz\\ufffd\\ufffd\\ufffdw\\ufffd\\ufffd\",null]\n");
    /* and it reads back */
    app_json_value *v = NULL;
    char msg[128];
    ck_assert_int_eq(app_json_parse(w.out.data, w.out.len, &v, msg, sizeof msg), AD_OK);
    ck_assert_str_eq(v->items[0].string, "a\"b\\c/\n\t\r\b\f\x01\x1f\x7f");
    ck_assert_str_eq(v->items[1].string, "caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x98\x80");
    app_json_value_free(v);
    app_json_free(&w);
}
END_TEST

START_TEST(test_writer_numbers)
{
    /* lossless and short: the shortest of %.15g..%.17g that reads back */
    const double values[] = {0.1, 1.0 / 3, -2.5e-300, 1e300, 123456789012345678.0, 5e-324,
                             -0.0, 0.30000000000000004, 1.7976931348623157e308};
    app_json w;
    app_json_init(&w, 0);
    app_json_number_array(&w, values, sizeof values / sizeof *values);
    ck_assert_int_eq(app_json_finish(&w, NULL, 0), AD_OK);
    ck_assert_ptr_nonnull(strstr(w.out.data, "[0.1,0.3333333333333333,"));
    ck_assert_ptr_nonnull(strstr(w.out.data, ",0.30000000000000004,"));
    app_json_value *v = NULL;
    ck_assert_int_eq(app_json_parse(w.out.data, w.out.len, &v, NULL, 0), AD_OK);
    ck_assert_uint_eq(v->n_items, sizeof values / sizeof *values);
    for (size_t i = 0; i < v->n_items; i++)
        ck_assert_msg(v->items[i].number == values[i], "value %zu: %.17g", i, v->items[i].number);
    app_json_value_free(v);
    app_json_free(&w);
    /* non-finite -> null */
    app_json_init(&w, 0);
    app_json_number_array(&w, (const double[]){NAN, -INFINITY, INFINITY}, 3);
    ck_assert_int_eq(app_json_finish(&w, NULL, 0), AD_OK);
    ck_assert_str_eq(w.out.data, "[null,null,null]\n");
    app_json_free(&w);
}
END_TEST

START_TEST(test_writer_misuse)
{
    char msg[128];
    app_json w;
    app_json_init(&w, 0); /* a value without its key */
    app_json_object_begin(&w);
    app_json_int(&w, 1);
    app_json_object_end(&w);
    ck_assert_int_eq(app_json_finish(&w, msg, sizeof msg), AD_ERR_STATE);
    ck_assert_ptr_nonnull(strstr(msg, "JSON writer"));
    app_json_free(&w);
    app_json_init(&w, 0); /* unbalanced */
    app_json_array_begin(&w);
    ck_assert_int_eq(app_json_finish(&w, NULL, 0), AD_ERR_STATE);
    app_json_free(&w);
    app_json_init(&w, 0); /* wrong closer, key in an array, two top-level values */
    app_json_array_begin(&w);
    app_json_object_end(&w);
    ck_assert_int_eq(app_json_finish(&w, NULL, 0), AD_ERR_STATE);
    app_json_free(&w);
    app_json_init(&w, 0);
    app_json_array_begin(&w);
    app_json_key(&w, "k");
    ck_assert_int_eq(w.err, AD_ERR_STATE);
    app_json_free(&w);
    app_json_init(&w, 0);
    app_json_int(&w, 1);
    app_json_int(&w, 2);
    ck_assert_int_eq(app_json_finish(&w, NULL, 0), AD_ERR_STATE);
    app_json_free(&w);
    app_json_init(&w, 0); /* empty document */
    ck_assert_int_eq(app_json_finish(&w, NULL, 0), AD_ERR_STATE);
    app_json_free(&w);
}
END_TEST

START_TEST(test_reader_round_trip)
{
    app_json w;
    app_json_init(&w, 1);
    write_doc(&w);
    ck_assert_int_eq(app_json_finish(&w, NULL, 0), AD_OK);
    app_json_value *root = NULL;
    char msg[128];
    ck_assert_int_eq(app_json_parse(w.out.data, w.out.len, &root, msg, sizeof msg), AD_OK);
    ck_assert_int_eq(root->type, APP_JSON_OBJECT);
    double d = 0;
    ck_assert_int_eq(app_json_get_number(root, "models[0].delta_f.\"right-left\"", &d), AD_OK);
    ck_assert_double_eq(d, -1.25);
    ck_assert_int_eq(app_json_get_number(root, "models[0].delta_f.right-left", &d), AD_OK);
    ck_assert_int_eq(app_json_get_number(root, "x", &d), AD_OK);
    ck_assert_double_eq(d, 0.1);
    ck_assert_int_eq(app_json_get_number(root, "seed", &d), AD_OK);
    ck_assert_double_eq(d, 42);
    const app_json_value *v = app_json_lookup(root, "system");
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(v->type, APP_JSON_STRING);
    ck_assert_str_eq(v->string, "doublewell");
    v = app_json_lookup(root, "quick");
    ck_assert(v && v->type == APP_JSON_BOOL && v->boolean == 1);
    v = app_json_lookup(root, "v[2]");
    ck_assert(v && v->type == APP_JSON_NULL);
    v = app_json_lookup(root, "empty");
    ck_assert(v && v->type == APP_JSON_ARRAY && v->n_items == 0);
    ck_assert_ptr_eq(app_json_lookup(root, ""), root);
    ck_assert_ptr_eq(app_json_member(app_json_lookup(root, "models[0]"), "name"),
                     app_json_lookup(root, "models[0].name"));
    /* paths that lead nowhere or are malformed */
    static const char *const bad[] = {"models[1]", "models[", "models[x]", "models[0",
                                      "models.0",  ".x",      "x.",        "nope",
                                      "x[0]",      "models[0].delta_f.\"right-left",
                                      "models[99999999999999999999999]"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(app_json_lookup(root, bad[i]) == NULL, "path %s", bad[i]);
    ck_assert_int_eq(app_json_get_number(root, "system", &d), AD_ERR_ARG);
    /* finiteness and nulls */
    ck_assert_int_eq(app_json_all_finite(root), 1);
    ck_assert_uint_eq(app_json_count(root, APP_JSON_NULL), 2);
    ck_assert_uint_eq(app_json_count(root, APP_JSON_OBJECT), 3);
    app_json_value_free(root);
    app_json_free(&w);

    const char *text =
        " {\"a\" : [1e999, -0, 2E+2, \"\\u00e9\\ud83d\\ude00\\u0000x\"], \"a\": 5}\r\n";
    ck_assert_int_eq(app_json_parse(text, strlen(text), &root, msg, sizeof msg), AD_OK);
    ck_assert_int_eq(app_json_all_finite(root), 0); /* 1e999 overflowed */
    ck_assert_int_eq(app_json_get_number(root, "a[2]", &d), AD_OK);
    ck_assert_double_eq(d, 200);
    v = app_json_lookup(root, "a[3]");
    ck_assert_uint_eq(v->length, 8);
    ck_assert(memcmp(v->string, "\xc3\xa9\xf0\x9f\x98\x80\0x", 8) == 0);
    ck_assert_ptr_eq(app_json_member(root, "a"), &root->items[0]); /* first duplicate */
    app_json_value_free(root);
}
END_TEST

static const char *const malformed[] = {
    "",          "   ",       "{",          "}",           "[1,]",        "[,1]",
    "{\"a\":1,}", "{'a':1}",  "{a:1}",      "[01]",        "[1.]",        "[.5]",
    "[-]",       "[+1]",      "nul",        "tru",         "[1] x",       "[1][2]",
    "\"\\x\"",   "\"a\nb\"",  "[\"\\ud800\"]", "[\"\\udc00\"]", "[\"\\ud800\\u0041\"]",
    "[\"\\u12g4\"]", "{\"a\" 1}", "[1 2]",  "\"\xff\"",    "\"\xc3\"",    "NaN",
    "[Infinity]", "\"abc",    "[1e]",       "[1e+]",       "[0x10]",      "{\"a\":}",
    "[\"\\u00\"]"};

START_TEST(test_reader_rejects)
{
    const char *text = malformed[_i];
    app_json_value *v = (app_json_value *)1;
    char msg[128] = "";
    int rc = app_json_parse(text, strlen(text), &v, msg, sizeof msg);
    ck_assert_msg(rc == AD_ERR_FORMAT, "accepted '%s'", text);
    ck_assert_ptr_null(v);
    ck_assert_msg(strncmp(msg, "line ", 5) == 0, "message '%s'", msg);
}
END_TEST

START_TEST(test_reader_limits)
{
    char deep[300];
    memset(deep, '[', 150);
    memset(deep + 150, ']', 150);
    app_json_value *v = NULL;
    char msg[128];
    ck_assert_int_eq(app_json_parse(deep, 300, &v, msg, sizeof msg), AD_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(msg, "nested too deeply"));
    /* a NUL byte inside the text is an error, not an early end */
    ck_assert_int_eq(app_json_parse("[1]\0", 4, &v, msg, sizeof msg), AD_ERR_FORMAT);
    ck_assert_int_eq(app_json_parse("{\"a\":\n  [1,\n  x]}", 17, &v, msg, sizeof msg),
                     AD_ERR_FORMAT);
    ck_assert_str_eq(msg, "line 3, column 3: unexpected character");
    /* a long number literal */
    char big[1200] = "[";
    memset(big + 1, '7', 1100);
    strcpy(big + 1101, "]");
    ck_assert_int_eq(app_json_parse(big, strlen(big), &v, msg, sizeof msg), AD_OK);
    ck_assert(isinf(v->items[0].number)); /* 7.7e1099 overflows to inf */
    app_json_value_free(v);
}
END_TEST

START_TEST(test_out_of_memory)
{
    /* every allocation may fail: no crash, no leak, an error code */
    int ok_seen = 0;
    for (long n = 0; n < 200 && !ok_seen; n++) {
        app_json w;
        app_json_init(&w, 1);
        ad_alloc_fail_after(n);
        write_doc(&w);
        int rc = app_json_finish(&w, NULL, 0);
        app_json_value *v = NULL;
        int rc2 = rc == AD_OK ? app_json_parse(w.out.data, w.out.len, &v, NULL, 0) : AD_ERR_NOMEM;
        ad_alloc_fail_after(-1);
        ck_assert(rc == AD_OK || rc == AD_ERR_NOMEM);
        ck_assert(rc2 == AD_OK || rc2 == AD_ERR_NOMEM);
        ck_assert(rc2 != AD_OK || v != NULL);
        ok_seen = rc == AD_OK && rc2 == AD_OK;
        app_json_value_free(v);
        app_json_free(&w);
    }
    ck_assert(ok_seen);
}
END_TEST

Suite *apps_json_suite(void)
{
    Suite *s = suite_create("apps-json");
    TCase *tc = tcase_create("forward");
    tcase_add_test(tc, test_writer_exact);
    tcase_add_test(tc, test_writer_escaping);
    tcase_add_test(tc, test_writer_numbers);
    tcase_add_test(tc, test_reader_round_trip);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_writer_misuse);
    tcase_add_loop_test(tc, test_reader_rejects, 0, (int)(sizeof malformed / sizeof *malformed));
    tcase_add_test(tc, test_reader_limits);
    suite_add_tcase(s, tc);
    tc = tcase_create("memory");
    tcase_add_test(tc, test_out_of_memory);
    suite_add_tcase(s, tc);
    return s;
}
