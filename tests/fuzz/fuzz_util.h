/* fuzz_util.h - shared by the libFuzzer targets (tests/fuzz/fuzz_*.c) and the
 * corpus replay suite (tests/test_reliability_corpus.c), which includes the
 * target files directly so that both run the same checks.
 *
 * Each target file defines a static `fuzz_<name>_run(data, size, scratch,
 * why, why_len)` that returns 0 when every property held and 1 with a
 * description in `why` otherwise; LLVMFuzzerTestOneInput (compiled only with
 * LIBBG_FUZZ_MAIN) aborts on 1 so that libFuzzer keeps the input.
 */
#ifndef LIBBG_TESTS_FUZZ_FUZZ_UTIL_H
#define LIBBG_TESTS_FUZZ_FUZZ_UTIL_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Write data[size] to path; 0 on success. */
static inline int fuzz_write_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = size == 0 || fwrite(data, 1, size, f) == size;
    ok = (fclose(f) == 0) && ok;
    return ok ? 0 : -1;
}

/* Record a violated property and return 1. */
static inline int fuzz_violation(char *why, size_t why_len, const char *fmt, ...)
{
    if (why && why_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    return 1;
}

#ifdef LIBBG_FUZZ_MAIN
/* A scratch file name for this process under $TMPDIR (or /tmp), removed at
 * exit. */
static char fuzz_scratch_path[512];
static inline void fuzz_scratch_remove(void)
{
    if (fuzz_scratch_path[0]) unlink(fuzz_scratch_path);
}
static inline const char *fuzz_scratch(const char *tag)
{
    if (!fuzz_scratch_path[0]) {
        const char *base = getenv("TMPDIR");
        if (!base || !*base) base = "/tmp";
        snprintf(fuzz_scratch_path, sizeof fuzz_scratch_path, "%s/libbg-fuzz-%s-%ld", base, tag,
                 (long)getpid());
        atexit(fuzz_scratch_remove);
    }
    return fuzz_scratch_path;
}
#endif

#endif
