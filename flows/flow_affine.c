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

/* ---- the whole coupling update on the full matrix --------------------------- */

/* Rows per task of flow_affine_couple: about AFFINE_CHUNK elements. */
static int couple_rows(int dim) { return AFFINE_CHUNK / dim > 0 ? AFFINE_CHUNK / dim : 1; }

typedef struct {
    const flow_split *split;
    int inverse;
    ad_real *e; /* [m, n_trans]: e^(+-s), kept for the backward (NULL: none) */
} couple_saved;

typedef struct {
    const couple_saved *c;
    int m;
    const ad_real *z, *zc, *s, *sh, *gx;
    ad_real *x;
    ad_real *gz, *gzc, *gs, *gt; /* backward (each may be NULL) */
    int fzc, fs, ft;
} couple_job;

static void couple_forward_rows(void *ctx, int task, int worker)
{
    (void)worker;
    const couple_job *j = ctx;
    const flow_split *sp = j->c->split;
    const int dim = sp->dim, nc = sp->n_cond, nt = sp->n_trans, inverse = j->c->inverse;
    const int r0 = task * couple_rows(dim), r1 = r0 + couple_rows(dim) < j->m ? r0 + couple_rows(dim) : j->m;
    for (int i = r0; i < r1; i++) {
        ad_real *x = j->x + (size_t)i * dim;
        const ad_real *z = j->z + (size_t)i * dim, *zc = j->zc + (size_t)i * nc;
        const ad_real *s = j->s + (size_t)i * nt, *sh = j->sh + (size_t)i * nt;
        ad_real *e = j->c->e ? j->c->e + (size_t)i * nt : NULL;
        for (int k = 0; k < nc; k++) x[sp->cond[k]] = zc[k];
        for (int k = 0; k < nt; k++) {
            ad_real a = z[sp->trans[k]], ek = AD_MATH(exp)(inverse ? -s[k] : s[k]);
            if (e) e[k] = ek;
            x[sp->trans[k]] = inverse ? (a - sh[k]) * ek : a * ek + sh[k];
        }
    }
}

static void couple_backward_rows(void *ctx, int task, int worker)
{
    (void)worker;
    const couple_job *j = ctx;
    const flow_split *sp = j->c->split;
    const int dim = sp->dim, nc = sp->n_cond, nt = sp->n_trans;
    const int r0 = task * couple_rows(dim), r1 = r0 + couple_rows(dim) < j->m ? r0 + couple_rows(dim) : j->m;
    for (int i = r0; i < r1; i++) {
        const ad_real *g = j->gx + (size_t)i * dim, *e = j->c->e + (size_t)i * nt;
        const ad_real *z = j->z + (size_t)i * dim, *sh = j->sh + (size_t)i * nt;
        if (j->gzc)
            for (int k = 0; k < nc; k++) PUT(j->gzc + (size_t)i * nc, j->fzc, k, g[sp->cond[k]]);
        ad_real *gz = j->gz ? j->gz + (size_t)i * dim : NULL;
        ad_real *gs = j->gs ? j->gs + (size_t)i * nt : NULL;
        ad_real *gt = j->gt ? j->gt + (size_t)i * nt : NULL;
        for (int k = 0; k < nt; k++) {
            const ad_real gk = g[sp->trans[k]], a = z[sp->trans[k]];
            if (j->c->inverse) {
                ad_real ge = gk * e[k];
                if (gz) gz[sp->trans[k]] += ge;
                if (gt) PUT(gt, j->ft, k, -ge);
                if (gs) PUT(gs, j->fs, k, -(gk * (a - sh[k]) * e[k]));
            } else {
                ad_real ge = gk * e[k]; /* rounded before the add, as z2's gradient was */
                if (gz) gz[sp->trans[k]] += ge;
                if (gs) PUT(gs, j->fs, k, gk * a * e[k]);
                if (gt) PUT(gt, j->ft, k, gk);
            }
        }
    }
}

static void couple_run(couple_job *j, ad_task_fn fn)
{
    int rows = couple_rows(j->c->split->dim), tasks = (j->m + rows - 1) / rows;
    if (tasks > 1) ad_parallel_for(tasks, fn, j);
    else if (tasks == 1) fn(j, 0, 0);
}

