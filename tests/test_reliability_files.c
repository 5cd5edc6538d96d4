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
 * NUL and control bytes, a checkpoint read as CSV; errors name the file and
 * the line.  Hostile paths: a FIFO, a link to /dev/zero, a directory, a file
 * over the size limit, in place of every reader's file, refused at once;
 * empty and NULL paths refused by every writer (and ./.tmp left alone); paths
 * longer than any old fixed buffer. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "apps/toolkit/app_fs.h"
#include "apps/toolkit/app_json.h"
#include "autodiff/ad.h"
#include "ck_util.h"
#include "flows/bg_train.h"
#include "flows/flow_realnvp.h"
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
 * fixed mean [2]: 11 values, a 160-byte file (format 2, empty label; 116
 * bytes in the float build, whose scalars are 4 bytes).
 * Offsets in that file: */
enum {
    AT_VERSION = 8, AT_BOM = 12, AT_REAL = 16, AT_COUNT = 20,
    AT_LABEL_LEN = 24,          /* u32, then the label (none here) */
    AT_SHAPES = 28,             /* w: 2, 2, 3;  b: 1, 3;  mean: 1, 2 */
    AT_N_VALUES = 28 + 28,      /* u64 */
    AT_VALUES = 28 + 28 + 8,    /* 11 ad_reals */
    VALUES_SIZE = (int)(11 * sizeof(ad_real)),
    CKPT_SIZE = 28 + 28 + 8 + VALUES_SIZE + 8
};
/* What the loader says about this file's size and about the other build's
 * scalars. */
#ifdef AD_REAL_FLOAT
#define CKPT_TRUNCATED "is truncated (116 bytes)"
#define OTHER_REAL_SIZE 8
#define OTHER_REAL_MSG "stores 8-byte scalars; this build uses 4-byte ones"
#else
#define CKPT_TRUNCATED "is truncated (160 bytes)"
#define OTHER_REAL_SIZE 4
#define OTHER_REAL_MSG "stores 4-byte scalars; this build uses 8-byte ones"
#endif

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
static void putd(unsigned char *b, size_t at, double v)
{
    ad_real r = (ad_real)v;
    memcpy(b + at, &r, sizeof r);
}

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
    ck_assert(memcmp(nn_params_values(f.target), f.img + AT_VALUES, VALUES_SIZE) == 0);
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
static void d_float(unsigned char *b, size_t *size) { (void)size; put32(b, AT_REAL, OTHER_REAL_SIZE); }
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
    /* 2^61 + 11 doubles (2^62 + 11 floats): the byte count wraps to 88
     * (44) in 64 bits */
    put64(b, AT_N_VALUES, (UINT64_MAX / sizeof(ad_real) + 1) + 11);
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
    putd(b, AT_VALUES + 3 * sizeof(ad_real), -INFINITY);
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
    {"label past the end", d_label_long, AD_ERR_FORMAT, CKPT_TRUNCATED},
    {"version 2^32-1", d_version_max, AD_ERR_FORMAT, "has format version 4294967295"},
    {"other byte order", d_swapped, AD_ERR_FORMAT, "written on a machine of the other byte order"},
    {"bad byte-order mark", d_bom, AD_ERR_FORMAT, "has a bad byte-order mark (damaged file)"},
    {"float scalars", d_float, AD_ERR_FORMAT, OTHER_REAL_MSG},
    {"2^32-1 tensors", d_count_max, AD_ERR_FORMAT, "claims 4294967295 tensors (damaged file)"},
    {"10^6 tensors", d_count_1e6, AD_ERR_FORMAT, "tensor 3 has 11 dimensions (damaged file)"},
    {"no tensors", d_count_zero, AD_ERR_SHAPE, "holds 0 tensors, the model has 3"},
    {"2^32-1 dimensions", d_dims_max, AD_ERR_FORMAT, "tensor 0 has 4294967295 dimensions"},
    {"extent 2^32-1", d_extent_max, AD_ERR_SHAPE, "tensor 0 (w) has shape [4294967295,3], the "
                                                  "model expects [2,3]"},
    {"2^62 values", d_values_huge, AD_ERR_FORMAT, CKPT_TRUNCATED},
    {"value count wrapping", d_values_wrap, AD_ERR_FORMAT, CKPT_TRUNCATED},
    {"one value fewer", d_values_less, AD_ERR_FORMAT,
     CK_REAL_FLOAT ? "has 4 unexpected trailing bytes" : "has 8 unexpected trailing bytes"},
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
    ck_assert_msg(strstr(msg, "cannot read: is a directory, not a regular file") != NULL, "%s",
                  msg);
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
    {"exponents and -0", "a,b\n1e-300,-0\n", 0, 0, AD_OK, NULL, 1, 2, 0, (ad_real)1e-300},
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
    {"NUL byte in a row", "a,b\n1\0,2\n", 9, 0, AD_ERR_FORMAT,
     ":2: NUL byte at byte 2 of the line: a binary file, not CSV text", 0, 0, -1, 0},
    {"NUL byte in the header", "a\0,b\n1,2\n", 9, 0, AD_ERR_FORMAT,
     ":1: NUL byte at byte 2 of the line", 0, 0, -1, 0},
    {"NUL byte after the last row", "a\n1\n\0", 5, 0, AD_ERR_FORMAT,
     ":3: NUL byte at byte 1 of the line", 0, 0, -1, 0},
    {"NUL byte on a blank line", "a\n1\n \0 \n2\n", 10, 0, AD_ERR_FORMAT,
     ":3: NUL byte at byte 2 of the line", 0, 0, -1, 0},
    {"control byte in the header", "a\x01,b\n1,2\n", 0, 0, AD_ERR_FORMAT,
     ":1: control byte 0x01 at byte 2 of the line: a binary file, not CSV text", 0, 0, -1, 0},
    {"DEL in a row", "a\n1\x7f\n", 0, 0, AD_ERR_FORMAT,
     ":2: control byte 0x7f at byte 2 of the line", 0, 0, -1, 0},
    {"CR inside a line", "a,b\r1,2\n", 0, 0, AD_ERR_FORMAT,
     ":1: control byte 0x0d at byte 4 of the line", 0, 0, -1, 0},
    {"checkpoint magic", "LIBBGCKP\1\0\0\0\4\3\2\1", 16, 0, AD_ERR_FORMAT,
     ":1: a libbg checkpoint (binary), not a CSV file", 0, 0, -1, 0},
    {"checkpoint magic, truncated to text", "LIBBGCKP", 0, 0, AD_OK, NULL, 0, 1, -1, 0},
    {"checkpoint magic as a column name", "LIBBGCKPx,b\n1,2\n", 0, 0, AD_OK, NULL, 1, 2, 1, 2},
    {"binary garbage", "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16, 0, AD_ERR_FORMAT,
     ":2: control byte 0x1a at byte 1 of the line", 0, 0, -1, 0},
    {"tabs around values", "a,b\n\t1,2\t\n", 0, 0, AD_OK, NULL, 1, 2, 1, 2},
    {"UTF-8 column names", "\xc3\xa9nergie,\xce\xb8\n1,2\n", 0, 0, AD_OK, NULL, 1, 2, 0, 1},
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
    ck_assert_msg(strstr(msg, ": cannot read: is a directory, not a regular file") != NULL, "%s",
                  msg);
    ck_assert_ptr_null(d);
    ck_assert_int_eq(smp_csv_read(NULL, 0, &d, msg, sizeof msg), AD_ERR_ARG);
}
END_TEST

