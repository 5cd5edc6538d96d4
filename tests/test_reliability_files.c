/* test_reliability_files.c - damaged and hostile input files, table-driven:
 * every case names its expected status and a piece of the message.
 *
 * Checkpoints: a small real checkpoint truncated at every byte, every bit of
 * it flipped in turn, and named damages (magic, version, byte order, scalar
 * size, huge tensor counts, dimension counts, extents and value counts,
 * non-finite values, trailing bytes, another model).  Loading never
 * changes the model on error and never allocates by a size read from the
 * file.  CSV: empty, header only, non-numeric, ragged, NaN and inf refused
 * (accepted when allowed), overlong lines, a missing final newline, CRLF,
 * embedded NUL bytes; errors name the file and the line. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "autodiff/ad.h"
#include "ck_util.h"
#include "nn/nn_checkpoint.h"
#include "sampling/smp_data.h"

/* ------------------------------------------------------------ helpers */

static void write_bytes(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, size, f), size);
    ck_assert_int_eq(fclose(f), 0);
}

static unsigned char *read_bytes(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    unsigned char *b = malloc(1 << 16);
    *size = fread(b, 1, 1 << 16, f);
    fclose(f);
    return b;
}

/* The model every checkpoint here is loaded into: w [2,3], b [3] and a
 * fixed mean [2]: 11 values, a 160-byte file (format 2, empty label).
 * Offsets in that file: */
enum {
    AT_VERSION = 8, AT_BOM = 12, AT_REAL = 16, AT_COUNT = 20,
    AT_LABEL_LEN = 24,          /* u32, then the label (none here) */
    AT_SHAPES = 28,             /* w: 2, 2, 3;  b: 1, 3;  mean: 1, 2 */
    AT_N_VALUES = 28 + 28,      /* u64 */
    AT_VALUES = 28 + 28 + 8,    /* 11 doubles */
    CKPT_SIZE = 28 + 28 + 8 + 88 + 8
};

static nn_params *model(int w_rows, int w_cols, uint64_t seed)
{
    nn_params *p = nn_params_new();
    ck_assert_ptr_nonnull(p);
    nn_params_add(p, "w", 2, (int[]){w_rows, w_cols}, NN_INIT_GLOROT);
    nn_params_add(p, "b", 1, (int[]){w_cols}, NN_INIT_GLOROT);
    nn_params_add_fixed(p, "mean", 1, (int[]){2}, (const ad_real[]){0.5, -0.25});
    ad_rng r;
    ad_rng_seed(&r, seed, 0);
    ck_assert_int_eq(nn_params_finalize(p, &r, NULL, 0), AD_OK);
    return p;
}

/* A fixture shared by the checkpoint cases: the good image and a target
 * model with a snapshot of its values. */
typedef struct ckpt_fixture {
    char dir[512], good[600], bad[600];
    unsigned char *img;
    size_t size;
    nn_params *target;
    ad_real snap[11];
} ckpt_fixture;

static void fixture_open(ckpt_fixture *f, const char *tag)
{
    snprintf(f->dir, sizeof f->dir, "%s", ck_tmpdir(tag));
    snprintf(f->good, sizeof f->good, "%s/good.ckpt", f->dir);
    snprintf(f->bad, sizeof f->bad, "%s/bad.ckpt", f->dir);
    nn_params *src = model(2, 3, 1);
    char msg[256];
    ck_assert_msg(nn_checkpoint_save(src, f->good, msg, sizeof msg) == AD_OK, "%s", msg);
    nn_params_free(src);
    f->img = read_bytes(f->good, &f->size);
    ck_assert_uint_eq(f->size, CKPT_SIZE);
    f->target = model(2, 3, 2);
    ck_assert_uint_eq(nn_params_size(f->target), 11);
    memcpy(f->snap, nn_params_values(f->target), sizeof f->snap);
}

static void fixture_close(ckpt_fixture *f)
{
    free(f->img);
    nn_params_free(f->target);
}

/* Load `bad` into the target; the status and message are returned, the
 * model must be unchanged and at most the one read buffer allocated. */
