/* ad_broadcast.c - NumPy broadcasting and its reduction for backward. */
#include "ad_impl.h"

#include <stdio.h>

#include "ad_tape.h"

/* Pad x's shape to 4 dims on the left and give its row-major strides. */
static void pad4(const ad_tensor *x, int shape4[4], size_t stride4[4])
{
    int off = 4 - x->n_dims;
    for (int i = 0; i < 4; i++) shape4[i] = i < off ? 1 : x->shape[i - off];
    size_t s = 1;
    for (int i = 3; i >= 0; i--) {
        stride4[i] = s;
        s *= (size_t)shape4[i];
    }
}

int ad_bcast_init(ad_bcast *bc, const ad_tensor *a, const ad_tensor *b)
{
    int sa[4], sb[4];
    size_t ta[4], tb[4];
    pad4(a, sa, ta);
    pad4(b, sb, tb);
    bc->n_dims = a->n_dims > b->n_dims ? a->n_dims : b->n_dims;
    for (int i = 0; i < 4; i++) {
        if (sa[i] != sb[i] && sa[i] != 1 && sb[i] != 1) return 0;
        bc->full[i] = sa[i] == 1 ? sb[i] : sa[i];
        bc->stride_a[i] = sa[i] == 1 ? 0 : ta[i];
        bc->stride_b[i] = sb[i] == 1 ? 0 : tb[i];
    }
    for (int i = 0; i < bc->n_dims; i++) bc->shape[i] = bc->full[4 - bc->n_dims + i];
    return 1;
}

ad_tensor *ad_fail_shape(ad_tape *t, const char *op, int arg, const ad_tensor *x,
                         const char *expected)
{
    char buf[64];
    return ad_tape_fail(t, AD_ERR_SHAPE, "%s: bad argument #%d (shape %s, expected %s)", op, arg,
                        AD_SHAPE_STR(x, buf), expected);
}

void ad_reduce_to(const ad_tensor *x, ad_real *gx, const ad_tensor *out, const ad_real *g)
{
    if (ad_tensor_same_shape(x, out)) {
        for (size_t i = 0; i < out->size; i++) gx[i] += g[i];
        return;
    }
    ad_bcast bc;
    ad_bcast_init(&bc, x, out); /* x broadcasts to out by construction */
    AD_BCAST_FOR(&bc, gx[ia] += g[ib]);
}
