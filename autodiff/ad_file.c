/* ad_file.c - regular files only, within a size limit; checked paths. */
#include "ad_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "ad_alloc.h"
#include "ad_dist.h"
#include "ad_status.h"

/* "who: " or nothing, for the front of a message. */
#define WHO_FMT "%s%s"
#define WHO_ARGS(who) ((who) ? (who) : ""), ((who) ? ": " : "")

int ad_path_check(const char *path, const char *who, const char *what, char *msg,
                  size_t msg_len)
{
    if (!what) what = "the file name";
    if (!path || !*path)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, WHO_FMT "%s is %s", WHO_ARGS(who), what,
                              path ? "an empty string" : "NULL");
    /* the last component: "dir/" + ".tmp" would be "dir/.tmp" */
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG,
                              WHO_FMT "%s '%s' names a directory, not a file", WHO_ARGS(who),
                              what, path);
    return AD_OK;
}

char *ad_path_format(const char *fmt, ...)
{
    if (!fmt) return NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return NULL;
    char *s = ad_malloc((size_t)n + 1);
    if (!s) return NULL;
    va_start(ap, fmt);
    int m = vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    if (m != n) {
        ad_free(s);
        return NULL;
    }
    return s;
}

const char *ad_file_kind(unsigned long mode)
{
    mode_t m = (mode_t)mode;
    if (S_ISREG(m)) return "a regular file";
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISLNK(m)) return "a symbolic link";
    return "not a regular file";
}

int ad_file_open_read(const char *path, const char *who, size_t max_bytes, FILE **out,
                      size_t *size, char *msg, size_t msg_len)
{
    if (out) *out = NULL;
    if (size) *size = 0;
    int rc = ad_path_check(path, who, "the file name", msg, msg_len);
    if (rc != AD_OK) return rc;
    if (!out) return ad_status_fail(msg, msg_len, AD_ERR_ARG, WHO_FMT "no stream to return",
                                    WHO_ARGS(who));
    /* O_NONBLOCK: opening a FIFO that has no writer would otherwise wait for
     * one forever; a regular file ignores the flag.  BG_DIST_FAULT=read@R
     * makes every file unreadable on rank R (ad_dist.h, a testing aid). */
    int fd = ad_dist_fault("read") ? (errno = EIO, -1)
                                   : open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return ad_status_fail(msg, msg_len, AD_ERR_IO, WHO_FMT "%s: cannot open: %s",
                              WHO_ARGS(who), path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return ad_status_fail(msg, msg_len, AD_ERR_IO, WHO_FMT "%s: cannot read: %s",
                              WHO_ARGS(who), path, strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return ad_status_fail(msg, msg_len, AD_ERR_IO,
                              WHO_FMT "%s: cannot read: is %s, not a regular file", WHO_ARGS(who),
                              path, ad_file_kind((unsigned long)st.st_mode));
    }
    if (st.st_size < 0 || (uintmax_t)st.st_size > (uintmax_t)max_bytes) {
        close(fd);
        return ad_status_fail(msg, msg_len, AD_ERR_FORMAT,
                              WHO_FMT "%s: %jd bytes, more than the limit of %zu bytes; not read",
                              WHO_ARGS(who), path, (intmax_t)st.st_size, max_bytes);
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags == -1 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1) {
        int err = errno;
        close(fd);
        return ad_status_fail(msg, msg_len, AD_ERR_IO, WHO_FMT "%s: cannot read: %s",
                              WHO_ARGS(who), path, strerror(err));
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int err = errno;
        close(fd);
        return ad_status_fail(msg, msg_len, err == ENOMEM ? AD_ERR_NOMEM : AD_ERR_IO,
                              WHO_FMT "%s: cannot read: %s", WHO_ARGS(who), path, strerror(err));
    }
    *out = f;
    if (size) *size = (size_t)st.st_size;
    return AD_OK;
}

int ad_file_open_write(const char *path, const char *who, FILE **out, char *msg,
                       size_t msg_len)
{
    if (out) *out = NULL;
    int rc = ad_path_check(path, who, "the file name", msg, msg_len);
    if (rc != AD_OK) return rc;
    if (!out) return ad_status_fail(msg, msg_len, AD_ERR_ARG, WHO_FMT "no stream to return",
                                    WHO_ARGS(who));
    /* O_NONBLOCK: a FIFO without a reader fails at once (ENXIO) instead of
     * waiting; truncating a FIFO or a device does nothing, and the fstat
     * below refuses them before a byte is written. */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0666);
    if (fd < 0) {
        int err = errno;
        struct stat st;
        if (err == ENXIO && stat(path, &st) == 0 && !S_ISREG(st.st_mode))
            return ad_status_fail(msg, msg_len, AD_ERR_IO,
                                  WHO_FMT "%s: cannot write: is %s, not a regular file",
                                  WHO_ARGS(who), path, ad_file_kind((unsigned long)st.st_mode));
        return ad_status_fail(msg, msg_len, AD_ERR_IO, WHO_FMT "%s: cannot create: %s",
                              WHO_ARGS(who), path, strerror(err));
    }
    struct stat st;
    int err = 0;
    if (fstat(fd, &st) != 0) {
        err = errno;
    } else if (!S_ISREG(st.st_mode)) {
        close(fd);
        return ad_status_fail(msg, msg_len, AD_ERR_IO,
                              WHO_FMT "%s: cannot write: is %s, not a regular file",
                              WHO_ARGS(who), path, ad_file_kind((unsigned long)st.st_mode));
    } else {
        int flags = fcntl(fd, F_GETFL);
        if (flags == -1 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1) err = errno;
    }
    FILE *f = err ? NULL : fdopen(fd, "wb");
    if (!f) {
        if (!err) err = errno;
        close(fd);
        return ad_status_fail(msg, msg_len, err == ENOMEM ? AD_ERR_NOMEM : AD_ERR_IO,
                              WHO_FMT "%s: cannot write: %s", WHO_ARGS(who), path, strerror(err));
    }
    *out = f;
    return AD_OK;
}

