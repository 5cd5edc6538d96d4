/* ad_tape.h - the tape: a Wengert list of op records in a growable arena.
 *
 * Every op whose input requires a gradient appends one node; ad_backward walks
 * the nodes in reverse recording order.  All tensors an op returns, their
 * gradients and the nodes live in the tape's arena and stay valid until
 * ad_tape_reset or ad_tape_free.  The arena grows by chaining blocks (memory
 * never moves) and reset keeps the blocks, so a loop that records the same
 * computation every iteration mallocs nothing after the first one.
 *
 * Errors are sticky: the first failure (bad shape, bad argument, out of memory)
 * is recorded with the op name and shapes; every later op returns the tape's
 * poison tensor (valid == 0, size 0) and does nothing.  Check ad_tape_ok once.
 *
 * Misuse of tape tensors is an error of the same kind: an op (or
 * ad_backward) given a tensor made by another tape fails with "tensor from
 * another tape", one made before the last ad_tape_reset with "tensor from
 * before ad_tape_reset" (each tape has a process-unique id and counts its
 * resets; each tape tensor carries both).  Heap tensors and views are valid
 * on every tape.  Limits: a stale tensor whose arena slot a newer tensor of
 * the same tape has taken over reads as that newer tensor (a loop that
 * records the same ops every iteration puts the same tensors at the same
 * places); a tensor of a freed tape went with the tape's memory, so reading
 * it is itself the error (the sanitizer build reports it as a
 * heap-use-after-free) and nothing can check it safely.
 */
#ifndef LIBBG_AUTODIFF_AD_TAPE_H
#define LIBBG_AUTODIFF_AD_TAPE_H

#include <stddef.h>

#include "ad_tensor.h"

typedef struct ad_tape ad_tape;

/* A new tape whose arena blocks are at least `block_bytes` (0: 1 MiB). */
ad_tape *ad_tape_new(size_t block_bytes);
void ad_tape_free(ad_tape *t); /* accepts NULL */
/* Forget every node and tensor and clear the error; keep the arena blocks. */
void ad_tape_reset(ad_tape *t);

/* Error state. */
int ad_tape_ok(const ad_tape *t);
int ad_tape_status(const ad_tape *t);      /* AD_OK or the first error code */
const char *ad_tape_error(const ad_tape *t); /* "" when ok                   */
/* Record an error (only the first one sticks); returns the poison tensor. */
ad_tensor *ad_tape_fail(ad_tape *t, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
ad_tensor *ad_tape_poison(ad_tape *t);

/* Recording switch: with grad disabled no op records a node, whatever its
 * inputs (evaluation, sampling, Monte Carlo).  Returns the previous setting. */
int ad_tape_set_grad_enabled(ad_tape *t, int enabled);
int ad_tape_grad_enabled(const ad_tape *t);

/* Arena statistics: bytes handed out since the last reset, the most ever
 * handed out, and the bytes of all blocks held. */
size_t ad_tape_bytes_used(const ad_tape *t);
size_t ad_tape_bytes_peak(const ad_tape *t);
size_t ad_tape_bytes_reserved(const ad_tape *t);
int ad_tape_n_nodes(const ad_tape *t);

/* Tensors in the arena (owned by the tape). */
ad_tensor *ad_tape_tensor(ad_tape *t, int n_dims, const int *shape); /* uninitialised */
ad_tensor *ad_zeros(ad_tape *t, int n_dims, const int *shape);
ad_tensor *ad_full(ad_tape *t, int n_dims, const int *shape, ad_real value);
ad_tensor *ad_constant(ad_tape *t, int n_dims, const int *shape, const ad_real *data);
ad_tensor *ad_scalar(ad_tape *t, ad_real value);
/* Mark a tape tensor (an input such as coordinates) as a leaf that needs a
 * gradient; after ad_backward its grad holds d(output)/d(input). */
ad_tensor *ad_tape_input(ad_tape *t, int n_dims, const int *shape, const ad_real *data);
/* Raw arena memory (64-byte aligned), e.g. for an op's saved state. */
void *ad_tape_alloc(ad_tape *t, size_t bytes);

/* Reverse pass: seeds d y / d y = 1 for every element of y (so for a
 * non-scalar y this is the gradient of sum(y)), then runs every node's backward
 * in reverse order.  Gradients accumulate (+=) into heap parameters; zero them
 * between steps.  Returns AD_OK or the tape's error code. */
int ad_backward(ad_tape *t, ad_tensor *y);

#endif
