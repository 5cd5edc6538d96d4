/* ck_util.c - helpers shared by the test suites. */
#include "ck_util.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Paths made by ck_tmpdir or named by ck_tmp_track, removed when the
 * process exits (each test runs in its own process unless CK_FORK=no). */
enum { TRACK_MAX = 64 };
static char tracked[TRACK_MAX][512];
static int n_tracked;

static void remove_tracked(void)
{
    const char *keep = getenv("CK_KEEP_TMP");
    if (keep && *keep && *keep != '0') return;
    for (int i = 0; i < n_tracked; i++) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%.511s'", tracked[i]);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tracked[i]);
    }
    n_tracked = 0;
}

void ck_tmp_track(const char *path)
{
    static int registered;
    if (!registered) registered = atexit(remove_tracked) == 0;
    for (int i = 0; i < n_tracked; i++)
        if (strcmp(tracked[i], path) == 0) return;
    if (n_tracked < TRACK_MAX) snprintf(tracked[n_tracked++], sizeof tracked[0], "%s", path);
}

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
    ck_tmp_track(path);
    return path;
}

const char *ck_bin_dir(void)
{
    const char *d = getenv("BG_BIN_DIR");
    return d && *d ? d : (CK_REAL_FLOAT ? "build-f32/bin" : "build/bin");
}

int ck_under_sanitizer(void)
{
    const char *s = getenv("BG_SANITIZE");
    return s && *s && *s != '0';
}

int ck_run_program(const char *prog, const char *out_file, const char *err_file,
                   const char *const *args, double kill_after)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", ck_bin_dir(), prog);
    /* BG_EXEC_WRAPPER (e.g. qemu-aarch64 for a cross-built suite) runs
     * the program through that command. */
    const char *wrapper = getenv("BG_EXEC_WRAPPER");
    char *argv[33];
    int argc = 0;
    if (wrapper && *wrapper) argv[argc++] = (char *)wrapper;
    argv[argc++] = path;
    for (int i = 0; args && args[i] && argc < 32; i++) argv[argc++] = (char *)args[i];
    argv[argc] = NULL;
    pid_t pid = fork();
    if (pid < 0) return -2;
    if (pid == 0) {
        int o = open(out_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0) _exit(127);
        dup2(o, 1);
        dup2(e, 2);
        if (wrapper && *wrapper) execvp(wrapper, argv);
        else execv(path, argv);
        _exit(127);
    }
    int status = 0;
    if (kill_after > 0) {
        /* Poll every millisecond until the deadline, then SIGKILL. */
        struct timespec step = {0, 1000000};
        long polls = (long)(kill_after * 1000);
        for (long i = 0; i < polls; i++) {
            if (waitpid(pid, &status, WNOHANG) == pid)
                return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            nanosleep(&step, NULL);
        }
        kill(pid, SIGKILL);
    }
    if (waitpid(pid, &status, 0) != pid) return -2;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