/* ------------------------------------------------------------ hostile paths */

/* Every reader, on one path: the status, and the message (which must name
 * the path and hold `want`).  The checkpoint model stays unchanged and no
 * reader allocates (so nothing was read). */
static void expect_every_reader_refuses(ckpt_fixture *f, const char *path, int status,
                                        const char *want)
{
    char msg[1024];
    const char *what[5] = {"nn_checkpoint_load", "smp_csv_read", "app_fs_read_file",
                           "app_json_read_file", "ad_file_read_all"};
    for (int k = 0; k < 6; k++) {
        long before = ad_alloc_count();
        smp_dataset *d = (smp_dataset *)1;
        char *text = (char *)1;
        app_json_value *root = (app_json_value *)1;
        int st;
        msg[0] = '\0';
        switch (k) {
        case 0: st = load_bad(f, path, msg, sizeof msg); break;
        case 1: st = smp_csv_read(path, 0, &d, msg, sizeof msg); break;
        case 2: st = app_fs_read_file(path, &text, NULL, msg, sizeof msg); break;
        case 3: st = app_json_read_file(path, &root, msg, sizeof msg); break;
        default: st = ad_file_read_all(path, "reader", 1 << 20, &text, NULL, msg, sizeof msg);
        }
        ck_assert_msg(st == status, "%s(%s): status %d, expected %d (%s)", what[k], path, st,
                      status, msg);
        ck_assert_msg(strstr(msg, path) && strstr(msg, want), "%s: '%s' lacks the path or '%s'",
                      what[k], msg, want);
        ck_assert_msg(ad_alloc_count() == before, "%s: %ld allocations before refusing", what[k],
                      ad_alloc_count() - before);
        if (k == 1) ck_assert_ptr_null(d);
        if (k == 2 || k == 4) ck_assert_ptr_null(text);
        if (k == 3) ck_assert_ptr_null(root);
    }
}

