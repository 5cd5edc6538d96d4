/* app_run.h - the backbone of a program's run in its output directory:
 *
 *   - the directory name is checked against the longest path the program
 *     will build in it before any work (APP_RUN_OUT_MAX), then created;
 *   - an advisory lock (fcntl) on DIR/.lock: a second run on the same
 *     directory is refused while the first one lives, naming its pid;
 *   - temporary files left by a killed run (the atomic-write names
 *     .NAME.tmp.PID of app_fs.h and NAME.ckpt.tmp of nn_checkpoint_save) are
 *     removed from DIR and its subdirectories;
 *   - DIR/manifest.json records the program, the version of its file
 *     formats, every setting that affects the results and, for each
 *     artefact written so far, its path, size, FNV-1a 64 checksum and the
 *     stage that wrote it.  It is rewritten atomically after each artefact
 *     is recorded, so it only ever names files that were complete.
 *
 * Settings are text key/value pairs given by the program in a fixed order;
 * their canonical text is "key=value\n" per setting, and the settings
 * fingerprint is the FNV-1a 64 of "program\nformat=<n>\n" followed by the
 * lines of every setting not listed in cfg->redo, written as 16 hex digits.
 *
 * Opening a directory that holds a manifest:
 *   - other program, format version or settings: refused (AD_ERR_ARG, the
 *     message names every setting that differs) unless restart is set, in
 *     which case every artefact the old manifest lists is deleted first;
 *     settings listed in cfg->redo do not count here (see app_run_config);
 *   - the same settings with resume: the old artefact records are kept and
 *     app_run_reusable() verifies each before the program reuses it;
 *   - the same settings without resume: the records are dropped (the run
 *     recomputes and overwrites everything).
 * A directory without a manifest is used as it is; nothing in it is reused.
 *
 * Under MPI (the MPI build, autodiff/ad_dist.h) rank 0 takes the lock,
 * cleans up and writes the manifest; the other ranks read the manifest it
 * wrote at open, so that every rank reuses the same files, and record
 * nothing themselves.  app_run_open, _note, _record, _save and
 * _truncate_to_record are collective calls.
 *
 * Testing aid: with the environment variable BG_STOP_AFTER=NAME the
 * process kills itself (SIGKILL) right after recording the artefact NAME,
 * as if it had been killed there.
 */
#ifndef LIBBG_APPS_TOOLKIT_APP_RUN_H
#define LIBBG_APPS_TOOLKIT_APP_RUN_H

#include <stddef.h>
#include <stdint.h>

/* Room the programs keep for the name of a file inside DIR (with its
 * temporary-name decorations): --out may be at most APP_RUN_OUT_MAX bytes,
 * so that every DIR/NAME fits APP_RUN_PATH_MAX. */
#define APP_RUN_PATH_MAX 1024
#define APP_RUN_NAME_MAX 96
#define APP_RUN_OUT_MAX 927 /* APP_RUN_PATH_MAX - 1 - APP_RUN_NAME_MAX */
#define APP_RUN_STR_(x) #x
#define APP_RUN_STR(x) APP_RUN_STR_(x)
_Static_assert(APP_RUN_OUT_MAX == APP_RUN_PATH_MAX - 1 - APP_RUN_NAME_MAX, "APP_RUN_OUT_MAX");
#define APP_RUN_MANIFEST "manifest.json"
#define APP_RUN_MAX_SETTINGS 48

typedef struct app_run_setting {
    const char *key, *value;
} app_run_setting;

typedef struct app_run_config {
    const char *program;     /* "bg-dimer"                                   */
    int format_version;      /* version of the program's output files        */
    const char *out;         /* the output directory                         */
    const app_run_setting *settings;
    int n_settings;          /* at most APP_RUN_MAX_SETTINGS                 */
    int resume, restart;
    /* Keys of the settings that govern only work every run does again (a
     * program's analysis after training, whose outputs are rewritten in
     * full each time): NULL-terminated, NULL for none.  They are recorded
     * in the manifest but left out of the fingerprint, so checkpoint labels
     * do not depend on them, and other values of them alone do not make a
     * directory "of other settings": --resume keeps the records (one line on
     * stderr names what changed), a run without it recomputes everything. */
    const char *const *redo;
} app_run_config;

typedef struct app_run app_run;

/* Check the directory name, create the directory, take the lock, clean up,
 * read and check the manifest, write this run's manifest.  AD_ERR_ARG for
 * the user's mistakes (too long a name, another run on the directory,
 * other settings without restart: the program exits 2), AD_ERR_IO or
 * AD_ERR_NOMEM otherwise; msg holds one line.  Lines about what was
 * cleaned up or discarded go to stderr prefixed by the program name. */
int app_run_open(app_run **out, const app_run_config *cfg, char *msg, size_t msg_len);
/* Release the lock and free (NULL is fine). */
void app_run_close(app_run *r);

/* The 16-hex-digit settings fingerprint. */
const char *app_run_fingerprint(const app_run *r);
/* The output directory. */
const char *app_run_dir(const app_run *r);
/* DIR/name into buf (sized APP_RUN_PATH_MAX); app_run_open guarantees that
 * every name of at most APP_RUN_NAME_MAX - 32 bytes fits. */
void app_run_path(const app_run *r, const char *name, char *buf, size_t len);
/* "fingerprint=<hex> stage=<k>" into buf: the label of a checkpoint. */
void app_run_label(const app_run *r, int stage, char *buf, size_t len);

/* 1 when the previous run of these settings recorded the artefact name and
 * the file still has the recorded size and checksum (for a prefix record,
 * at least that size, the first bytes matching); 0 otherwise with why
 * filled ("not recorded", "checksum mismatch", ...).  *stage (may be NULL)
 * gets the stage that wrote it. */
int app_run_reusable(const app_run *r, const char *name, int *stage, char *why, size_t why_len);

/* Record the file DIR/path, as it is now, under name (== path for whole
 * files) written by stage; prefix != 0 records the whole current content
 * as a prefix the file may later grow beyond.  Then rewrite the manifest
 * (app_run_record) or not (app_run_note; app_run_save writes it). */
int app_run_record(app_run *r, const char *name, const char *path, int prefix, int stage,
                   char *msg, size_t msg_len);
int app_run_note(app_run *r, const char *name, const char *path, int prefix, int stage,
                 char *msg, size_t msg_len);
int app_run_save(app_run *r, char *msg, size_t msg_len);
/* Drop the records of the stages >= stage (they are being recomputed). */
void app_run_forget_from(app_run *r, int stage);

/* Cut the file of a prefix record back to the recorded bytes (atomic). */
int app_run_truncate_to_record(const app_run *r, const char *name, char *msg, size_t msg_len);

/* For values read back from files (JSON numbers, CSV cells): AD_OK when v
 * is finite, an integer and in [lo, hi]; AD_ERR_FORMAT otherwise. */
int app_run_double_to_long(double v, long long lo, long long hi, long long *out);

/* A uint64 as its decimal string ("18446744073709551615"). */
void app_run_u64_str(uint64_t v, char *buf, size_t len);

#endif
