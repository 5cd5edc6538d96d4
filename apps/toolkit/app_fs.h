/* app_fs.h - the file-system chores of the programs: mkdir -p, a writability
 * check done before any work, atomic file writes, path joining, reading a
 * whole file.
 *
 * Every function returns AD_OK or a negative AD_ERR_* code and, on failure,
 * fills msg with one line that names the path and the reason (strerror).
 * Atomic writes go to DIR/.NAME.tmp.PID, are flushed and fsync'ed, then
 * renamed over PATH: PATH holds either its old or its new content, never a
 * part.  On failure the temporary file is removed and PATH is untouched.  Two
 * threads of one process must not write the same PATH at the same time.
 * Paths have no length limit here (names are built in memory sized to fit; the
 * system's own limit gives an ordinary error), and NULL or "" is refused.
 * In the MPI build the functions that write (mkdir_p, check_writable_dir,
 * the atomic writes) are collective calls: every rank calls them, rank 0
 * does the work and every rank returns its status (autodiff/ad_dist.h).
 */
#ifndef LIBBG_APPS_TOOLKIT_APP_FS_H
#define LIBBG_APPS_TOOLKIT_APP_FS_H

#include <stddef.h>
#include <stdio.h>

/* Create a directory and its missing parents (mode 0777 & ~umask). */
int app_fs_mkdir_p(const char *path, char *msg, size_t msg_size);

/* Create the directory if missing and check that a file can be created in it
 * (by creating and removing a probe file; works for root too). */
int app_fs_check_writable_dir(const char *path, char *msg, size_t msg_size);

/* Replace the file at path with data[0..len) atomically. */
int app_fs_write_atomic(const char *path, const void *data, size_t len, char *msg, size_t msg_size);

/* The same, with the content produced by write(stream, ctx); a nonzero return
 * of the callback (or a stream error) aborts the write and is returned
 * (AD_ERR_IO when the callback's value is not negative). */
typedef int (*app_fs_write_fn)(FILE *stream, void *ctx);
int app_fs_write_atomic_with(const char *path, app_fs_write_fn write, void *ctx, char *msg,
                             size_t msg_size);

/* out = dir + "/" + name (no doubled '/'; an empty dir gives name).  Returns
 * AD_ERR_ARG when it does not fit, with out holding an empty string: a caller
 * must check the status, as an empty string is no file name (every function
 * here, and every writer and reader of the library, refuses it). */
int app_fs_join(char *out, size_t size, const char *dir, const char *name);
/* The same into a new string sized to fit (free with ad_free): no length
 * limit.  NULL when dir or name is NULL or memory runs out. */
char *app_fs_join_new(const char *dir, const char *name);

/* The largest file app_fs_read_file reads: 256 MiB. */
#define APP_FS_READ_MAX ((size_t)256 << 20)

/* Read a whole file into a new NUL-terminated buffer (free with ad_free; *len
 * may be NULL).  The path must name a regular file (symbolic links are
 * followed): a FIFO, a device (/dev/zero) or a directory is refused at once,
 * without blocking (AD_ERR_IO), and a file of more than APP_FS_READ_MAX bytes
 * is refused before it is read (AD_ERR_FORMAT); a NULL or empty path is
 * AD_ERR_ARG.  The message names the path.  On error *data is NULL. */
int app_fs_read_file(const char *path, char **data, size_t *len, char *msg, size_t msg_size);
/* The same with a limit of max_bytes bytes. */
int app_fs_read_file_max(const char *path, size_t max_bytes, char **data, size_t *len, char *msg,
                         size_t msg_size);

#endif
