/* ck_util.h - helpers shared by the test suites. */
#ifndef LIBBG_TESTS_CK_UTIL_H
#define LIBBG_TESTS_CK_UTIL_H

#include <check.h>
#include <math.h>

#include "autodiff/ad_config.h"

/* Tolerances of checks on values computed in ad_real.  CK_REAL_TOL(t64, t32)
 * is t64 in the double build (the tolerances as they always were) and t32 in
 * the float build, where each site derives t32 from AD_REAL_EPS = 2^-23
 * (the unit roundoff u = eps/2 per operation) and says how.  CK_REAL_FLOAT
 * is 1 in the float build. */
#ifdef AD_REAL_FLOAT
#define CK_REAL_FLOAT 1
#define CK_REAL_TOL(t64, t32) (t32)
#else
#define CK_REAL_FLOAT 0
#define CK_REAL_TOL(t64, t32) (t64)
#endif

/* |a - b| <= atol + rtol |b|, with a message naming what and which index. */
#define ck_assert_close(a, b, atol, rtol, what, i)                                       \
    do {                                                                                 \
        double a_ = (double)(a), b_ = (double)(b);                                       \
        double tol_ = (double)(atol) + (double)(rtol) * fabs(b_);                        \
        ck_assert_msg(fabs(a_ - b_) <= tol_ || (a_ == b_),                               \
                      "%s[%d]: %.17g vs %.17g (|diff| %.3g > tol %.3g)", (what), (int)(i), \
                      a_, b_, fabs(a_ - b_), tol_);                                      \
    } while (0)

/* A scratch directory under $TMPDIR (or /tmp), created fresh; returns a
 * static buffer.  It is removed with everything in it when the test's
 * process exits, unless CK_KEEP_TMP is set (to look at a failure). */
const char *ck_tmpdir(const char *tag);
/* Remove path too (file or directory) when the process exits. */
void ck_tmp_track(const char *path);
/* Directory of the built programs (BG_BIN_DIR, default build/bin, or
 * build-f32/bin in the float build). */
const char *ck_bin_dir(void);
/* 1 when the suite runs under the sanitizers (BG_SANITIZE set). */
int ck_under_sanitizer(void);

/* Run the built program ck_bin_dir()/prog with the NULL-terminated args,
 * stdout and stderr into the given files.  With kill_after > 0 the program
 * is killed with SIGKILL after that many seconds if still running.  Returns
 * its exit status, or -1 when it did not exit normally (killed).  With
 * BG_EXEC_WRAPPER set (qemu-aarch64 for a cross-built suite) the program
 * runs through that command. */
int ck_run_program(const char *prog, const char *out_file, const char *err_file,
                   const char *const *args, double kill_after);

#endif
