/* app_json_read.c - a minimal, strict JSON reader and path lookup. */
#include "apps/toolkit/app_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/ad.h"

typedef struct {
    const char *text; /* the input               */
    size_t len, pos;  /* its length, the cursor  */
    int err;          /* AD_OK or the first error */
    char *msg;        /* caller's message buffer */
    size_t msg_size;
} parser;

static int syntax(parser *p, const char *what)
{
    if (p->err) return p->err;
    p->err = AD_ERR_FORMAT;
    size_t line = 1, col = 1;
    for (size_t i = 0; i < p->pos && i < p->len; i++) {
        if (p->text[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    if (p->msg && p->msg_size)
        snprintf(p->msg, p->msg_size, "line %zu, column %zu: %s", line, col, what);
    return p->err;
}

static int nomem(parser *p)
{
    if (!p->err) {
        p->err = AD_ERR_NOMEM;
        if (p->msg && p->msg_size) snprintf(p->msg, p->msg_size, "out of memory");
    }
    return p->err;
}

static void skip_space(parser *p)
{
    while (p->pos < p->len) {
        char c = p->text[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static int peek(parser *p) { return p->pos < p->len ? (unsigned char)p->text[p->pos] : -1; }

static int literal(parser *p, const char *word)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->text + p->pos, word, n) != 0)
        return syntax(p, "invalid literal");
    p->pos += n;
    return AD_OK;
}

static int is_digit(int c) { return c >= '0' && c <= '9'; }

/* number = -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static int number(parser *p, double *out)
{
    size_t start = p->pos;
    if (peek(p) == '-') p->pos++;
    if (peek(p) == '0') {
        p->pos++;
    } else if (is_digit(peek(p))) {
        while (is_digit(peek(p))) p->pos++;
    } else {
        return syntax(p, "invalid number");
    }
    if (peek(p) == '.') {
        p->pos++;
        if (!is_digit(peek(p))) return syntax(p, "invalid number");
        while (is_digit(peek(p))) p->pos++;
    }
    if (peek(p) == 'e' || peek(p) == 'E') {
        p->pos++;
        if (peek(p) == '+' || peek(p) == '-') p->pos++;
        if (!is_digit(peek(p))) return syntax(p, "invalid number");
        while (is_digit(peek(p))) p->pos++;
    }
    size_t n = p->pos - start;
    char small[64], *copy = small;
    if (n >= sizeof small && !(copy = ad_malloc(n + 1))) return nomem(p);
    memcpy(copy, p->text + start, n);
    copy[n] = '\0';
    *out = strtod(copy, NULL); /* overflow gives inf: see app_json_all_finite */
    if (copy != small) ad_free(copy);
    return AD_OK;
}

static int hex4(parser *p, unsigned *out)
{
    if (p->len - p->pos < 4) return syntax(p, "truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int c = (unsigned char)p->text[p->pos++];
        v <<= 4;
        if (is_digit(c)) v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return syntax(p, "invalid \\u escape");
    }
    *out = v;
    return AD_OK;
}

static void put_utf8(app_buf *b, unsigned long cp)
{
    char u[4];
    if (cp < 0x80) {
        app_buf_putc(b, (char)cp);
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        app_buf_append(b, u, 2);
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        app_buf_append(b, u, 3);
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        app_buf_append(b, u, 4);
    }
}

/* A string at the cursor (which is on the opening quote), decoded into a new
 * NUL-terminated allocation. */
static int string(parser *p, char **out, size_t *out_len)
{
    app_buf b;
    app_buf_init(&b);
    app_buf_append(&b, "", 0); /* an empty string still gets a buffer */
    p->pos++;
    for (;;) {
        int c = peek(p);
        if (c < 0) {
            syntax(p, "unterminated string");
            break;
        }
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20) {
            syntax(p, "control character in a string");
            break;
        }
        if (c == '\\') {
            p->pos++;
            int e = peek(p);
            p->pos++;
            switch (e) {
            case '"': app_buf_putc(&b, '"'); break;
            case '\\': app_buf_putc(&b, '\\'); break;
            case '/': app_buf_putc(&b, '/'); break;
            case 'b': app_buf_putc(&b, '\b'); break;
            case 'f': app_buf_putc(&b, '\f'); break;
            case 'n': app_buf_putc(&b, '\n'); break;
            case 'r': app_buf_putc(&b, '\r'); break;
            case 't': app_buf_putc(&b, '\t'); break;
            case 'u': {
                unsigned hi, lo;
                if (hex4(p, &hi)) break;
                if (hi >= 0xDC00 && hi <= 0xDFFF) {
                    syntax(p, "lone low surrogate");
                    break;
                }
                if (hi >= 0xD800 && hi <= 0xDBFF) {
                    if (p->len - p->pos < 2 || p->text[p->pos] != '\\' ||
                        p->text[p->pos + 1] != 'u') {
                        syntax(p, "lone high surrogate");
                        break;
                    }
                    p->pos += 2;
                    if (hex4(p, &lo)) break;
                    if (lo < 0xDC00 || lo > 0xDFFF) {
                        syntax(p, "invalid surrogate pair");
                        break;
                    }
                    put_utf8(&b, 0x10000ul + (((unsigned long)hi - 0xD800) << 10) + (lo - 0xDC00));
                } else {
                    put_utf8(&b, hi);
                }
                break;
            }
            default: p->pos--; syntax(p, "invalid escape");
            }
            if (p->err) break;
            continue;
        }
        size_t k = app_utf8_sequence((const unsigned char *)p->text + p->pos, p->len - p->pos);
        if (!k) {
            syntax(p, "invalid UTF-8 in a string");
            break;
        }
        app_buf_append(&b, p->text + p->pos, k);
        p->pos += k;
    }
    if (!p->err && b.err) nomem(p);
    if (p->err) {
        app_buf_free(&b);
        return p->err;
    }
    *out = b.data;
    *out_len = b.len;
    return AD_OK;
}

static void value_clear(app_json_value *v)
{
    if (v->type == APP_JSON_ARRAY || v->type == APP_JSON_OBJECT) {
        for (size_t i = 0; i < v->n_items; i++) {
            value_clear(&v->items[i]);
            if (v->keys) ad_free(v->keys[i]);
        }
        ad_free(v->items);
        ad_free(v->keys);
    }
    ad_free(v->string);
    memset(v, 0, sizeof *v);
}

static int value(parser *p, app_json_value *v, int depth);

/* Append one element (and its key, for objects) to a container. */
static app_json_value *grow(parser *p, app_json_value *v, size_t *cap, int with_keys)
{
    if (v->n_items == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        app_json_value *items = ad_realloc(v->items, nc * sizeof *items);
        if (!items) return nomem(p), NULL;
        v->items = items;
        if (with_keys) {
            char **keys = ad_realloc(v->keys, nc * sizeof *keys);
            if (!keys) return nomem(p), NULL;
            v->keys = keys;
        }
        *cap = nc;
    }
    app_json_value *item = &v->items[v->n_items];
    memset(item, 0, sizeof *item);
    if (with_keys) v->keys[v->n_items] = NULL;
    v->n_items++;
    return item;
}

static int container(parser *p, app_json_value *v, int depth, int object)
{
    char close = object ? '}' : ']';
    size_t cap = 0;
    v->type = object ? APP_JSON_OBJECT : APP_JSON_ARRAY;
    p->pos++;
    skip_space(p);
    if (peek(p) == close) {
        p->pos++;
        return AD_OK;
    }
    for (;;) {
        skip_space(p);
        app_json_value *item = grow(p, v, &cap, object);
        if (!item) return p->err;
        if (object) {
            size_t klen;
            if (peek(p) != '"') return syntax(p, "expected a member name");
            if (string(p, &v->keys[v->n_items - 1], &klen)) return p->err;
            skip_space(p);
            if (peek(p) != ':') return syntax(p, "expected ':'");
            p->pos++;
            skip_space(p);
        }
        if (value(p, item, depth + 1)) return p->err;
        skip_space(p);
        int c = peek(p);
        if (c == ',') {
            p->pos++;
            continue;
        }
        if (c == close) {
            p->pos++;
            return AD_OK;
        }
        return syntax(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int value(parser *p, app_json_value *v, int depth)
{
    if (depth > APP_JSON_MAX_DEPTH) return syntax(p, "nested too deeply");
    skip_space(p);
    int c = peek(p);
    switch (c) {
    case '{': return container(p, v, depth, 1);
    case '[': return container(p, v, depth, 0);
    case '"': v->type = APP_JSON_STRING; return string(p, &v->string, &v->length);
    case 't': v->type = APP_JSON_BOOL; v->boolean = 1; return literal(p, "true");
    case 'f': v->type = APP_JSON_BOOL; return literal(p, "false");
    case 'n': v->type = APP_JSON_NULL; return literal(p, "null");
    case -1: return syntax(p, "unexpected end of text");
    default:
        if (c == '-' || is_digit(c)) {
            v->type = APP_JSON_NUMBER;
            return number(p, &v->number);
        }
        return syntax(p, "unexpected character");
    }
}

int app_json_parse(const char *text, size_t len, app_json_value **out, char *msg, size_t msg_size)
{
    parser p = {text, len, 0, AD_OK, msg, msg_size};
    if (msg && msg_size) msg[0] = '\0';
    if (!out) return AD_ERR_ARG;
    *out = NULL;
    if (!text) return syntax(&p, "no text");
    app_json_value *root = ad_calloc(1, sizeof *root);
    if (!root) return nomem(&p);
    if (value(&p, root, 1) == AD_OK) {
        skip_space(&p);
        if (p.pos != p.len) syntax(&p, "unexpected text after the value");
    }
    if (p.err) {
        app_json_value_free(root);
        return p.err;
    }
    *out = root;
    return AD_OK;
}

int app_json_read_file(const char *path, app_json_value **out, char *msg, size_t msg_size)
{
    if (msg && msg_size) msg[0] = '\0';
    if (!out) return AD_ERR_ARG;
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc = ad_file_read_all(path, "app_json_read_file", APP_JSON_MAX_FILE_BYTES, &text, &len,
                              msg, msg_size);
    if (rc != AD_OK) return rc;
    char why[256];
    rc = app_json_parse(text, len, out, why, sizeof why);
    ad_free(text);
    if (rc != AD_OK && msg && msg_size)
        snprintf(msg, msg_size, "app_json_read_file: %s: %s", path, why);
    return rc;
}

void app_json_value_free(app_json_value *v)
{
    if (!v) return;
    value_clear(v);
    ad_free(v);
}

const app_json_value *app_json_member(const app_json_value *obj, const char *key)
{
    if (!obj || obj->type != APP_JSON_OBJECT || !key) return NULL;
    for (size_t i = 0; i < obj->n_items; i++)
        if (strcmp(obj->keys[i], key) == 0) return &obj->items[i];
    return NULL;
}

/* Member by a name of n bytes. */
static const app_json_value *member_n(const app_json_value *obj, const char *key, size_t n)
{
    if (!obj || obj->type != APP_JSON_OBJECT) return NULL;
    for (size_t i = 0; i < obj->n_items; i++)
        if (strlen(obj->keys[i]) == n && memcmp(obj->keys[i], key, n) == 0) return &obj->items[i];
    return NULL;
}

const app_json_value *app_json_lookup(const app_json_value *root, const char *path)
{
    const app_json_value *v = root;
    const char *s = path;
    if (!v || !s) return NULL;
    int first = 1;
    while (*s && v) {
        if (*s == '[') {
            s++;
            if (!is_digit((unsigned char)*s)) return NULL;
            size_t index = 0;
            for (; is_digit((unsigned char)*s); s++) {
                if (index > ((size_t)-1 - 9) / 10) return NULL;
                index = index * 10 + (size_t)(*s - '0');
            }
            if (*s++ != ']') return NULL;
            if (v->type != APP_JSON_ARRAY || index >= v->n_items) return NULL;
            v = &v->items[index];
            first = 0;
            continue;
        }
        if (!first) {
            if (*s != '.') return NULL;
            s++;
        }
        first = 0;
        if (*s == '"') {
            /* quoted name: \" and \\ escapes */
            char name[256];
            size_t n = 0;
            for (s++; *s && *s != '"'; s++) {
                if (*s == '\\' && (s[1] == '"' || s[1] == '\\')) s++;
                if (n + 1 >= sizeof name) return NULL;
                name[n++] = *s;
            }
            if (*s++ != '"') return NULL;
            v = member_n(v, name, n);
        } else {
            size_t n = strcspn(s, ".[\"");
            if (n == 0) return NULL;
            v = member_n(v, s, n);
            s += n;
        }
    }
    return v;
}

int app_json_get_number(const app_json_value *root, const char *path, double *out)
{
    const app_json_value *v = app_json_lookup(root, path);
    if (!v || v->type != APP_JSON_NUMBER) return AD_ERR_ARG;
    *out = v->number;
    return AD_OK;
}

int app_json_all_finite(const app_json_value *v)
{
    if (!v) return 1;
    if (v->type == APP_JSON_NUMBER) return isfinite(v->number) ? 1 : 0;
    for (size_t i = 0; i < v->n_items; i++)
        if (!app_json_all_finite(&v->items[i])) return 0;
    return 1;
}

size_t app_json_count(const app_json_value *v, app_json_type type)
{
    if (!v) return 0;
    size_t n = v->type == type;
    for (size_t i = 0; i < v->n_items; i++) n += app_json_count(&v->items[i], type);
    return n;
}
