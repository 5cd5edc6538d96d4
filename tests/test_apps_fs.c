/* test_apps_fs.c - mkdir -p, the writability check, atomic writes, joining.
 * The tests run as root, so a path below a regular FILE stands in for an
 * unwritable directory. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "apps/toolkit/app_fs.h"
#include "autodiff/ad.h"
#include "ck_util.h"

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* The content of a file, or "" when it cannot be read. */
static const char *get(const char *path)
{
    static char buf[256];
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return buf;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Number of leftover temporary files (".tmp." in the name) in dir. */
static int temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, ".tmp.") || strstr(e->d_name, ".write-test.")) n++;
    closedir(d);
    return n;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

START_TEST(test_join)
{
    char out[32];
    ck_assert_int_eq(app_fs_join(out, sizeof out, "a", "b.txt"), AD_OK);
    ck_assert_str_eq(out, "a/b.txt");
    ck_assert_int_eq(app_fs_join(out, sizeof out, "a//", "b"), AD_OK);
    ck_assert_str_eq(out, "a/b");
    ck_assert_int_eq(app_fs_join(out, sizeof out, "", "b"), AD_OK);
    ck_assert_str_eq(out, "b");
    ck_assert_int_eq(app_fs_join(out, sizeof out, "/", "b"), AD_OK);
    ck_assert_str_eq(out, "/b");
    ck_assert_int_eq(app_fs_join(out, sizeof out, "out/dw", "/fig.svg"), AD_OK);
    ck_assert_str_eq(out, "out/dw/fig.svg");
    ck_assert_int_eq(app_fs_join(out, 8, "abcd", "efgh"), AD_ERR_ARG);
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_mkdir_p)
{
    const char *tmp = ck_tmpdir("fs-mkdir");
    ck_assert_ptr_nonnull(tmp);
    char path[512], msg[512];
    snprintf(path, sizeof path, "%s/a/b//c/", tmp);
    ck_assert_int_eq(app_fs_mkdir_p(path, msg, sizeof msg), AD_OK);
    snprintf(path, sizeof path, "%s/a/b/c", tmp);
    ck_assert(is_dir(path));
    ck_assert_int_eq(app_fs_mkdir_p(path, msg, sizeof msg), AD_OK); /* exists: fine */
    ck_assert_int_eq(app_fs_check_writable_dir(path, msg, sizeof msg), AD_OK);
    ck_assert_int_eq(temp_files(path), 0); /* the probe is gone */
    snprintf(path, sizeof path, "%s/new/out", tmp);
    ck_assert_int_eq(app_fs_check_writable_dir(path, msg, sizeof msg), AD_OK);
    ck_assert(is_dir(path));
    ck_assert_int_eq(app_fs_mkdir_p("", msg, sizeof msg), AD_ERR_ARG);
}
END_TEST

START_TEST(test_unwritable_dir)
{
    const char *tmp = ck_tmpdir("fs-unwritable");
    char file[512], path[600], msg[512];
    snprintf(file, sizeof file, "%s/file", tmp);
    put(file, "x");
    snprintf(path, sizeof path, "%s/sub/dir", file);
    ck_assert_int_eq(app_fs_check_writable_dir(path, msg, sizeof msg), AD_ERR_IO);
    ck_assert_ptr_nonnull(strstr(msg, file)); /* names the failing part */
    ck_assert_ptr_nonnull(strstr(msg, "Not a directory"));
    ck_assert_int_eq(app_fs_check_writable_dir(file, msg, sizeof msg), AD_ERR_IO);
    ck_assert_ptr_nonnull(strstr(msg, file));
    ck_assert_str_eq(get(file), "x");
}
END_TEST

