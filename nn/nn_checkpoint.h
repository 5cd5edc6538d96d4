/* nn_checkpoint.h - save and load every parameter of a model (the value
 * block of its nn_params).
 *
 * File layout (all integers in the writer's byte order, which the
 * byte-order mark records):
 *   magic     8 bytes  "LIBBGCKP"
 *   version   u32      NN_CHECKPOINT_VERSION
 *   bom       u32      0x01020304 as written by the saving machine
 *   real      u32      sizeof(ad_real) (8 for double)
 *   n_tensors u32
 *   label_len u32      (version 2 only) length of the label, at most
 *                      NN_CHECKPOINT_LABEL_MAX
 *   label     label_len bytes (version 2 only; no NUL byte): who wrote the
 *             file, e.g. "fingerprint=<hex> stage=<k>"; empty by default
 *   per tensor: n_dims u32, then n_dims extents u32
 *   n_values  u64      sum of the tensor sizes
 *   values    n_values ad_real, the value block in registration order
 *   checksum  u64      FNV-1a 64 of every preceding byte
 * Saving writes "<path>.tmp", flushes it to disk and renames it over path,
 * so a crash never leaves a half-written checkpoint.  Loading reads and
 * checks the whole file (magic, version, byte order, scalar size, length,
 * checksum, shapes, finite values) before copying anything: on any error the
 * model is unchanged.
 * Version 2 added the label; version-1 files (no label_len, no label) still
 * load and read back an empty label.  A version-2 file is
 * 44 + label_len + 4 * sum(1 + n_dims) + sizeof(ad_real) * n_values bytes
 * (version 1: 40 + ...).
 */
#ifndef LIBBG_NN_NN_CHECKPOINT_H
#define LIBBG_NN_NN_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "nn_params.h"

#define NN_CHECKPOINT_VERSION 2u
#define NN_CHECKPOINT_LABEL_MAX 4096u

/* AD_OK; AD_ERR_IO (cannot write or rename), AD_ERR_NUMERIC (a non-finite
 * parameter: nothing is written), AD_ERR_ARG (NULL arguments; a path that is
 * "", ends in '/' or is longer than 4091 bytes: nothing is created).  msg says
 * which.  In the MPI build a collective call: rank 0 writes, every rank
 * returns its status (autodiff/ad_dist.h). */
int nn_checkpoint_save(const nn_params *p, const char *path, char *msg, size_t msg_len);

/* The same with a label stored in the file (NULL or "": none); AD_ERR_ARG
 * when it is longer than NN_CHECKPOINT_LABEL_MAX. */
int nn_checkpoint_save_label(const nn_params *p, const char *path, const char *label, char *msg,
                             size_t msg_len);

/* AD_OK; AD_ERR_IO (cannot open or read; not a regular file: a FIFO, a device
 * or a directory is refused at once, without blocking; symbolic links are
 * followed), AD_ERR_FORMAT (not a checkpoint, other version or byte order,
 * truncated, trailing bytes, checksum mismatch, non-finite values; a file
 * larger than a checkpoint of this model, whose size the shapes give exactly
 * (plus the longest label),
 * is refused before it is read), AD_ERR_SHAPE (tensor count or a shape
 * differs from the model's), AD_ERR_ARG (NULL arguments, path ""),
 * AD_ERR_NOMEM.  The file is read into one buffer of at most that exact size.
 * On error nothing in p changes. */
int nn_checkpoint_load(nn_params *p, const char *path, char *msg, size_t msg_len);

/* The same, also copying the file's label into label[0..label_len) (""
 * for a version-1 file); AD_ERR_ARG (nothing loaded) when the label does
 * not fit.  label may be NULL (label_len 0) to ignore it. */
int nn_checkpoint_load_label(nn_params *p, const char *path, char *label, size_t label_len,
                             char *msg, size_t msg_len);

/* The checksum used in the file: FNV-1a 64 over n bytes, continuing from h
 * (start with NN_FNV1A64_INIT). */
#define NN_FNV1A64_INIT 0xcbf29ce484222325ull
uint64_t nn_fnv1a64(uint64_t h, const void *data, size_t n);

#endif
