/* bg_bench.c - bg-bench: times the standard workloads (docs/performance.md).
 *
 *   bg-bench [--threads N] [--only NAME,...] [--json FILE]
 *   bg-bench --scaling [--out DIR]     ms/iteration against batch and width
 *
 * Each workload runs --warmup iterations (the first one allocates the
 * tape's arena and the GEMM buffers), then timed iterations until at least
 * --min-iters have run and --budget seconds have passed, or --iters have
 * run.  The table gives the median and the minimum wall time, the median
 * process CPU time (all threads; much less than threads x wall time when
 * other programs share the processor), the GFLOP/s of the dense layers at
 * the median, and the allocations made per timed iteration.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apps/toolkit/app_dist.h"
#include "apps/toolkit/app_fs.h"
#include "apps/toolkit/app_json.h"
#include "apps/toolkit/app_options.h"
#include "apps/toolkit/app_svg.h"
#include "apps/bench/bench_workloads.h"
#include "autodiff/ad.h"

typedef struct {
    int warmup, min_iters, max_iters;
    double budget; /* seconds */
} timing_config;

typedef struct {
    double median_ms, min_ms, gflops; /* gflops: NAN when not applicable */
    double cpu_ms;                    /* median process CPU time (all threads) */
    int n;                            /* timed iterations                */
    double allocs;                    /* ad_malloc calls per timed iteration */
} timing;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU time of the whole process: with a busy machine, the wall time of an
 * iteration can be much longer than the work it did. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Set up, warm up and time one workload. */
static int time_workload_run(const bench_spec *s, const timing_config *tc, timing *out,
                             char *msg, size_t msg_len)
{
    bench_run *r = bench_setup(s, msg, msg_len);
    if (!r) return AD_ERR_ARG;
    int status = AD_OK;
    for (int i = 0; i < tc->warmup && status == AD_OK; i++)
        status = bench_iteration(r, msg, msg_len);
    double *ms = ad_malloc(sizeof(double) * (size_t)tc->max_iters);
    double *cpu = ad_malloc(sizeof(double) * (size_t)tc->max_iters);
    if (status == AD_OK && (!ms || !cpu))
        status = ad_status_fail(msg, msg_len, AD_ERR_NOMEM, "out of memory for %d timings",
                                tc->max_iters);
    int n = 0;
    long allocs0 = ad_alloc_count();
    double start = now();
    while (status == AD_OK && n < tc->max_iters &&
           (n < tc->min_iters || now() - start < tc->budget)) {
        double t0 = now(), c0 = cpu_now();
        status = bench_iteration(r, msg, msg_len);
        cpu[n] = 1e3 * (cpu_now() - c0);
        ms[n++] = 1e3 * (now() - t0);
    }
    if (status == AD_OK) {
        out->allocs = (double)(ad_alloc_count() - allocs0) / n;
        qsort(ms, (size_t)n, sizeof *ms, cmp_double);
        qsort(cpu, (size_t)n, sizeof *cpu, cmp_double);
        out->cpu_ms = n % 2 ? cpu[n / 2] : 0.5 * (cpu[n / 2 - 1] + cpu[n / 2]);
        out->n = n;
        out->min_ms = ms[0];
        out->median_ms = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
        double gflop = bench_spec_gflop(s);
        out->gflops = gflop > 0 ? gflop / (out->median_ms * 1e-3) : NAN;
    }
    ad_free(ms);
    ad_free(cpu);
    bench_free(r);
    return status;
}

/* The same, with a message whatever fails: msg starts empty, and a failure
 * that left it so gets the status's name (never what the buffer held
 * before). */
static int time_workload(const bench_spec *s, const timing_config *tc, timing *out, char *msg,
                         size_t msg_len)
{
    msg[0] = '\0';
    int status = time_workload_run(s, tc, out, msg, msg_len);
    if (status != AD_OK && msg[0] == '\0')
        ad_status_fail(msg, msg_len, status, "failed (%s)", ad_status_name(status));
    return status;
}

