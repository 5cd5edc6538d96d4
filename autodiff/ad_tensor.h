/* ad_tensor.h - dense row-major tensors of up to AD_MAX_DIMS dimensions.
 *
 * A tensor is either a heap tensor (made here, owned by the caller, released
 * with ad_tensor_free) or a tape tensor (made by an op; owned by the tape and
 * released all at once by ad_tape_reset / ad_tape_free).  Parameters are heap
 * tensors with a gradient buffer of the same size.  A tape tensor records
 * which tape made it and in which generation (resets so far), so that ops
 * reject it on another tape or after a reset (ad_tape.h); heap tensors go on
 * any tape.
 */
#ifndef LIBBG_AUTODIFF_AD_TENSOR_H
#define LIBBG_AUTODIFF_AD_TENSOR_H

#include <stddef.h>

#include "ad_config.h"

struct ad_node;

typedef struct ad_tensor {
    int n_dims;                /* 0 (a scalar) .. AD_MAX_DIMS                  */
    int shape[AD_MAX_DIMS];    /* extent of each dimension, row-major          */
    size_t size;               /* number of elements, product of shape         */
    ad_real *data;             /* the values (may alias another tensor's data) */
    ad_real *grad;             /* d(output)/d(this), same size, or NULL        */
    int requires_grad;         /* ops on it record tape nodes                  */
    int valid;                 /* 0 only for a tape's poison tensor            */
    int on_heap;               /* 1 if made by ad_tensor_new* (caller owns)    */
    int owns_memory;           /* 1 if ad_tensor_free releases data and grad   */
    struct ad_node *node;      /* tape node that produced it, or NULL          */
    const char *name;          /* optional label for printing, not owned       */
    int on_tape;               /* 1 if it lives in a tape's arena (op result)  */
    unsigned tape_id;          /* on_tape: the id of the tape that made it     */
    unsigned tape_gen;         /* on_tape: that tape's resets at the time      */
} ad_tensor;

/* New heap tensor filled with zeros; NULL if out of memory or bad shape. */
ad_tensor *ad_tensor_new(int n_dims, const int *shape);
/* New heap tensor holding a copy of `data` (size = product of shape). */
ad_tensor *ad_tensor_from(int n_dims, const int *shape, const ad_real *data);
/* New heap parameter: zero values, a zero gradient, requires_grad set. */
ad_tensor *ad_tensor_new_param(int n_dims, const int *shape);
/* Release a heap tensor made above; accepts NULL; ignores tape tensors. */
void ad_tensor_free(ad_tensor *x);

/* Fill a caller-owned struct as a view of existing memory (for parameters that
 * live inside one contiguous block).  `grad` may be NULL; when given, the view
 * requires a gradient.  Nothing is copied or owned: never ad_tensor_free it. */
int ad_tensor_init_view(ad_tensor *x, int n_dims, const int *shape,
                        ad_real *data, ad_real *grad);

/* Give a heap tensor a zeroed gradient buffer and mark it as requiring one. */
int ad_tensor_require_grad(ad_tensor *x);
/* Set every gradient element to 0 (memset, never multiply by 0). */
void ad_tensor_zero_grad(ad_tensor *x);

/* Shape utilities.  ad_shape_size saturates at SIZE_MAX on overflow. */
size_t ad_shape_size(int n_dims, const int *shape);
int ad_shape_valid(int n_dims, const int *shape);
int ad_tensor_same_shape(const ad_tensor *a, const ad_tensor *b);
/* Write "[2,3]" into buf (always NUL-terminated); returns buf. */
char *ad_shape_str(int n_dims, const int *shape, char *buf, size_t len);
/* Rows and columns of a tensor seen as a matrix: the last dimension is the
 * column count, all others multiply into rows (a scalar is 1x1). */
int ad_tensor_rows(const ad_tensor *x);
int ad_tensor_cols(const ad_tensor *x);

#endif