/* A FIFO in place of a checkpoint, a CSV file or a JSON file: refused at
 * once (opening does not wait for a writer), naming what it is.  The alarm
 * turns a hang into a failure even without Check's fork. */
START_TEST(test_fifo_refused_at_once)
{
    ckpt_fixture f;
    fixture_open(&f, "rel-fifo");
    char path[700];
    snprintf(path, sizeof path, "%s/train_ml_record.json", f.dir);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    alarm(20);
    expect_every_reader_refuses(&f, path, AD_ERR_IO, ": cannot read: is a FIFO, not a regular file");
    /* a FIFO in place of a writer's temporary file: refused, never written */
    char msg[1024], tmp[720];
    ad_real x[2] = {1, 2};
    snprintf(path, sizeof path, "%s/out.csv", f.dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    ck_assert_int_eq(mkfifo(tmp, 0600), 0);
    ck_assert_int_eq(smp_csv_write(path, x, 1, 2, NULL, msg, sizeof msg), AD_ERR_IO);
    ck_assert_msg(strstr(msg, "cannot write: is a FIFO, not a regular file"), "%s", msg);
    struct stat st;
    ck_assert_int_eq(stat(tmp, &st), 0);
    ck_assert(S_ISFIFO(st.st_mode)); /* left as it was */
    ck_assert_int_ne(stat(path, &st), 0);
    FILE *out = NULL;
    ck_assert_int_eq(ad_file_open_write(tmp, "w", &out, msg, sizeof msg), AD_ERR_IO);
    ck_assert_ptr_null(out);
    alarm(0);
    fixture_close(&f);
}
END_TEST

/* Links to /dev/zero (the reader would never see an end) and a directory:
 * refused by name before a byte is read. */
START_TEST(test_devices_and_directories_refused)
{
    ckpt_fixture f;
    fixture_open(&f, "rel-dev");
    char path[700];
    struct stat st;
    if (stat("/dev/zero", &st) == 0 && S_ISCHR(st.st_mode)) {
        alarm(20);
        snprintf(path, sizeof path, "%s/cache.json", f.dir);
        ck_assert_int_eq(symlink("/dev/zero", path), 0);
        expect_every_reader_refuses(&f, path, AD_ERR_IO,
                                    ": cannot read: is a character device, not a regular file");
        expect_every_reader_refuses(&f, "/dev/zero", AD_ERR_IO, "is a character device");
        alarm(0);
    }
    snprintf(path, sizeof path, "%s/adir.ckpt", f.dir);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    expect_every_reader_refuses(&f, path, AD_ERR_IO,
                                ": cannot read: is a directory, not a regular file");
    /* a link to a directory too */
    char link[720];
    snprintf(link, sizeof link, "%s/link.csv", f.dir);
    ck_assert_int_eq(symlink(path, link), 0);
    expect_every_reader_refuses(&f, link, AD_ERR_IO, "is a directory");
    /* a dangling link is a missing file */
    snprintf(link, sizeof link, "%s/dangling.csv", f.dir);
    snprintf(path, sizeof path, "%s/nowhere", f.dir);
    ck_assert_int_eq(symlink(path, link), 0);
    expect_every_reader_refuses(&f, link, AD_ERR_IO, ": cannot open: No such file or directory");
    fixture_close(&f);
}
END_TEST

/* Symbolic links to regular files are followed, by every reader. */
START_TEST(test_links_to_regular_files_followed)
{
    ckpt_fixture f;
    fixture_open(&f, "rel-link");
    char link[700], target[700], msg[512];
    snprintf(link, sizeof link, "%s/link.ckpt", f.dir);
    ck_assert_int_eq(symlink(f.good, link), 0);
    ck_assert_msg(nn_checkpoint_load(f.target, link, msg, sizeof msg) == AD_OK, "%s", msg);
    ck_assert(memcmp(nn_params_values(f.target), f.img + AT_VALUES, VALUES_SIZE) == 0);

    snprintf(target, sizeof target, "%s/data.csv", f.dir);
    write_bytes(target, "a,b\n1,2\n", 8);
    snprintf(link, sizeof link, "%s/link.csv", f.dir);
    ck_assert_int_eq(symlink(target, link), 0);
    smp_dataset *d = NULL;
    ck_assert_msg(smp_csv_read(link, 0, &d, msg, sizeof msg) == AD_OK, "%s", msg);
    ck_assert_int_eq(d->n, 1);
    ck_assert_double_eq(d->x[1], 2);
    smp_dataset_free(d);

    snprintf(target, sizeof target, "%s/cache.json", f.dir);
    write_bytes(target, "{\"n\": 3}", 8);
    snprintf(link, sizeof link, "%s/link.json", f.dir);
    ck_assert_int_eq(symlink(target, link), 0);
    app_json_value *root = NULL;
    ck_assert_msg(app_json_read_file(link, &root, msg, sizeof msg) == AD_OK, "%s", msg);
    double n = 0;
    ck_assert_int_eq(app_json_get_number(root, "n", &n), AD_OK);
    ck_assert_double_eq(n, 3);
    app_json_value_free(root);
    char *text = NULL;
    size_t len = 0;
    ck_assert_int_eq(app_fs_read_file(link, &text, &len, msg, sizeof msg), AD_OK);
    ck_assert_uint_eq(len, 8);
    ck_assert_str_eq(text, "{\"n\": 3}");
    ad_free(text);
    fixture_close(&f);
}
END_TEST

/* A sparse file of `size` bytes (no disk space used). */
static void sparse_file(const char *path, off_t size)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(ftruncate(fileno(f), size), 0);
    ck_assert_int_eq(fclose(f), 0);
}

