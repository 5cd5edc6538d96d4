/* app_dist.c - a program's start and end under mpirun (app_dist.h). */
#include "apps/toolkit/app_dist.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "autodiff/ad_alloc.h"
#include "autodiff/ad_dist.h"
#include "autodiff/ad_status.h"

static const char *program = "";
static FILE *captured; /* a quiet rank's standard error */

/* An exit code carried as a status through an agreement (below every
 * AD_ERR_* code). */
#define CODE_BASE (-1000)

/* The site of the last agreement (ad_dist_agree_at). */
#define APP_DIST_SITE_END 0x454e44

static int code_of(int status) { return status <= CODE_BASE ? CODE_BASE - status : 1; }

static void on_desync(int status, const char *msg)
{
    if (ad_dist_world_rank() == 0) {
        if (status <= CODE_BASE) /* a rank's last line, already prefixed */
            fprintf(stderr, "%s\n", msg);
        else
            fprintf(stderr, "%s: %s\n", program, msg);
        fflush(stderr);
    }
    ad_dist_abort(code_of(status));
}

/* Started by an MPI launcher (mpirun, mpiexec, srun with PMI or PMIx), or
 * asked to start MPI anyway. */
static int launched(void)
{
    static const char *const names[] = {"OMPI_COMM_WORLD_SIZE", "PMI_RANK", "PMI_SIZE",
                                        "PMIX_RANK"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const char *v = getenv(names[i]);
        if (v && *v) return 1;
    }
    const char *force = getenv("BG_MPI");
    return force && strcmp(force, "1") == 0;
}

int app_dist_begin(const char *prog, int *argc, char ***argv)
{
    program = prog ? prog : "";
    char msg[256];
    if (ad_dist_compiled() && !launched()) return 0; /* one process, MPI not started */
    if (ad_dist_init(argc, argv, msg, sizeof msg) != AD_OK) {
        fprintf(stderr, "%s: %s\n", program, msg);
        return 1;
    }
    ad_dist_on_desync(on_desync);
    if (ad_dist_world_rank() != 0) {
        fflush(stdout);
        fflush(stderr);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            close(null);
        }
        captured = tmpfile();
        if (captured) dup2(fileno(captured), 2);
    }
    if (ad_dist_fault("alloc")) {
        const char *n = getenv("BG_DIST_FAULT_ALLOC");
        ad_alloc_fail_after(n ? atol(n) : 0);
    }
    return 0;
}

/* The last non-empty line this rank wrote to its standard error. */
static void last_line(char *text, size_t len)
{
    text[0] = '\0';
    if (!captured) return;
    fflush(stderr);
    long end = lseek(2, 0, SEEK_END);
    if (end <= 0) return;
    long from = end > (long)len - 1 ? end - ((long)len - 1) : 0;
    char buf[AD_DIST_MSG_MAX];
    ssize_t n = pread(2, buf, sizeof buf - 1 < len - 1 ? sizeof buf - 1 : len - 1, from);
    if (n <= 0) return;
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = '\0';
    char *start = buf;
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r') start = p + 1;
    snprintf(text, len, "%s", start);
}

int app_dist_end(int code)
{
    char text[AD_DIST_MSG_MAX] = "";
    if (code != 0) last_line(text, sizeof text);
    int status = ad_dist_agree_at(APP_DIST_SITE_END, code != 0 ? CODE_BASE - code : AD_OK, text,
                                  sizeof text);
    int out = status == AD_OK ? 0 : code_of(status);
    if (status != AD_OK && code == 0 && ad_dist_world_rank() == 0 && text[0]) {
        fprintf(stderr, "%s\n", text);
        fflush(stderr);
    }
    ad_dist_finalize();
    if (captured) fclose(captured);
    captured = NULL;
    return out;
}

int app_dist_threads(int cores)
{
    int n = cores / ad_dist_node_size();
    return n < 1 ? 1 : n;
}
