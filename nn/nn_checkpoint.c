/* nn_checkpoint.c - checkpoint files (layout in nn_checkpoint.h). */
#include "nn_checkpoint.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "autodiff/ad_dist.h"
#include "autodiff/ad_file.h"

static const char MAGIC[8] = {'L', 'I', 'B', 'B', 'G', 'C', 'K', 'P'};
#define BOM 0x01020304u
#define BOM_SWAPPED 0x04030201u
/* Sanity limit on the tensor count read from a file, before allocating. */
#define MAX_TENSORS 1000000u

#define SET_MSG(...)                                             \
    do {                                                         \
        if (msg && msg_len) snprintf(msg, msg_len, __VA_ARGS__); \
    } while (0)

uint64_t nn_fnv1a64(uint64_t h, const void *data, size_t n)
{
    const unsigned char *b = data;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* fwrite that also feeds the checksum; returns 0 on failure. */
static int put(FILE *f, uint64_t *h, const void *data, size_t n)
{
    *h = nn_fnv1a64(*h, data, n);
    return n == 0 || fwrite(data, 1, n, f) == n;
}

int nn_checkpoint_save(const nn_params *p, const char *path, char *msg, size_t msg_len)
{
    return nn_checkpoint_save_label(p, path, NULL, msg, msg_len);
}

static int save_here(const nn_params *p, const char *path, const char *label, char *msg,
                     size_t msg_len)
{
    if (!p || !path || !nn_params_finalized(p)) {
        SET_MSG("nn_checkpoint_save: %s", !p || !path ? "NULL argument"
                                                      : "the parameters are not finalized");
        return AD_ERR_ARG;
    }
    /* "" or "dir/" would write, then remove, ".tmp" or "dir/.tmp" */
    int status = ad_path_check(path, "nn_checkpoint_save", "the file name", msg, msg_len);
    if (status != AD_OK) return status;
    size_t label_n = label ? strlen(label) : 0;
    if (label_n > NN_CHECKPOINT_LABEL_MAX) {
        SET_MSG("nn_checkpoint_save: label of %zu bytes (at most %u)", label_n,
                NN_CHECKPOINT_LABEL_MAX);
        return AD_ERR_ARG;
    }
    const ad_real *values = nn_params_values(p);
    size_t n_values = nn_params_size(p);
    for (size_t i = 0; i < n_values; i++)
        if (!isfinite(values[i])) {
            SET_MSG("nn_checkpoint_save: parameter %zu is not finite; nothing written", i);
            return AD_ERR_NUMERIC;
        }
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        SET_MSG("nn_checkpoint_save: path too long");
        return AD_ERR_ARG;
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        SET_MSG("nn_checkpoint_save: cannot create %s: %s", tmp, strerror(errno));
        return AD_ERR_IO;
    }
    uint64_t h = NN_FNV1A64_INIT;
    uint32_t u32[4] = {NN_CHECKPOINT_VERSION, BOM, (uint32_t)sizeof(ad_real),
                       (uint32_t)nn_params_count(p)};
    uint32_t label_len = (uint32_t)label_n;
    int ok = put(f, &h, MAGIC, sizeof MAGIC) && put(f, &h, u32, sizeof u32) &&
             put(f, &h, &label_len, sizeof label_len) && put(f, &h, label, label_n);
    for (int i = 0; ok && i < nn_params_count(p); i++) {
        const ad_tensor *x = nn_params_get(p, i);
        uint32_t dims[1 + AD_MAX_DIMS];
        dims[0] = (uint32_t)x->n_dims;
        for (int d = 0; d < x->n_dims; d++) dims[1 + d] = (uint32_t)x->shape[d];
        ok = put(f, &h, dims, (size_t)(1 + x->n_dims) * sizeof(uint32_t));
    }
    uint64_t n64 = n_values;
    ok = ok && put(f, &h, &n64, sizeof n64) && put(f, &h, values, n_values * sizeof(ad_real));
    uint64_t sum = h;
    ok = ok && fwrite(&sum, sizeof sum, 1, f) == 1;
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int err = errno;
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        remove(tmp);
        SET_MSG("nn_checkpoint_save: writing %s failed: %s", tmp, strerror(err));
        return AD_ERR_IO;
    }
    if (rename(tmp, path) != 0) {
        err = errno;
        remove(tmp);
        SET_MSG("nn_checkpoint_save: cannot rename %s to %s: %s", tmp, path, strerror(err));
        return AD_ERR_IO;
    }
    return AD_OK;
}

/* In the MPI build a collective call: rank 0 writes, every rank returns its
 * status (autodiff/ad_dist.h). */
int nn_checkpoint_save_label(const nn_params *p, const char *path, const char *label, char *msg,
                             size_t msg_len)
{
    int status = AD_OK;
    if (ad_dist_root_begin()) status = save_here(p, path, label, msg, msg_len);
    return ad_dist_root_end(status, msg, msg_len);
}

/* A cursor over the file bytes: take() fails once the bytes run out. */
typedef struct reader {
    const unsigned char *data;
    size_t size, at;
} reader;

