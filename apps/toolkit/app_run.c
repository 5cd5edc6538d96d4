/* app_run.c - output directory, lock, clean-up and manifest of a run
 * (app_run.h). */
#include "apps/toolkit/app_run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apps/toolkit/app_buf.h"
#include "apps/toolkit/app_fs.h"
#include "apps/toolkit/app_json.h"
#include "autodiff/ad.h"
#include "autodiff/ad_alloc.h"
#include "autodiff/ad_dist.h"
#include "nn/nn_checkpoint.h"

#define MANIFEST_FORMAT 1
#define LOCK_NAME ".lock"

typedef struct artefact {
    char *name, *path;
    int stage, prefix;
    uint64_t bytes, fnv;
} artefact;

struct app_run {
    char *program, *out;
    int format_version;
    app_run_setting *settings; /* copies, owned */
    unsigned char *redo;       /* [n_settings]: 1 for a setting of cfg->redo */
    int n_settings;
    char fingerprint[17];
    int lock_fd;
    artefact *items;
    int n_items, cap_items;
};

#define SET_MSG(...)                                             \
    do {                                                         \
        if (msg && msg_len) snprintf(msg, msg_len, __VA_ARGS__); \
    } while (0)

static char *dup_str(const char *s)
{
    size_t n = strlen(s);
    char *d = ad_malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

const char *app_run_fingerprint(const app_run *r) { return r->fingerprint; }
const char *app_run_dir(const app_run *r) { return r->out; }

void app_run_path(const app_run *r, const char *name, char *buf, size_t len)
{
    if (app_fs_join(buf, len, r->out, name) != AD_OK) buf[0] = '\0';
}

void app_run_label(const app_run *r, int stage, char *buf, size_t len)
{
    snprintf(buf, len, "fingerprint=%s stage=%d", r->fingerprint, stage);
}

void app_run_u64_str(uint64_t v, char *buf, size_t len)
{
    snprintf(buf, len, "%llu", (unsigned long long)v);
}

int app_run_double_to_long(double v, long long lo, long long hi, long long *out)
{
    if (!isfinite(v) || v != floor(v) || v < (double)lo || v > (double)hi) return AD_ERR_FORMAT;
    *out = (long long)v;
    return AD_OK;
}

/* ---- checksums of files ---- */

/* FNV-1a 64 and size of the file's first `limit` bytes (all: UINT64_MAX). */
static int file_hash(const char *path, uint64_t limit, uint64_t *fnv, uint64_t *bytes)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) return AD_ERR_IO;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return AD_ERR_IO;
    }
    unsigned char buf[1 << 16];
    uint64_t h = NN_FNV1A64_INIT, n = 0;
    int rc = AD_OK;
    while (n < limit) {
        size_t want = sizeof buf;
        if (limit - n < want) want = (size_t)(limit - n);
        ssize_t got = read(fd, buf, want);
        if (got < 0) {
            if (errno == EINTR) continue;
            rc = AD_ERR_IO;
            break;
        }
        if (got == 0) break;
        h = nn_fnv1a64(h, buf, (size_t)got);
        n += (uint64_t)got;
    }
    close(fd);
    *fnv = h;
    *bytes = n;
    return rc;
}

/* ---- the records ---- */

static artefact *find(const app_run *r, const char *name)
{
    for (int i = 0; i < r->n_items; i++)
        if (strcmp(r->items[i].name, name) == 0) return &r->items[i];
    return NULL;
}

static void free_items(app_run *r)
{
    for (int i = 0; i < r->n_items; i++) {
        ad_free(r->items[i].name);
        ad_free(r->items[i].path);
    }
    r->n_items = 0;
}