/* "Intel(R) Xeon(R) Processor (family 6, model 207), 2 CPUs, gemm avx512" */
static void machine_description(char *buf, size_t len)
{
    char model[128] = "unknown processor", line[512];
    int family = -1, model_no = -1;
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!colon) continue;
        char *v = colon + 1 + (colon[1] == ' ');
        v[strcspn(v, "\n")] = '\0';
        if (!strncmp(line, "model name", 10)) snprintf(model, sizeof model, "%s", v);
        else if (!strncmp(line, "cpu family", 10) && family < 0) family = atoi(v);
        else if (!strncmp(line, "model\t", 6) && model_no < 0) model_no = atoi(v);
        if (!strncmp(line, "flags", 5)) break; /* the first processor is enough */
    }
    if (f) fclose(f);
    snprintf(buf, len, "%s (family %d, model %d), %ld CPUs, gemm %s", model, family, model_no,
             sysconf(_SC_NPROCESSORS_ONLN), ad_gemm_variant_name(ad_gemm_variant_auto(200)));
}

static void print_header(FILE *o)
{
    fprintf(o, "%-13s %4s %6s %5s %6s %11s %11s %11s %8s %5s %9s\n", "name", "dim", "blocks",
            "width", "batch", "median ms", "min ms", "cpu ms", "GFLOP/s", "iters", "allocs/it");
}

static void print_row(FILE *o, const bench_spec *s, const timing *t)
{
    char dim[16] = "-", blocks[16] = "-", width[16] = "-", batch[16] = "-", gf[16] = "-";
    if (bench_spec_dim(s)) snprintf(dim, sizeof dim, "%d", bench_spec_dim(s));
    if (s->blocks) snprintf(blocks, sizeof blocks, "%d", s->blocks);
    if (s->width) snprintf(width, sizeof width, "%d", s->width);
    if (s->kind != BENCH_GEMM) snprintf(batch, sizeof batch, "%d", s->batch);
    if (isfinite(t->gflops)) snprintf(gf, sizeof gf, "%.2f", t->gflops);
    fprintf(o, "%-13s %4s %6s %5s %6s %11.3f %11.3f %11.3f %8s %5d %9.1f\n", s->name, dim, blocks,
            width, batch, t->median_ms, t->min_ms, t->cpu_ms, gf, t->n, t->allocs);
    fflush(o);
}

/* 1 when name is one of the comma-separated names in list. */
static int listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && !strncmp(p, name, n)) return 1;
        p += len + (p[len] == ',');
    }
    return 0;
}

/* Every name in the list must be a workload; returns the first that is not. */
static const char *unknown_name(const char *list, char *buf, size_t len)
{
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        int found = 0;
        for (int i = 0; i < BENCH_N_SPECS && !found; i++)
            found = strlen(BENCH_SPECS[i].name) == n && !strncmp(BENCH_SPECS[i].name, p, n);
        if (!found) {
            snprintf(buf, len, "%.*s", (int)n, p);
            return buf;
        }
        p += n + (p[n] == ',');
    }
    return NULL;
}

