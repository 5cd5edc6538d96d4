/* test_apps_util.c - file helpers for the program suites. */
#include "test_apps_util.h"

#include <stdio.h>

#include "apps/toolkit/app_fs.h"
#include "autodiff/ad.h"

char *ck_slurp(const char *path, size_t *len)
{
    char *data = NULL;
    char msg[256];
    size_t n = 0;
    if (app_fs_read_file(path, &data, &n, msg, sizeof msg) != AD_OK) return NULL;
    if (len) *len = n;
    return data;
}

int ck_count_lines(const char *path)
{
    size_t n = 0;
    char *s = ck_slurp(path, &n);
    if (!s) return -1;
    int lines = 0;
    for (size_t i = 0; i < n; i++) lines += s[i] == '\n';
    if (n && s[n - 1] != '\n') lines++;
    ad_free(s);
    return lines;
}

app_json_value *ck_load_summary(const char *dir)
{
    char path[1024], msg[256];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    size_t len = 0;
    char *text = ck_slurp(path, &len);
    if (!text) return NULL;
    app_json_value *root = NULL;
    int status = app_json_parse(text, len, &root, msg, sizeof msg);
    ad_free(text);
    return status == AD_OK ? root : NULL;
}