static int add_item(app_run *r, const char *name, const char *path, int prefix, int stage,
                    uint64_t bytes, uint64_t fnv)
{
    artefact *a = find(r, name);
    if (!a) {
        if (r->n_items == r->cap_items) {
            int cap = r->cap_items ? 2 * r->cap_items : 32;
            artefact *bigger = ad_realloc(r->items, (size_t)cap * sizeof *bigger);
            if (!bigger) return AD_ERR_NOMEM;
            r->items = bigger;
            r->cap_items = cap;
        }
        a = &r->items[r->n_items];
        a->name = dup_str(name);
        a->path = dup_str(path);
        if (!a->name || !a->path) {
            ad_free(a->name);
            ad_free(a->path);
            return AD_ERR_NOMEM;
        }
        r->n_items++;
    } else if (strcmp(a->path, path) != 0) {
        char *p = dup_str(path);
        if (!p) return AD_ERR_NOMEM;
        ad_free(a->path);
        a->path = p;
    }
    a->stage = stage;
    a->prefix = prefix;
    a->bytes = bytes;
    a->fnv = fnv;
    return AD_OK;
}

void app_run_forget_from(app_run *r, int stage)
{
    int k = 0;
    for (int i = 0; i < r->n_items; i++) {
        if (r->items[i].stage >= stage) {
            ad_free(r->items[i].name);
            ad_free(r->items[i].path);
        } else {
            r->items[k++] = r->items[i];
        }
    }
    r->n_items = k;
}

int app_run_reusable(const app_run *r, const char *name, int *stage, char *why, size_t why_len)
{
    char *msg = why;
    size_t msg_len = why_len;
    const artefact *a = find(r, name);
    if (!a) {
        SET_MSG("%s is not recorded in the manifest", name);
        return 0;
    }
    if (stage) *stage = a->stage;
    char path[APP_RUN_PATH_MAX];
    app_run_path(r, a->path, path, sizeof path);
    uint64_t fnv = 0, bytes = 0;
    if (!path[0] || file_hash(path, a->bytes, &fnv, &bytes) != AD_OK) {
        SET_MSG("%s cannot be read", a->path);
        return 0;
    }
    if (bytes != a->bytes) {
        SET_MSG("%s is shorter than recorded", a->path);
        return 0;
    }
    if (!a->prefix) {
        struct stat st;
        if (stat(path, &st) != 0 || (uint64_t)st.st_size != a->bytes) {
            SET_MSG("%s has another size than recorded", a->path);
            return 0;
        }
    }
    if (fnv != a->fnv) {
        SET_MSG("%s does not match its checksum in the manifest", a->path);
        return 0;
    }
    return 1;
}

static int note_here(app_run *r, const char *name, const char *path, int prefix, int stage,
                     char *msg, size_t msg_len)
{
    char full[APP_RUN_PATH_MAX];
    app_run_path(r, path, full, sizeof full);
    uint64_t fnv = 0, bytes = 0;
    if (!full[0] || file_hash(full, UINT64_MAX, &fnv, &bytes) != AD_OK) {
        SET_MSG("cannot read back '%s' to record it: %s", full, strerror(errno));
        return AD_ERR_IO;
    }
    int rc = add_item(r, name, path, prefix, stage, bytes, fnv);
    if (rc != AD_OK) SET_MSG("out of memory");
    return rc;
}

/* In the MPI build the writers of this file are collective calls: rank 0
 * records and writes, every rank returns its status (autodiff/ad_dist.h).
 * The other ranks keep the records loaded at app_run_open (what
 * app_run_reusable checks) and leave out those of this run. */
int app_run_note(app_run *r, const char *name, const char *path, int prefix, int stage, char *msg,
                 size_t msg_len)
{
    int rc = AD_OK;
    if (ad_dist_root_begin()) rc = note_here(r, name, path, prefix, stage, msg, msg_len);
    return ad_dist_root_end(rc, msg, msg_len);
}

/* The testing aid BG_STOP_AFTER=NAME. */
static void maybe_stop(const char *name)
{
    const char *stop = getenv("BG_STOP_AFTER");
    if (stop && strcmp(stop, name) == 0) {
        fflush(NULL);
        raise(SIGKILL);
    }
}

