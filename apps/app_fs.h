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
 */
#ifndef LIBBG_APPS_APP_FS_H
#define LIBBG_APPS_APP_FS_H

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
 * AD_ERR_ARG when it does not fit, with out holding an empty string. */
int app_fs_join(char *out, size_t size, const char *dir, const char *name);

/* Read a whole file into a new NUL-terminated buffer (free with ad_free). */
int app_fs_read_file(const char *path, char **data, size_t *len, char *msg, size_t msg_size);

#endif
