/* ops_reduce.c - sums, means and log-sum-exp, over everything or one axis. */
#include <math.h>

#include "ad_impl.h"
#include "ad_ops.h"

/* y = sum_i x_i;  dx_i += dy */
static void sum_backward(ad_tape *t, ad_node *n)
{
    ad_tensor *x = n->inputs[0];
    ad_real *gx = ad_node_grad(t, x);
    if (!gx) return;
    ad_real g = n->output->grad[0] * n->saved[0]; /* saved[0]: 1 for sum, 1/N for mean */
    for (size_t i = 0; i < x->size; i++) gx[i] += g;
}
static const ad_op OP_SUM = {"sum", sum_backward};
static const ad_op OP_MEAN = {"mean", sum_backward};

static ad_tensor *sum_all(ad_tape *t, ad_tensor *x, const char *name, int mean)
{
    if (!ad_op_begin(t, name, 1, &x)) return ad_tape_poison(t);
    ad_tensor *y = ad_tape_tensor(t, 0, NULL);
    if (!y->valid) return y;
    /* accumulated in double whatever ad_real is: a loss is the sum of a
     * whole batch, whose float sum would carry an error up to n eps */
    double s = 0;
    for (size_t i = 0; i < x->size; i++) s += x->data[i];
    ad_real factor = mean ? (x->size ? (ad_real)1 / (ad_real)x->size : 0) : 1;
    y->data[0] = (ad_real)(s * factor);
    ad_node *n = ad_tape_record(t, mean ? &OP_MEAN : &OP_SUM, y, 1, &x);
    if (n) n->saved[0] = factor;
    return ad_op_return(t, y);
}

ad_tensor *ad_sum(ad_tape *t, ad_tensor *x) { return sum_all(t, x, "ad_sum", 0); }
ad_tensor *ad_mean(ad_tape *t, ad_tensor *x) { return sum_all(t, x, "ad_mean", 1); }

/* Split x's shape around `axis` into outer * len * inner. */
static void axis_split(const ad_tensor *x, int axis, size_t *outer, size_t *len, size_t *inner)
{
    *outer = 1;
    *inner = 1;
    for (int i = 0; i < axis; i++) *outer *= (size_t)x->shape[i];
    *len = (size_t)x->shape[axis];
    for (int i = axis + 1; i < x->n_dims; i++) *inner *= (size_t)x->shape[i];
}

/* Validate the axis and allocate the output with that axis removed. */
static ad_tensor *axis_begin(ad_tape *t, const char *name, ad_tensor *x, int *axis)
{
    if (!ad_op_begin(t, name, 1, &x)) return ad_tape_poison(t);
    int a = *axis < 0 ? *axis + x->n_dims : *axis;
    if (a < 0 || a >= x->n_dims)
        return ad_tape_fail(t, AD_ERR_ARG, "%s: bad argument #2 (axis %d, tensor has %d dims)",
                            name, *axis, x->n_dims);
    *axis = a;
    int shape[AD_MAX_DIMS], k = 0;
    for (int i = 0; i < x->n_dims; i++)
        if (i != a) shape[k++] = x->shape[i];
    return ad_tape_tensor(t, k, shape);
}

/* y_j = c * sum_k x_jk;  dx_jk += c dy_j   (c = 1 or 1/len; axis saved) */
static void sum_axis_backward(ad_tape *t, ad_node *n)
{
    ad_tensor *x = n->inputs[0];
    ad_real *gx = ad_node_grad(t, x);
    if (!gx) return;
    size_t outer, len, inner;
    axis_split(x, n->saved_int[0], &outer, &len, &inner);
    const ad_real *gy = n->output->grad;
    ad_real c = n->saved[0];
    for (size_t o = 0; o < outer; o++)
        for (size_t k = 0; k < len; k++)
            for (size_t i = 0; i < inner; i++)
                gx[(o * len + k) * inner + i] += c * gy[o * inner + i];
}
static const ad_op OP_SUM_AXIS = {"sum_axis", sum_axis_backward};
static const ad_op OP_MEAN_AXIS = {"mean_axis", sum_axis_backward};

static ad_tensor *sum_axis(ad_tape *t, ad_tensor *x, int axis, const char *name, int mean)
{
    ad_tensor *y = axis_begin(t, name, x, &axis);
    if (!y->valid) return y;
    size_t outer, len, inner;
    axis_split(x, axis, &outer, &len, &inner);
    ad_real c = mean ? (len ? (ad_real)1 / (ad_real)len : 0) : 1;
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            double s = 0; /* in double whatever ad_real is, as ad_sum */
            for (size_t k = 0; k < len; k++) s += x->data[(o * len + k) * inner + i];
            y->data[o * inner + i] = (ad_real)(c * s);
        }
    ad_node *n = ad_tape_record(t, mean ? &OP_MEAN_AXIS : &OP_SUM_AXIS, y, 1, &x);
    if (n) {
        n->saved[0] = c;
        n->saved_int[0] = axis;
    }
    return ad_op_return(t, y);
}

ad_tensor *ad_sum_axis(ad_tape *t, ad_tensor *x, int axis)
{
    return sum_axis(t, x, axis, "ad_sum_axis", 0);
}

ad_tensor *ad_mean_axis(ad_tape *t, ad_tensor *x, int axis)
{
    return sum_axis(t, x, axis, "ad_mean_axis", 1);
}

/* y_j = log sum_k e^{x_jk};  dx_jk += dy_j * e^{x_jk - y_j}   (softmax; axis saved)
 * A row that is all -inf (y_j = -inf) has an empty softmax: its gradient is 0,
 * not the NaN of e^{-inf - (-inf)}. */
static void logsumexp_backward(ad_tape *t, ad_node *n)
{
    ad_tensor *x = n->inputs[0], *y = n->output;
    ad_real *gx = ad_node_grad(t, x);
    if (!gx) return;
    size_t outer, len, inner;
    axis_split(x, n->saved_int[0], &outer, &len, &inner);
    for (size_t o = 0; o < outer; o++)
        for (size_t k = 0; k < len; k++)
            for (size_t i = 0; i < inner; i++) {
                size_t j = o * inner + i, xi = (o * len + k) * inner + i;
                if (y->data[j] == -INFINITY) continue;
                gx[xi] += y->grad[j] * AD_MATH(exp)(x->data[xi] - y->data[j]);
            }
}
static const ad_op OP_LOGSUMEXP = {"logsumexp", logsumexp_backward};

ad_tensor *ad_logsumexp(ad_tape *t, ad_tensor *x, int axis)
{
    ad_tensor *y = axis_begin(t, "ad_logsumexp", x, &axis);
    if (!y->valid) return y;
    size_t outer, len, inner;
    axis_split(x, axis, &outer, &len, &inner);
    /* Subtract the maximum before exponentiating: exact and overflow-free. */
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            ad_real m = -INFINITY;
            for (size_t k = 0; k < len; k++) {
                ad_real v = x->data[(o * len + k) * inner + i];
                if (v > m) m = v;
            }
            double s = 0; /* the sum and its log in double whatever ad_real is */
            if (isfinite(m))
                for (size_t k = 0; k < len; k++)
                    s += AD_MATH(exp)(x->data[(o * len + k) * inner + i] - m);
            y->data[o * inner + i] = isfinite(m) ? (ad_real)(m + log(s)) : m;
        }
    ad_node *n = ad_tape_record(t, &OP_LOGSUMEXP, y, 1, &x);
    if (n) n->saved_int[0] = axis;
    return ad_op_return(t, y);
}