int app_run_record(app_run *r, const char *name, const char *path, int prefix, int stage,
                   char *msg, size_t msg_len)
{
    int rc = app_run_note(r, name, path, prefix, stage, msg, msg_len);
    if (rc == AD_OK) rc = app_run_save(r, msg, msg_len);
    if (rc == AD_OK && ad_dist_is_root()) maybe_stop(name);
    return rc;
}

static void hex64(uint64_t v, char out[17]) { snprintf(out, 17, "%016llx", (unsigned long long)v); }

static int save_here(app_run *r, char *msg, size_t msg_len)
{
    app_json w;
    app_json_init(&w, 1);
    app_json_object_begin(&w);
    app_json_key_string(&w, "program", r->program);
    app_json_key_int(&w, "manifest_format", MANIFEST_FORMAT);
    app_json_key_int(&w, "format_version", r->format_version);
    app_json_key_string(&w, "fingerprint", r->fingerprint);
    app_json_key(&w, "settings");
    app_json_object_begin(&w);
    for (int i = 0; i < r->n_settings; i++)
        app_json_key_string(&w, r->settings[i].key, r->settings[i].value);
    app_json_object_end(&w);
    app_json_key(&w, "artefacts");
    app_json_array_begin(&w);
    for (int i = 0; i < r->n_items; i++) {
        const artefact *a = &r->items[i];
        char h[17];
        hex64(a->fnv, h);
        app_json_object_begin(&w);
        app_json_key_string(&w, "name", a->name);
        app_json_key_string(&w, "path", a->path);
        app_json_key_int(&w, "stage", a->stage);
        app_json_key_bool(&w, "prefix", a->prefix);
        app_json_key_int(&w, "bytes", (long long)a->bytes);
        app_json_key_string(&w, "fnv1a64", h);
        app_json_object_end(&w);
    }
    app_json_array_end(&w);
    app_json_object_end(&w);
    int rc = app_json_finish(&w, msg, msg_len);
    char path[APP_RUN_PATH_MAX];
    app_run_path(r, APP_RUN_MANIFEST, path, sizeof path);
    if (rc == AD_OK) rc = app_fs_write_atomic(path, w.out.data, w.out.len, msg, msg_len);
    app_json_free(&w);
    return rc;
}

int app_run_save(app_run *r, char *msg, size_t msg_len)
{
    int rc = AD_OK;
    if (ad_dist_root_begin()) rc = save_here(r, msg, msg_len);
    return ad_dist_root_end(rc, msg, msg_len);
}

static int truncate_here(const app_run *r, const char *name, char *msg, size_t msg_len)
{
    const artefact *a = find(r, name);
    if (!a) {
        SET_MSG("%s is not recorded", name);
        return AD_ERR_ARG;
    }
    char path[APP_RUN_PATH_MAX];
    app_run_path(r, a->path, path, sizeof path);
    char *data = NULL;
    size_t len = 0;
    int rc = app_fs_read_file(path, &data, &len, msg, msg_len);
    if (rc != AD_OK) return rc;
    if ((uint64_t)len < a->bytes) {
        ad_free(data);
        SET_MSG("%s is shorter than recorded", path);
        return AD_ERR_FORMAT;
    }
    rc = app_fs_write_atomic(path, data, (size_t)a->bytes, msg, msg_len);
    ad_free(data);
    return rc;
}

int app_run_truncate_to_record(const app_run *r, const char *name, char *msg, size_t msg_len)
{
    int rc = AD_OK;
    if (ad_dist_root_begin()) rc = truncate_here(r, name, msg, msg_len);
    return ad_dist_root_end(rc, msg, msg_len);
}

/* ---- reading an old manifest ---- */

typedef struct old_manifest {
    app_json_value *root;
    const app_json_value *settings, *artefacts;
    const char *program;
    double format_version;
} old_manifest;

static int hex_to_u64(const char *s, uint64_t *out)
{
    if (!s || strlen(s) != 16) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return 0;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return 1;
}

