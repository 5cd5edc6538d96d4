/* ops_dense.c - the fused dense layer y = act(x W + b): one node instead of
 * matmul, broadcast add and activation (three outputs, three gradient
 * buffers and three passes over [batch, n] in each direction).
 *
 * Fast path.  Speeds up: ad_matmul + ad_add + ad_relu / ad_tanh.  Must agree
 * with: those ops composed (to rounding; tests/test_autodiff_fused.c).
 *
 * The product goes through ad_gemm, except for the thin shapes of the 2-D
 * flows (n = 1: one dot product per row; k = 1: an outer product), which a
 * register-tiled kernel would pad to a whole tile.  The bias and activation
 * are applied to each block of rows as soon as the product has finished it
 * (the GEMM's epilogue, while the block is in cache; the thin shapes in the
 * same row loop as their product), and the backward pass
 * forms g = dy act'(y), the bias gradient and, for the thin shapes, dx and
 * dW in one pass.  Rows are split over the thread pool in chunks of fixed
 * size, so every result (the per-chunk partial sums of the bias and thin
 * weight gradients included, added in chunk order) is the same for any
 * thread count.
 */
#include <stdio.h>
#include <string.h>

#include "ad_fused.h"
#include "ad_gemm.h"
#include "ad_pool.h"
#include "ad_rows.h"
#include "ad_state.h"
#include "autodiff/ad_impl.h"

/* Rows per parallel task: fixed, so that partial sums never depend on the
 * number of threads. */
#define DENSE_CHUNK 64

/* ---- forward ---------------------------------------------------------------- */

typedef struct {
    const ad_real *x, *w, *b; /* b may be NULL                  */
    ad_real *y;
    int m, k, n;
    ad_activation act;
} dense_fwd;

static void dense_forward_rows(void *ctx, int task, int worker)
{
    (void)worker;
    const dense_fwd *f = ctx;
    int r0 = task * DENSE_CHUNK, r1 = r0 + DENSE_CHUNK < f->m ? r0 + DENSE_CHUNK : f->m;
    const int n = f->n, k = f->k;
    for (int i = r0; i < r1; i++) {
        ad_real *y = f->y + (size_t)i * n;
        const ad_real *x = f->x + (size_t)i * k;
        ad_row_thin_forward(y, x, f->w, f->b, k, n, f->act);
    }
}

/* Split rows over the pool when the work is worth waking it for. */
static void rows_parallel(int m, size_t row_cost, ad_task_fn fn, void *ctx)
{
    int tasks = (m + DENSE_CHUNK - 1) / DENSE_CHUNK;
    if ((size_t)m * row_cost < 16384 || ad_threads_get() == 1) {
        for (int task = 0; task < tasks; task++) fn(ctx, task, 0);
        return;
    }
    ad_parallel_for(tasks, fn, ctx);
}

/* ---- backward --------------------------------------------------------------- */

typedef struct {
    const ad_real *y, *gy;
    ad_real *g;        /* [m, n] dy act'(y), or gy itself for identity      */
    ad_real *partial;  /* [tasks, n] per-chunk column sums of g (bias grad)  */
    const ad_real *x;  /* for the thin dW                                    */
    ad_real *wpartial; /* [tasks, k * n] per-chunk thin dW (NULL: not needed) */
    const ad_real *w;  /* for the thin dx                                    */
    ad_real *gx;       /* thin dx (NULL: not needed or done by gemm)         */
    int m, k, n;
    ad_activation act;
    int gx_fresh;      /* 1: gx is uninitialised and is written, not added to */
} dense_bwd;

/* g = dy act'(y) for a chunk of rows, its column sums, and (thin shapes) dx
 * and the chunk's part of dW. */
static void dense_backward_rows(void *ctx, int task, int worker)
{
    (void)worker;
    const dense_bwd *d = ctx;
    int r0 = task * DENSE_CHUNK, r1 = r0 + DENSE_CHUNK < d->m ? r0 + DENSE_CHUNK : d->m;
    const int n = d->n, k = d->k;
    ad_real *colsum = d->partial ? d->partial + (size_t)task * n : NULL;
    if (colsum)
        for (int j = 0; j < n; j++) colsum[j] = 0;
    ad_real *gw = d->wpartial ? d->wpartial + (size_t)task * k * n : NULL;
    if (gw)
        for (int j = 0; j < k * n; j++) gw[j] = 0;
    for (int i = r0; i < r1; i++) {
        const ad_real *g = d->g + (size_t)i * n;
        if (d->act == AD_ACT_IDENTITY) { /* g is gy */
            if (colsum) ad_row_act_grad(NULL, NULL, g, colsum, n, d->act);
        } else {
            ad_row_act_grad(d->g + (size_t)i * n, d->y + (size_t)i * n, d->gy + (size_t)i * n,
                         colsum, n, d->act);
        }
        if (gw) ad_row_thin_dw(gw, d->x + (size_t)i * k, g, k, n);
        if (d->gx) ad_row_thin_dx(d->gx + (size_t)i * k, g, d->w, k, n, d->gx_fresh);
    }
}

