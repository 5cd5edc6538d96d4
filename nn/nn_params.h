/* nn_params.h - the parameters of one model, in one contiguous value block and
 * one contiguous gradient block.
 *
 * Layers register their tensors (nn_params_add) while a model is being built;
 * nn_params_finalize then allocates the two blocks, points every registered
 * tensor into them (views) and draws the initial values from a seeded RNG.
 * The optimizer's moments, gradient zeroing and checkpoints are then flat
 * loops over nn_params_size() numbers.
 *
 * Ownership: the nn_params owns the blocks and every tensor nn_params_add
 * returns; those pointers stay valid (and fixed) until nn_params_free.  Never
 * ad_tensor_free them.  Errors while registering are sticky: nn_params_add
 * returns NULL and nn_params_finalize reports the first failure.
 */
#ifndef LIBBG_NN_NN_PARAMS_H
#define LIBBG_NN_NN_PARAMS_H

#include <stddef.h>

#include "autodiff/ad.h"

/* How nn_params_finalize fills a tensor.  fan_in and fan_out are shape[0]
 * and shape[1] of a 2-D weight [n_in, n_out] (1 and shape[0] otherwise). */
typedef enum nn_init {
    NN_INIT_AUTO = 0,  /* the caller's default (nn_mlp: He for ReLU, else Glorot) */
    NN_INIT_ZERO,      /* all zeros (biases, output layers of identity flows)     */
    NN_INIT_GLOROT,    /* uniform on +-sqrt(6 / (fan_in + fan_out))               */
    NN_INIT_HE         /* normal, variance 2 / fan_in                             */
} nn_init;

typedef struct nn_params nn_params;

nn_params *nn_params_new(void); /* NULL if out of memory */
void nn_params_free(nn_params *p); /* accepts NULL */

/* Register a trainable tensor (before finalize).  `name` is not copied (use a
 * string literal).  NN_INIT_AUTO is treated as NN_INIT_GLOROT here.  Returns
 * a view that gets its data and gradient at finalize, or NULL (sticky). */
ad_tensor *nn_params_add(nn_params *p, const char *name, int n_dims, const int *shape,
                         nn_init init);
/* Register a fixed tensor (not trained: no gradient, so ops on it record
 * nothing) whose initial values are copied from `values` now.  It still lives
 * in the value block, so checkpoints save and load it. */
ad_tensor *nn_params_add_fixed(nn_params *p, const char *name, int n_dims, const int *shape,
                               const ad_real *values);

/* Allocate both blocks, point the views into them and draw initial values
 * from `rng` in registration order.  Returns AD_OK, the first registration
 * error, or AD_ERR_NOMEM (then nothing changes and finalize may be retried). */
int nn_params_finalize(nn_params *p, ad_rng *rng, char *msg, size_t msg_len);
int nn_params_finalized(const nn_params *p);

int nn_params_count(const nn_params *p);   /* number of registered tensors   */
size_t nn_params_size(const nn_params *p); /* number of scalars in the block */
size_t nn_params_trainable_size(const nn_params *p); /* excluding fixed ones */
ad_tensor *nn_params_get(const nn_params *p, int i); /* i-th registered tensor */
int nn_params_is_fixed(const nn_params *p, int i);

/* The blocks (NULL before finalize).  grads[i] is 0 for fixed tensors. */
ad_real *nn_params_values(const nn_params *p);
ad_real *nn_params_grads(const nn_params *p);
/* One view of the whole value block as a vector [size] with the gradient
 * block as its gradient (e.g. for ad_gradcheck over every parameter). */
ad_tensor *nn_params_flat(nn_params *p);

/* Passes over the whole value or gradient block are split over the thread
 * pool in chunks of this many parameters (nn_params_zero_grad,
 * nn_params_grad_norm, the optimizer's update). */
#define NN_PARAMS_CHUNK 16384

void nn_params_zero_grad(nn_params *p); /* split over the thread pool */
/* Switch recording for the trainable tensors off (on = 0) or back on, e.g. to
 * differentiate a model's output with respect to its input only (no weight
 * gradients are computed while off).  Takes effect on a finalized block.
 * Returns the previous setting. */
int nn_params_set_requires_grad(nn_params *p, int on);
/* Euclidean norm of the gradients, summed in double over chunks of
 * NN_PARAMS_CHUNK and then over the chunks in order (split over the thread
 * pool; the same value for any thread count) */
double nn_params_grad_norm(const nn_params *p);

#endif
