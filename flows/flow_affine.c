/* flow_affine.c - the affine coupling's update as custom ops (flow_affine.h):
 *
 *   flow_affine_exp(z, s, t)      y = z e^s + t        (a coupling, forward)
 *   flow_affine_exp_inv(x, s, t)  y = (x - t) e^-s     (its inverse)
 *   flow_affine_couple(z, zc, s, t, split, inverse)
 *                                 the same on the moved columns of the full
 *                                 matrix, the kept ones copied from zc
 *
 * One node, one output and one pass instead of exp, mul and add (or sub,
 * neg, exp and mul): three or four outputs, gradient buffers and passes
 * over the batch in each direction (flow_affine_couple also replaces the
 * gathers and the concatenation around them).  e = e^(+-s) is kept for the
 * backward.  The values are those of the separate ops, operation for
 * operation: both ops compute each element with the inline formulas below.
 * Only the public node interface (autodiff/ad_op.h) is used.  The passes are
 * split over the thread pool in fixed chunks of elements or rows.
 */
#include "flow_affine.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* dst[i] = v (fresh) or dst[i] += v */
#define PUT(dst, fresh, i, v) ((fresh) ? ((dst)[i] = (v)) : ((dst)[i] += (v)))

/* One element, forward: y = a e + t with e = e^s, or y = (a - t) e with
 * e = e^-s (inverse); e is returned through *e. */
static inline ad_real affine_value(int inverse, ad_real a, ad_real s, ad_real sh, ad_real *e)
{
    ad_real ei = AD_MATH(exp)(inverse ? -s : s);
    *e = ei;
    return inverse ? (a - sh) * ei : a * ei + sh;
}

/* One element, backward, from g = dL/dy:
 *   forward:  da += g e,  ds += g a e,         dt += g
 *   inverse:  da += g e,  ds -= g (a - t) e,   dt -= g e
 * (written when fresh, else added; ga, gs, gt may be NULL). */
static inline void affine_grad(int inverse, ad_real g, ad_real a, ad_real sh, ad_real e,
                               ad_real *ga, int fa, ad_real *gs, int fs, ad_real *gt, int ft)
{
    if (inverse) {
        ad_real ge = g * e;
        if (ga) PUT(ga, fa, 0, ge);
        if (gt) PUT(gt, ft, 0, -ge);
        if (gs) PUT(gs, fs, 0, -(g * (a - sh) * e));
    } else {
        if (ga) PUT(ga, fa, 0, g * e);
        if (gs) PUT(gs, fs, 0, g * a * e);
        if (gt) PUT(gt, ft, 0, g);
    }
}

static void affine_backward(ad_tape *t, ad_node *n);
static const ad_op OP_AFFINE_EXP = {"affine_exp", affine_backward};
static const ad_op OP_AFFINE_EXP_INV = {"affine_exp_inv", affine_backward};

/* Elements per task (a single task runs on the calling thread). */
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

static int affine_tasks(const affine_job *j)
{
    return (int)((j->size + AFFINE_CHUNK - 1) / AFFINE_CHUNK);
}

/* The elements [i0, i1) of task `task`. */
static void chunk_of(const affine_job *j, int task, size_t *i0, size_t *i1)
{
    *i0 = (size_t)task * AFFINE_CHUNK;
    *i1 = *i0 + AFFINE_CHUNK < j->size ? *i0 + AFFINE_CHUNK : j->size;
}

static void backward_chunk(void *ctx, int task, int worker)
{
    (void)worker;
    const affine_job *j = ctx;
    size_t i0, i1;
    chunk_of(j, task, &i0, &i1);
    for (size_t i = i0; i < i1; i++)
        affine_grad(j->inverse, j->g[i], j->a[i], j->sh[i], j->e_in[i], j->ga ? j->ga + i : NULL,
                    j->fa, j->gs ? j->gs + i : NULL, j->fs, j->gt ? j->gt + i : NULL, j->ft);
}

