/* app_json.h - a tiny JSON writer (into an app_buf) and a minimal reader.
 *
 * Writer: calls append to w->out and keep a sticky error, like the tape: a
 * value in the wrong place (no key inside an object, a key inside an array,
 * an unbalanced end) or a failed allocation is recorded once, later calls do
 * nothing, and app_json_finish reports it.  Numbers are written losslessly
 * (the shortest of %.15g/%.16g/%.17g that reads back exactly); non-finite
 * numbers are written as null.  Strings are escaped; invalid UTF-8 bytes
 * become U+FFFD, so the output is always valid JSON.  The writer owns w->out
 * until app_json_free.
 *
 * Reader: app_json_parse builds a tree that the caller owns and releases with
 * app_json_value_free.  It accepts RFC 8259 JSON (depth at most
 * APP_JSON_MAX_DEPTH), decodes escapes to UTF-8, and rejects trailing text.
 * Object member order is kept; with duplicate keys lookups find the first.
 */
#ifndef LIBBG_APPS_TOOLKIT_APP_JSON_H
#define LIBBG_APPS_TOOLKIT_APP_JSON_H

#include <stddef.h>

#include "apps/toolkit/app_buf.h"

#define APP_JSON_MAX_DEPTH 64

/* ---- writer ---- */

typedef struct {
    app_buf out;                           /* the document so far              */
    int err;                               /* sticky: 0 or the first error     */
    int pretty;                            /* 1: newlines, 2-space indent      */
    int depth;                             /* open containers                  */
    char kind[APP_JSON_MAX_DEPTH];         /* '{' or '[' for each open level   */
    int count[APP_JSON_MAX_DEPTH];         /* values written at each level     */
    int have_key;                          /* a key waits for its value        */
    int done;                              /* the top-level value is complete  */
} app_json;

void app_json_init(app_json *w, int pretty);
void app_json_free(app_json *w);
void app_json_object_begin(app_json *w);
void app_json_object_end(app_json *w);
void app_json_array_begin(app_json *w);
void app_json_array_end(app_json *w);
void app_json_key(app_json *w, const char *key);
void app_json_string(app_json *w, const char *s);
void app_json_number(app_json *w, double v); /* non-finite -> null */
void app_json_int(app_json *w, long long v);
void app_json_bool(app_json *w, int v);
void app_json_null(app_json *w);
/* key + value in one call */
void app_json_key_string(app_json *w, const char *key, const char *s);
void app_json_key_number(app_json *w, const char *key, double v);
void app_json_key_int(app_json *w, const char *key, long long v);
void app_json_key_bool(app_json *w, const char *key, int v);
/* An array of n numbers. */
void app_json_number_array(app_json *w, const double *v, size_t n);
/* AD_OK when the document is complete and no error happened (a final
 * newline is added); otherwise an error code with the reason in msg. */
int app_json_finish(app_json *w, char *msg, size_t msg_size);

/* ---- reader ---- */

typedef enum {
    APP_JSON_NULL,
    APP_JSON_BOOL,
    APP_JSON_NUMBER,
    APP_JSON_STRING,
    APP_JSON_ARRAY,
    APP_JSON_OBJECT
} app_json_type;

typedef struct app_json_value {
    app_json_type type;
    int boolean;                  /* APP_JSON_BOOL                          */
    double number;                /* APP_JSON_NUMBER (inf if it overflowed) */
    char *string;                 /* APP_JSON_STRING, NUL-terminated UTF-8  */
    size_t length;                /* its length in bytes (may hold \u0000)  */
    struct app_json_value *items; /* ARRAY elements / OBJECT member values  */
    char **keys;                  /* OBJECT member names, parallel to items */
    size_t n_items;               /* number of elements or members          */
} app_json_value;

/* Parse text[0..len).  On success *out is the root (free it with
 * app_json_value_free); on failure *out is NULL and msg holds
 * "line L, column C: <reason>".  Returns AD_OK, AD_ERR_FORMAT, AD_ERR_NOMEM. */
int app_json_parse(const char *text, size_t len, app_json_value **out, char *msg,
                   size_t msg_size);
void app_json_value_free(app_json_value *v);

/* The largest file app_json_read_file reads: 16 MiB (the programs' JSON
 * files are a few KB). */
#define APP_JSON_MAX_FILE_BYTES ((size_t)16 << 20)

/* Read and parse the JSON file at path.  The path must name a regular file
 * (symbolic links are followed): a FIFO, a device (/dev/zero) or a directory
 * is refused at once, without blocking (AD_ERR_IO), and a file of more than
 * APP_JSON_MAX_FILE_BYTES bytes is refused before it is read (AD_ERR_FORMAT).
 * Returns AD_OK, AD_ERR_ARG (path NULL or "", out NULL), AD_ERR_IO,
 * AD_ERR_FORMAT (too large, or "<path>: line L, column C: <reason>"),
 * AD_ERR_NOMEM; on error *out is NULL. */
int app_json_read_file(const char *path, app_json_value **out, char *msg, size_t msg_size);

/* Look up a path: members by name separated by '.', elements by [index],
 * names with '.', '[' or '"' in double quotes:  models[0].delta_f."right-left".
 * Returns NULL when the path is malformed or leads nowhere. */
const app_json_value *app_json_lookup(const app_json_value *root, const char *path);
/* The member `key` of an object, or NULL. */
const app_json_value *app_json_member(const app_json_value *obj, const char *key);
/* The number at path: AD_OK, or AD_ERR_ARG when missing or not a number. */
int app_json_get_number(const app_json_value *root, const char *path, double *out);
/* 1 when every number in the tree is finite (no overflowed literal). */
int app_json_all_finite(const app_json_value *v);
/* How many values of the given type the tree holds (the root included). */
size_t app_json_count(const app_json_value *v, app_json_type type);

#endif