/* ---- backward of the wide shapes, by blocks of rows ------------------------- */

/* For a block of rows, g = dy act'(y) is formed in a per-thread scratch
 * buffer and used at once, while it is in cache, by the block's two
 * products (dx of the block, and the block's part of dW), instead of being
 * written out in full and read back twice.  The block size depends on m
 * only, so the dW and bias partial sums, added in block order, are the same
 * for any thread count. */
typedef struct {
    const ad_real *x, *w, *y, *gy;
    ad_real *gscratch; /* [threads][rows * n] g of a block (NULL: identity)  */
    ad_real *colsum;   /* [blocks][n] bias-gradient partials (NULL: none)    */
    ad_real *wpart;    /* [blocks][k * n] dW partials (NULL: none)           */
    ad_real *gx;       /* NULL: dx not needed                                */
    int gx_fresh, m, k, n, rows;
    ad_activation act;
} dense_blocks;

static void dense_backward_block(void *ctx, int task, int worker)
{
    const dense_blocks *d = ctx;
    const int n = d->n, k = d->k, r0 = task * d->rows;
    const int rows = r0 + d->rows < d->m ? d->rows : d->m - r0;
    ad_real *colsum = d->colsum ? d->colsum + (size_t)task * n : NULL;
    if (colsum)
        for (int j = 0; j < n; j++) colsum[j] = 0;
    const ad_real *g = d->gy + (size_t)r0 * n;
    if (d->act != AD_ACT_IDENTITY) {
        ad_real *gs = d->gscratch + (size_t)worker * d->rows * n;
        for (int i = 0; i < rows; i++)
            ad_row_act_grad(gs + (size_t)i * n, d->y + (size_t)(r0 + i) * n,
                         d->gy + (size_t)(r0 + i) * n, colsum, n, d->act);
        g = gs;
    } else if (colsum) {
        for (int i = 0; i < rows; i++) ad_row_act_grad(NULL, NULL, g + (size_t)i * n, colsum, n, d->act);
    }
    /* inside a task ad_gemm runs on this thread alone */
    if (d->gx)
        ad_gemm(0, 1, rows, k, n, 1, g, n, d->w, n, d->gx_fresh ? 0 : 1, d->gx + (size_t)r0 * k, k);
    if (d->wpart)
        ad_gemm(1, 0, k, n, rows, 1, d->x + (size_t)r0 * k, k, g, n, 0,
                d->wpart + (size_t)task * k * n, n);
}

/* The wide backward; returns 0 (and computes nothing) if the scratch cannot
 * be allocated, for the caller to fall back on the whole-matrix path. */
static int dense_backward_blocked(ad_tape *t, const ad_real *x, const ad_real *w,
                                  const ad_real *y, const ad_real *gy, ad_real *gx, int gx_fresh,
                                  ad_real *gw, ad_real *gb, int m, int k, int n, ad_activation act)
{
    const int rows = ad_block_rows(m), blocks = (m + rows - 1) / rows;
    /* one g block per worker index (not capped by the block count: called
     * from inside a task, the tasks run inline under that task's index) */
    const int threads = ad_threads_get();
    dense_blocks d = {x, w, y, gy, NULL, NULL, NULL, gx, gx_fresh, m, k, n, rows, act};
    if (gb && !(d.colsum = ad_tape_alloc(t, (size_t)blocks * n * sizeof(ad_real)))) return 0;
    if (gx) (void)ad_gemm_reserve_tasks(rows, k, n);
    if (gw) (void)ad_gemm_reserve_tasks(k, n, rows);
    size_t g_need = act != AD_ACT_IDENTITY ? (size_t)threads * rows * n : 0;
    size_t need = g_need + (gw ? (size_t)blocks * k * n : 0);
    ad_real *scratch = ad_scratch_lock(need);
    if (!scratch) return 0;
    if (g_need) d.gscratch = scratch;
    if (gw) d.wpart = scratch + g_need;
    ad_parallel_for(blocks, dense_backward_block, &d);
    /* partial sums in block order: independent of the thread count */
    if (gw)
        for (int blk = 0; blk < blocks; blk++) {
            const ad_real *p = d.wpart + (size_t)blk * k * n;
            for (size_t j = 0; j < (size_t)k * n; j++) gw[j] += p[j];
        }
    ad_scratch_unlock();
    if (gb)
        for (int blk = 0; blk < blocks; blk++)
            for (int j = 0; j < n; j++) gb[j] += d.colsum[(size_t)blk * n + j];
    return 1;
}

/* y = act(x W + b);  g = dy act'(y) (relu: dy where y > 0; tanh: dy (1 - y^2)),
 * dx += g W^T,  dW += x^T g,  db += sum_rows g   (saved: the output, act) */