/* A relative path inside DIR: no "..", not absolute, not empty. */
static int safe_rel_path(const char *p)
{
    if (!p || !*p || p[0] == '/' || strlen(p) > APP_RUN_NAME_MAX - 32) return 0;
    for (const char *s = p; *s; s++) {
        if (s[0] == '.' && s[1] == '.' && (s == p || s[-1] == '/') && (s[2] == '/' || !s[2]))
            return 0;
    }
    return 1;
}

/* Load the artefact records of an old manifest; an unreadable entry makes
 * the whole list unusable (nothing is reused). */
static int load_items(app_run *r, const app_json_value *arr)
{
    if (!arr || arr->type != APP_JSON_ARRAY) return 0;
    for (size_t i = 0; i < arr->n_items; i++) {
        const app_json_value *e = &arr->items[i];
        const app_json_value *name = app_json_member(e, "name"), *path = app_json_member(e, "path");
        const app_json_value *pre = app_json_member(e, "prefix"), *h = app_json_member(e, "fnv1a64");
        double st = NAN, by = NAN;
        long long stage = 0, bytes = 0;
        uint64_t fnv = 0;
        if (!name || name->type != APP_JSON_STRING || !path || path->type != APP_JSON_STRING ||
            !pre || pre->type != APP_JSON_BOOL || !h || h->type != APP_JSON_STRING ||
            app_json_get_number(e, "stage", &st) != AD_OK ||
            app_json_get_number(e, "bytes", &by) != AD_OK ||
            app_run_double_to_long(st, 0, 1000000, &stage) != AD_OK ||
            app_run_double_to_long(by, 0, 9007199254740992LL, &bytes) != AD_OK ||
            !hex_to_u64(h->string, &fnv) || strlen(name->string) != name->length ||
            strlen(path->string) != path->length || !safe_rel_path(path->string) ||
            strlen(name->string) > APP_RUN_NAME_MAX)
            return 0;
        if (add_item(r, name->string, path->string, pre->boolean, (int)stage, (uint64_t)bytes,
                     fnv) != AD_OK)
            return 0;
    }
    return 1;
}

/* A list of differences as printed: at most 700 bytes of it. */
#define SHOWN(buf) (int)((buf).len > 700 ? 700 : (buf).len), (buf).data ? (buf).data : ""

/* The differences between the old manifest's settings and ours, as
 * "seed (1 -> 2), bond (paper -> seed)"; empty when none.  Those of the
 * settings listed in cfg->redo go to `redo` instead (when both the old and
 * the new run have them). */
static void diff_settings(const app_run *r, const old_manifest *m, app_buf *b, app_buf *redo)
{
    if (!m->program || strcmp(m->program, r->program) != 0) {
        app_buf_printf(b, "program (%s -> %s)", m->program ? m->program : "?", r->program);
        return;
    }
    if (m->format_version != r->format_version)
        app_buf_printf(b, "%sfile format version (%g -> %d)", b->len ? ", " : "",
                       m->format_version, r->format_version);
    for (int i = 0; i < r->n_settings; i++) {
        const app_json_value *v =
            m->settings ? app_json_member(m->settings, r->settings[i].key) : NULL;
        const char *old = v && v->type == APP_JSON_STRING ? v->string : NULL;
        app_buf *to = old && r->redo[i] ? redo : b;
        if (!old || strcmp(old, r->settings[i].value) != 0)
            app_buf_printf(to, "%s%s (%s -> %s)", to->len ? ", " : "", r->settings[i].key,
                           old ? old : "missing", r->settings[i].value);
    }
    /* settings the old run had and this one has not */
    for (size_t i = 0; m->settings && m->settings->type == APP_JSON_OBJECT &&
                       i < m->settings->n_items;
         i++) {
        int known = 0;
        for (int k = 0; k < r->n_settings && !known; k++)
            known = strcmp(m->settings->keys[i], r->settings[k].key) == 0;
        if (!known) app_buf_printf(b, "%s%s (no longer a setting)", b->len ? ", " : "",
                                   m->settings->keys[i]);
    }
}

