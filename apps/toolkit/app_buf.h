/* app_buf.h - a growable text buffer with a sticky error, shared by the JSON
 * writer, the SVG plotter and the report writer.
 *
 * The buffer owns its memory (ad_malloc, so fault injection covers it);
 * app_buf_free releases it.  `data` is NUL-terminated whenever it is not NULL.
 * After the first failed append every later append does nothing and returns
 * the same error, so a caller can build a whole document and check once.
 */
#ifndef LIBBG_APPS_TOOLKIT_APP_BUF_H
#define LIBBG_APPS_TOOLKIT_APP_BUF_H

#include <stddef.h>

typedef struct {
    char *data; /* the text, NUL-terminated (NULL until the first append) */
    size_t len; /* bytes used, not counting the NUL                       */
    size_t cap; /* bytes allocated                                         */
    int err;    /* 0, or the first error (AD_ERR_NOMEM)                    */
} app_buf;

#if defined(__GNUC__) || defined(__clang__)
#define APP_PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define APP_PRINTF_LIKE(f, a)
#endif

void app_buf_init(app_buf *b);
/* Release the memory; the buffer is empty and usable again afterwards. */
void app_buf_free(app_buf *b);
/* Forget the contents and the error but keep the memory. */
void app_buf_clear(app_buf *b);
int app_buf_append(app_buf *b, const void *bytes, size_t n);
int app_buf_puts(app_buf *b, const char *s);
int app_buf_putc(app_buf *b, char c);
int app_buf_printf(app_buf *b, const char *fmt, ...) APP_PRINTF_LIKE(2, 3);

/* Length of the valid UTF-8 sequence that starts at s (1..4), or 0 when the
 * bytes there are not valid UTF-8 (overlong, surrogate, truncated, > U+10FFFF).
 * n is the number of bytes available. */
size_t app_utf8_sequence(const unsigned char *s, size_t n);

#endif
