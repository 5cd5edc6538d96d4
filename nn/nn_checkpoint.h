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
 *   per tensor: n_dims u32, then n_dims extents u32
 *   n_values  u64      sum of the tensor sizes
 *   values    n_values ad_real, the value block in registration order
 *   checksum  u64      FNV-1a 64 of every preceding byte
 * Saving writes "<path>.tmp", flushes it to disk and renames it over path,
 * so a crash never leaves a half-written checkpoint.  Loading reads and
 * checks the whole file (magic, version, byte order, scalar size, length,
 * checksum, shapes, finite values) before copying anything: on any error the
 * model is unchanged.
 */
#ifndef LIBBG_NN_NN_CHECKPOINT_H
#define LIBBG_NN_NN_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "nn_params.h"

#define NN_CHECKPOINT_VERSION 1u

/* AD_OK; AD_ERR_IO (cannot write or rename), AD_ERR_NUMERIC (a non-finite
 * parameter: nothing is written), AD_ERR_ARG (NULL arguments; a path that is
 * "", ends in '/' or is longer than 4091 bytes: nothing is created).  msg says
 * which. */
int nn_checkpoint_save(const nn_params *p, const char *path, char *msg, size_t msg_len);

/* AD_OK; AD_ERR_IO (cannot open or read; not a regular file: a FIFO, a device
 * or a directory is refused at once, without blocking; symbolic links are
 * followed), AD_ERR_FORMAT (not a checkpoint, other version or byte order,
 * truncated, trailing bytes, checksum mismatch, non-finite values; a file
 * larger than a checkpoint of this model, whose size the shapes give exactly,
 * is refused before it is read), AD_ERR_SHAPE (tensor count or a shape
 * differs from the model's), AD_ERR_ARG (NULL arguments, path ""),
 * AD_ERR_NOMEM.  The file is read into one buffer of at most that exact size.
 * On error nothing in p changes. */
int nn_checkpoint_load(nn_params *p, const char *path, char *msg, size_t msg_len);

/* The checksum used in the file: FNV-1a 64 over n bytes, continuing from h
 * (start with NN_FNV1A64_INIT). */
#define NN_FNV1A64_INIT 0xcbf29ce484222325ull
uint64_t nn_fnv1a64(uint64_t h, const void *data, size_t n);

#endif