static int run_table(const char *only, const char *json_path, const timing_config *tc)
{
    char machine[256], msg[512];
    machine_description(machine, sizeof machine);
    printf("bg-bench: %s; %d thread%s\n", machine, ad_threads_get(),
           ad_threads_get() == 1 ? "" : "s");
    print_header(stdout);
    app_json w;
    app_json_init(&w, 1);
    app_json_object_begin(&w);
    app_json_key_string(&w, "machine", machine);
    app_json_key_int(&w, "threads", ad_threads_get());
    app_json_key(&w, "results");
    app_json_array_begin(&w);
    double coupling_ms[2] = {NAN, NAN}, coupling_cpu[2] = {NAN, NAN}; /* affine, spline */
    for (int i = 0; i < BENCH_N_SPECS; i++) {
        const bench_spec *s = &BENCH_SPECS[i];
        if (only && !listed(only, s->name)) continue;
        timing t;
        if (time_workload(s, tc, &t, msg, sizeof msg) != AD_OK) {
            fprintf(stderr, "bg-bench: %s: %s\n", s->name, msg);
            app_json_free(&w);
            return 1;
        }
        print_row(stdout, s, &t);
        if (s->kind == BENCH_COUPLING_AFFINE || s->kind == BENCH_COUPLING_SPLINE) {
            int k = s->kind == BENCH_COUPLING_SPLINE;
            coupling_ms[k] = t.median_ms;
            coupling_cpu[k] = t.cpu_ms;
        }
        app_json_object_begin(&w);
        app_json_key_string(&w, "name", s->name);
        app_json_key_number(&w, "median_ms", t.median_ms);
        app_json_key_number(&w, "min_ms", t.min_ms);
        app_json_key_number(&w, "gflops", t.gflops);
        app_json_key_number(&w, "cpu_ms", t.cpu_ms);
        app_json_key_int(&w, "n", t.n);
        app_json_key_number(&w, "allocs_per_iter", t.allocs);
        app_json_object_end(&w);
    }
    app_json_array_end(&w);
    /* the spline coupling's cost relative to the affine one (both timed):
     * of the median wall time, and of the CPU time, which a machine shared
     * with other jobs inflates less */
    if (isfinite(coupling_ms[0]) && isfinite(coupling_ms[1]) && coupling_ms[0] > 0) {
        double ratio = coupling_ms[1] / coupling_ms[0];
        double cpu = coupling_cpu[0] > 0 ? coupling_cpu[1] / coupling_cpu[0] : NAN;
        printf("cpl_spline / cpl_affine: %.2fx (median ms), %.2fx (cpu ms)\n", ratio, cpu);
        app_json_key_number(&w, "spline_affine_ratio", ratio);
        app_json_key_number(&w, "spline_affine_cpu_ratio", cpu);
    }
    app_json_object_end(&w);
    int code = 0;
    if (json_path) {
        if (app_json_finish(&w, msg, sizeof msg) != AD_OK ||
            app_fs_write_atomic(json_path, w.out.data, w.out.len, msg, sizeof msg) != AD_OK) {
            fprintf(stderr, "bg-bench: %s\n", msg);
            code = 1;
        }
    }
    app_json_free(&w);
    return code;
}

/* ---- --scaling: ms/iteration of dw_ml against batch and width ---- */

static const int SCALING_BATCH[] = {256, 512, 1024, 2048, 4096, 8192, 16384};
static const int SCALING_WIDTH[] = {50, 100, 150, 200, 300, 400};
#define N_SCALING_BATCH (int)(sizeof SCALING_BATCH / sizeof SCALING_BATCH[0])
#define N_SCALING_WIDTH (int)(sizeof SCALING_WIDTH / sizeof SCALING_WIDTH[0])
#define N_SCALING (N_SCALING_BATCH + N_SCALING_WIDTH)

typedef struct {
    int n_threads;          /* thread counts measured (1 and N)       */
    int threads[2];
    int batch[N_SCALING];   /* the configuration of each point         */
    int width[N_SCALING];
    timing t[2][N_SCALING]; /* [thread index][point]                   */
} scaling_result;

static int write_scaling_csv(FILE *f, void *ctx)
{
    const scaling_result *s = ctx;
    fprintf(f, "series,threads,batch,width,median_ms,min_ms,gflops\n");
    for (int k = 0; k < s->n_threads; k++)
        for (int i = 0; i < N_SCALING; i++)
            fprintf(f, "%s,%d,%d,%d,%.4f,%.4f,%.3f\n", i < N_SCALING_BATCH ? "batch" : "width",
                    s->threads[k], s->batch[i], s->width[i], s->t[k][i].median_ms,
                    s->t[k][i].min_ms, s->t[k][i].gflops);
    return ferror(f) ? AD_ERR_IO : AD_OK;
}