/* Files over a reader's limit are refused from their size alone: no byte
 * read, nothing allocated. */
START_TEST(test_size_limits)
{
    ckpt_fixture f;
    fixture_open(&f, "rel-size");
    char path[700], msg[1024], want[900];
    long before;
    /* CSV: 1 GiB is read ... one byte more is not */
    snprintf(path, sizeof path, "%s/huge.csv", f.dir);
    sparse_file(path, (off_t)SMP_CSV_MAX_BYTES + 1);
    smp_dataset *d = (smp_dataset *)1;
    before = ad_alloc_count();
    ck_assert_int_eq(smp_csv_read(path, 0, &d, msg, sizeof msg), AD_ERR_FORMAT);
    ck_assert_int_eq(ad_alloc_count(), before);
    ck_assert_ptr_null(d);
    snprintf(want, sizeof want, "%s: 1073741825 bytes, more than the limit of 1073741824 bytes; "
             "not read", path);
    ck_assert_str_eq(msg, want);
    /* JSON: 16 MiB */
    snprintf(path, sizeof path, "%s/huge.json", f.dir);
    sparse_file(path, (off_t)APP_JSON_MAX_FILE_BYTES + 1);
    app_json_value *root = (app_json_value *)1;
    before = ad_alloc_count();
    ck_assert_int_eq(app_json_read_file(path, &root, msg, sizeof msg), AD_ERR_FORMAT);
    ck_assert_int_eq(ad_alloc_count(), before);
    ck_assert_ptr_null(root);
    snprintf(want, sizeof want, "app_json_read_file: %s: 16777217 bytes, more than the limit of "
             "16777216 bytes; not read", path);
    ck_assert_str_eq(msg, want);
    /* ... and at the limit it is read (as JSON it is 16 MiB of NUL bytes) */
    sparse_file(path, (off_t)APP_JSON_MAX_FILE_BYTES);
    ck_assert_int_eq(app_json_read_file(path, &root, msg, sizeof msg), AD_ERR_FORMAT);
    ck_assert_msg(strstr(msg, "line 1, column 1: unexpected character"), "%s", msg);
    /* app_fs_read_file: 256 MiB */
    snprintf(path, sizeof path, "%s/huge.txt", f.dir);
    sparse_file(path, (off_t)APP_FS_READ_MAX + 1);
    char *text = (char *)1;
    before = ad_alloc_count();
    ck_assert_int_eq(app_fs_read_file(path, &text, NULL, msg, sizeof msg), AD_ERR_FORMAT);
    ck_assert_int_eq(ad_alloc_count(), before);
    ck_assert_ptr_null(text);
    ck_assert_msg(strstr(msg, "bytes, more than the limit of 268435456 bytes"), "%s", msg);
    /* a caller's own limit */
    write_bytes(path, "0123456789", 10);
    ck_assert_int_eq(app_fs_read_file_max(path, 9, &text, NULL, msg, sizeof msg), AD_ERR_FORMAT);
    size_t len = 0;
    ck_assert_int_eq(app_fs_read_file_max(path, 10, &text, &len, msg, sizeof msg), AD_OK);
    ck_assert_uint_eq(len, 10);
    ck_assert_str_eq(text, "0123456789");
    ad_free(text);
    fixture_close(&f);
}
END_TEST