static void dense_backward(ad_tape *t, ad_node *nd)
{
    ad_tensor *x = nd->inputs[0], *w = nd->inputs[1], *y = nd->output;
    ad_tensor *b = nd->n_inputs > 2 ? nd->inputs[2] : NULL;
    const int m = x->shape[0], k = x->shape[1], n = w->shape[1];
    const ad_activation act = (ad_activation)nd->saved_int[0];
    const int thin = n == 1 || k == 1;
    /* A tape input's gradient that does not exist yet is written by the
     * product (beta = 0) or the thin row loop directly instead of being
     * zero-filled and added to; any other consumer of x adds to it later, as
     * usual. */
    int gx_fresh = 0;
    ad_real *gx = x != w ? ad_node_grad_fresh(t, x, &gx_fresh) : ad_node_grad(t, x);
    ad_real *gw = ad_node_grad(t, w);
    ad_real *gb = b ? ad_node_grad(t, b) : NULL;
    if (!ad_tape_ok(t)) return;
    if (!thin && m > 0 &&
        dense_backward_blocked(t, x->data, w->data, y->data, y->grad, gx, gx_fresh, gw, gb, m, k,
                               n, act))
        return;
    int tasks = (m + DENSE_CHUNK - 1) / DENSE_CHUNK;
    dense_bwd d = {y->data, y->grad, y->grad, NULL, x->data, NULL, w->data, thin ? gx : NULL,
                   m, k, n, act, gx_fresh};
    if (act != AD_ACT_IDENTITY) d.g = ad_tape_alloc(t, (size_t)m * n * sizeof(ad_real));
    if (gb) d.partial = ad_tape_alloc(t, (size_t)tasks * n * sizeof(ad_real));
    if (gw && thin) d.wpartial = ad_tape_alloc(t, (size_t)tasks * k * n * sizeof(ad_real));
    if (!ad_tape_ok(t)) return;
    if (act != AD_ACT_IDENTITY || gb || d.gx || d.wpartial)
        rows_parallel(m, (size_t)n * 4 + (thin ? (size_t)k * n * 2 : 0), dense_backward_rows, &d);
    /* chunk sums in chunk order: independent of the thread count */
    if (gb)
        for (int task = 0; task < tasks; task++)
            for (int j = 0; j < n; j++) gb[j] += d.partial[(size_t)task * n + j];
    if (d.wpartial)
        for (int task = 0; task < tasks; task++)
            for (int j = 0; j < k * n; j++) gw[j] += d.wpartial[(size_t)task * k * n + j];
    if (gw && !thin) ad_gemm(1, 0, k, n, m, 1, x->data, k, d.g, n, 1, gw, n);
    if (gx && !thin) ad_gemm(0, 1, m, k, n, 1, d.g, n, w->data, n, gx_fresh ? 0 : 1, gx, k);
}
static const ad_op OP_DENSE = {"dense", dense_backward};

ad_tensor *ad_dense(ad_tape *t, ad_tensor *x, ad_tensor *w, ad_tensor *b, ad_activation act)
{
    ad_tensor *in[3] = {x, w, b};
    int n_in = b ? 3 : 2;
    if (!ad_op_begin(t, "ad_dense", n_in, in)) return ad_tape_poison(t);
    if (x->n_dims != 2) return ad_fail_shape(t, "ad_dense", 1, x, "a matrix [batch,k]");
    char expected[64];
    snprintf(expected, sizeof expected, "[%d,*]", x->shape[1]);
    if (w->n_dims != 2 || w->shape[0] != x->shape[1])
        return ad_fail_shape(t, "ad_dense", 2, w, expected);
    snprintf(expected, sizeof expected, "[%d]", w->shape[1]);
    if (b && (b->n_dims != 1 || b->shape[0] != w->shape[1]))
        return ad_fail_shape(t, "ad_dense", 3, b, expected);
    if (act != AD_ACT_IDENTITY && act != AD_ACT_RELU && act != AD_ACT_TANH)
        return ad_tape_fail(t, AD_ERR_ARG, "ad_dense: bad argument #4 (unknown activation %d)",
                            (int)act);
    const int m = x->shape[0], k = x->shape[1], n = w->shape[1];
    int shape[2] = {m, n};
    ad_tensor *y = ad_tape_tensor(t, 2, shape);
    if (!y->valid) return y;
    dense_fwd f = {x->data, w->data, b ? b->data : NULL, y->data, m, k, n, act};
    if (n != 1 && k != 1) {
        /* the bias and activation as the GEMM's epilogue, on each block of
         * y the product has just finished (still in cache) */
        ad_bias_act ba = {f.b, act};
        if (b || act != AD_ACT_IDENTITY)
            ad_gemm_epilogue(0, 0, m, n, k, 1, x->data, k, w->data, n, 0, y->data, n,
                             ad_rows_bias_act_block, &ba);
        else
            ad_gemm(0, 0, m, n, k, 1, x->data, k, w->data, n, 0, y->data, n);
    } else if (y->size)
        rows_parallel(m, (size_t)n * (act == AD_ACT_TANH ? 20 : 2) + (size_t)(n == 1 ? k : 0),
                      dense_forward_rows, &f);
    ad_node *nd = ad_tape_record(t, &OP_DENSE, y, n_in, in);
    if (nd) nd->saved_int[0] = (int)act;
    return ad_op_return(t, y);
}