static int save_scaling_svg(const scaling_result *s, const char *path, char *msg, size_t len)
{
    app_svg_figure *fig = app_svg_figure_new(1, 2, 0, 0);
    if (!fig) return AD_ERR_NOMEM;
    app_svg_figure_title(fig, "dw_ml training iteration (2-D RealNVP, 3 blocks)");
    app_svg_panel *pb = app_svg_panel_at(fig, 0, 0), *pw = app_svg_panel_at(fig, 0, 1);
    app_svg_panel_title(pb, "width 100");
    app_svg_panel_labels(pb, "batch size", "ms / iteration");
    app_svg_panel_title(pw, "batch 2048");
    app_svg_panel_labels(pw, "hidden width", "ms / iteration");
    for (int k = 0; k < s->n_threads; k++) {
        double x[N_SCALING], y[N_SCALING];
        char label[32];
        snprintf(label, sizeof label, "%d thread%s", s->threads[k], s->threads[k] > 1 ? "s" : "");
        app_svg_style st = {label, app_svg_color(k), 0, APP_SVG_SOLID, 0, 0};
        app_svg_style dots = {NULL, app_svg_color(k), 0, APP_SVG_SOLID, 1, 3};
        for (int i = 0; i < N_SCALING; i++) {
            x[i] = i < N_SCALING_BATCH ? s->batch[i] : s->width[i];
            y[i] = s->t[k][i].median_ms;
        }
        app_svg_line(pb, x, y, N_SCALING_BATCH, &st);
        app_svg_scatter(pb, x, y, N_SCALING_BATCH, &dots);
        app_svg_line(pw, x + N_SCALING_BATCH, y + N_SCALING_BATCH, N_SCALING_WIDTH, &st);
        app_svg_scatter(pw, x + N_SCALING_BATCH, y + N_SCALING_BATCH, N_SCALING_WIDTH, &dots);
    }
    int status = app_svg_save(fig, path, msg, len);
    app_svg_figure_free(fig);
    return status;
}

static int run_scaling(const char *dir, const timing_config *tc)
{
    char msg[512], path[1024];
    if (app_fs_check_writable_dir(dir, msg, sizeof msg) != AD_OK) {
        fprintf(stderr, "bg-bench: %s\n", msg);
        return 2;
    }
    scaling_result *s = ad_calloc(1, sizeof *s);
    if (!s) return 1;
    int threads = ad_threads_get();
    s->threads[0] = 1;
    s->threads[1] = threads;
    s->n_threads = threads > 1 ? 2 : 1;
    bench_spec spec = BENCH_SPECS[0]; /* dw_ml */
    for (int i = 0; i < N_SCALING; i++) {
        s->batch[i] = i < N_SCALING_BATCH ? SCALING_BATCH[i] : 2048;
        s->width[i] = i < N_SCALING_BATCH ? 100 : SCALING_WIDTH[i - N_SCALING_BATCH];
    }
    printf("%-6s %7s %6s %6s %11s %11s %8s\n", "series", "threads", "batch", "width", "median ms",
           "min ms", "GFLOP/s");
    int code = 0;
    for (int k = 0; k < s->n_threads && !code; k++) {
        ad_threads_set(s->threads[k]);
        for (int i = 0; i < N_SCALING && !code; i++) {
            spec.batch = s->batch[i];
            spec.width = s->width[i];
            timing *t = &s->t[k][i];
            if (time_workload(&spec, tc, t, msg, sizeof msg) != AD_OK) {
                fprintf(stderr, "bg-bench: scaling: %s\n", msg);
                code = 1;
                break;
            }
            printf("%-6s %7d %6d %6d %11.3f %11.3f %8.2f\n",
                   i < N_SCALING_BATCH ? "batch" : "width", s->threads[k], spec.batch, spec.width,
                   t->median_ms, t->min_ms, t->gflops);
            fflush(stdout);
        }
    }
    ad_threads_set(threads);
    if (!code && (app_fs_join(path, sizeof path, dir, "scaling.csv") != AD_OK ||
                  app_fs_write_atomic_with(path, write_scaling_csv, s, msg, sizeof msg) != AD_OK ||
                  app_fs_join(path, sizeof path, dir, "scaling.svg") != AD_OK ||
                  save_scaling_svg(s, path, msg, sizeof msg) != AD_OK)) {
        fprintf(stderr, "bg-bench: %s\n", msg);
        code = 1;
    }
    if (!code) printf("wrote %s/scaling.csv and %s/scaling.svg\n", dir, dir);
    ad_free(s);
    return code;
}

