/* ad_impl.h - helpers shared by the op files of autodiff/ only.
 * Nothing outside autodiff/ includes this header. */
#ifndef LIBBG_AUTODIFF_AD_IMPL_H
#define LIBBG_AUTODIFF_AD_IMPL_H

#include <stddef.h>

#include "ad_op.h"
#include "ad_tape.h"
#include "ad_tensor.h"

/* NumPy broadcasting of two operands, padded on the left to 4 dimensions.
 * stride_a/stride_b are element strides into a and b, 0 along broadcast axes. */
typedef struct ad_bcast {
    int n_dims;               /* rank of the output                 */
    int shape[AD_MAX_DIMS];   /* output shape (first n_dims valid)  */
    int full[4];              /* output shape padded to 4 dims      */
    size_t stride_a[4];
    size_t stride_b[4];
} ad_bcast;

/* Returns 1 and fills bc when a and b broadcast, else 0. */
int ad_bcast_init(ad_bcast *bc, const ad_tensor *a, const ad_tensor *b);

/* Visit every output element: o is the output offset, ia and ib the operand
 * offsets.  BODY is a statement using o, ia, ib. */
#define AD_BCAST_FOR(bc, BODY)                                                       \
    do {                                                                             \
        size_t o = 0;                                                                \
        for (int i0_ = 0; i0_ < (bc)->full[0]; i0_++)                                \
            for (int i1_ = 0; i1_ < (bc)->full[1]; i1_++)                            \
                for (int i2_ = 0; i2_ < (bc)->full[2]; i2_++) {                      \
                    size_t ia = i0_ * (bc)->stride_a[0] + i1_ * (bc)->stride_a[1] +  \
                                i2_ * (bc)->stride_a[2];                             \
                    size_t ib = i0_ * (bc)->stride_b[0] + i1_ * (bc)->stride_b[1] +  \
                                i2_ * (bc)->stride_b[2];                             \
                    for (int i3_ = 0; i3_ < (bc)->full[3]; i3_++, o++,               \
                             ia += (bc)->stride_a[3], ib += (bc)->stride_b[3]) {     \
                        BODY;                                                        \
                    }                                                                \
                }                                                                    \
    } while (0)

/* Mark a tensor header put in t's arena by hand (not by ad_tape_tensor) as
 * t's, of its current generation (on_tape, tape_id, tape_gen). */
void ad_tape_own(ad_tape *t, ad_tensor *x);

/* Describe a tensor's shape for an error message ("[2,3]"). */
#define AD_SHAPE_STR(x, buf) ad_shape_str((x)->n_dims, (x)->shape, (buf), sizeof(buf))

/* Fail with "op: bad argument #k (shape S, expected E)". */
ad_tensor *ad_fail_shape(ad_tape *t, const char *op, int arg, const ad_tensor *x,
                         const char *expected);

/* Last line of an op: its result, or the tape's poison (a real zero-size
 * tensor) when recording the node ran out of memory. */
static inline ad_tensor *ad_op_return(ad_tape *t, ad_tensor *y)
{
    return y->valid ? y : ad_tape_poison(t);
}

/* Accumulate g (in the shape of `out`) into gx (in the shape of x, which
 * broadcasts to out) by summing over the broadcast axes. */
void ad_reduce_to(const ad_tensor *x, ad_real *gx, const ad_tensor *out, const ad_real *g);

#endif
