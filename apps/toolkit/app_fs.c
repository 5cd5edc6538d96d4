/* app_fs.c - mkdir -p, writability check, atomic writes, joining, reading. */
#include "apps/toolkit/app_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "autodiff/ad.h"
#include "autodiff/ad_dist.h"

static int fail_errno(char *msg, size_t size, const char *what, const char *path, int err,
                      int code)
{
    if (msg && size) snprintf(msg, size, "%s '%s': %s", what, path, strerror(err));
    return code;
}

static int mkdir_here(const char *path, char *msg, size_t msg_size)
{
    if (!path || !*path) {
        if (msg && msg_size) snprintf(msg, msg_size, "empty directory name");
        return AD_ERR_ARG;
    }
    size_t n = strlen(path);
    char *copy = ad_malloc(n + 1);
    if (!copy) {
        if (msg && msg_size) snprintf(msg, msg_size, "out of memory");
        return AD_ERR_NOMEM;
    }
    memcpy(copy, path, n + 1);
    int rc = AD_OK;
    /* create each prefix that ends before a '/', then the whole path */
    for (size_t i = 1; i <= n && rc == AD_OK; i++) {
        if (i < n && copy[i] != '/') continue;
        if (i < n && copy[i - 1] == '/') continue; /* "a//b" */
        char saved = copy[i];
        copy[i] = '\0';
        if (mkdir(copy, 0777) != 0) {
            int err = errno;
            struct stat st;
            if (err != EEXIST || stat(copy, &st) != 0 || !S_ISDIR(st.st_mode))
                rc = fail_errno(msg, msg_size, "cannot create directory", copy,
                                err == EEXIST ? ENOTDIR : err, AD_ERR_IO);
        }
        copy[i] = saved;
    }
    ad_free(copy);
    return rc;
}

/* In the MPI build the writers here are collective calls: rank 0 works,
 * every rank returns its status (autodiff/ad_dist.h). */
int app_fs_mkdir_p(const char *path, char *msg, size_t msg_size)
{
    int rc = AD_OK;
    if (ad_dist_root_begin()) rc = mkdir_here(path, msg, msg_size);
    return ad_dist_root_end(rc, msg, msg_size);
}

static int check_writable_here(const char *path, char *msg, size_t msg_size)
{
    int rc = app_fs_mkdir_p(path, msg, msg_size);
    if (rc) return rc;
    char name[64];
    snprintf(name, sizeof name, ".write-test.%ld", (long)getpid());
    char *probe = app_fs_join_new(path, name);
    if (!probe) {
        if (msg && msg_size) snprintf(msg, msg_size, "out of memory");
        return AD_ERR_NOMEM;
    }
    /* O_NONBLOCK: a FIFO left under the probe's name fails at once (ENXIO) */
    int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK, 0644);
    if (fd < 0) {
        rc = fail_errno(msg, msg_size, "cannot write into directory", path, errno, AD_ERR_IO);
    } else {
        close(fd);
        unlink(probe);
    }
    ad_free(probe);
    return rc;
}

int app_fs_check_writable_dir(const char *path, char *msg, size_t msg_size)
{
    int rc = AD_OK;
    if (ad_dist_root_begin()) rc = check_writable_here(path, msg, msg_size);
    return ad_dist_root_end(rc, msg, msg_size);
}

int app_fs_join(char *out, size_t size, const char *dir, const char *name)
{
    if (!out || size == 0) return AD_ERR_ARG;
    out[0] = '\0';
    if (!dir || !name) return AD_ERR_ARG;
    size_t d = strlen(dir);
    while (d > 1 && dir[d - 1] == '/') d--;
    while (*name == '/' && d > 0) name++;
    const char *sep = (d == 0 || dir[d - 1] == '/') ? "" : "/";
    int n = snprintf(out, size, "%.*s%s%s", (int)d, dir, sep, name);
    if (n < 0 || (size_t)n >= size) {
        out[0] = '\0';
        return AD_ERR_ARG;
    }
    return AD_OK;
}

char *app_fs_join_new(const char *dir, const char *name)
{
    if (!dir || !name) return NULL;
    size_t size = strlen(dir) + strlen(name) + 2; /* a '/' and the NUL at most */
    char *out = ad_malloc(size);
    if (out && app_fs_join(out, size, dir, name) != AD_OK) { /* cannot happen: sized to fit */
        ad_free(out);
        out = NULL;
    }
    return out;
}