/* A file that reports size 0 but has content (as /proc files do) is read
 * until its end, and refused when it goes past the limit. */
START_TEST(test_growing_file_stops_at_the_limit)
{
    const char *proc = "/proc/self/status";
    struct stat st;
    if (stat(proc, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != 0) return; /* not Linux */
    char *text = NULL, msg[512];
    size_t len = 0;
    ck_assert_int_eq(ad_file_read_all(proc, "t", 1 << 20, &text, &len, msg, sizeof msg), AD_OK);
    ck_assert_uint_gt(len, 20);
    ck_assert_uint_eq(strlen(text), len);
    ck_assert(strncmp(text, "Name:", 5) == 0);
    ad_free(text);
    text = (char *)1;
    ck_assert_int_eq(ad_file_read_all(proc, "t", 20, &text, &len, msg, sizeof msg),
                     AD_ERR_FORMAT);
    ck_assert_ptr_null(text);
    ck_assert_str_eq(msg, "t: /proc/self/status: grew past the limit of 20 bytes while being "
                          "read");
}
END_TEST

/* A checkpoint of a given model has a size fixed by its label's length: a
 * file larger than the largest label allows is refused before it is read, a
 * few extra bytes are reported as trailing bytes, a smaller one as truncated. */
START_TEST(test_ckpt_exact_size)
{
    ckpt_fixture f;
    fixture_open(&f, "rel-ckpt-size");
    char msg[1024], want[900];
    unsigned char *b = calloc(f.size + 1, 1);
    memcpy(b, f.img, f.size);
    write_bytes(f.bad, b, f.size + 1);
    ck_assert_int_eq(load_bad(&f, f.bad, msg, sizeof msg), AD_ERR_FORMAT);
    snprintf(want, sizeof want, "nn_checkpoint_load: %s has 1 unexpected trailing bytes", f.bad);
    ck_assert_str_eq(msg, want);
    /* a gigabyte: no allocation at all */
    sparse_file(f.bad, (off_t)1 << 30);
    long before = ad_alloc_count();
    ck_assert_int_eq(load_bad(&f, f.bad, msg, sizeof msg), AD_ERR_FORMAT);
    ck_assert_int_eq(ad_alloc_count(), before);
    /* the largest checkpoint of this model: CKPT_SIZE with the longest label */
    snprintf(want, sizeof want, "is 1073741824 bytes, %ld more than",
             (1L << 30) - (long)(CKPT_SIZE + NN_CHECKPOINT_LABEL_MAX));
    ck_assert_msg(strstr(msg, want), "%s", msg);
    /* a bigger model's checkpoint */
    nn_params *big = model(2, 30, 3);
    char path[700];
    snprintf(path, sizeof path, "%s/big.ckpt", f.dir);
    ck_assert_int_eq(nn_checkpoint_save(big, path, msg, sizeof msg), AD_OK);
    nn_params_free(big);
    ck_assert_int_eq(load_bad(&f, path, msg, sizeof msg), AD_ERR_SHAPE);
    ck_assert_msg(strstr(msg, "the model expects"), "%s", msg);
    /* the exact size loads */
    ck_assert_int_eq(nn_checkpoint_load(f.target, f.good, msg, sizeof msg), AD_OK);
    free(b);
    fixture_close(&f);
}
END_TEST

/* A real checkpoint read as CSV: refused on line 1 as what it is, not read as
 * a data set of 0 rows with a column named LIBBGCKP. */
START_TEST(test_checkpoint_read_as_csv)
{
    ckpt_fixture f;
    fixture_open(&f, "rel-ckpt-csv");
    char msg[1024], want[900];
    smp_dataset *d = (smp_dataset *)1;
    ck_assert_int_eq(smp_csv_read(f.good, 1, &d, msg, sizeof msg), AD_ERR_FORMAT);
    ck_assert_ptr_null(d);
    snprintf(want, sizeof want, "%s:1: a libbg checkpoint (binary), not a CSV file", f.good);
    ck_assert_str_eq(msg, want);
    /* and a CSV file read as a checkpoint */
    char path[700];
    snprintf(path, sizeof path, "%s/data.csv", f.dir);
    write_bytes(path, "x0,x1\n1,2\n", 10);
    ck_assert_int_eq(load_bad(&f, path, msg, sizeof msg), AD_ERR_FORMAT);
    ck_assert_msg(strstr(msg, "is not a libbg checkpoint (bad magic)"), "%s", msg);
    fixture_close(&f);
}
END_TEST

/* The bytes of a file, or NULL when it cannot be read. */
static char *slurp_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *b = calloc(1, 256);
    size_t n = fread(b, 1, 255, f);
    b[n] = '\0';
    fclose(f);
    return b;
}

