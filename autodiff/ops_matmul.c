/* ops_matmul.c - the matrix product op, through ad_gemm. */
#include <stdio.h>

#include "fast/ad_gemm.h"
#include "ad_impl.h"
#include "ad_ops.h"

/* Y = op(A) op(B);  dA += dY op(B)^T (stored as A is),  dB += op(A)^T dY.
 * saved_int[0..1] = trans_a, trans_b. */
static void matmul_backward(ad_tape *t, ad_node *n)
{
    ad_tensor *a = n->inputs[0], *b = n->inputs[1], *y = n->output;
    int ta = n->saved_int[0], tb = n->saved_int[1];
    int m = y->shape[0], nn = y->shape[1];
    int k = ta ? a->shape[0] : a->shape[1];
    ad_real *ga = ad_node_grad(t, a), *gb = ad_node_grad(t, b);
    if (ga) {
        if (!ta) /* dA[m,k] += dY[m,n] op(B)^T */
            ad_gemm(0, !tb, m, k, nn, 1, y->grad, nn, b->data, b->shape[1], 1, ga, k);
        else /* A stored [k,m]: dA += op(B) dY^T */
            ad_gemm(tb, 1, k, m, nn, 1, b->data, b->shape[1], y->grad, nn, 1, ga, m);
    }
    if (gb) {
        if (!tb) /* dB[k,n] += op(A)^T dY */
            ad_gemm(!ta, 0, k, nn, m, 1, a->data, a->shape[1], y->grad, nn, 1, gb, nn);
        else /* B stored [n,k]: dB += dY^T op(A) */
            ad_gemm(1, ta, nn, k, m, 1, y->grad, nn, a->data, a->shape[1], 1, gb, k);
    }
}
static const ad_op OP_MATMUL = {"matmul", matmul_backward};

ad_tensor *ad_matmul(ad_tape *t, ad_tensor *a, ad_tensor *b, int trans_a, int trans_b)
{
    ad_tensor *in[2] = {a, b};
    if (!ad_op_begin(t, "ad_matmul", 2, in)) return ad_tape_poison(t);
    if (a->n_dims != 2) return ad_fail_shape(t, "ad_matmul", 1, a, "a matrix [m,k]");
    if (b->n_dims != 2) return ad_fail_shape(t, "ad_matmul", 2, b, "a matrix [k,n]");
    int m = trans_a ? a->shape[1] : a->shape[0];
    int k = trans_a ? a->shape[0] : a->shape[1];
    int kb = trans_b ? b->shape[1] : b->shape[0];
    int nn = trans_b ? b->shape[0] : b->shape[1];
    if (k != kb) {
        char expected[64];
        snprintf(expected, sizeof expected, trans_b ? "[*,%d]" : "[%d,*]", k);
        return ad_fail_shape(t, "ad_matmul", 2, b, expected);
    }
    int shape[2] = {m, nn};
    ad_tensor *y = ad_tape_tensor(t, 2, shape);
    if (!y->valid) return y;
    ad_gemm(trans_a, trans_b, m, nn, k, 1, a->data, a->shape[1], b->data, b->shape[1], 0,
            y->data, nn);
    ad_node *n = ad_tape_record(t, &OP_MATMUL, y, 2, in);
    if (n) {
        n->saved_int[0] = trans_a;
        n->saved_int[1] = trans_b;
    }
    return ad_op_return(t, y);
}
