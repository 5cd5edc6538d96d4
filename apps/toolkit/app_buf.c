/* app_buf.c - growable text buffer and a UTF-8 sequence checker. */
#include "apps/toolkit/app_buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "autodiff/ad.h"

void app_buf_init(app_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->err = AD_OK;
}

void app_buf_free(app_buf *b)
{
    ad_free(b->data);
    app_buf_init(b);
}

void app_buf_clear(app_buf *b)
{
    b->len = 0;
    b->err = AD_OK;
    if (b->data) b->data[0] = '\0';
}

/* Make room for `extra` more bytes plus the NUL; doubles the capacity. */
static int reserve(app_buf *b, size_t extra)
{
    if (b->err) return b->err;
    if (extra > SIZE_MAX - b->len - 1) return b->err = AD_ERR_NOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return AD_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = ad_realloc(b->data, cap);
    if (!p) return b->err = AD_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return AD_OK;
}

int app_buf_append(app_buf *b, const void *bytes, size_t n)
{
    if (reserve(b, n)) return b->err;
    if (n) memcpy(b->data + b->len, bytes, n);
    b->len += n;
    b->data[b->len] = '\0';
    return AD_OK;
}

int app_buf_puts(app_buf *b, const char *s) { return app_buf_append(b, s, strlen(s)); }

int app_buf_putc(app_buf *b, char c) { return app_buf_append(b, &c, 1); }

int app_buf_printf(app_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return b->err ? b->err : (b->err = AD_ERR_ARG);
    if ((size_t)n < sizeof small) return app_buf_append(b, small, (size_t)n);
    if (reserve(b, (size_t)n)) return b->err;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return AD_OK;
}

size_t app_utf8_sequence(const unsigned char *s, size_t n)
{
    if (n == 0) return 0;
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned long cp;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0; /* continuation byte, C0/C1 overlong lead, or > U+10FFFF lead */
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
    if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
    return len;
}