/* Writers refuse "" and NULL: in a directory holding a .tmp file, nothing
 * there is created, truncated or removed. */
START_TEST(test_empty_paths_touch_nothing)
{
    const char *dir = ck_tmpdir("rel-empty");
    char cwd[4096], msg[512];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(dir), 0);
    write_bytes(".tmp", "keep me", 7);
    nn_params *p = model(2, 3, 1);
    ad_real x[2] = {1, 2};
    const char *paths[2] = {"", NULL};
    for (int k = 0; k < 2; k++) {
        const char *path = paths[k];
        const char *what = path ? "an empty string" : "NULL";
        ck_assert_int_eq(smp_csv_write(path, x, 1, 2, NULL, msg, sizeof msg), AD_ERR_ARG);
        ck_assert_msg(strstr(msg, what), "%s", msg);
        ck_assert_int_eq(nn_checkpoint_save(p, path, msg, sizeof msg), AD_ERR_ARG);
        ck_assert_int_eq(app_fs_write_atomic(path, "x", 1, msg, sizeof msg), AD_ERR_ARG);
        ck_assert_int_eq(nn_checkpoint_load(p, path, msg, sizeof msg), AD_ERR_ARG);
        smp_dataset *d = NULL;
        ck_assert_int_eq(smp_csv_read(path, 0, &d, msg, sizeof msg), AD_ERR_ARG);
        ck_assert_msg(strstr(msg, what), "%s", msg);
        char *text = NULL;
        ck_assert_int_eq(app_fs_read_file(path, &text, NULL, msg, sizeof msg), AD_ERR_ARG);
        app_json_value *root = NULL;
        ck_assert_int_eq(app_json_read_file(path, &root, msg, sizeof msg), AD_ERR_ARG);
        FILE *out = NULL;
        ck_assert_int_eq(ad_file_open_write(path, "w", &out, msg, sizeof msg), AD_ERR_ARG);
        char ck[64] = "unchanged";
        ck_assert_int_eq(bg_checkpoint_path(path, 0, ck, sizeof ck), AD_ERR_ARG);
        ck_assert_str_eq(ck, "");
        ck_assert_ptr_null(bg_checkpoint_path_new(path, 0));
    }
    /* a path naming a directory would have made "sub/.tmp" or "..tmp" */
    ck_assert_int_eq(mkdir("sub", 0700), 0);
    write_bytes("sub/.tmp", "keep me", 7);
    const char *dirs[4] = {"sub/", ".", "sub/..", "./"};
    for (int k = 0; k < 4; k++) {
        ck_assert_int_eq(smp_csv_write(dirs[k], x, 1, 2, NULL, msg, sizeof msg), AD_ERR_ARG);
        char want[128];
        snprintf(want, sizeof want, "smp_csv_write: the file name '%s' names a directory, not a "
                 "file", dirs[k]);
        ck_assert_str_eq(msg, want);
        ck_assert_int_eq(nn_checkpoint_save(p, dirs[k], msg, sizeof msg), AD_ERR_ARG);
        ck_assert_msg(strstr(msg, "names a directory"), "%s", msg);
        ck_assert_int_eq(app_fs_write_atomic(dirs[k], "x", 1, msg, sizeof msg), AD_ERR_ARG);
    }
    char *kept = slurp_text("sub/.tmp");
    ck_assert_str_eq(kept, "keep me");
    free(kept);
    ck_assert_int_eq(remove("sub/.tmp"), 0);
    ck_assert_int_eq(rmdir("sub"), 0);
    /* ./.tmp is intact, and nothing else appeared */
    char *keep = slurp_text(".tmp");
    ck_assert_ptr_nonnull(keep);
    ck_assert_str_eq(keep, "keep me");
    free(keep);
    struct stat st;
    ck_assert_int_ne(stat("-stage1.ckpt", &st), 0);
    ck_assert_int_ne(stat("..tmp", &st), 0);
    FILE *ls = popen("ls -A | wc -l", "r");
    ck_assert_ptr_nonnull(ls);
    int count = -1;
    ck_assert_int_eq(fscanf(ls, "%d", &count), 1);
    pclose(ls);
    ck_assert_int_eq(count, 1);
    nn_params_free(p);
    ck_assert_int_eq(chdir(cwd), 0);
}
END_TEST

/* bg_train: an empty checkpoint prefix or log path is refused before any
 * training (it would put "-stage1.ckpt" in the current directory after a
 * stage); a prefix longer than any old buffer gives checkpoints under their
 * whole name. */