static int load_bad(ckpt_fixture *f, const char *path, char *msg, size_t len)
{
    long before = ad_alloc_count();
    int st = nn_checkpoint_load(f->target, path, msg, len);
    ck_assert_msg(ad_alloc_count() - before <= 1, "%ld allocations for a %zu-byte file",
                  ad_alloc_count() - before, f->size);
    ck_assert_msg(memcmp(nn_params_values(f->target), f->snap, sizeof f->snap) == 0,
                  "status %d (%s) but the model changed", st, msg);
    return st;
}

static void put32(unsigned char *b, size_t at, uint32_t v) { memcpy(b + at, &v, 4); }
static void put64(unsigned char *b, size_t at, uint64_t v) { memcpy(b + at, &v, 8); }
static void putd(unsigned char *b, size_t at, double v) { memcpy(b + at, &v, 8); }

/* Recompute the trailing checksum of b[size] (so the damage is seen by the
 * check behind it). */
static void fix_checksum(unsigned char *b, size_t size)
{
    put64(b, size - 8, nn_fnv1a64(NN_FNV1A64_INIT, b, size - 8));
}

/* ------------------------------------------------------------ checkpoints */

/* Truncated at every byte: the message says why at each length. */
START_TEST(test_ckpt_truncated_every_byte)
{
    ckpt_fixture f;
    fixture_open(&f, "rel-trunc");
    char msg[512];
    for (size_t len = 0; len < f.size; len++) {
        write_bytes(f.bad, f.img, len);
        int st = load_bad(&f, f.bad, msg, sizeof msg);
        ck_assert_msg(st == AD_ERR_FORMAT, "length %zu: status %d (%s)", len, st, msg);
        const char *want = len < 8 ? "is not a libbg checkpoint (bad magic, file too short)"
                                   : "is truncated (";
        ck_assert_msg(strstr(msg, want) != NULL, "length %zu: '%s'", len, msg);
        ck_assert_msg(strstr(msg, f.bad) != NULL, "length %zu: no path in '%s'", len, msg);
        if (len >= 8 && len < 24) ck_assert(strstr(msg, "header incomplete") != NULL);
    }
    fixture_close(&f);
}
END_TEST

/* Every single-bit flip anywhere in the file is caught (FNV-1a changes
 * with any one changed byte), and leaves the model as it was. */
START_TEST(test_ckpt_every_bit_flipped)
{
    ckpt_fixture f;
    fixture_open(&f, "rel-flip");
    char msg[512];
    for (size_t at = 0; at < f.size; at++)
        for (int bit = 0; bit < 8; bit++) {
            f.img[at] ^= (unsigned char)(1u << bit);
            write_bytes(f.bad, f.img, f.size);
            f.img[at] ^= (unsigned char)(1u << bit);
            int st = load_bad(&f, f.bad, msg, sizeof msg);
            ck_assert_msg(st == AD_ERR_FORMAT, "byte %zu bit %d: status %d (%s)", at, bit, st,
                          msg);
            ck_assert_msg(strncmp(msg, "nn_checkpoint_load: ", 20) == 0, "'%s'", msg);
        }
    /* and the untouched file still loads, bit for bit */
    ck_assert_int_eq(nn_checkpoint_load(f.target, f.good, msg, sizeof msg), AD_OK);
    ck_assert(memcmp(nn_params_values(f.target), f.img + AT_VALUES, 88) == 0);
    fixture_close(&f);
}
END_TEST

/* One named damage: edit the image (size may change), then the expected
 * status and a piece of the message. */
typedef struct ckpt_case {
    const char *what;
    void (*damage)(unsigned char *b, size_t *size);
    int status;
    const char *message;
} ckpt_case;

