/* ops_binary.c - elementwise binary ops with NumPy broadcasting.
 * Each backward sits directly above its op; reductions over broadcast axes
 * happen through the shared index loop (AD_BCAST_FOR). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ad_impl.h"
#include "ad_ops.h"

/* Common front half of a binary op: checks, broadcast, output allocation. */
static ad_tensor *binary_begin(ad_tape *t, const char *name, ad_tensor *a, ad_tensor *b,
                               ad_bcast *bc)
{
    ad_tensor *in[2] = {a, b};
    if (!ad_op_begin(t, name, 2, in)) return ad_tape_poison(t);
    if (!ad_bcast_init(bc, a, b)) {
        char sa[64];
        char expected[96];
        snprintf(expected, sizeof expected, "broadcastable with %s", AD_SHAPE_STR(a, sa));
        return ad_fail_shape(t, name, 2, b, expected);
    }
    return ad_tape_tensor(t, bc->n_dims, bc->shape);
}

static ad_node *binary_record(ad_tape *t, const ad_op *op, ad_tensor *out, ad_tensor *a,
                              ad_tensor *b)
{
    ad_tensor *in[2] = {a, b};
    return ad_tape_record(t, op, out, 2, in);
}

/* y = a + b;  da += dy,  db += dy  (summed over broadcast axes) */
static void add_backward(ad_tape *t, ad_node *n)
{
    ad_tensor *y = n->output;
    for (int k = 0; k < 2; k++) {
        ad_real *g = ad_node_grad(t, n->inputs[k]);
        if (g) ad_reduce_to(n->inputs[k], g, y, y->grad);
    }
}
static const ad_op OP_ADD = {"add", add_backward};

ad_tensor *ad_add(ad_tape *t, ad_tensor *a, ad_tensor *b)
{
    ad_bcast bc;
    ad_tensor *y = binary_begin(t, "ad_add", a, b, &bc);
    if (!y->valid) return y;
    AD_BCAST_FOR(&bc, y->data[o] = a->data[ia] + b->data[ib]);
    binary_record(t, &OP_ADD, y, a, b);
    return ad_op_return(t, y);
}

/* y = a - b;  da += dy,  db -= dy */
static void sub_backward(ad_tape *t, ad_node *n)
{
    ad_tensor *a = n->inputs[0], *b = n->inputs[1], *y = n->output;
    ad_real *ga = ad_node_grad(t, a), *gb = ad_node_grad(t, b);
    if (ga) ad_reduce_to(a, ga, y, y->grad);
    if (gb) {
        ad_bcast bc;
        ad_bcast_init(&bc, a, b);
        AD_BCAST_FOR(&bc, gb[ib] -= y->grad[o]);
    }
}
static const ad_op OP_SUB = {"sub", sub_backward};

ad_tensor *ad_sub(ad_tape *t, ad_tensor *a, ad_tensor *b)
{
    ad_bcast bc;
    ad_tensor *y = binary_begin(t, "ad_sub", a, b, &bc);
    if (!y->valid) return y;
    AD_BCAST_FOR(&bc, y->data[o] = a->data[ia] - b->data[ib]);
    binary_record(t, &OP_SUB, y, a, b);
    return ad_op_return(t, y);
}

/* y = a * b;  da += dy * b,  db += dy * a */
static void mul_backward(ad_tape *t, ad_node *n)
{
    ad_tensor *a = n->inputs[0], *b = n->inputs[1], *y = n->output;
    ad_real *ga = ad_node_grad(t, a), *gb = ad_node_grad(t, b);
    ad_bcast bc;
    ad_bcast_init(&bc, a, b);
    if (ga) AD_BCAST_FOR(&bc, ga[ia] += y->grad[o] * b->data[ib]);
    if (gb) AD_BCAST_FOR(&bc, gb[ib] += y->grad[o] * a->data[ia]);
}
static const ad_op OP_MUL = {"mul", mul_backward};

ad_tensor *ad_mul(ad_tape *t, ad_tensor *a, ad_tensor *b)
{
    ad_bcast bc;
    ad_tensor *y = binary_begin(t, "ad_mul", a, b, &bc);
    if (!y->valid) return y;
    AD_BCAST_FOR(&bc, y->data[o] = a->data[ia] * b->data[ib]);
    binary_record(t, &OP_MUL, y, a, b);
    return ad_op_return(t, y);
}

/* y = a / b;  da += dy / b,  db -= dy * y / b */
static void div_backward(ad_tape *t, ad_node *n)
{
    ad_tensor *a = n->inputs[0], *b = n->inputs[1], *y = n->output;
    ad_real *ga = ad_node_grad(t, a), *gb = ad_node_grad(t, b);
    ad_bcast bc;
    ad_bcast_init(&bc, a, b);
    if (ga) AD_BCAST_FOR(&bc, ga[ia] += y->grad[o] / b->data[ib]);
    if (gb) AD_BCAST_FOR(&bc, gb[ib] -= y->grad[o] * y->data[o] / b->data[ib]);
}
static const ad_op OP_DIV = {"div", div_backward};

