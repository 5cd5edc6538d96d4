/* same_run.c - do two output directories of a program hold the same
 * results?  Every file of the first (the subfolders included) must be in the
 * second with the same bytes, except those that record timings or the
 * machine (report.md, manifest.json, ckpt/stage_seconds.csv, the lock); the
 * other JSON files (summary.json, the resume records: the dimer's cache.json
 * and cache_kT<kT>.json, the 2-D programs' train_<model>_record.json), which
 * may hold timings beside results, must hold the same values apart from
 * members whose name holds "seconds", "timing", "threads" or "resumed" (a
 * resumed run says where it resumed).  Used by tests/mpi_test.sh to compare
 * runs under mpirun with the serial build's.
 *     same-run DIR_A DIR_B      exit 0: the same; 1: differences (listed) */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "apps/toolkit/app_fs.h"
#include "apps/toolkit/app_json.h"
#include "autodiff/ad.h"
#include "autodiff/ad_alloc.h"

static int differences;

static int skipped_file(const char *rel)
{
    static const char *const skip[] = {"report.md", "manifest.json", "ckpt/stage_seconds.csv",
                                       ".lock"};
    for (size_t i = 0; i < sizeof skip / sizeof *skip; i++)
        if (strcmp(rel, skip[i]) == 0) return 1;
    return 0;
}

/* JSON files (manifest.json is skipped above): compared by value */
static int json_with_timings(const char *rel)
{
    size_t n = strlen(rel);
    return n > 5 && strcmp(rel + n - 5, ".json") == 0;
}

static int skipped_key(const char *key)
{
    return strstr(key, "seconds") || strstr(key, "timing") || strstr(key, "threads") ||
           strstr(key, "resumed");
}

static void compare_json(const app_json_value *a, const app_json_value *b, const char *file,
                         const char *at)
{
    char path[512];
    if (!b || a->type != b->type) {
        printf("%s: %s differs in kind\n", file, at);
        differences++;
        return;
    }
    switch (a->type) {
    case APP_JSON_NUMBER:
        if (a->number != b->number && !(isnan(a->number) && isnan(b->number))) {
            printf("%s: %s: %.17g vs %.17g\n", file, at, a->number, b->number);
            differences++;
        }
        break;
    case APP_JSON_STRING:
        if (a->length != b->length || memcmp(a->string, b->string, a->length) != 0) {
            printf("%s: %s: \"%s\" vs \"%s\"\n", file, at, a->string, b->string);
            differences++;
        }
        break;
    case APP_JSON_BOOL:
        if (a->boolean != b->boolean) {
            printf("%s: %s differs\n", file, at);
            differences++;
        }
        break;
    case APP_JSON_ARRAY:
        if (a->n_items != b->n_items) {
            printf("%s: %s: %zu vs %zu items\n", file, at, a->n_items, b->n_items);
            differences++;
            break;
        }
        for (size_t i = 0; i < a->n_items; i++) {
            snprintf(path, sizeof path, "%s[%zu]", at, i);
            compare_json(&a->items[i], &b->items[i], file, path);
        }
        break;
    case APP_JSON_OBJECT:
        for (size_t i = 0; i < a->n_items; i++) {
            if (skipped_key(a->keys[i])) continue;
            snprintf(path, sizeof path, "%s.%s", at, a->keys[i]);
            compare_json(&a->items[i], app_json_member(b, a->keys[i]), file, path);
        }
        break;
    default:
        break;
    }
}

static app_json_value *load(const char *path)
{
    char msg[256];
    char *text = NULL;
    size_t len = 0;
    app_json_value *v = NULL;
    if (app_fs_read_file(path, &text, &len, msg, sizeof msg) != AD_OK ||
        app_json_parse(text, len, &v, msg, sizeof msg) != AD_OK)
        printf("%s\n", msg);
    ad_free(text);
    return v;
}

/* The values of a JSON file of both runs, timings aside. */
static void compare_values(const char *a, const char *b, const char *rel)
{
    app_json_value *va = load(a), *vb = load(b);
    if (!va || !vb) differences++;
    else compare_json(va, vb, rel, rel);
    app_json_value_free(va);
    app_json_value_free(vb);
}

static void compare_file(const char *a, const char *b, const char *rel)
{
    char *da = NULL, *db = NULL, msg[256];
    size_t la = 0, lb = 0;
    if (app_fs_read_file(a, &da, &la, msg, sizeof msg) != AD_OK) {
        printf("%s\n", msg);
        differences++;
    } else if (app_fs_read_file(b, &db, &lb, msg, sizeof msg) != AD_OK) {
        printf("%s: missing in the second run (%s)\n", rel, msg);
        differences++;
    } else if (la != lb || memcmp(da, db, la) != 0) {
        printf("%s: the bytes differ\n", rel);
        differences++;
    }
    ad_free(da);
    ad_free(db);
}

static void compare_dir(const char *root_a, const char *root_b, const char *rel, int depth)
{
    char dir[2048];
    snprintf(dir, sizeof dir, "%s%s%s", root_a, *rel ? "/" : "", rel);
    DIR *d = opendir(dir);
    if (!d) {
        printf("cannot open %s\n", dir);
        differences++;
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char sub[1024], a[2048], b[2048];
        snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        snprintf(a, sizeof a, "%s/%s", root_a, sub);
        snprintf(b, sizeof b, "%s/%s", root_b, sub);
        struct stat st;
        if (stat(a, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth < 4) compare_dir(root_a, root_b, sub, depth + 1);
        } else if (skipped_file(sub)) {
            continue;
        } else if (json_with_timings(sub)) {
            compare_values(a, b, sub);
        } else {
            compare_file(a, b, sub);
        }
    }
    closedir(d);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: same-run DIR_A DIR_B\n");
        return 2;
    }
    compare_dir(argv[1], argv[2], "", 0);
    /* a run without summary.json is not complete (with one, it was compared) */
    char a[2048];
    snprintf(a, sizeof a, "%s/summary.json", argv[1]);
    struct stat st;
    if (stat(a, &st) != 0) {
        printf("%s: missing\n", a);
        differences++;
    }
    if (differences) printf("%s and %s: %d difference(s)\n", argv[1], argv[2], differences);
    return differences ? 1 : 0;
}