static void d_empty(unsigned char *b, size_t *size) { (void)b; *size = 0; }
static void d_magic(unsigned char *b, size_t *size) { (void)size; memcpy(b, "LIBBGCKQ", 8); }
static void d_text(unsigned char *b, size_t *size)
{
    *size = (size_t)sprintf((char *)b, "x0,x1\n1,2\n");
}
static void d_version(unsigned char *b, size_t *size)
{
    put32(b, AT_VERSION, 3);
    fix_checksum(b, *size);
}
static void d_version_max(unsigned char *b, size_t *size)
{
    put32(b, AT_VERSION, UINT32_MAX);
    fix_checksum(b, *size);
}
static void d_label_max(unsigned char *b, size_t *size)
{
    (void)size;
    put32(b, AT_LABEL_LEN, UINT32_MAX);
}
static void d_label_long(unsigned char *b, size_t *size)
{
    (void)size;
    put32(b, AT_LABEL_LEN, 4000);
}
static void d_swapped(unsigned char *b, size_t *size) { (void)size; put32(b, AT_BOM, 0x04030201u); }
static void d_bom(unsigned char *b, size_t *size) { (void)size; put32(b, AT_BOM, 0); }
static void d_float(unsigned char *b, size_t *size) { (void)size; put32(b, AT_REAL, 4); }
static void d_count_max(unsigned char *b, size_t *size)
{
    (void)size;
    put32(b, AT_COUNT, UINT32_MAX);
}
static void d_count_1e6(unsigned char *b, size_t *size)
{
    put32(b, AT_COUNT, 1000000);
    fix_checksum(b, *size);
}
static void d_count_zero(unsigned char *b, size_t *size)
{
    /* no shapes, no values: a well-formed empty checkpoint */
    put32(b, AT_COUNT, 0);
    memmove(b + AT_SHAPES, b + AT_N_VALUES, 8);
    put64(b, AT_SHAPES, 0);
    *size = AT_SHAPES + 8 + 8;
    fix_checksum(b, *size);
}
static void d_dims_max(unsigned char *b, size_t *size)
{
    (void)size;
    put32(b, AT_SHAPES, UINT32_MAX);
}
static void d_extent_max(unsigned char *b, size_t *size)
{
    put32(b, AT_SHAPES + 4, UINT32_MAX);
    fix_checksum(b, *size);
}
static void d_values_huge(unsigned char *b, size_t *size)
{
    put64(b, AT_N_VALUES, (uint64_t)1 << 62);
    fix_checksum(b, *size);
}
static void d_values_wrap(unsigned char *b, size_t *size)
{
    /* 2^61 + 11 doubles: the byte count wraps to 88 in 64 bits */
    put64(b, AT_N_VALUES, ((uint64_t)1 << 61) + 11);
    fix_checksum(b, *size);
}
static void d_values_less(unsigned char *b, size_t *size)
{
    put64(b, AT_N_VALUES, 10);
    fix_checksum(b, *size);
}
static void d_nan(unsigned char *b, size_t *size)
{
    putd(b, AT_VALUES, NAN);
    fix_checksum(b, *size);
}
static void d_inf(unsigned char *b, size_t *size)
{
    putd(b, AT_VALUES + 3 * 8, -INFINITY);
    fix_checksum(b, *size);
}
static void d_trailing(unsigned char *b, size_t *size)
{
    memset(b + *size, 0, 5);
    *size += 5;
}
static void d_checksum(unsigned char *b, size_t *size) { b[*size - 1] ^= 0x80; }
static void d_value_bit(unsigned char *b, size_t *size) { (void)size; b[AT_VALUES + 17] ^= 4; }

