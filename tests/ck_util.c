/* ck_util.c - helpers shared by the test suites. */
#include "ck_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

const char *ck_tmpdir(const char *tag)
{
    static char path[512];
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    snprintf(path, sizeof path, "%s/libbg-test-%s-%ld", base, tag, (long)getpid());
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) return NULL;
    if (mkdir(path, 0755) != 0) return NULL;
    return path;
}

const char *ck_bin_dir(void)
{
    const char *d = getenv("BG_BIN_DIR");
    return d && *d ? d : "build/bin";
}

int ck_under_sanitizer(void)
{
    const char *s = getenv("BG_SANITIZE");
    return s && *s && *s != '0';
}