/* ---- clean-up of a killed run's temporary files ---- */

static int all_digits(const char *d)
{
    if (!*d) return 0;
    for (; *d; d++)
        if (*d < '0' || *d > '9') return 0;
    return 1;
}

/* ".NAME.tmp.DIGITS" (app_fs atomic writes), ".write-test.DIGITS" (its
 * writability probe) or "NAME.ckpt.tmp" (nn_checkpoint_save of the
 * programs' .ckpt files). */
static int is_temp_name(const char *n)
{
    size_t len = strlen(n);
    if (len > 9 && strcmp(n + len - 9, ".ckpt.tmp") == 0) return 1;
    if (n[0] != '.') return 0;
    if (strncmp(n, ".write-test.", 12) == 0) return all_digits(n + 12);
    const char *last = NULL;
    for (const char *t = strstr(n, ".tmp."); t; t = strstr(t + 1, ".tmp.")) last = t;
    return last && all_digits(last + 5);
}

static void clean_dir(const char *program, const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char path[APP_RUN_PATH_MAX + 256];
        if (app_fs_join(path, sizeof path, dir, e->d_name) != AD_OK) continue;
        struct stat st;
        if (lstat(path, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth < 1) clean_dir(program, path, depth + 1);
        } else if (S_ISREG(st.st_mode) && is_temp_name(e->d_name)) {
            if (unlink(path) == 0)
                fprintf(stderr, "%s: removed %s (left by an interrupted run)\n", program, path);
        }
    }
    closedir(d);
}

/* ---- the lock ---- */

static int take_lock(app_run *r, char *msg, size_t msg_len)
{
    char path[APP_RUN_PATH_MAX];
    app_run_path(r, LOCK_NAME, path, sizeof path);
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0) {
        SET_MSG("cannot create the lock file '%s': %s", path, strerror(errno));
        return AD_ERR_IO;
    }
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_SETLK, &fl) != 0) {
        int err = errno;
        if (err == EACCES || err == EAGAIN) {
            struct flock q;
            memset(&q, 0, sizeof q);
            q.l_type = F_WRLCK;
            q.l_whence = SEEK_SET;
            long pid = fcntl(fd, F_GETLK, &q) == 0 && q.l_type != F_UNLCK ? (long)q.l_pid : -1;
            close(fd);
            if (pid > 0)
                SET_MSG("another run (pid %ld) is writing into %s; wait for it or use another "
                        "--out",
                        pid, r->out);
            else
                SET_MSG("another run is writing into %s; wait for it or use another --out",
                        r->out);
            return AD_ERR_ARG;
        }
        close(fd);
        SET_MSG("cannot lock '%s': %s", path, strerror(err));
        return AD_ERR_IO;
    }
    char line[32];
    int n = snprintf(line, sizeof line, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == 0 && write(fd, line, (size_t)n) != n) {
        /* the pid in the file is informational only */
    }
    r->lock_fd = fd;
    return AD_OK;
}

/* ---- open / close ---- */

/* The fingerprint: FNV-1a 64 of the program, the format version and the
 * canonical "key=value\n" lines of the settings not in cfg->redo. */
static int make_fingerprint(app_run *r, const app_run_config *cfg)
{
    app_buf b;
    app_buf_init(&b);
    for (int i = 0; i < cfg->n_settings; i++)
        if (!r->redo[i])
            app_buf_printf(&b, "%s=%s\n", cfg->settings[i].key, cfg->settings[i].value);
    app_buf_append(&b, "", 1);
    if (b.err || !b.data) {
        app_buf_free(&b);
        return AD_ERR_NOMEM;
    }
    char head[160];
    snprintf(head, sizeof head, "%s\nformat=%d\n", cfg->program, cfg->format_version);
    uint64_t h = nn_fnv1a64(NN_FNV1A64_INIT, head, strlen(head));
    h = nn_fnv1a64(h, b.data, b.len - 1); /* without the terminating 0 */
    hex64(h, r->fingerprint);
    app_buf_free(&b);
    return AD_OK;
}

