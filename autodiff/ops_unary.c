/* ops_unary.c - elementwise unary ops.  Each backward sits directly above its
 * op, with the derivative on its first line.  Ops whose derivative is cheaper
 * from the output (exp, tanh, sigmoid, sqrt) read the saved output.  relu and
 * tanh take their values and derivatives from ad_act.h, which the fused dense
 * layers (fast/) use too.
 *
 * No contraction into multiply-adds in this file, whatever -std or -march a
 * build passes (fast/ad_rows.c does the same): relu and tanh, forward and
 * backward, must round as the fused layers' row kernels do. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#include <math.h>

#include "ad_act.h"
#include "ad_impl.h"
#include "ad_ops.h"

/* Checks and output allocation shared by every unary op. */
static ad_tensor *unary_begin(ad_tape *t, const char *name, ad_tensor *x)
{
    if (!ad_op_begin(t, name, 1, &x)) return ad_tape_poison(t);
    return ad_tape_tensor(t, x->n_dims, x->shape);
}

/* Loop over the elements of a node's input/output with gx, gy, x, y in scope. */
#define UNARY_BACKWARD(t, n, BODY)                                     \
    do {                                                               \
        ad_tensor *xt_ = (n)->inputs[0], *yt_ = (n)->output;           \
        ad_real *gx = ad_node_grad((t), xt_);                          \
        if (!gx) return;                                               \
        const ad_real *x = xt_->data, *y = yt_->data, *gy = yt_->grad; \
        (void)x;                                                       \
        (void)y;                                                       \
        for (size_t i = 0; i < yt_->size; i++) { BODY; }               \
    } while (0)

/* y = -x;  dx -= dy */
static void neg_backward(ad_tape *t, ad_node *n) { UNARY_BACKWARD(t, n, gx[i] -= gy[i]); }
static const ad_op OP_NEG = {"neg", neg_backward};

ad_tensor *ad_neg(ad_tape *t, ad_tensor *x)
{
    ad_tensor *y = unary_begin(t, "ad_neg", x);
    if (!y->valid) return y;
    for (size_t i = 0; i < y->size; i++) y->data[i] = -x->data[i];
    ad_tape_record(t, &OP_NEG, y, 1, &x);
    return ad_op_return(t, y);
}

/* y = c x;  dx += c dy   (c saved) */
static void scale_backward(ad_tape *t, ad_node *n)
{
    ad_real c = n->saved[0];
    UNARY_BACKWARD(t, n, gx[i] += c * gy[i]);
}
static const ad_op OP_SCALE = {"scale", scale_backward};

ad_tensor *ad_scale(ad_tape *t, ad_tensor *x, ad_real c)
{
    ad_tensor *y = unary_begin(t, "ad_scale", x);
    if (!y->valid) return y;
    for (size_t i = 0; i < y->size; i++) y->data[i] = c * x->data[i];
    ad_node *n = ad_tape_record(t, &OP_SCALE, y, 1, &x);
    if (n) n->saved[0] = c;
    return ad_op_return(t, y);
}

/* y = x + c;  dx += dy */
static void add_scalar_backward(ad_tape *t, ad_node *n) { UNARY_BACKWARD(t, n, gx[i] += gy[i]); }
static const ad_op OP_ADD_SCALAR = {"add_scalar", add_scalar_backward};

ad_tensor *ad_add_scalar(ad_tape *t, ad_tensor *x, ad_real c)
{
    ad_tensor *y = unary_begin(t, "ad_add_scalar", x);
    if (!y->valid) return y;
    for (size_t i = 0; i < y->size; i++) y->data[i] = x->data[i] + c;
    ad_node *n = ad_tape_record(t, &OP_ADD_SCALAR, y, 1, &x);
    if (n) n->saved[0] = c;
    return ad_op_return(t, y);
}

/* y = e^x;  dx += dy * y */
static void exp_backward(ad_tape *t, ad_node *n) { UNARY_BACKWARD(t, n, gx[i] += gy[i] * y[i]); }
static const ad_op OP_EXP = {"exp", exp_backward};

ad_tensor *ad_exp(ad_tape *t, ad_tensor *x)
{
    ad_tensor *y = unary_begin(t, "ad_exp", x);
    if (!y->valid) return y;
    for (size_t i = 0; i < y->size; i++) y->data[i] = AD_MATH(exp)(x->data[i]);
    ad_tape_record(t, &OP_EXP, y, 1, &x);
    return ad_op_return(t, y);
}

