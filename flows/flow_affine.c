/* flow_affine.c - the affine coupling's update as one custom op, in both
 * directions (flow_affine.h):
 *
 *   flow_affine_exp(z, s, t)      y = z e^s + t        (a coupling, forward)
 *   flow_affine_exp_inv(x, s, t)  y = (x - t) e^-s     (its inverse)
 *
 * One node, one output and one pass instead of exp, mul and add (or sub,
 * neg, exp and mul): three or four outputs, gradient buffers and passes
 * over the batch in each direction.  e = e^(+-s) is kept for the backward.
 * The three inputs have the same shape; the values are those of the
 * separate ops, operation for operation.  Only the public node interface
 * (autodiff/ad_op.h) is used.  Both passes are element-wise and are split
 * over the thread pool in fixed chunks of elements.
 */
#include "flow_affine.h"

#include <math.h>
#include <stdio.h>

#include "autodiff/fast/ad_pool.h"

static void affine_backward(ad_tape *t, ad_node *n);
static const ad_op OP_AFFINE_EXP = {"affine_exp", affine_backward};
static const ad_op OP_AFFINE_EXP_INV = {"affine_exp_inv", affine_backward};

/* forward:  y = z e + t, e = e^s;   dz += g e,  ds += g z e,        dt += g
 * inverse:  y = (x - t) e, e = e^-s;  dx += g e,  ds -= g (x - t) e,  dt -= g e
 * (saved: e) */
/* dst[i] = v (fresh) or dst[i] += v */
#define PUT(dst, fresh, i, v) ((fresh) ? ((dst)[i] = (v)) : ((dst)[i] += (v)))

/* Elements per task; fewer than two chunks run on the calling thread. */
#define AFFINE_CHUNK 8192

typedef struct {
    int inverse;
    size_t size;
    const ad_real *a, *s, *sh, *g;
    ad_real *y, *e;        /* forward (e may be NULL)  */
    const ad_real *e_in;   /* backward                 */
    ad_real *ga, *gs, *gt; /* backward (each may be NULL) */
    int fa, fs, ft;
} affine_job;

static void affine_run(affine_job *j, ad_task_fn fn)
{
    int tasks = (int)((j->size + AFFINE_CHUNK - 1) / AFFINE_CHUNK);
    if (tasks > 1) ad_parallel_for(tasks, fn, j);
    else if (tasks == 1) fn(j, 0, 0);
}

static void backward_chunk(void *ctx, int task, int worker)
{
    (void)worker;
    const affine_job *j = ctx;
    size_t i0 = (size_t)task * AFFINE_CHUNK, i1 = i0 + AFFINE_CHUNK < j->size ? i0 + AFFINE_CHUNK : j->size;
    const ad_real *g = j->g, *e = j->e_in;
    ad_real *ga = j->ga, *gs = j->gs, *gt = j->gt;
    const int fa = j->fa, fs = j->fs, ft = j->ft;
    if (j->inverse) {
        for (size_t i = i0; i < i1; i++) {
            ad_real ge = g[i] * e[i];
            if (ga) PUT(ga, fa, i, ge);
            if (gt) PUT(gt, ft, i, -ge);
            if (gs) PUT(gs, fs, i, -(g[i] * (j->a[i] - j->sh[i]) * e[i]));
        }
    } else {
        for (size_t i = i0; i < i1; i++) {
            if (ga) PUT(ga, fa, i, g[i] * e[i]);
            if (gs) PUT(gs, fs, i, g[i] * j->a[i] * e[i]);
            if (gt) PUT(gt, ft, i, g[i]);
        }
    }
}

static void forward_chunk(void *ctx, int task, int worker)
{
    (void)worker;
    const affine_job *j = ctx;
    size_t i0 = (size_t)task * AFFINE_CHUNK, i1 = i0 + AFFINE_CHUNK < j->size ? i0 + AFFINE_CHUNK : j->size;
    for (size_t i = i0; i < i1; i++) {
        ad_real ei = AD_MATH(exp)(j->inverse ? -j->s[i] : j->s[i]);
        if (j->e) j->e[i] = ei;
        j->y[i] = j->inverse ? (j->a[i] - j->sh[i]) * ei : j->a[i] * ei + j->sh[i];
    }
}

static void affine_backward(ad_tape *t, ad_node *n)
{
    ad_tensor *a = n->inputs[0], *s = n->inputs[1], *sh = n->inputs[2], *y = n->output;
    const ad_real *g = y->grad, *e = n->ctx;
    /* gradients made here are written, not zero-filled and added to, when
     * the three inputs are distinct tensors */
    int fa = 0, fs = 0, ft = 0;
    ad_real *ga, *gs, *gt;
    if (a != s && a != sh && s != sh) {
        ga = ad_node_grad_fresh(t, a, &fa);
        gs = ad_node_grad_fresh(t, s, &fs);
        gt = ad_node_grad_fresh(t, sh, &ft);
    } else {
        ga = ad_node_grad(t, a);
        gs = ad_node_grad(t, s);
        gt = ad_node_grad(t, sh);
    }
    if (!ad_tape_ok(t)) return;
    affine_job j = {n->op == &OP_AFFINE_EXP_INV, y->size, a->data, NULL, sh->data, g, NULL, NULL,
                    e, ga, gs, gt, fa, fs, ft};
    affine_run(&j, backward_chunk);
}

static ad_tensor *affine(ad_tape *t, const char *name, const ad_op *op, ad_tensor *a,
                         ad_tensor *s, ad_tensor *sh)
{
    const int inverse = op == &OP_AFFINE_EXP_INV;
    ad_tensor *in[3] = {a, s, sh};
    if (!ad_op_begin(t, name, 3, in)) return ad_tape_poison(t);
    for (int k = 1; k < 3; k++) {
        int same = in[k]->n_dims == a->n_dims;
        for (int d = 0; same && d < a->n_dims; d++) same = in[k]->shape[d] == a->shape[d];
        if (!same) {
            char got[64], want[64];
            ad_shape_str(in[k]->n_dims, in[k]->shape, got, sizeof got);
            ad_shape_str(a->n_dims, a->shape, want, sizeof want);
            return ad_tape_fail(t, AD_ERR_SHAPE,
                                "%s: bad argument #%d (shape %s, expected the shape of "
                                "argument #1, %s)",
                                name, k + 1, got, want);
        }
    }
    ad_tensor *y = ad_tape_tensor(t, a->n_dims, a->shape);
    if (!y->valid) return y;
    ad_node *nd = ad_tape_record(t, op, y, 3, in);
    /* e^(+-s) is kept when there is a backward to use it */
    ad_real *e = nd ? ad_tape_alloc(t, y->size * sizeof(ad_real)) : NULL;
    if (nd && !e) { /* out of memory: the tape holds the error */
        y->valid = 0;
        return ad_tape_poison(t);
    }
    if (nd) nd->ctx = e;
    affine_job j = {inverse, y->size, a->data, s->data, sh->data, NULL, y->data, e, NULL,
                    NULL, NULL, NULL, 0, 0, 0};
    affine_run(&j, forward_chunk);
    return y->valid ? y : ad_tape_poison(t);
}

ad_tensor *flow_affine_exp(ad_tape *t, ad_tensor *z, ad_tensor *s, ad_tensor *shift)
{
    return affine(t, "flow_affine_exp", &OP_AFFINE_EXP, z, s, shift);
}

ad_tensor *flow_affine_exp_inv(ad_tape *t, ad_tensor *x, ad_tensor *s, ad_tensor *shift)
{
    return affine(t, "flow_affine_exp_inv", &OP_AFFINE_EXP_INV, x, s, shift);
}