static int take(reader *r, void *out, size_t n)
{
    if (r->size - r->at < n) return 0;
    memcpy(out, r->data + r->at, n);
    r->at += n;
    return 1;
}

/* The largest size in bytes of a checkpoint of p (the layout in
 * nn_checkpoint.h, with a label of NN_CHECKPOINT_LABEL_MAX bytes; a
 * version-1 file or a shorter label is smaller and the parser then checks
 * the exact length).  A file of this model is never larger, so a larger one is
 * refused before a byte of it is read: no file, not even one that grows or a
 * link to a device, makes the loader allocate more than this. */
static size_t checkpoint_size(const nn_params *p)
{
    size_t size = sizeof MAGIC + 4 * sizeof(uint32_t) + sizeof(uint32_t) +
                  NN_CHECKPOINT_LABEL_MAX + sizeof(uint64_t);
    for (int i = 0; i < nn_params_count(p); i++)
        size += (size_t)(1 + nn_params_get(p, i)->n_dims) * sizeof(uint32_t);
    return size + nn_params_size(p) * sizeof(ad_real) + sizeof(uint64_t);
}

/* Read the whole regular file into a new buffer (ad_free it); AD_OK or
 * AD_ERR_*.  FIFOs, devices and directories are refused without blocking
 * (ad_file_open_read). */
static int slurp(const nn_params *p, const char *path, unsigned char **out, size_t *size,
                 char *msg, size_t msg_len)
{
    size_t want = checkpoint_size(p), have = 0;
    FILE *f = NULL;
    int status = ad_file_open_read(path, "nn_checkpoint_load", SIZE_MAX, &f, &have, msg, msg_len);
    if (status != AD_OK) return status;
    if (have > want) {
        fclose(f);
        SET_MSG("nn_checkpoint_load: %s is %zu bytes, %zu more than a checkpoint of this model "
                "(unexpected trailing bytes, or another model's checkpoint); not read",
                path, have, have - want);
        return AD_ERR_FORMAT;
    }
    char *buf = NULL;
    status = ad_file_read_stream(f, path, "nn_checkpoint_load", have, want, &buf, size, msg,
                                 msg_len);
    fclose(f);
    if (status != AD_OK) return status;
    *out = (unsigned char *)buf;
    return AD_OK;
}

/* Validate the file image against p; on success *values points at the
 * value bytes inside the image. */