/* y = log x;  dx += dy / x */
static void log_backward(ad_tape *t, ad_node *n) { UNARY_BACKWARD(t, n, gx[i] += gy[i] / x[i]); }
static const ad_op OP_LOG = {"log", log_backward};

ad_tensor *ad_log(ad_tape *t, ad_tensor *x)
{
    ad_tensor *y = unary_begin(t, "ad_log", x);
    if (!y->valid) return y;
    for (size_t i = 0; i < y->size; i++) y->data[i] = AD_MATH(log)(x->data[i]);
    ad_tape_record(t, &OP_LOG, y, 1, &x);
    return ad_op_return(t, y);
}

/* y = tanh x;  dx += dy * (1 - y^2)   (ad_act.h) */
static void tanh_backward(ad_tape *t, ad_node *n)
{
    UNARY_BACKWARD(t, n, gx[i] += gy[i] * ad_act_tanh_slope(y[i]));
}
static const ad_op OP_TANH = {"tanh", tanh_backward};

ad_tensor *ad_tanh(ad_tape *t, ad_tensor *x)
{
    ad_tensor *y = unary_begin(t, "ad_tanh", x);
    if (!y->valid) return y;
    for (size_t i = 0; i < y->size; i++) y->data[i] = ad_act_tanh(x->data[i]);
    ad_tape_record(t, &OP_TANH, y, 1, &x);
    return ad_op_return(t, y);
}

/* y = max(x, 0);  dx += dy where x > 0   (ad_act.h) */
static void relu_backward(ad_tape *t, ad_node *n)
{
    UNARY_BACKWARD(t, n, if (ad_act_relu_passes(x[i])) gx[i] += gy[i]);
}
static const ad_op OP_RELU = {"relu", relu_backward};

ad_tensor *ad_relu(ad_tape *t, ad_tensor *x)
{
    ad_tensor *y = unary_begin(t, "ad_relu", x);
    if (!y->valid) return y;
    for (size_t i = 0; i < y->size; i++) y->data[i] = ad_act_relu(x->data[i]);
    ad_tape_record(t, &OP_RELU, y, 1, &x);
    return ad_op_return(t, y);
}

/* y = 1 / (1 + e^-x);  dx += dy * y (1 - y) */
static void sigmoid_backward(ad_tape *t, ad_node *n)
{
    UNARY_BACKWARD(t, n, gx[i] += gy[i] * y[i] * (1 - y[i]));
}
static const ad_op OP_SIGMOID = {"sigmoid", sigmoid_backward};

ad_tensor *ad_sigmoid(ad_tape *t, ad_tensor *x)
{
    ad_tensor *y = unary_begin(t, "ad_sigmoid", x);
    if (!y->valid) return y;
    for (size_t i = 0; i < y->size; i++) {
        /* Both branches evaluate exp of a non-positive number: no overflow. */
        ad_real v = x->data[i];
        if (v >= 0) {
            y->data[i] = 1 / (1 + AD_MATH(exp)(-v));
        } else {
            ad_real e = AD_MATH(exp)(v);
            y->data[i] = e / (1 + e);
        }
    }
    ad_tape_record(t, &OP_SIGMOID, y, 1, &x);
    return ad_op_return(t, y);
}

/* y = log(1 + e^x);  dx += dy * sigmoid(x) */
static void softplus_backward(ad_tape *t, ad_node *n)
{
    UNARY_BACKWARD(t, n, {
        ad_real s = x[i] >= 0 ? 1 / (1 + AD_MATH(exp)(-x[i]))
                              : AD_MATH(exp)(x[i]) / (1 + AD_MATH(exp)(x[i]));
        gx[i] += gy[i] * s;
    });
}
static const ad_op OP_SOFTPLUS = {"softplus", softplus_backward};

ad_tensor *ad_softplus(ad_tape *t, ad_tensor *x)
{
    ad_tensor *y = unary_begin(t, "ad_softplus", x);
    if (!y->valid) return y;
    /* max(x,0) + log1p(e^-|x|): exact for large |x| without overflow. */
    for (size_t i = 0; i < y->size; i++) {
        ad_real v = x->data[i];
        y->data[i] = (v > 0 ? v : 0) + AD_MATH(log1p)(AD_MATH(exp)(-AD_MATH(fabs)(v)));
    }
    ad_tape_record(t, &OP_SOFTPLUS, y, 1, &x);
    return ad_op_return(t, y);
}