ad_tensor *ad_div(ad_tape *t, ad_tensor *a, ad_tensor *b)
{
    ad_bcast bc;
    ad_tensor *y = binary_begin(t, "ad_div", a, b, &bc);
    if (!y->valid) return y;
    AD_BCAST_FOR(&bc, y->data[o] = a->data[ia] / b->data[ib]);
    binary_record(t, &OP_DIV, y, a, b);
    return ad_op_return(t, y);
}

/* y = min(a, b);  da += dy where a <= b,  db += dy where b < a */
static void minimum_backward(ad_tape *t, ad_node *n)
{
    ad_tensor *a = n->inputs[0], *b = n->inputs[1], *y = n->output;
    ad_real *ga = ad_node_grad(t, a), *gb = ad_node_grad(t, b);
    ad_bcast bc;
    ad_bcast_init(&bc, a, b);
    AD_BCAST_FOR(&bc, {
        if (a->data[ia] <= b->data[ib]) {
            if (ga) ga[ia] += y->grad[o];
        } else if (gb) {
            gb[ib] += y->grad[o];
        }
    });
}
static const ad_op OP_MINIMUM = {"minimum", minimum_backward};

ad_tensor *ad_minimum(ad_tape *t, ad_tensor *a, ad_tensor *b)
{
    ad_bcast bc;
    ad_tensor *y = binary_begin(t, "ad_minimum", a, b, &bc);
    if (!y->valid) return y;
    AD_BCAST_FOR(&bc, y->data[o] = a->data[ia] <= b->data[ib] ? a->data[ia] : b->data[ib]);
    binary_record(t, &OP_MINIMUM, y, a, b);
    return ad_op_return(t, y);
}

/* y = max(a, b);  da += dy where a >= b,  db += dy where b > a */
static void maximum_backward(ad_tape *t, ad_node *n)
{
    ad_tensor *a = n->inputs[0], *b = n->inputs[1], *y = n->output;
    ad_real *ga = ad_node_grad(t, a), *gb = ad_node_grad(t, b);
    ad_bcast bc;
    ad_bcast_init(&bc, a, b);
    AD_BCAST_FOR(&bc, {
        if (a->data[ia] >= b->data[ib]) {
            if (ga) ga[ia] += y->grad[o];
        } else if (gb) {
            gb[ib] += y->grad[o];
        }
    });
}
static const ad_op OP_MAXIMUM = {"maximum", maximum_backward};

ad_tensor *ad_maximum(ad_tape *t, ad_tensor *a, ad_tensor *b)
{
    ad_bcast bc;
    ad_tensor *y = binary_begin(t, "ad_maximum", a, b, &bc);
    if (!y->valid) return y;
    AD_BCAST_FOR(&bc, y->data[o] = a->data[ia] >= b->data[ib] ? a->data[ia] : b->data[ib]);
    binary_record(t, &OP_MAXIMUM, y, a, b);
    return ad_op_return(t, y);
}

/* y = mask ? a : b;  da += dy where mask,  db += dy elsewhere (the mask is
 * kept as the node's third input and never differentiated) */
static void where_backward(ad_tape *t, ad_node *n)
{
    ad_tensor *a = n->inputs[0], *b = n->inputs[1], *mask = n->inputs[2], *y = n->output;
    ad_real *ga = ad_node_grad(t, a), *gb = ad_node_grad(t, b);
    ad_bcast bc;
    ad_bcast_init(&bc, a, b);
    AD_BCAST_FOR(&bc, {
        if (mask->data[o] != 0) {
            if (ga) ga[ia] += y->grad[o];
        } else if (gb) {
            gb[ib] += y->grad[o];
        }
    });
}
static const ad_op OP_WHERE = {"where", where_backward};

ad_tensor *ad_where(ad_tape *t, const ad_tensor *mask, ad_tensor *a, ad_tensor *b)
{
    ad_tensor *m = (ad_tensor *)mask; /* never written */
    ad_tensor *in[3] = {m, a, b};     /* argument order, for the messages */
    if (!ad_op_begin(t, "ad_where", 3, in)) return ad_tape_poison(t);
    ad_bcast bc;
    char buf[64], expected[96];
    if (!ad_bcast_init(&bc, a, b)) {
        snprintf(expected, sizeof expected, "broadcastable with %s", AD_SHAPE_STR(a, buf));
        return ad_fail_shape(t, "ad_where", 3, b, expected);
    }
    if (m->n_dims != bc.n_dims || ad_shape_size(m->n_dims, m->shape) != m->size ||
        memcmp(m->shape, bc.shape, (size_t)bc.n_dims * sizeof(int)) != 0)
        return ad_fail_shape(t, "ad_where", 1, m,
                             ad_shape_str(bc.n_dims, bc.shape, buf, sizeof buf));
    ad_tensor *y = ad_tape_tensor(t, bc.n_dims, bc.shape);
    if (!y->valid) return y;
    AD_BCAST_FOR(&bc, y->data[o] = m->data[o] != 0 ? a->data[ia] : b->data[ib]);
    /* Only a and b decide whether a node is needed; the mask rides along. */
    ad_tensor *ab[2] = {a, b};
    ad_node *n = ad_tape_record(t, &OP_WHERE, y, 2, ab);
    if (n) {
        n->inputs[2] = m;
        n->n_inputs = 3;
    }
    return ad_op_return(t, y);
}