/* --json FILE must be a file that can be written, checked before the
 * benchmarks run (minutes) rather than after: its directory must exist (or
 * be creatable) and take a new file, and FILE must not be a directory. */
static int json_path_writable(const char *path, char *msg, size_t len)
{
    char dir[1024];
    const char *slash = strrchr(path, '/');
    if (!*path || (slash && slash[1] == '\0'))
        return ad_status_fail(msg, len, AD_ERR_ARG, "'%s' is not a file name", path);
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - path) >= sizeof dir)
        return ad_status_fail(msg, len, AD_ERR_ARG, "path too long");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return ad_status_fail(msg, len, AD_ERR_ARG, "'%s' is a directory", path);
    return app_fs_check_writable_dir(dir, msg, len);
}

static int bench_main(int argc, char **argv)
{
    int threads = 0, scaling = 0;
    const char *only = NULL, *json = NULL, *out = "out/bench";
    timing_config tc = {2, 5, 30, 5.0};
    const app_option opts[] = {
        {"threads", APP_OPT_INT, &threads, "threads for GEMM and the parallel ops (by default "
         "BG_THREADS, else 1)", "N", 1, 1, 1, AD_THREADS_MAX, 0},
        {"only", APP_OPT_STRING, &only, "run only these workloads (comma-separated)",
         "NAME[,NAME...]", 0, 0, 0, 0, 0},
        {"json", APP_OPT_STRING, &json, "also write the results as JSON", "FILE", 0, 0, 0, 0, 0},
        {"scaling", APP_OPT_FLAG, &scaling, "time dw_ml against batch (256..16384) and width "
         "(50..400) at 1 and N threads; write scaling.csv and scaling.svg", NULL, 0, 0, 0, 0, 0},
        {"out", APP_OPT_STRING, &out, "directory of the --scaling outputs", "DIR", 0, 0, 0, 0, 0},
        {"warmup", APP_OPT_INT, &tc.warmup, "untimed iterations first", "N", 1, 0, 0, 0, 0},
        {"min-iters", APP_OPT_INT, &tc.min_iters, "timed iterations at least", "N", 1, 0, 1, 0,
         0},
        {"iters", APP_OPT_INT, &tc.max_iters, "timed iterations at most", "N", 1, 0, 1, 0, 0},
        {"budget", APP_OPT_DOUBLE, &tc.budget, "seconds of timed iterations per workload "
         "(once --min-iters are done)", "S", 1, 0, 0, 0, 0},
    };
    const app_cli cli = {"bg-bench", "Times the standard workloads of docs/performance.md: "
                         "median milliseconds per iteration after warm-up, and GFLOP/s of the "
                         "dense layers.", opts, (int)(sizeof opts / sizeof opts[0])};
    int code = app_options_handle(&cli, argc, argv);
    if (code >= 0) return code;
    if (tc.max_iters < tc.min_iters) tc.max_iters = tc.min_iters;
    char bad[64];
    if (only && unknown_name(only, bad, sizeof bad)) {
        fprintf(stderr, "bg-bench: --only: unknown workload '%s' (try --help)\n", bad);
        return 2;
    }
    char msg[512];
    if (json && !scaling && json_path_writable(json, msg, sizeof msg) != AD_OK) {
        fprintf(stderr, "bg-bench: --json: %s\n", msg);
        return 2;
    }
    if (threads) ad_threads_set(threads);
    else if (ad_threads_env_check(msg, sizeof msg) != AD_OK)
        fprintf(stderr, "bg-bench: warning: %s; using %d thread%s\n", msg, ad_threads_get(),
                ad_threads_get() == 1 ? "" : "s");
    code = scaling ? run_scaling(out, &tc) : run_table(only, json, &tc);
    ad_threads_shutdown();
    ad_gemm_release_buffers();
    return code;
}

/* Under mpirun (the MPI build) every rank runs the benchmark; rank 0 prints
 * and writes (apps/toolkit/app_dist.h). */
int main(int argc, char **argv)
{
    if (app_dist_begin("bg-bench", &argc, &argv) != 0) return 1;
    return app_dist_end(bench_main(argc, argv));
}