int ad_file_read_stream(FILE *f, const char *path, const char *who, size_t size_hint,
                        size_t max_bytes, char **data, size_t *len, char *msg, size_t msg_len)
{
    if (data) *data = NULL;
    if (len) *len = 0;
    if (!f || !data)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, WHO_FMT "NULL stream or buffer",
                              WHO_ARGS(who));
    if (!path) path = "(stream)";
    if (max_bytes == SIZE_MAX) max_bytes = SIZE_MAX - 1; /* room for the NUL */
    size_t cap = (size_hint < max_bytes ? size_hint : max_bytes) + 1, n = 0;
    char *buf = ad_malloc(cap);
    if (!buf)
        return ad_status_fail(msg, msg_len, AD_ERR_NOMEM, WHO_FMT "%s: out of memory (%zu bytes)",
                              WHO_ARGS(who), path, cap);
    for (;;) {
        n += fread(buf + n, 1, cap - 1 - n, f);
        if (n < cap - 1) break; /* end of file or an error, told apart below */
        /* The buffer is full: the file is at least as large as announced.
         * One more byte says whether it grew. */
        int c = fgetc(f);
        if (c == EOF) break;
        if (n >= max_bytes) {
            ad_free(buf);
            return ad_status_fail(msg, msg_len, AD_ERR_FORMAT,
                                  WHO_FMT "%s: grew past the limit of %zu bytes while being read",
                                  WHO_ARGS(who), path, max_bytes);
        }
        size_t ncap = cap <= (max_bytes + 1) / 2 ? 2 * cap : max_bytes + 1;
        if (ncap < cap + 1) ncap = cap + 1;
        char *nb = ad_realloc(buf, ncap);
        if (!nb) {
            ad_free(buf);
            return ad_status_fail(msg, msg_len, AD_ERR_NOMEM,
                                  WHO_FMT "%s: out of memory (%zu bytes)", WHO_ARGS(who), path,
                                  ncap);
        }
        buf = nb;
        cap = ncap;
        buf[n++] = (char)c;
    }
    if (ferror(f)) {
        int err = errno ? errno : EIO;
        ad_free(buf);
        return ad_status_fail(msg, msg_len, AD_ERR_IO, WHO_FMT "%s: cannot read: %s",
                              WHO_ARGS(who), path, strerror(err));
    }
    buf[n] = '\0';
    *data = buf;
    if (len) *len = n;
    return AD_OK;
}

int ad_file_read_all(const char *path, const char *who, size_t max_bytes, char **data,
                     size_t *len, char *msg, size_t msg_len)
{
    if (data) *data = NULL;
    if (len) *len = 0;
    if (!data)
        return ad_status_fail(msg, msg_len, AD_ERR_ARG, WHO_FMT "NULL buffer", WHO_ARGS(who));
    FILE *f = NULL;
    size_t size = 0;
    int rc = ad_file_open_read(path, who, max_bytes, &f, &size, msg, msg_len);
    if (rc != AD_OK) return rc;
    rc = ad_file_read_stream(f, path, who, size, max_bytes, data, len, msg, msg_len);
    fclose(f);
    return rc;
}