START_TEST(test_atomic_replaces)
{
    const char *tmp = ck_tmpdir("fs-atomic");
    char path[512], msg[512];
    snprintf(path, sizeof path, "%s/summary.json", tmp);
    ck_assert_int_eq(app_fs_write_atomic(path, "one", 3, msg, sizeof msg), AD_OK);
    ck_assert_str_eq(get(path), "one");
    ck_assert_int_eq(app_fs_write_atomic(path, "second", 6, msg, sizeof msg), AD_OK);
    ck_assert_str_eq(get(path), "second");
    ck_assert_int_eq(app_fs_write_atomic(path, "", 0, msg, sizeof msg), AD_OK);
    ck_assert_str_eq(get(path), "");
    ck_assert_int_eq(temp_files(tmp), 0);
    char *data = NULL;
    size_t len = 99;
    ck_assert_int_eq(app_fs_write_atomic(path, "a\0b", 3, msg, sizeof msg), AD_OK);
    ck_assert_int_eq(app_fs_read_file(path, &data, &len, msg, sizeof msg), AD_OK);
    ck_assert_uint_eq(len, 3);
    ck_assert(memcmp(data, "a\0b", 4) == 0); /* NUL-terminated too */
    ad_free(data);
}
END_TEST

static int write_half_then_fail(FILE *f, void *ctx)
{
    (void)ctx;
    fputs("partial", f);
    return AD_ERR_NUMERIC;
}

static int write_hello(FILE *f, void *ctx)
{
    fputs((const char *)ctx, f);
    return 0;
}

START_TEST(test_atomic_failures)
{
    const char *tmp = ck_tmpdir("fs-atomic-fail");
    char file[512], path[600], msg[512];
    snprintf(file, sizeof file, "%s/old.txt", tmp);
    put(file, "old");
    /* a directory that is a regular file */
    snprintf(path, sizeof path, "%s/x.svg", file);
    ck_assert_int_eq(app_fs_write_atomic(path, "new", 3, msg, sizeof msg), AD_ERR_IO);
    ck_assert_ptr_nonnull(strstr(msg, path));
    ck_assert_ptr_nonnull(strstr(msg, "Not a directory"));
    /* a directory that does not exist */
    snprintf(path, sizeof path, "%s/missing/x.svg", tmp);
    ck_assert_int_eq(app_fs_write_atomic(path, "new", 3, msg, sizeof msg), AD_ERR_IO);
    ck_assert_ptr_nonnull(strstr(msg, path));
    /* the producer fails half way: the old content stays, no temp file left */
    ck_assert_int_eq(app_fs_write_atomic_with(file, write_half_then_fail, NULL, msg, sizeof msg),
                     AD_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(msg, file));
    ck_assert_str_eq(get(file), "old");
    ck_assert_int_eq(temp_files(tmp), 0);
    /* the target is a directory: rename fails, nothing is left behind */
    snprintf(path, sizeof path, "%s/adir", tmp);
    ck_assert_int_eq(app_fs_mkdir_p(path, msg, sizeof msg), AD_OK);
    ck_assert_int_eq(app_fs_write_atomic(path, "new", 3, msg, sizeof msg), AD_ERR_IO);
    ck_assert_ptr_nonnull(strstr(msg, path));
    ck_assert(is_dir(path));
    ck_assert_int_eq(temp_files(tmp), 0);
    /* bad names */
    ck_assert_int_eq(app_fs_write_atomic("", "x", 1, msg, sizeof msg), AD_ERR_ARG);
    snprintf(path, sizeof path, "%s/", tmp);
    ck_assert_int_eq(app_fs_write_atomic(path, "x", 1, msg, sizeof msg), AD_ERR_ARG);
    /* the callback form works */
    ck_assert_int_eq(app_fs_write_atomic_with(file, write_hello, "hello", msg, sizeof msg), AD_OK);
    ck_assert_str_eq(get(file), "hello");
    /* reading a missing file */
    char *data = (char *)1;
    snprintf(path, sizeof path, "%s/none.json", tmp);
    ck_assert_int_eq(app_fs_read_file(path, &data, NULL, msg, sizeof msg), AD_ERR_IO);
    ck_assert_ptr_null(data);
    ck_assert_ptr_nonnull(strstr(msg, path));
}
END_TEST

Suite *apps_fs_suite(void)
{
    Suite *s = suite_create("apps-fs");
    TCase *tc = tcase_create("forward");
    tcase_add_test(tc, test_join);
    tcase_add_test(tc, test_mkdir_p);
    tcase_add_test(tc, test_atomic_replaces);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_unwritable_dir);
    tcase_add_test(tc, test_atomic_failures);
    suite_add_tcase(s, tc);
    return s;
}
