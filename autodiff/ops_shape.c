/* ops_shape.c - reshape, transpose, column slices, concatenation, gather. */
#include <stdio.h>
#include <string.h>

#include "ad_impl.h"
#include "ad_ops.h"

/* y = x viewed with a new shape (data shared, no copy);  dx += dy */
static void reshape_backward(ad_tape *t, ad_node *n)
{
    ad_real *gx = ad_node_grad(t, n->inputs[0]);
    if (!gx) return;
    const ad_real *gy = n->output->grad;
    for (size_t i = 0; i < n->output->size; i++) gx[i] += gy[i];
}
static const ad_op OP_RESHAPE = {"reshape", reshape_backward};

ad_tensor *ad_reshape(ad_tape *t, ad_tensor *x, int n_dims, const int *shape)
{
    if (!ad_op_begin(t, "ad_reshape", 1, &x)) return ad_tape_poison(t);
    if (!ad_shape_valid(n_dims, shape))
        return ad_tape_fail(t, AD_ERR_SHAPE, "ad_reshape: bad arguments #2, #3 (not a shape of "
                            "0..%d dims)", AD_MAX_DIMS);
    if (ad_shape_size(n_dims, shape) != x->size) {
        char buf[64];
        return ad_tape_fail(t, AD_ERR_SHAPE, "ad_reshape: bad argument #3 (shape %s, expected "
                            "%zu elements)", ad_shape_str(n_dims, shape, buf, sizeof buf), x->size);
    }
    /* The header lives in the arena; the values are x's own (ops never write
     * their inputs, so sharing is safe). */
    ad_tensor *y = ad_tape_alloc(t, sizeof *y);
    if (!y) return ad_tape_poison(t);
    memset(y, 0, sizeof *y);
    y->n_dims = n_dims;
    for (int i = 0; i < AD_MAX_DIMS; i++) y->shape[i] = i < n_dims ? shape[i] : 1;
    y->size = x->size;
    y->data = x->data;
    y->valid = 1;
    ad_tape_own(t, y);
    ad_tape_record(t, &OP_RESHAPE, y, 1, &x);
    return ad_op_return(t, y);
}

/* y = x^T (2-D);  dx += dy^T */
static void transpose_backward(ad_tape *t, ad_node *n)
{
    ad_tensor *x = n->inputs[0];
    ad_real *gx = ad_node_grad(t, x);
    if (!gx) return;
    int r = x->shape[0], c = x->shape[1];
    const ad_real *gy = n->output->grad;
    for (int i = 0; i < r; i++)
        for (int j = 0; j < c; j++) gx[(size_t)i * c + j] += gy[(size_t)j * r + i];
}
static const ad_op OP_TRANSPOSE = {"transpose", transpose_backward};

ad_tensor *ad_transpose(ad_tape *t, ad_tensor *x)
{
    if (!ad_op_begin(t, "ad_transpose", 1, &x)) return ad_tape_poison(t);
    if (x->n_dims != 2) return ad_fail_shape(t, "ad_transpose", 1, x, "a matrix [m,n]");
    int r = x->shape[0], c = x->shape[1];
    int shape[2] = {c, r};
    ad_tensor *y = ad_tape_tensor(t, 2, shape);
    if (!y->valid) return y;
    for (int i = 0; i < r; i++)
        for (int j = 0; j < c; j++) y->data[(size_t)j * r + i] = x->data[(size_t)i * c + j];
    ad_tape_record(t, &OP_TRANSPOSE, y, 1, &x);
    return ad_op_return(t, y);
}

/* y = x[:, start:start+count];  dx[:, start+j] += dy[:, j]   (start saved) */
static void slice_cols_backward(ad_tape *t, ad_node *n)
{
    ad_tensor *x = n->inputs[0], *y = n->output;
    ad_real *gx = ad_node_grad(t, x);
    if (!gx) return;
    int rows = x->shape[0], cx = x->shape[1], cy = y->shape[1], start = n->saved_int[0];
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cy; j++) gx[(size_t)i * cx + start + j] += y->grad[(size_t)i * cy + j];
}
static const ad_op OP_SLICE_COLS = {"slice_cols", slice_cols_backward};

ad_tensor *ad_slice_cols(ad_tape *t, ad_tensor *x, int start, int count)
{
    if (!ad_op_begin(t, "ad_slice_cols", 1, &x)) return ad_tape_poison(t);
    if (x->n_dims != 2) return ad_fail_shape(t, "ad_slice_cols", 1, x, "a matrix [m,n]");
    if (start < 0 || count < 0 || start > x->shape[1] - count)
        return ad_tape_fail(t, AD_ERR_ARG, "ad_slice_cols: bad arguments #2, #3 (columns "
                            "[%d, %d) of a tensor with %d)", start, start + count, x->shape[1]);
    int rows = x->shape[0], cx = x->shape[1];
    int shape[2] = {rows, count};
    ad_tensor *y = ad_tape_tensor(t, 2, shape);
    if (!y->valid) return y;
    for (int i = 0; i < rows; i++)
        memcpy(y->data + (size_t)i * count, x->data + (size_t)i * cx + start,
               (size_t)count * sizeof(ad_real));
    ad_node *n = ad_tape_record(t, &OP_SLICE_COLS, y, 1, &x);
    if (n) n->saved_int[0] = start;
    return ad_op_return(t, y);
}