static void delete_listed(const app_run *r, const char *program)
{
    int n = 0;
    for (int i = 0; i < r->n_items; i++) {
        char path[APP_RUN_PATH_MAX];
        app_run_path(r, r->items[i].path, path, sizeof path);
        if (path[0] && unlink(path) == 0) n++;
    }
    fprintf(stderr, "%s: --restart: removed %d files of the previous run in %s\n", program, n,
            r->out);
}

/* Rank 0's part of app_run_open: the lock, the clean-up and the previous
 * run's manifest (its records kept for --resume or dropped). */
static int take_over(app_run *r, const app_run_config *cfg, char *msg, size_t msg_len)
{
    int rc = take_lock(r, msg, msg_len);
    if (rc != AD_OK) return rc;
    clean_dir(r->program, r->out, 0);

    /* the previous run's manifest */
    char path[APP_RUN_PATH_MAX];
    app_run_path(r, APP_RUN_MANIFEST, path, sizeof path);
    char *text = NULL;
    size_t tl = 0;
    char why[256];
    old_manifest m = {0};
    int have = access(path, F_OK) == 0;
    if (have && app_fs_read_file(path, &text, &tl, why, sizeof why) == AD_OK &&
        app_json_parse(text, tl, &m.root, why, sizeof why) == AD_OK &&
        m.root->type == APP_JSON_OBJECT) {
        const app_json_value *p = app_json_member(m.root, "program");
        m.program = p && p->type == APP_JSON_STRING ? p->string : NULL;
        if (app_json_get_number(m.root, "format_version", &m.format_version) != AD_OK)
            m.format_version = NAN;
        m.settings = app_json_member(m.root, "settings");
        m.artefacts = app_json_member(m.root, "artefacts");
    } else if (have) {
        fprintf(stderr, "%s: %s is unreadable; nothing in %s is reused\n", r->program, path,
                r->out);
    }
    ad_free(text);
    if (m.root) {
        app_buf diff, redo;
        app_buf_init(&diff);
        app_buf_init(&redo);
        diff_settings(r, &m, &diff, &redo);
        int items_ok = load_items(r, m.artefacts);
        if (diff.len && !cfg->restart) {
            SET_MSG("%s holds the results of a run with other settings: %.*s; use another --out, "
                    "or --restart to discard them",
                    r->out, SHOWN(diff));
            app_buf_free(&diff);
            app_buf_free(&redo);
            app_json_value_free(m.root);
            return AD_ERR_ARG;
        }
        if (!diff.len && redo.len && cfg->resume && !cfg->restart && items_ok)
            fprintf(stderr, "%s: --resume with other %.*s: what does not depend on it is "
                    "reused, the rest is recomputed\n",
                    r->program, SHOWN(redo));
        if (diff.len || cfg->restart) delete_listed(r, r->program);
        else if (!items_ok && cfg->resume)
            fprintf(stderr, "%s: %s lists unreadable records; nothing in %s is reused\n",
                    r->program, path, r->out);
        if (diff.len || cfg->restart || !cfg->resume || !items_ok) free_items(r);
        app_buf_free(&diff);
        app_buf_free(&redo);
        app_json_value_free(m.root);
    } else if (cfg->resume) {
        fprintf(stderr, "%s: --resume: no usable %s in %s; everything is computed afresh\n",
                r->program, APP_RUN_MANIFEST, r->out);
    }
    return AD_OK;
}

/* The other ranks' part: the records of the manifest rank 0 has written. */
static int follow(app_run *r, char *msg, size_t msg_len)
{
    char path[APP_RUN_PATH_MAX];
    app_run_path(r, APP_RUN_MANIFEST, path, sizeof path);
    char *text = NULL;
    size_t tl = 0;
    app_json_value *root = NULL;
    int rc = app_fs_read_file(path, &text, &tl, msg, msg_len);
    if (rc == AD_OK) rc = app_json_parse(text, tl, &root, msg, msg_len);
    if (rc == AD_OK && (root->type != APP_JSON_OBJECT ||
                        !load_items(r, app_json_member(root, "artefacts")))) {
        SET_MSG("%s: unreadable records", path);
        rc = AD_ERR_FORMAT;
    }
    app_json_value_free(root);
    ad_free(text);
    return rc;
}