static void forward_chunk(void *ctx, int task, int worker)
{
    (void)worker;
    const affine_job *j = ctx;
    size_t i0, i1;
    chunk_of(j, task, &i0, &i1);
    for (size_t i = i0; i < i1; i++) {
        ad_real ei;
        j->y[i] = affine_value(j->inverse, j->a[i], j->s[i], j->sh[i], &ei);
        if (j->e) j->e[i] = ei;
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
    ad_parallel_for(affine_tasks(&j), backward_chunk, &j);
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
    ad_parallel_for(affine_tasks(&j), forward_chunk, &j);
    return y->valid ? y : ad_tape_poison(t);
}

/* ---- the whole coupling update on the full matrix --------------------------- */

/* Rows per task of flow_affine_couple: about AFFINE_CHUNK elements. */
static int couple_rows(int dim) { return AFFINE_CHUNK / dim > 0 ? AFFINE_CHUNK / dim : 1; }

/* The rows [r0, r1) of task `task` of a batch of m rows of dim columns. */
static void rows_of(int task, int m, int dim, int *r0, int *r1)
{
    *r0 = task * couple_rows(dim);
    *r1 = *r0 + couple_rows(dim) < m ? *r0 + couple_rows(dim) : m;
}

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
    int r0, r1;
    rows_of(task, j->m, dim, &r0, &r1);
    for (int i = r0; i < r1; i++) {
        ad_real *x = j->x + (size_t)i * dim;
        const ad_real *z = j->z + (size_t)i * dim, *zc = j->zc + (size_t)i * nc;
        const ad_real *s = j->s + (size_t)i * nt, *sh = j->sh + (size_t)i * nt;
        ad_real *e = j->c->e ? j->c->e + (size_t)i * nt : NULL;
        for (int k = 0; k < nc; k++) x[sp->cond[k]] = zc[k];
        for (int k = 0; k < nt; k++) {
            ad_real ek;
            x[sp->trans[k]] = affine_value(inverse, z[sp->trans[k]], s[k], sh[k], &ek);
            if (e) e[k] = ek;
        }
    }
}

static void couple_backward_rows(void *ctx, int task, int worker)
{
    (void)worker;
    const couple_job *j = ctx;
    const flow_split *sp = j->c->split;
    const int dim = sp->dim, nc = sp->n_cond, nt = sp->n_trans;
    int r0, r1;
    rows_of(task, j->m, dim, &r0, &r1);
    for (int i = r0; i < r1; i++) {
        const ad_real *g = j->gx + (size_t)i * dim, *e = j->c->e + (size_t)i * nt;
        const ad_real *z = j->z + (size_t)i * dim, *sh = j->sh + (size_t)i * nt;
        if (j->gzc)
            for (int k = 0; k < nc; k++) PUT(j->gzc + (size_t)i * nc, j->fzc, k, g[sp->cond[k]]);
        ad_real *gz = j->gz ? j->gz + (size_t)i * dim : NULL;
        ad_real *gs = j->gs ? j->gs + (size_t)i * nt : NULL;
        ad_real *gt = j->gt ? j->gt + (size_t)i * nt : NULL;
        for (int k = 0; k < nt; k++) {
            /* z's moved column gets g e, rounded, then added: as z2's
             * gradient was written fresh by flow_affine_exp and then added
             * by the gather's backward */
            ad_real gz2;
            affine_grad(j->c->inverse, g[sp->trans[k]], z[sp->trans[k]], sh[k], e[k], &gz2, 1,
                        gs ? gs + k : NULL, j->fs, gt ? gt + k : NULL, j->ft);
            if (gz) gz[sp->trans[k]] += gz2;
        }
    }
}

static int couple_tasks(const couple_job *j)
{
    int rows = couple_rows(j->c->split->dim);
    return (j->m + rows - 1) / rows;
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
    ad_parallel_for(couple_tasks(&j), couple_backward_rows, &j);
}
static const ad_op OP_AFFINE_COUPLE = {"affine_couple", couple_backward};

/* The split's two channels list each of its dim columns exactly once (seen:
 * dim bytes of scratch). */
static int split_ok(const flow_split *sp, unsigned char *seen)
{
    if (!sp || !sp->cond || !sp->trans || sp->n_cond < 1 || sp->n_trans < 1 ||
        sp->n_cond + sp->n_trans != sp->dim)
        return 0;
    memset(seen, 0, (size_t)sp->dim);
    for (int k = 0; k < sp->dim; k++) {
        int c = k < sp->n_cond ? sp->cond[k] : sp->trans[k - sp->n_cond];
        if (c < 0 || c >= sp->dim || seen[c]) return 0;
        seen[c] = 1;
    }
    return 1;
}

/* x[:, cond] = zc, x[:, trans] = z[:, trans] e^s + t (or (z - t) e^-s):
 * dzc += dx[:, cond], dz[:, trans] += dx e, ds and dt as flow_affine_exp's */
ad_tensor *flow_affine_couple(ad_tape *t, ad_tensor *z, ad_tensor *zc, ad_tensor *s,
                              ad_tensor *shift, const flow_split *split, int inverse)
{
    static const char *const name = "flow_affine_couple";
    ad_tensor *in[4] = {z, zc, s, shift};
    if (!ad_op_begin(t, name, 4, in)) return ad_tape_poison(t);
    unsigned char *seen = split && split->dim > 0 ? ad_tape_alloc(t, (size_t)split->dim) : NULL;
    if (split && split->dim > 0 && !seen) return ad_tape_poison(t); /* out of memory */
    if (!split_ok(split, seen))
        return ad_tape_fail(t, AD_ERR_ARG,
                            "%s: bad argument #5 (no split, or one whose channels do not list "
                            "each column once)",
                            name);
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
    ad_parallel_for(couple_tasks(&j), couple_forward_rows, &j);
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