/* y = [a | b];  da += dy[:, :p],  db += dy[:, p:] */
static void concat_cols_backward(ad_tape *t, ad_node *n)
{
    ad_tensor *a = n->inputs[0], *b = n->inputs[1], *y = n->output;
    int rows = y->shape[0], p = a->shape[1], q = b->shape[1], c = p + q;
    /* a fresh gradient is written, not zero-filled and added to (unless a
     * and b are one tensor, whose two halves add to the same buffer) */
    int fa = 0, fb = 0;
    ad_real *ga = a == b ? ad_node_grad(t, a) : ad_node_grad_fresh(t, a, &fa);
    ad_real *gb = a == b ? ga : ad_node_grad_fresh(t, b, &fb);
    if (!ad_tape_ok(t)) return;
    for (int i = 0; i < rows; i++) {
        const ad_real *g = y->grad + (size_t)i * c;
        if (ga && fa) memcpy(ga + (size_t)i * p, g, (size_t)p * sizeof(ad_real));
        else if (ga)
            for (int j = 0; j < p; j++) ga[(size_t)i * p + j] += g[j];
        if (gb && fb) memcpy(gb + (size_t)i * q, g + p, (size_t)q * sizeof(ad_real));
        else if (gb)
            for (int j = 0; j < q; j++) gb[(size_t)i * q + j] += g[p + j];
    }
}
static const ad_op OP_CONCAT_COLS = {"concat_cols", concat_cols_backward};

ad_tensor *ad_concat_cols(ad_tape *t, ad_tensor *a, ad_tensor *b)
{
    ad_tensor *in[2] = {a, b};
    if (!ad_op_begin(t, "ad_concat_cols", 2, in)) return ad_tape_poison(t);
    if (a->n_dims != 2) return ad_fail_shape(t, "ad_concat_cols", 1, a, "a matrix [m,p]");
    if (b->n_dims != 2 || b->shape[0] != a->shape[0]) {
        char expected[32];
        snprintf(expected, sizeof expected, "[%d,*]", a->shape[0]);
        return ad_fail_shape(t, "ad_concat_cols", 2, b, expected);
    }
    int rows = a->shape[0], p = a->shape[1], q = b->shape[1];
    int shape[2] = {rows, p + q};
    ad_tensor *y = ad_tape_tensor(t, 2, shape);
    if (!y->valid) return y;
    for (int i = 0; i < rows; i++) {
        memcpy(y->data + (size_t)i * (p + q), a->data + (size_t)i * p, (size_t)p * sizeof(ad_real));
        memcpy(y->data + (size_t)i * (p + q) + p, b->data + (size_t)i * q,
               (size_t)q * sizeof(ad_real));
    }
    ad_tape_record(t, &OP_CONCAT_COLS, y, 2, in);
    return ad_op_return(t, y);
}

/* y[:, j] = x[:, idx[j]];  dx[:, idx[j]] += dy[:, j]   (index copied to the arena) */
static void gather_cols_backward(ad_tape *t, ad_node *n)
{
    ad_tensor *x = n->inputs[0], *y = n->output;
    /* a permutation of the columns (saved_int[0]) writes every element of
     * a fresh gradient once */
    int fresh = 0;
    ad_real *gx = n->saved_int[0] ? ad_node_grad_fresh(t, x, &fresh) : ad_node_grad(t, x);
    if (!gx) return;
    const int *idx = n->ctx;
    int rows = x->shape[0], cx = x->shape[1], cy = y->shape[1];
    if (fresh)
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cy; j++) gx[(size_t)i * cx + idx[j]] = y->grad[(size_t)i * cy + j];
    else
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cy; j++)
                gx[(size_t)i * cx + idx[j]] += y->grad[(size_t)i * cy + j];
}
static const ad_op OP_GATHER_COLS = {"gather_cols", gather_cols_backward};

/* 1 when index lists each of the n columns exactly once. */
static int is_permutation(const int *index, int n_index, int n)
{
    if (n_index != n) return 0;
    unsigned long long seen = 0; /* small n only: a bit per column */
    if (n > 64) {
        for (int j = 0; j < n_index; j++)
            for (int i = 0; i < j; i++)
                if (index[i] == index[j]) return 0;
        return 1;
    }
    for (int j = 0; j < n_index; j++) {
        unsigned long long bit = 1ull << index[j];
        if (seen & bit) return 0;
        seen |= bit;
    }
    return 1;
}

ad_tensor *ad_gather_cols(ad_tape *t, ad_tensor *x, const int *index, int n_index)
{
    if (!ad_op_begin(t, "ad_gather_cols", 1, &x)) return ad_tape_poison(t);
    if (x->n_dims != 2) return ad_fail_shape(t, "ad_gather_cols", 1, x, "a matrix [m,n]");
    if (n_index < 0 || (n_index > 0 && !index))
        return ad_tape_fail(t, AD_ERR_ARG, "ad_gather_cols: bad argument #2 (no index array)");
    int rows = x->shape[0], cx = x->shape[1];
    for (int j = 0; j < n_index; j++)
        if (index[j] < 0 || index[j] >= cx)
            return ad_tape_fail(t, AD_ERR_ARG, "ad_gather_cols: bad argument #2 (index[%d] = %d, "
                                "tensor has %d columns)", j, index[j], cx);
    int shape[2] = {rows, n_index};
    ad_tensor *y = ad_tape_tensor(t, 2, shape);
    if (!y->valid) return y;
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < n_index; j++)
            y->data[(size_t)i * n_index + j] = x->data[(size_t)i * cx + index[j]];
    ad_node *n = ad_tape_record(t, &OP_GATHER_COLS, y, 1, &x);
    if (n) {
        int *copy = ad_tape_alloc(t, (size_t)n_index * sizeof(int) + 1);
        if (!copy) return ad_tape_poison(t);
        if (n_index) memcpy(copy, index, (size_t)n_index * sizeof(int));
        n->ctx = copy;
        n->saved_int[0] = is_permutation(index, n_index, cx);
    }
    return ad_op_return(t, y);
}
