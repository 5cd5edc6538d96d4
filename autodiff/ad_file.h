/* ad_file.h - opening files for reading without surprises, and path
 * arguments that are checked rather than trusted.
 *
 * Every reader of the library goes through ad_file_open_read (or
 * ad_file_read_all on top of it).  A path may be a symbolic link, and the link
 * is followed, but what it names must be a regular file: a FIFO, a character
 * or block device (/dev/zero, a terminal), a directory or a socket is refused
 * at once, with a message that names the path and what it is.  Opening never
 * blocks: the file is opened with O_NONBLOCK (so a FIFO without a writer does
 * not wait), checked with fstat on the opened descriptor (no race between a
 * check and the open), and only then switched back to blocking reads.
 *
 * Every reader also has a size limit chosen by its caller: a file whose size
 * exceeds it is refused before a byte is read, and a file that grows past it
 * while being read is refused when the reader gets there, so no file can make
 * a reader allocate more than its limit.
 *
 * Messages are one line: "<who>: <path>: <reason>" (who may be NULL, then
 * the message starts with the path).  Codes: AD_ERR_ARG (NULL or empty path),
 * AD_ERR_IO (cannot open, not a regular file, read error), AD_ERR_FORMAT
 * (larger than the limit), AD_ERR_NOMEM.
 */
#ifndef LIBBG_AUTODIFF_AD_FILE_H
#define LIBBG_AUTODIFF_AD_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "ad_config.h"

/* AD_OK when path can name a file: not NULL, not "", and its last component
 * is not empty, "." or ".." (so "out/" is refused).  Otherwise AD_ERR_ARG and
 * "<who>: <what> is NULL", "... is an empty string" or "... 'out/' names a
 * directory, not a file" (what NULL: "the file name").  Every library function
 * that opens, writes, renames or removes a file checks its path with this
 * first: an empty path must never become ".tmp" or "-stage1.ckpt" in the
 * current directory, nor "out/" become "out/.tmp". */
int ad_path_check(const char *path, const char *who, const char *what, char *msg,
                  size_t msg_len);

/* A new string (release with ad_free) holding the printf-style result, sized
 * exactly: no path is ever cut to fit a buffer.  NULL when fmt is NULL, the
 * formatting fails or memory runs out. */
char *ad_path_format(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Open the regular file at path for reading (binary stream, at its start).
 * On AD_OK, *out is the stream (fclose it) and *size the file's size when it
 * was opened.  Refused: a path that is NULL or "", a file that cannot be
 * opened, anything but a regular file (named: "is a FIFO", "is a character
 * device", ...), and a file of more than max_bytes bytes. */
int ad_file_open_read(const char *path, const char *who, size_t max_bytes, FILE **out,
                      size_t *size, char *msg, size_t msg_len);

/* Read the rest of a stream opened by ad_file_open_read into a new buffer
 * (ad_free it) of *len bytes plus a terminating NUL.  size_hint is the size
 * that ad_file_open_read reported: the buffer is allocated once for it, and
 * grown only if the file grew.  More than max_bytes bytes in all: AD_ERR_FORMAT
 * and nothing returned.  path and who only name the file in messages.  The
 * stream is not closed. */
int ad_file_read_stream(FILE *f, const char *path, const char *who, size_t size_hint,
                        size_t max_bytes, char **data, size_t *len, char *msg, size_t msg_len);

/* ad_file_open_read + ad_file_read_stream + fclose: the whole regular file at
 * path, at most max_bytes bytes, into a new NUL-terminated buffer (ad_free it;
 * *len may be NULL).  On error *data is NULL. */
int ad_file_read_all(const char *path, const char *who, size_t max_bytes, char **data,
                     size_t *len, char *msg, size_t msg_len);

/* Create or truncate the file at path for writing (binary stream), mode
 * 0666 & ~umask.  Never blocks and never writes into anything but a regular
 * file: a FIFO, a device, a directory or a socket at path is refused (AD_ERR_IO,
 * "is a FIFO, not a regular file"), and so are NULL and "" (AD_ERR_ARG).
 * Writers use it for their temporary file before renaming it over the
 * target. */
int ad_file_open_write(const char *path, const char *who, FILE **out, char *msg,
                       size_t msg_len);

/* What a file mode names, for messages: "a regular file", "a directory",
 * "a FIFO", "a character device", "a block device", "a socket", "a symbolic
 * link" or "not a regular file". */
const char *ad_file_kind(unsigned long mode);

#endif