/* The temporary name DIR/.BASE.tmp.PID for path (ad_free it); NULL when out
 * of memory. */
static char *temp_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    int dir_len = slash ? (int)(slash - path) + 1 : 0;
    return ad_path_format("%.*s.%s.tmp.%ld", dir_len, path, base, (long)getpid());
}

/* Best effort: make the rename itself durable. */
static void sync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = !slash ? ad_path_format(".")
                       : ad_path_format("%.*s", slash == path ? 1 : (int)(slash - path), path);
    if (!dir) return;
    int fd = open(dir, O_RDONLY | O_NONBLOCK);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    ad_free(dir);
}

static int write_atomic_here(const char *path, app_fs_write_fn write, void *ctx, char *msg,
                             size_t msg_size)
{
    if (msg && msg_size) msg[0] = '\0';
    if (!path || !*path || !write) {
        if (msg && msg_size) snprintf(msg, msg_size, "no file name given");
        return AD_ERR_ARG;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
        if (msg && msg_size) snprintf(msg, msg_size, "cannot write '%s': not a file name", path);
        return AD_ERR_ARG;
    }
    char *tmp = temp_name(path);
    if (!tmp) {
        if (msg && msg_size) snprintf(msg, msg_size, "cannot write '%s': out of memory", path);
        return AD_ERR_NOMEM;
    }
    FILE *f = NULL;
    char why[512];
    int rc = ad_file_open_write(tmp, NULL, &f, why, sizeof why);
    if (rc != AD_OK) {
        if (msg && msg_size) snprintf(msg, msg_size, "cannot write '%s': %s", path, why);
        ad_free(tmp);
        return rc;
    }
    errno = 0;
    rc = write(f, ctx);
    if (rc) {
        int err = errno;
        if (rc > 0) rc = AD_ERR_IO;
        if (msg && msg_size && !msg[0])
            snprintf(msg, msg_size, "cannot write '%s': %s", path,
                     err ? strerror(err) : "the content could not be produced");
        fclose(f);
        unlink(tmp);
        ad_free(tmp);
        return rc;
    }
    int err = 0;
    if (ferror(f) || fflush(f) != 0 || fsync(fileno(f)) != 0) err = errno ? errno : EIO;
    if (fclose(f) != 0 && !err) err = errno ? errno : EIO;
    if (!err && rename(tmp, path) != 0) err = errno;
    if (err) {
        unlink(tmp);
        ad_free(tmp);
        return fail_errno(msg, msg_size, "cannot write", path, err, AD_ERR_IO);
    }
    ad_free(tmp);
    sync_parent(path);
    return AD_OK;
}

int app_fs_write_atomic_with(const char *path, app_fs_write_fn write, void *ctx, char *msg,
                             size_t msg_size)
{
    int rc = AD_OK;
    if (ad_dist_root_begin()) rc = write_atomic_here(path, write, ctx, msg, msg_size);
    return ad_dist_root_end(rc, msg, msg_size);
}

typedef struct {
    const void *data;
    size_t len;
} bytes_ctx;

static int write_bytes(FILE *f, void *ctx)
{
    const bytes_ctx *b = ctx;
    if (b->len && fwrite(b->data, 1, b->len, f) != b->len) return AD_ERR_IO;
    return AD_OK;
}

int app_fs_write_atomic(const char *path, const void *data, size_t len, char *msg, size_t msg_size)
{
    bytes_ctx b = {data, len};
    if (!data && len) return AD_ERR_ARG;
    return app_fs_write_atomic_with(path, write_bytes, &b, msg, msg_size);
}

int app_fs_read_file(const char *path, char **data, size_t *len, char *msg, size_t msg_size)
{
    return app_fs_read_file_max(path, APP_FS_READ_MAX, data, len, msg, msg_size);
}

int app_fs_read_file_max(const char *path, size_t max_bytes, char **data, size_t *len, char *msg,
                         size_t msg_size)
{
    if (!data) {
        if (msg && msg_size) snprintf(msg, msg_size, "app_fs_read_file: NULL data");
        return AD_ERR_ARG;
    }
    return ad_file_read_all(path, NULL, max_bytes, data, len, msg, msg_size);
}