static const ckpt_case ckpt_cases[] = {
    {"empty file", d_empty, AD_ERR_FORMAT, "is not a libbg checkpoint (bad magic, file too short)"},
    {"wrong magic", d_magic, AD_ERR_FORMAT, "is not a libbg checkpoint (bad magic)"},
    {"a CSV file", d_text, AD_ERR_FORMAT, "is not a libbg checkpoint (bad magic)"},
    {"version 3", d_version, AD_ERR_FORMAT, "has format version 3; this library reads versions 1 to 2"},
    {"label of 2^32-1 bytes", d_label_max, AD_ERR_FORMAT, "claims a label of 4294967295 bytes"},
    {"label past the end", d_label_long, AD_ERR_FORMAT, "is truncated (160 bytes)"},
    {"version 2^32-1", d_version_max, AD_ERR_FORMAT, "has format version 4294967295"},
    {"other byte order", d_swapped, AD_ERR_FORMAT, "written on a machine of the other byte order"},
    {"bad byte-order mark", d_bom, AD_ERR_FORMAT, "has a bad byte-order mark (damaged file)"},
    {"float scalars", d_float, AD_ERR_FORMAT, "stores 4-byte scalars; this build uses 8-byte ones"},
    {"2^32-1 tensors", d_count_max, AD_ERR_FORMAT, "claims 4294967295 tensors (damaged file)"},
    {"10^6 tensors", d_count_1e6, AD_ERR_FORMAT, "tensor 3 has 11 dimensions (damaged file)"},
    {"no tensors", d_count_zero, AD_ERR_SHAPE, "holds 0 tensors, the model has 3"},
    {"2^32-1 dimensions", d_dims_max, AD_ERR_FORMAT, "tensor 0 has 4294967295 dimensions"},
    {"extent 2^32-1", d_extent_max, AD_ERR_SHAPE, "tensor 0 (w) has shape [4294967295,3], the "
                                                  "model expects [2,3]"},
    {"2^62 values", d_values_huge, AD_ERR_FORMAT, "is truncated (160 bytes)"},
    {"value count wrapping", d_values_wrap, AD_ERR_FORMAT, "is truncated (160 bytes)"},
    {"one value fewer", d_values_less, AD_ERR_FORMAT, "has 8 unexpected trailing bytes"},
    {"NaN value", d_nan, AD_ERR_FORMAT, "value 0 is not finite"},
    {"-inf value", d_inf, AD_ERR_FORMAT, "value 3 is not finite"},
    {"trailing bytes", d_trailing, AD_ERR_FORMAT, "has 5 unexpected trailing bytes"},
    {"checksum damaged", d_checksum, AD_ERR_FORMAT, "is corrupted (checksum mismatch)"},
    {"value bit flipped", d_value_bit, AD_ERR_FORMAT, "is corrupted (checksum mismatch)"},
};
#define N_CKPT_CASES ((int)(sizeof ckpt_cases / sizeof ckpt_cases[0]))

START_TEST(test_ckpt_damage)
{
    const ckpt_case *c = &ckpt_cases[_i];
    ckpt_fixture f;
    fixture_open(&f, "rel-ckpt-case");
    unsigned char *b = calloc(f.size + 64, 1);
    memcpy(b, f.img, f.size);
    size_t size = f.size;
    c->damage(b, &size);
    write_bytes(f.bad, b, size);
    char msg[512] = "";
    int st = load_bad(&f, f.bad, msg, sizeof msg);
    ck_assert_msg(st == c->status, "%s: status %d, expected %d (%s)", c->what, st, c->status, msg);
    ck_assert_msg(strstr(msg, c->message) != NULL, "%s: '%s' lacks '%s'", c->what, msg, c->message);
    free(b);
    fixture_close(&f);
}
END_TEST