START_TEST(test_bg_train_paths)
{
    const char *dir = ck_tmpdir("rel-train");
    char cwd[4096], msg[512];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(dir), 0);
    int widths[2] = {4, 4};
    flow_realnvp_config rc = flow_realnvp_preset_config(FLOW_REALNVP_DOUBLE_WELL);
    rc.n_blocks = 1;
    rc.hidden_widths = widths;
    rc.seed = 3;
    flow_model *m = flow_realnvp_new(&rc, msg, sizeof msg);
    ck_assert_msg(m != NULL, "%s", msg);
    size_t n = nn_params_size(m->params);
    ad_real *before = malloc(n * sizeof *before);
    memcpy(before, nn_params_values(m->params), n * sizeof *before);
    ad_real data[8] = {0.1, 0.2, -0.3, 0.4, 0.5, -0.6, 0.7, 0.8};
    bg_stage stage = {.name = "ML", .n_iterations = 2, .batch_size = 4, .lr = 1e-3, .w_ml = 1,
                      .e_high = 100};
    bg_train_config c = {0};
    c.model = m;
    c.prior = (flow_prior){.dim = 2, .kT = 1.0};
    c.kT = 1;
    c.data = data;
    c.n_data = 4;
    c.stages = &stage;
    c.n_stages = 1;
    c.seed = 1;
    bg_train_result res;
    c.checkpoint_prefix = "";
    ck_assert_int_eq(bg_train(&c, 0, &res, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_str_eq(msg, "bg_train: checkpoint_prefix is an empty string (NULL: none)");
    c.checkpoint_prefix = NULL;
    c.log_path = "";
    ck_assert_int_eq(bg_train(&c, 0, &res, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_str_eq(msg, "bg_train: log_path is an empty string (NULL: none)");
    ck_assert(memcmp(nn_params_values(m->params), before, n * sizeof *before) == 0);
    FILE *ls = popen("ls -A | wc -l", "r");
    int count = -1;
    ck_assert_int_eq(fscanf(ls, "%d", &count), 1);
    pclose(ls);
    ck_assert_int_eq(count, 0);
    /* a 1205-byte prefix: 6 directories of 200 bytes, then "model" */
    char *deep = calloc(1, 2048);
    for (int k = 0; k < 6; k++) {
        size_t at = strlen(deep);
        if (k) deep[at++] = '/';
        memset(deep + at, 'a' + k, 199);
    }
    ck_assert_int_eq(app_fs_mkdir_p(deep, msg, sizeof msg), AD_OK);
    char *prefix = app_fs_join_new(deep, "model");
    ck_assert_uint_gt(strlen(prefix), 1024);
    c.log_path = NULL;
    c.checkpoint_prefix = prefix;
    ck_assert_msg(bg_train(&c, 0, &res, msg, sizeof msg) == AD_OK, "%s", msg);
    char *ck = bg_checkpoint_path_new(prefix, 0);
    ck_assert_msg(nn_checkpoint_load(m->params, ck, msg, sizeof msg) == AD_OK, "%s", msg);
    ad_free(ck);
    ad_free(prefix);
    free(deep);
    free(before);
    flow_model_free(m);
    ck_assert_int_eq(chdir(cwd), 0);
}
END_TEST

/* Paths longer than the old fixed buffers (1024 and 4096 bytes) work when
 * the system takes them, and fail with the system's error when it does not:
 * never on a cut-off name. */
START_TEST(test_long_paths)
{
    const char *dir = ck_tmpdir("rel-long");
    char cwd[4096], msg[8192];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(dir), 0);
    write_bytes(".tmp", "keep me", 7);
    /* a 1500-byte relative path: 7 directories of 200 bytes, then the file */
    char *deep = calloc(1, 8192);
    for (int k = 0; k < 7; k++) {
        size_t at = strlen(deep);
        if (k) deep[at++] = '/';
        memset(deep + at, 'a' + k, 199);
    }
    ck_assert_int_eq(app_fs_mkdir_p(deep, msg, sizeof msg), AD_OK);
    ck_assert_int_eq(app_fs_check_writable_dir(deep, msg, sizeof msg), AD_OK);
    char *csv = app_fs_join_new(deep, "samples.csv");
    ck_assert_ptr_nonnull(csv);
    ck_assert_uint_gt(strlen(csv), 1400);
    ad_real x[4] = {1, 2, 3, 4.5};
    ck_assert_msg(smp_csv_write(csv, x, 2, 2, NULL, msg, sizeof msg) == AD_OK, "%s", msg);
    smp_dataset *d = NULL;
    ck_assert_msg(smp_csv_read(csv, 0, &d, msg, sizeof msg) == AD_OK, "%s", msg);
    ck_assert_double_eq(d->x[3], 4.5);
    smp_dataset_free(d);
    ck_assert_int_eq(app_fs_write_atomic(csv, "{}", 2, msg, sizeof msg), AD_OK);
    app_json_value *root = NULL;
    ck_assert_msg(app_json_read_file(csv, &root, msg, sizeof msg) == AD_OK, "%s", msg);
    app_json_value_free(root);
    /* a checkpoint prefix of 1001 bytes and more: the fixed-buffer form says
     * it does not fit, the allocating form gives the whole name */
    char *prefix = app_fs_join_new(deep, "model");
    ck_assert_uint_gt(strlen(prefix), 1001);
    char small[1024];
    ck_assert_int_eq(bg_checkpoint_path(prefix, 0, small, sizeof small), AD_ERR_ARG);
    ck_assert_str_eq(small, "");
    char *ck = bg_checkpoint_path_new(prefix, 11);
    ck_assert_ptr_nonnull(ck);
    ck_assert_uint_eq(strlen(ck), strlen(prefix) + strlen("-stage12.ckpt"));
    ck_assert_str_eq(ck + strlen(prefix), "-stage12.ckpt");
    nn_params *p = model(2, 3, 1), *q = model(2, 3, 2);
    ck_assert_msg(nn_checkpoint_save(p, ck, msg, sizeof msg) == AD_OK, "%s", msg);
    ck_assert_msg(nn_checkpoint_load(q, ck, msg, sizeof msg) == AD_OK, "%s", msg);
    ck_assert(memcmp(nn_params_values(p), nn_params_values(q), 11 * sizeof(ad_real)) == 0);
    /* at exactly the boundary the fixed buffer still takes it */
    char exact[2048];
    size_t need = strlen(prefix) + strlen("-stage1.ckpt") + 1;
    ck_assert_int_eq(bg_checkpoint_path(prefix, 0, exact, need), AD_OK);
    ck_assert_int_eq(bg_checkpoint_path(prefix, 0, exact, need - 1), AD_ERR_ARG);
    ck_assert_str_eq(exact, "");
    /* 5000 bytes: over the system's limit; a clean error naming the file */
    char *huge = calloc(1, 5200);
    memcpy(huge, deep, strlen(deep));
    while (strlen(huge) < 5000) strcat(huge, "/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
    strcat(huge, ".csv");
    int st = smp_csv_write(huge, x, 2, 2, NULL, msg, sizeof msg);
    ck_assert_int_eq(st, AD_ERR_IO);
    ck_assert_msg(strstr(msg, "cannot create") && strstr(msg, huge), "%s", msg);
    ck_assert_int_eq(smp_csv_read(huge, 0, &d, msg, sizeof msg), AD_ERR_IO);
    ck_assert_int_eq(nn_checkpoint_save(p, huge, msg, sizeof msg), AD_ERR_ARG);
    ck_assert_int_eq(app_fs_write_atomic(huge, "x", 1, msg, sizeof msg), AD_ERR_IO);
    ck_assert_msg(strstr(msg, huge), "%s", msg);
    /* and ./.tmp was never touched */
    char *keep = slurp_text(".tmp");
    ck_assert_str_eq(keep, "keep me");
    free(keep);
    nn_params_free(p);
    nn_params_free(q);
    ad_free(ck);
    ad_free(prefix);
    ad_free(csv);
    free(huge);
    free(deep);
    ck_assert_int_eq(chdir(cwd), 0);
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
    snprintf(lib, sizeof lib, "%s/../%s", ck_bin_dir(), CK_REAL_FLOAT ? "libbg_f32.a" : "libbg.a");
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
    /* these must fail, not hang, if a reader blocks on a FIFO */
    TCase *hostile = tcase_create("hostile-paths");
    tcase_set_timeout(hostile, 60);
    tcase_add_test(hostile, test_fifo_refused_at_once);
    tcase_add_test(hostile, test_devices_and_directories_refused);
    tcase_add_test(hostile, test_links_to_regular_files_followed);
    tcase_add_test(hostile, test_size_limits);
    tcase_add_test(hostile, test_growing_file_stops_at_the_limit);
    tcase_add_test(hostile, test_ckpt_exact_size);
    tcase_add_test(hostile, test_checkpoint_read_as_csv);
    tcase_add_test(hostile, test_empty_paths_touch_nothing);
    tcase_add_test(hostile, test_long_paths);
    tcase_add_test(hostile, test_bg_train_paths);
    suite_add_tcase(s, hostile);
    return s;
}