static int check(const nn_params *p, const char *path, const unsigned char *img, size_t size,
                 const unsigned char **values, const unsigned char **label, uint32_t *label_n,
                 char *msg, size_t msg_len)
{
    reader r = {img, size, 0};
    char magic[8];
    uint32_t u32[4];
    if (!take(&r, magic, sizeof magic) || memcmp(magic, MAGIC, sizeof magic) != 0) {
        SET_MSG("nn_checkpoint_load: %s is not a libbg checkpoint (bad magic%s)", path,
                size < sizeof magic ? ", file too short" : "");
        return AD_ERR_FORMAT;
    }
    if (!take(&r, u32, sizeof u32)) {
        SET_MSG("nn_checkpoint_load: %s is truncated (%zu bytes, header incomplete)", path, size);
        return AD_ERR_FORMAT;
    }
    uint32_t version = u32[0], bom = u32[1], real_size = u32[2], n_tensors = u32[3];
    if (bom != BOM) {
        SET_MSG("nn_checkpoint_load: %s %s", path,
                bom == BOM_SWAPPED ? "was written on a machine of the other byte order"
                                   : "has a bad byte-order mark (damaged file)");
        return AD_ERR_FORMAT;
    }
    if (version != NN_CHECKPOINT_VERSION && version != 1) {
        SET_MSG("nn_checkpoint_load: %s has format version %u; this library reads versions 1 "
                "to %u",
                path, version, NN_CHECKPOINT_VERSION);
        return AD_ERR_FORMAT;
    }
    if (real_size != sizeof(ad_real)) {
        SET_MSG("nn_checkpoint_load: %s stores %u-byte scalars; this build uses %u-byte ones",
                path, real_size, (unsigned)sizeof(ad_real));
        return AD_ERR_FORMAT;
    }
    if (n_tensors > MAX_TENSORS) {
        SET_MSG("nn_checkpoint_load: %s claims %u tensors (damaged file)", path, n_tensors);
        return AD_ERR_FORMAT;
    }
    *label_n = 0;
    *label = img + r.at;
    if (version >= 2) {
        if (!take(&r, label_n, sizeof *label_n)) goto truncated;
        if (*label_n > NN_CHECKPOINT_LABEL_MAX) {
            SET_MSG("nn_checkpoint_load: %s claims a label of %u bytes (damaged file)", path,
                    *label_n);
            return AD_ERR_FORMAT;
        }
        *label = img + r.at;
        if (size - r.at < *label_n) goto truncated;
        r.at += *label_n;
    }
    size_t shapes_at = r.at;
    for (uint32_t i = 0; i < n_tensors; i++) {
        uint32_t dims[1 + AD_MAX_DIMS];
        if (!take(&r, dims, sizeof(uint32_t))) goto truncated;
        if (dims[0] > AD_MAX_DIMS) {
            SET_MSG("nn_checkpoint_load: %s: tensor %u has %u dimensions (damaged file)", path,
                    i, dims[0]);
            return AD_ERR_FORMAT;
        }
        if (!take(&r, dims + 1, dims[0] * sizeof(uint32_t))) goto truncated;
    }
    uint64_t n_values;
    if (!take(&r, &n_values, sizeof n_values)) goto truncated;
    if (n_values > (size - r.at) / sizeof(ad_real)) goto truncated;
    size_t values_at = r.at;
    r.at += (size_t)n_values * sizeof(ad_real);
    uint64_t stored;
    if (!take(&r, &stored, sizeof stored)) goto truncated;
    if (r.at != size) {
        SET_MSG("nn_checkpoint_load: %s has %zu unexpected trailing bytes", path, size - r.at);
        return AD_ERR_FORMAT;
    }
    if (nn_fnv1a64(NN_FNV1A64_INIT, img, size - sizeof stored) != stored) {
        SET_MSG("nn_checkpoint_load: %s is corrupted (checksum mismatch)", path);
        return AD_ERR_FORMAT;
    }
    /* The file is intact; now compare it with the model. */
    if ((int)n_tensors != nn_params_count(p)) {
        SET_MSG("nn_checkpoint_load: %s holds %u tensors, the model has %d", path, n_tensors,
                nn_params_count(p));
        return AD_ERR_SHAPE;
    }
    r.at = shapes_at;
    for (int i = 0; i < (int)n_tensors; i++) {
        uint32_t dims[1 + AD_MAX_DIMS] = {0};
        take(&r, dims, sizeof(uint32_t)); /* cannot fail: read once above */
        take(&r, dims + 1, dims[0] * sizeof(uint32_t));
        const ad_tensor *x = nn_params_get(p, i);
        int same = (int)dims[0] == x->n_dims;
        for (int d = 0; same && d < x->n_dims; d++) same = (int)dims[1 + d] == x->shape[d];
        if (!same) {
            char want[64], got[64] = "[";
            ad_shape_str(x->n_dims, x->shape, want, sizeof want);
            for (uint32_t d = 0; d < dims[0]; d++)
                snprintf(got + strlen(got), sizeof got - strlen(got), d ? ",%u" : "%u",
                         dims[1 + d]);
            snprintf(got + strlen(got), sizeof got - strlen(got), "]");
            SET_MSG("nn_checkpoint_load: %s: tensor %d (%s) has shape %s, the model expects %s",
                    path, i, x->name ? x->name : "?", got, want);
            return AD_ERR_SHAPE;
        }
    }
    if (n_values != nn_params_size(p)) { /* implied by the shapes; kept as a guard */
        SET_MSG("nn_checkpoint_load: %s holds %llu values, the model has %zu", path,
                (unsigned long long)n_values, nn_params_size(p));
        return AD_ERR_SHAPE;
    }
    for (size_t i = 0; i < (size_t)n_values; i++) {
        ad_real v;
        memcpy(&v, img + values_at + i * sizeof v, sizeof v);
        if (!isfinite(v)) {
            SET_MSG("nn_checkpoint_load: %s: value %zu is not finite", path, i);
            return AD_ERR_FORMAT;
        }
    }
    if (memchr(*label, 0, *label_n)) {
        SET_MSG("nn_checkpoint_load: %s: the label holds a NUL byte (damaged file)", path);
        return AD_ERR_FORMAT;
    }
    *values = img + values_at;
    return AD_OK;
truncated:
    SET_MSG("nn_checkpoint_load: %s is truncated (%zu bytes)", path, size);
    return AD_ERR_FORMAT;
}

int nn_checkpoint_load(nn_params *p, const char *path, char *msg, size_t msg_len)
{
    return nn_checkpoint_load_label(p, path, NULL, 0, msg, msg_len);
}

int nn_checkpoint_load_label(nn_params *p, const char *path, char *label, size_t label_len,
                             char *msg, size_t msg_len)
{
    if (!p || !path || !nn_params_finalized(p)) {
        SET_MSG("nn_checkpoint_load: %s", !p || !path ? "NULL argument"
                                                      : "the parameters are not finalized");
        return AD_ERR_ARG;
    }
    unsigned char *img = NULL;
    size_t size = 0;
    int status = slurp(p, path, &img, &size, msg, msg_len);
    if (status != AD_OK) return status;
    const unsigned char *values = NULL, *lab = NULL;
    uint32_t lab_n = 0;
    status = check(p, path, img, size, &values, &lab, &lab_n, msg, msg_len);
    if (status == AD_OK && label && label_len) {
        if (lab_n >= label_len) {
            SET_MSG("nn_checkpoint_load: %s: its label (%u bytes) does not fit the buffer", path,
                    lab_n);
            status = AD_ERR_ARG;
        } else {
            memcpy(label, lab, lab_n);
            label[lab_n] = '\0';
        }
    }
    if (status == AD_OK && nn_params_size(p))
        memcpy(nn_params_values(p), values, nn_params_size(p) * sizeof(ad_real));
    ad_free(img);
    return status;
}