/* Files that are not what the model holds, and files that cannot be read. */
START_TEST(test_ckpt_other_model_and_io)
{
    ckpt_fixture f;
    fixture_open(&f, "rel-ckpt-other");
    char msg[512], path[700];
    /* a checkpoint of another shape: refused, the model unchanged */
    nn_params *other = model(3, 2, 5);
    snprintf(path, sizeof path, "%s/other.ckpt", f.dir);
    ck_assert_int_eq(nn_checkpoint_save(other, path, msg, sizeof msg), AD_OK);
    ck_assert_int_eq(load_bad(&f, path, msg, sizeof msg), AD_ERR_SHAPE);
    ck_assert_msg(strstr(msg, "tensor 0 (w) has shape [3,2], the model expects [2,3]"), "%s", msg);
    nn_params_free(other);
    /* fewer tensors */
    nn_params *two = nn_params_new();
    nn_params_add(two, "w", 2, (int[]){2, 3}, NN_INIT_ZERO);
    nn_params_finalize(two, NULL, NULL, 0);
    ck_assert_int_eq(nn_checkpoint_save(two, path, msg, sizeof msg), AD_OK);
    ck_assert_int_eq(load_bad(&f, path, msg, sizeof msg), AD_ERR_SHAPE);
    ck_assert_msg(strstr(msg, "holds 1 tensors, the model has 3"), "%s", msg);
    nn_params_free(two);
    /* missing file, a directory */
    snprintf(path, sizeof path, "%s/missing.ckpt", f.dir);
    ck_assert_int_eq(load_bad(&f, path, msg, sizeof msg), AD_ERR_IO);
    ck_assert_msg(strstr(msg, "cannot open") != NULL, "%s", msg);
    ck_assert_int_eq(load_bad(&f, f.dir, msg, sizeof msg), AD_ERR_IO);
    ck_assert_msg(strstr(msg, "cannot read") != NULL, "%s", msg);
    /* NULL arguments */
    ck_assert_int_eq(nn_checkpoint_load(NULL, f.good, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_int_eq(nn_checkpoint_load(f.target, NULL, msg, sizeof msg), AD_ERR_ARG);
    /* a message buffer of any size, even none */
    char small[8];
    ck_assert_int_eq(nn_checkpoint_load(f.target, path, small, sizeof small), AD_ERR_IO);
    ck_assert_uint_eq(strlen(small), 7);
    ck_assert_int_eq(nn_checkpoint_load(f.target, path, NULL, 0), AD_ERR_IO);
    ck_assert(memcmp(nn_params_values(f.target), f.snap, sizeof f.snap) == 0);
    fixture_close(&f);
}
END_TEST

/* ------------------------------------------------------------ CSV */

/* One CSV input: its bytes (len 0: strlen), allow_nonfinite, the status,
 * a piece of the message (after "<path>"), and for accepted files the
 * shape and one value to check. */
typedef struct csv_case {
    const char *what;
    const char *text;
    size_t len;
    int allow;
    int status;
    const char *message;
    int n, dim;
    int check_at;   /* index of a value to compare (-1: none) */
    double value;   /* its expected value (NaN: must be NaN) */
} csv_case;

static const csv_case csv_cases[] = {
    {"empty file", "", 0, 0, AD_ERR_FORMAT, ": empty file (no header line)", 0, 0, -1, 0},
    {"blank lines only", "\n \r\n\t\n", 0, 0, AD_ERR_FORMAT, ": empty file (no header line)", 0, 0,
     -1, 0},
    {"header only", "a,b\n", 0, 0, AD_OK, NULL, 0, 2, -1, 0},
    {"header only, no newline", "a,b", 0, 0, AD_OK, NULL, 0, 2, -1, 0},
    {"missing final newline", "a,b\n1,2\n3,4", 0, 0, AD_OK, NULL, 2, 2, 3, 4},
    {"CRLF line ends", "a,b\r\n1,2\r\n3,4.5\r\n", 0, 0, AD_OK, NULL, 2, 2, 3, 4.5},
    {"CRLF, no final newline", "a,b\r\n1,2\r\n3,4.5", 0, 0, AD_OK, NULL, 2, 2, 3, 4.5},
    {"blank lines between rows", "a\n1\n\n  \n2\n", 0, 0, AD_OK, NULL, 2, 1, 1, 2},
    {"spaces around values", "a , b\n 1 ,\t2 \n", 0, 0, AD_OK, NULL, 1, 2, 1, 2},
    {"exponents and -0", "a,b\n1e-300,-0\n", 0, 0, AD_OK, NULL, 1, 2, 0, 1e-300},
    {"non-numeric cell", "a,b\n1,2\n3,abc\n", 0, 0, AD_ERR_FORMAT,
     ":3: column 2: 'abc' is not a number", 0, 0, -1, 0},
    {"number with junk", "a,b\n1.5x,2\n", 0, 0, AD_ERR_FORMAT,
     ":2: column 1: '1.5x' is not a number", 0, 0, -1, 0},
    {"two numbers in a cell", "a\n1 2\n", 0, 0, AD_ERR_FORMAT,
     ":2: column 1: '1 2' is not a number", 0, 0, -1, 0},
    {"empty cell", "a,b,c\n1,,3\n", 0, 0, AD_ERR_FORMAT, ":2: column 2: '' is not a number", 0, 0,
     -1, 0},
    {"quoted number", "a\n\"1\"\n", 0, 0, AD_ERR_FORMAT, ":2: column 1: '\"1\"' is not a number", 0,
     0, -1, 0},
    {"ragged: short row", "a,b\n1,2\n3\n", 0, 0, AD_ERR_FORMAT,
     ":3: 1 fields, expected 2 (the header has 2 columns)", 0, 0, -1, 0},
    {"ragged: long row", "a,b\n1,2,3\n", 0, 0, AD_ERR_FORMAT, ":2: 3 fields, expected 2", 0, 0, -1,
     0},
    {"ragged after blank lines", "a,b\n\n\n1\n", 0, 0, AD_ERR_FORMAT, ":4: 1 fields, expected 2", 0,
     0, -1, 0},
    {"header column without a name", "a,,c\n1,2,3\n", 0, 0, AD_ERR_FORMAT,
     ":1: header column 2 has no name", 0, 0, -1, 0},
    {"NaN refused", "a,b\n1,2\nnan,3\n", 0, 0, AD_ERR_NUMERIC, ":3: column 1: non-finite value nan",
     0, 0, -1, 0},
    {"inf refused", "a,b\n1,inf\n", 0, 0, AD_ERR_NUMERIC, ":2: column 2: non-finite value inf", 0,
     0, -1, 0},
    {"-inf refused", "a\n-Infinity\n", 0, 0, AD_ERR_NUMERIC, ":2: column 1: non-finite value -inf",
     0, 0, -1, 0},
    {"overflow to inf refused", "a\n1e999\n", 0, 0, AD_ERR_NUMERIC,
     ":2: column 1: non-finite value inf", 0, 0, -1, 0},
    {"NaN allowed", "a,b\n1,NaN\n", 0, 1, AD_OK, NULL, 1, 2, 1, NAN},
    {"inf allowed", "a,b\n-inf,2\n", 0, 1, AD_OK, NULL, 1, 2, 0, -INFINITY},
    {"NUL byte in a row", "a,b\n1\0,2\n", 9, 0, AD_ERR_FORMAT, ":2: 1 fields, expected 2", 0, 0, -1,
     0},
    {"binary garbage", "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16, 0, AD_ERR_FORMAT,
     ":2: column 1: '\x1a' is not a number", 0, 0, -1, 0},
};
#define N_CSV_CASES ((int)(sizeof csv_cases / sizeof csv_cases[0]))

static void check_csv(const char *path, const csv_case *c)
{
    char msg[512] = "";
    static smp_dataset sentinel;
    smp_dataset *d = &sentinel; /* must become NULL on error */
    int st = smp_csv_read(path, c->allow, &d, msg, sizeof msg);
    ck_assert_msg(st == c->status, "%s: status %d, expected %d (%s)", c->what, st, c->status, msg);
    if (st != AD_OK) {
        ck_assert_ptr_null(d);
        char want[700];
        snprintf(want, sizeof want, "%s%s", path, c->message);
        ck_assert_msg(strstr(msg, want) == msg, "%s: '%s', expected '%s...'", c->what, msg, want);
        return;
    }
    ck_assert_int_eq(d->n, c->n);
    ck_assert_int_eq(d->dim, c->dim);
    for (int j = 0; j < d->dim; j++)
        ck_assert_msg(d->names[j] && d->names[j][0] && !strpbrk(d->names[j], "\r\n \t"),
                      "%s: name %d '%s'", c->what, j, d->names[j]);
    if (c->check_at >= 0) {
        double v = d->x[c->check_at];
        if (isnan(c->value)) ck_assert_msg(isnan(v), "%s: %g", c->what, v);
        else ck_assert_msg(v == c->value, "%s: %.17g, expected %.17g", c->what, v, c->value);
    }
    smp_dataset_free(d);
}

START_TEST(test_csv_case)
{
    const csv_case *c = &csv_cases[_i];
    char path[600];
    snprintf(path, sizeof path, "%s/in.csv", ck_tmpdir("rel-csv-case"));
    write_bytes(path, c->text, c->len ? c->len : strlen(c->text));
    check_csv(path, c);
}
END_TEST

/* Lines far longer than any buffer: a 20000-column file (header and row of
 * about 150 KB each) is read; a 300 KB non-numeric cell is reported with a
 * bounded quote; a missing file and a directory are I/O errors. */
START_TEST(test_csv_overlong_and_io)
{
    const char *dir = ck_tmpdir("rel-csv-long");
    char path[600], msg[512];
    snprintf(path, sizeof path, "%s/wide.csv", dir);
    enum { COLS = 20000 };
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int j = 0; j < COLS; j++) fprintf(f, "c%d%c", j, j + 1 < COLS ? ',' : '\n');
    for (int j = 0; j < COLS; j++) fprintf(f, "%d.5%c", j, j + 1 < COLS ? ',' : '\n');
    fclose(f);
    smp_dataset *d = NULL;
    ck_assert_msg(smp_csv_read(path, 0, &d, msg, sizeof msg) == AD_OK, "%s", msg);
    ck_assert_int_eq(d->n, 1);
    ck_assert_int_eq(d->dim, COLS);
    ck_assert_str_eq(d->names[COLS - 1], "c19999");
    ck_assert_double_eq(d->x[COLS - 1], 19999.5);
    smp_dataset_free(d);

    snprintf(path, sizeof path, "%s/cell.csv", dir);
    f = fopen(path, "w");
    fputs("a\n1\n", f);
    for (int i = 0; i < 300000; i++) fputc('z', f);
    fputc('\n', f);
    fclose(f);
    ck_assert_int_eq(smp_csv_read(path, 0, &d, msg, sizeof msg), AD_ERR_FORMAT);
    char want[700];
    snprintf(want, sizeof want, "%s:3: column 1: 'zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz' is not "
             "a number", path);
    ck_assert_str_eq(msg, want);

    snprintf(path, sizeof path, "%s/missing.csv", dir);
    ck_assert_int_eq(smp_csv_read(path, 0, &d, msg, sizeof msg), AD_ERR_IO);
    ck_assert_msg(strstr(msg, ": cannot open: ") != NULL, "%s", msg);
    ck_assert_int_eq(smp_csv_read(dir, 0, &d, msg, sizeof msg), AD_ERR_IO);
    ck_assert_msg(strstr(msg, "read error") != NULL, "%s", msg);
    ck_assert_ptr_null(d);
    ck_assert_int_eq(smp_csv_read(NULL, 0, &d, msg, sizeof msg), AD_ERR_ARG);
}
END_TEST

/* ------------------------------------------------------------ the library */

/* The library reports and never decides: no exit or abort, and it prints
 * nothing (no printf family on stdout, no stderr).  Checked on the built
 * archive: `nm -u` lists what its objects call. */
START_TEST(test_library_never_exits_or_prints)
{
    static const char *const forbidden[] = {"exit", "_exit", "_Exit", "quick_exit", "abort",
                                            "printf", "vprintf", "puts", "putchar", "perror",
                                            "stdout", "stderr", "system"};
    char lib[600], cmd[700], line[256];
    snprintf(lib, sizeof lib, "%s/../libbg.a", ck_bin_dir());
    struct stat st;
    ck_assert_msg(stat(lib, &st) == 0, "no library at %s (BG_BIN_DIR)", lib);
    snprintf(cmd, sizeof cmd, "nm -u '%s' 2>/dev/null", lib);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    int symbols = 0;
    while (fgets(line, sizeof line, p)) {
        char kind[8], name[200];
        if (sscanf(line, "%7s %199s", kind, name) != 2) continue;
        symbols++;
        for (size_t i = 0; i < sizeof forbidden / sizeof forbidden[0]; i++)
            ck_assert_msg(strcmp(name, forbidden[i]) != 0, "libbg.a calls %s", name);
    }
    ck_assert_int_eq(pclose(p), 0);
    ck_assert_msg(symbols > 50, "nm -u listed only %d symbols (is nm installed?)", symbols);
}
END_TEST

Suite *reliability_files_suite(void)
{
    Suite *s = suite_create("reliability-files");
    TCase *tc = tcase_create("errors");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_ckpt_truncated_every_byte);
    tcase_add_test(tc, test_ckpt_every_bit_flipped);
    tcase_add_loop_test(tc, test_ckpt_damage, 0, N_CKPT_CASES);
    tcase_add_test(tc, test_ckpt_other_model_and_io);
    tcase_add_loop_test(tc, test_csv_case, 0, N_CSV_CASES);
    tcase_add_test(tc, test_csv_overlong_and_io);
    tcase_add_test(tc, test_library_never_exits_or_prints);
    suite_add_tcase(s, tc);
    return s;
}
