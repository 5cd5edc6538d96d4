/* app_record.h - the resume record of a stage: a small JSON object in the
 * output directory holding what a stage computed beyond its own files
 * (statistics, timings, final losses) and the identity of the run that
 * computed it (format version, seed, kT, quick), written atomically and
 * recorded in the manifest (app_run.h) under the stage that wrote it.  It is
 * read back only when the manifest verifies it and its identity is this
 * run's; its numbers are read through the checked getters below, so that an
 * edited or damaged value is refused, not reported.
 *
 * Both experiment pipelines resume through it: bg-dimer's cache.json and
 * cache_kT<kT>.json (the MC data's and the umbrella reference's statistics)
 * and the 2-D programs' train_<model>_record.json (a trained model's final
 * loss and skipped steps).
 */
#ifndef LIBBG_APPS_TOOLKIT_APP_RECORD_H
#define LIBBG_APPS_TOOLKIT_APP_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "apps/toolkit/app_json.h"
#include "apps/toolkit/app_run.h"

/* Who wrote a record: the program's record format, the run's seed, kT and
 * whether it was a --quick run. */
typedef struct app_record_id {
    int version;
    uint64_t seed;
    double kT;
    int quick;
} app_record_id;

/* Start a record in w (app_json_init'ed): opens the object and writes the
 * identity ("version", "seed" as a decimal string, "kT", "quick"). */
void app_record_begin(app_json *w, const app_record_id *id);
/* Close the object, write DIR/name atomically and record it in the
 * manifest under stage (no manifest: the file only).  Frees nothing: the
 * caller frees w. */
int app_record_finish(app_run *run, const char *dir, app_json *w, const char *name, int stage,
                      char *msg, size_t len);
/* Read DIR/name back: AD_OK with *root (free with app_json_value_free) and
 * *stage (may be NULL) the stage that recorded it, when the manifest
 * verifies the file and its identity equals id; otherwise an error with why
 * filled ("not recorded", "checksum mismatch", "written by another seed",
 * ...) and *root NULL. */
int app_record_read(const app_run *run, const char *name, const app_record_id *id,
                    app_json_value **root, int *stage, char *why, size_t why_len);

/* Checked getters: 1 when key holds what is asked, 0 otherwise.
 *   real:     a finite number in [lo, hi];
 *   int:      an integer in [lo, hi];
 *   reals:    an array of exactly n finite numbers, or (n < 0) of 1 to -n of
 *             them, into *dst (allocated with ad_malloc when *dst is NULL),
 *             its length into *count (may be NULL);
 *   string_is: the string want. */
int app_record_real(const app_json_value *root, const char *key, double lo, double hi,
                    double *out);
int app_record_int(const app_json_value *root, const char *key, long long lo, long long hi,
                   long long *out);
int app_record_reals(const app_json_value *root, const char *key, long n, double **dst,
                     size_t *count);
int app_record_string_is(const app_json_value *root, const char *key, const char *want);

#endif