static void couple_backward(ad_tape *t, ad_node *n)
{
    ad_tensor *z = n->inputs[0], *zc = n->inputs[1], *s = n->inputs[2], *sh = n->inputs[3];
    const couple_saved *c = n->ctx;
    couple_job j = {c, z->shape[0], z->data, zc->data, s->data, sh->data, n->output->grad, NULL,
                    NULL, NULL, NULL, NULL, 0, 0, 0};
    /* z's gradient is added to in its moved columns only, so it is never
     * taken fresh; the others are written fresh when all four are distinct */
    int distinct = 1;
    for (int a = 0; a < 4; a++)
        for (int b = a + 1; b < 4; b++) distinct &= n->inputs[a] != n->inputs[b];
    j.gz = ad_node_grad(t, z);
    if (distinct) {
        j.gzc = ad_node_grad_fresh(t, zc, &j.fzc);
        j.gs = ad_node_grad_fresh(t, s, &j.fs);
        j.gt = ad_node_grad_fresh(t, sh, &j.ft);
    } else {
        j.gzc = ad_node_grad(t, zc);
        j.gs = ad_node_grad(t, s);
        j.gt = ad_node_grad(t, sh);
    }
    if (!ad_tape_ok(t)) return;
    couple_run(&j, couple_backward_rows);
}
static const ad_op OP_AFFINE_COUPLE = {"affine_couple", couple_backward};

ad_tensor *flow_affine_couple(ad_tape *t, ad_tensor *z, ad_tensor *zc, ad_tensor *s,
                              ad_tensor *shift, const flow_split *split, int inverse)
{
    static const char *const name = "flow_affine_couple";
    ad_tensor *in[4] = {z, zc, s, shift};
    if (!ad_op_begin(t, name, 4, in)) return ad_tape_poison(t);
    if (!split || split->n_cond < 1 || split->n_trans < 1)
        return ad_tape_fail(t, AD_ERR_ARG, "%s: bad argument #6 (no split)", name);
    const int want[4] = {split->dim, split->n_cond, split->n_trans, split->n_trans};
    const int m = z->n_dims == 2 ? z->shape[0] : -1;
    for (int k = 0; k < 4; k++)
        if (in[k]->n_dims != 2 || in[k]->shape[0] != m || in[k]->shape[1] != want[k]) {
            char got[64];
            ad_shape_str(in[k]->n_dims, in[k]->shape, got, sizeof got);
            if (m < 0)
                return ad_tape_fail(t, AD_ERR_SHAPE,
                                    "%s: bad argument #1 (shape %s, expected [batch,%d])", name,
                                    got, split->dim);
            return ad_tape_fail(t, AD_ERR_SHAPE,
                                "%s: bad argument #%d (shape %s, expected [%d,%d])", name, k + 1,
                                got, m, want[k]);
        }
    ad_tensor *x = ad_tape_tensor(t, 2, z->shape);
    if (!x->valid) return x;
    ad_node *nd = ad_tape_record(t, &OP_AFFINE_COUPLE, x, 4, in);
    couple_saved *c = nd ? ad_tape_alloc(t, sizeof *c) : &(couple_saved){split, inverse, NULL};
    if (!c) {
        x->valid = 0;
        return ad_tape_poison(t);
    }
    if (nd) {
        *c = (couple_saved){split, inverse, NULL};
        c->e = ad_tape_alloc(t, (size_t)z->shape[0] * split->n_trans * sizeof(ad_real));
        if (!c->e) {
            x->valid = 0;
            return ad_tape_poison(t);
        }
        nd->ctx = c;
    }
    couple_job j = {c,    z->shape[0], z->data, zc->data, s->data, shift->data, NULL, x->data,
                    NULL, NULL,        NULL,    NULL,     0,       0,           0};
    couple_run(&j, couple_forward_rows);
    return x->valid ? x : ad_tape_poison(t);
}

ad_tensor *flow_affine_exp(ad_tape *t, ad_tensor *z, ad_tensor *s, ad_tensor *shift)
{
    return affine(t, "flow_affine_exp", &OP_AFFINE_EXP, z, s, shift);
}

ad_tensor *flow_affine_exp_inv(ad_tape *t, ad_tensor *x, ad_tensor *s, ad_tensor *shift)
{
    return affine(t, "flow_affine_exp_inv", &OP_AFFINE_EXP_INV, x, s, shift);
}