int app_run_open(app_run **out, const app_run_config *cfg, char *msg, size_t msg_len)
{
    *out = NULL;
    size_t out_len = cfg->out ? strlen(cfg->out) : 0;
    if (out_len == 0) {
        SET_MSG("--out: empty directory name (try --help)");
        return AD_ERR_ARG;
    }
    if (out_len > APP_RUN_OUT_MAX) {
        SET_MSG("--out: directory name of %zu characters is too long (at most %d)", out_len,
                APP_RUN_OUT_MAX);
        return AD_ERR_ARG;
    }
    if (cfg->n_settings < 0 || cfg->n_settings > APP_RUN_MAX_SETTINGS) {
        SET_MSG("too many settings");
        return AD_ERR_ARG;
    }
    int rc = app_fs_check_writable_dir(cfg->out, msg, msg_len);
    if (rc != AD_OK) return AD_ERR_ARG;
    app_run *r = ad_calloc(1, sizeof *r);
    int copied = r != NULL;
    if (r) {
        r->lock_fd = -1;
        r->program = dup_str(cfg->program);
        r->out = dup_str(cfg->out);
        r->format_version = cfg->format_version;
        r->settings =
            ad_calloc((size_t)(cfg->n_settings ? cfg->n_settings : 1), sizeof *r->settings);
        r->redo = ad_calloc((size_t)(cfg->n_settings ? cfg->n_settings : 1), 1);
        copied = r->settings != NULL && r->redo != NULL;
        for (int i = 0; copied && i < cfg->n_settings; i++) {
            r->settings[i].key = dup_str(cfg->settings[i].key);
            r->settings[i].value = dup_str(cfg->settings[i].value);
            r->n_settings = i + 1;
            copied = r->settings[i].key && r->settings[i].value;
            for (int k = 0; cfg->redo && cfg->redo[k]; k++)
                if (strcmp(cfg->redo[k], cfg->settings[i].key) == 0) r->redo[i] = 1;
        }
        copied = copied && r->program && r->out && make_fingerprint(r, cfg) == AD_OK;
    }
    rc = AD_OK;
    if (!copied) {
        SET_MSG("out of memory");
        rc = AD_ERR_NOMEM;
    }
    /* Rank 0 takes the lock, cleans up and settles the old manifest; under
     * MPI the other ranks then read the manifest it writes (app_run_save is
     * a collective call), so that every rank reuses the same files. */
    rc = ad_dist_agree(rc, msg, msg_len);
    if (rc == AD_OK) {
        int here = ad_dist_root_begin();
        if (here) rc = take_over(r, cfg, msg, msg_len);
        rc = ad_dist_root_end(rc, msg, msg_len);
        if (rc == AD_OK) rc = app_run_save(r, msg, msg_len);
        if (rc == AD_OK && !here) rc = follow(r, msg, msg_len);
        rc = ad_dist_agree(rc, msg, msg_len);
    }
    if (rc != AD_OK) {
        app_run_close(r);
        return rc;
    }
    *out = r;
    return AD_OK;
}

void app_run_close(app_run *r)
{
    if (!r) return;
    if (r->lock_fd >= 0) close(r->lock_fd); /* releases the lock */
    free_items(r);
    ad_free(r->items);
    for (int i = 0; r->settings && i < r->n_settings; i++) {
        ad_free((char *)r->settings[i].key);
        ad_free((char *)r->settings[i].value);
    }
    ad_free(r->settings);
    ad_free(r->redo);
    ad_free(r->program);
    ad_free(r->out);
    ad_free(r);
}