/* y = sqrt x;  dx += dy / (2 y) */
static void sqrt_backward(ad_tape *t, ad_node *n)
{
    UNARY_BACKWARD(t, n, gx[i] += gy[i] / (2 * y[i]));
}
static const ad_op OP_SQRT = {"sqrt", sqrt_backward};

ad_tensor *ad_sqrt(ad_tape *t, ad_tensor *x)
{
    ad_tensor *y = unary_begin(t, "ad_sqrt", x);
    if (!y->valid) return y;
    for (size_t i = 0; i < y->size; i++) y->data[i] = AD_MATH(sqrt)(x->data[i]);
    ad_tape_record(t, &OP_SQRT, y, 1, &x);
    return ad_op_return(t, y);
}

/* y = x^2;  dx += 2 x dy */
static void square_backward(ad_tape *t, ad_node *n)
{
    UNARY_BACKWARD(t, n, gx[i] += 2 * x[i] * gy[i]);
}
static const ad_op OP_SQUARE = {"square", square_backward};

ad_tensor *ad_square(ad_tape *t, ad_tensor *x)
{
    ad_tensor *y = unary_begin(t, "ad_square", x);
    if (!y->valid) return y;
    for (size_t i = 0; i < y->size; i++) y->data[i] = x->data[i] * x->data[i];
    ad_tape_record(t, &OP_SQUARE, y, 1, &x);
    return ad_op_return(t, y);
}

/* y = x^p;  dx += dy * p x^(p-1)   (p saved) */
static void pow_backward(ad_tape *t, ad_node *n)
{
    ad_real p = n->saved[0];
    if (p == 0) return; /* x^0 = 1: no gradient (and no 0 * inf at x = 0) */
    UNARY_BACKWARD(t, n, gx[i] += gy[i] * p * AD_MATH(pow)(x[i], p - 1));
}
static const ad_op OP_POW = {"pow", pow_backward};

ad_tensor *ad_pow(ad_tape *t, ad_tensor *x, ad_real p)
{
    ad_tensor *y = unary_begin(t, "ad_pow", x);
    if (!y->valid) return y;
    for (size_t i = 0; i < y->size; i++) y->data[i] = AD_MATH(pow)(x->data[i], p);
    ad_node *n = ad_tape_record(t, &OP_POW, y, 1, &x);
    if (n) n->saved[0] = p;
    return ad_op_return(t, y);
}

/* y = |x|;  dx += dy * sign(x)   (0 at x = 0) */
static void abs_backward(ad_tape *t, ad_node *n)
{
    UNARY_BACKWARD(t, n, gx[i] += x[i] > 0 ? gy[i] : x[i] < 0 ? -gy[i] : 0);
}
static const ad_op OP_ABS = {"abs", abs_backward};

ad_tensor *ad_abs(ad_tape *t, ad_tensor *x)
{
    ad_tensor *y = unary_begin(t, "ad_abs", x);
    if (!y->valid) return y;
    for (size_t i = 0; i < y->size; i++) y->data[i] = AD_MATH(fabs)(x->data[i]);
    ad_tape_record(t, &OP_ABS, y, 1, &x);
    return ad_op_return(t, y);
}

/* y = min(max(x, lo), hi);  dx += dy where lo < x < hi   (lo, hi saved) */
static void clamp_backward(ad_tape *t, ad_node *n)
{
    ad_real lo = n->saved[0], hi = n->saved[1];
    UNARY_BACKWARD(t, n, if (x[i] > lo && x[i] < hi) gx[i] += gy[i]);
}
static const ad_op OP_CLAMP = {"clamp", clamp_backward};

ad_tensor *ad_clamp(ad_tape *t, ad_tensor *x, ad_real lo, ad_real hi)
{
    if (ad_tape_ok(t) && !(lo <= hi)) /* also catches NaN bounds */
        return ad_tape_fail(t, AD_ERR_ARG, "ad_clamp: bad arguments #2, #3 (lo %g > hi %g)",
                            (double)lo, (double)hi);
    ad_tensor *y = unary_begin(t, "ad_clamp", x);
    if (!y->valid) return y;
    for (size_t i = 0; i < y->size; i++) {
        ad_real v = x->data[i];
        y->data[i] = v < lo ? lo : v > hi ? hi : v;
    }
    ad_node *n = ad_tape_record(t, &OP_CLAMP, y, 1, &x);
    if (n) {
        n->saved[0] = lo;
        n->saved[1] = hi;
    }
    return ad_op_return(t, y);
}
