/* ops_mlp.c - a chain of dense layers as one op:
 *
 *   h_0 = x,   h_l = act_l(h_{l-1} W_l + b_l)  (l = 1..L),   y = h_L
 *
 * Fast path.  Speeds up: L ad_dense calls.  Must agree with: them, values
 * bit for bit and gradients to rounding (tests/test_autodiff_mlp.c).
 *
 * The values are those of L ad_dense calls.  What differs is the order of
 * the work: ad_dense makes one pass over the batch per layer, so every
 * [batch, width] matrix between the layers is written to memory and read
 * back (twice in the backward pass); here each block of rows is taken
 * through all the layers while it is in cache.  The forward pass keeps the
 * hidden outputs h_l for the backward pass (when a node is recorded); the
 * backward pass forms, block by block, g_l = dh_l act_l'(h_l), the block's
 * share of dW_l and db_l, and dh_{l-1} = g_l W_l^T, with g and dh in a
 * per-thread scratch that never leaves the core's cache.
 *
 * Blocks are split over the thread pool.  The weight and bias gradients are
 * summed per group of blocks (group j takes blocks j, j + G, j + 2G, ...
 * in order) and the groups' sums are added in group order; block size and
 * group count depend on the batch size only, so every result is the same
 * for any thread count.
 *
 *   forward (per block)   h_l = act(h_{l-1} W_l + b_l): GEMM with the bias
 *                         and activation as its epilogue, or the row loops
 *                         of the thin shapes (k = 1 or n = 1)
 *   backward (per block)  g_l = dh_l act'(h_l);  db_l += sum_rows g_l;
 *                         dW_l += h_{l-1}^T g_l;  dh_{l-1} = g_l W_l^T
 */
#include <stdio.h>
#include <string.h>

#include "ad_fused.h"
#include "ad_gemm.h"
#include "ad_pool.h"
#include "ad_rows.h"
#include "ad_state.h"
#include "autodiff/ad_impl.h"

/* Groups of blocks whose weight-gradient sums are kept apart. */
#define MLP_GROUPS 8

typedef struct {
    const ad_real *w, *b;
    ad_real *h; /* [m, n]: this layer's output (the last one's is y) */
    int k, n;
    ad_activation act;
    ad_gemm_packed_b wp;   /* w packed for the blocks' products (wp.data NULL: not) */
} mlp_layer;

/* A layer with one input or one output column: row loops, not the GEMM. */
static int is_thin(const mlp_layer *L) { return L->k == 1 || L->n == 1; }

/* The op's context, in the tape's arena: the layers and, since a node holds
 * only AD_MAX_INPUTS inputs, the node's input list (ad_tape_record_wide). */
typedef struct {
    ad_tensor *inputs[1 + 2 * AD_MLP_MAX_LAYERS]; /* x, w[0], b[0], w[1], ...  */
    int n_layers, m, rows, max_width;
    /* h_1 is not stored but recomputed by the backward pass: a first layer
     * with one input column costs two operations per output, less than
     * writing it out and reading it back */
    int recompute_first;
    mlp_layer layer[AD_MLP_MAX_LAYERS];
} mlp_saved;

/* Per-worker scratch: three buffers of rows * max_width (the g and dh of
 * the backward pass, or the hidden outputs of a forward pass that keeps
 * none, and the recomputed first layer). */
static size_t scratch_per_worker(const mlp_saved *s)
{
    return 3 * (size_t)s->rows * s->max_width;
}

/* ---- forward ---------------------------------------------------------------- */

/* out = act(in W + b) for `rows` rows (called inside a pool task, or
 * alone: ad_gemm then runs on the calling thread only or splits itself). */
static void layer_forward(const mlp_layer *L, const ad_real *in, ad_real *out, int rows)
{
    const int k = L->k, n = L->n;
    if (is_thin(L)) {
        for (int i = 0; i < rows; i++)
            ad_row_thin_forward(out + (size_t)i * n, in + (size_t)i * k, L->w, L->b, k, n, L->act);
    } else {
        ad_bias_act ba = {L->b, L->act};
        if (L->wp.data)
            ad_gemm_epilogue_packed(0, rows, 1, in, k, &L->wp, 0, out, n, ad_rows_bias_act_block,
                                    &ba);
        else
            ad_gemm_epilogue(0, 0, rows, n, k, 1, in, k, L->w, n, 0, out, n,
                             ad_rows_bias_act_block, &ba);
    }
}

typedef struct {
    const mlp_saved *s;
    const ad_real *x;
    ad_real *y;
    ad_real *scratch; /* [workers][scratch_per_worker] (NULL: not needed) */
} mlp_fwd;

static void forward_block(void *ctx, int task, int worker)
{
    const mlp_fwd *f = ctx;
    const mlp_saved *s = f->s;
    const int r0 = task * s->rows, rows = r0 + s->rows < s->m ? s->rows : s->m - r0;
    const ad_real *in = f->x + (size_t)r0 * s->layer[0].k;
    const size_t half = (size_t)s->rows * s->max_width;
    ad_real *mine = f->scratch ? f->scratch + (size_t)worker * scratch_per_worker(s) : NULL;
    for (int l = 0; l < s->n_layers; l++) {
        const mlp_layer *L = &s->layer[l];
        ad_real *out;
        if (l + 1 == s->n_layers) out = f->y + (size_t)r0 * L->n;
        else if (!L->h || (l == 0 && s->recompute_first)) out = mine + (size_t)(l & 1) * half;
        else out = L->h + (size_t)r0 * L->n;
        layer_forward(L, in, out, rows);
        in = out;
    }
}

/* ---- backward --------------------------------------------------------------- */

typedef struct {
    const mlp_saved *s;
    const ad_real *x, *gy;
    ad_real *gx;             /* NULL: not needed                                */
    int gx_fresh;            /* gx is written, not added to                    */
    int need_below[AD_MLP_MAX_LAYERS]; /* dh_{l-1} is needed (l > 0), or dx    */
    ad_real *wsum[AD_MLP_MAX_LAYERS];  /* [groups][k n]: dW_l sums (NULL: none) */
    ad_real *bsum[AD_MLP_MAX_LAYERS];  /* [groups][n]: db_l sums (NULL: none)   */
    ad_real *scratch;        /* [workers][scratch_per_worker]                  */
    int blocks, groups;
    ad_gemm_packed_b wt[AD_MLP_MAX_LAYERS]; /* W_l^T packed (data NULL: not)    */
} mlp_bwd;

/* One block: r0 and rows; first: it is its group's first block (its sums
 * overwrite rather than add). */
static void backward_block(const mlp_bwd *d, int r0, int rows, int first, int group, int worker)
{
    const mlp_saved *s = d->s;
    const size_t half = (size_t)s->rows * s->max_width;
    ad_real *mine = d->scratch + (size_t)worker * scratch_per_worker(s);
    ad_real *buf[2] = {mine, mine + half};
    const ad_real *h_first; /* h_1 of the block */
    if (s->recompute_first) { /* k = 1: h_1 = act(x w + b) again */
        const mlp_layer *L = &s->layer[0];
        ad_real *h = mine + 2 * half;
        for (int i = 0; i < rows; i++)
            ad_row_outer_act(h + (size_t)i * L->n, d->x[r0 + i], L->w, L->b, L->n, L->act);
        h_first = h;
    } else {
        h_first = s->layer[0].h + (size_t)r0 * s->layer[0].n;
    }
    const int L_top = s->n_layers - 1;
    const ad_real *dh = d->gy + (size_t)r0 * s->layer[L_top].n; /* dL/dh_l of this block */
    ad_real *dh_buf = NULL; /* dh when it is one of buf[] (then g is formed in place) */
    for (int l = L_top; l >= 0; l--) {
        const mlp_layer *L = &s->layer[l];
        const int k = L->k, n = L->n;
        const ad_real *in = l == 0 ? d->x + (size_t)r0 * k
                            : l == 1 ? h_first
                                     : s->layer[l - 1].h + (size_t)r0 * k;
        const ad_real *h = l == 0 ? h_first : L->h + (size_t)r0 * n;
        ad_real *colsum = d->bsum[l] ? d->bsum[l] + (size_t)group * n : NULL;
        if (colsum && first)
            for (int j = 0; j < n; j++) colsum[j] = 0;
        /* g = dh act'(h) */
        const ad_real *g = dh;
        if (L->act == AD_ACT_IDENTITY) {
            if (colsum)
                for (int i = 0; i < rows; i++)
                    ad_row_act_grad(NULL, NULL, dh + (size_t)i * n, colsum, n, L->act);
        } else if (dh_buf) {
            for (int i = 0; i < rows; i++)
                ad_row_act_grad_inplace(dh_buf + (size_t)i * n, h + (size_t)i * n, colsum, n,
                                        L->act);
        } else {
            for (int i = 0; i < rows; i++)
                ad_row_act_grad(buf[0] + (size_t)i * n, h + (size_t)i * n, dh + (size_t)i * n,
                                colsum, n, L->act);
            g = buf[0];
        }
        /* dW += in^T g */
        ad_real *gw = d->wsum[l] ? d->wsum[l] + (size_t)group * k * n : NULL;
        if (gw && is_thin(L)) {
            if (first)
                for (int j = 0; j < k * n; j++) gw[j] = 0;
            for (int i = 0; i < rows; i++)
                ad_row_thin_dw(gw, in + (size_t)i * k, g + (size_t)i * n, k, n);
        } else if (gw) {
            ad_gemm(1, 0, k, n, rows, 1, in, k, g, n, first ? 0 : 1, gw, n);
        }
        /* dh_{l-1} = g W^T, into the buffer g is not in (or dx) */
        if (!d->need_below[l]) break;
        ad_real *out;
        int fresh = 1;
        if (l == 0) {
            out = d->gx + (size_t)r0 * k;
            fresh = d->gx_fresh;
        } else {
            out = g == buf[0] ? buf[1] : buf[0];
        }
        if (is_thin(L)) {
            for (int i = 0; i < rows; i++)
                ad_row_thin_dx(out + (size_t)i * k, g + (size_t)i * n, L->w, k, n, fresh);
        } else if (d->wt[l].data) {
            ad_gemm_epilogue_packed(0, rows, 1, g, n, &d->wt[l], fresh ? 0 : 1, out, k, NULL,
                                    NULL);
        } else {
            ad_gemm(0, 1, rows, k, n, 1, g, n, L->w, n, fresh ? 0 : 1, out, k);
        }
        dh = dh_buf = out;
    }
}

/* A group's blocks, in order. */
static void backward_group(void *ctx, int group, int worker)
{
    const mlp_bwd *d = ctx;
    const int rows = d->s->rows, m = d->s->m;
    for (int blk = group; blk < d->blocks; blk += d->groups) {
        int r0 = blk * rows;
        backward_block(d, r0, r0 + rows < m ? rows : m - r0, blk == group, group, worker);
    }
}

typedef struct {
    const ad_real *part; /* [groups][len] */
    ad_real *sum;        /* [len], added to */
    size_t len;
    int groups;
} sum_groups;

#define SUM_CHUNK 4096

static void sum_chunk(void *ctx, int task, int worker)
{
    (void)worker;
    const sum_groups *a = ctx;
    size_t j0 = (size_t)task * SUM_CHUNK, j1 = j0 + SUM_CHUNK < a->len ? j0 + SUM_CHUNK : a->len;
    for (int grp = 0; grp < a->groups; grp++) {
        const ad_real *p = a->part + (size_t)grp * a->len;
        for (size_t j = j0; j < j1; j++) a->sum[j] += p[j];
    }
}

/* sum += the groups' partial sums, in group order (element-wise, so the
 * split over threads cannot change a result). */
static void add_groups(const ad_real *part, ad_real *sum, size_t len, int groups)
{
    sum_groups a = {part, sum, len, groups};
    int tasks = (int)((len + SUM_CHUNK - 1) / SUM_CHUNK);
    if (tasks > 1 && len * groups >= (size_t)1 << 17) /* else waking a worker costs more */
        ad_parallel_for(tasks, sum_chunk, &a);
    else
        for (int task = 0; task < tasks; task++) sum_chunk(&a, task, 0);
}

static void mlp_backward(ad_tape *t, ad_node *nd)
{
    const mlp_saved *s = nd->ctx;
    ad_tensor *x = nd->inputs[0];
    if (!nd->output->grad || s->m == 0) return;
    mlp_bwd d;
    memset(&d, 0, sizeof d);
    d.s = s;
    d.x = x->data;
    d.gy = nd->output->grad;
    int is_param = 0;
    for (int i = 1; i < nd->n_inputs; i++) is_param |= nd->inputs[i] == x;
    d.gx = is_param ? ad_node_grad(t, x) : ad_node_grad_fresh(t, x, &d.gx_fresh);
    ad_real *gw[AD_MLP_MAX_LAYERS], *gb[AD_MLP_MAX_LAYERS];
    int below = d.gx != NULL;
    for (int l = 0; l < s->n_layers; l++) {
        gw[l] = ad_node_grad(t, nd->inputs[1 + 2 * l]);
        gb[l] = ad_node_grad(t, nd->inputs[2 + 2 * l]);
        d.need_below[l] = below;
        below |= gw[l] || gb[l];
    }
    if (!ad_tape_ok(t)) return;
    d.blocks = (s->m + s->rows - 1) / s->rows;
    d.groups = d.blocks < MLP_GROUPS ? d.blocks : MLP_GROUPS;
    /* scratch: g and dh per worker index (a backward called inside a pool
     * task runs its tasks inline under that task's index), then the sums
     * and the packed W^T of each layer */
    if (d.groups > 1)
        for (int l = 0; l < s->n_layers; l++) {
            const mlp_layer *L = &s->layer[l];
            if (is_thin(L)) continue;
            if (gw[l]) (void)ad_gemm_reserve_tasks(L->k, L->n, s->rows);
            if (d.need_below[l]) (void)ad_gemm_reserve_tasks(s->rows, L->k, L->n);
        }
    const size_t per_worker = scratch_per_worker(s);
    size_t need = (size_t)ad_threads_get() * per_worker;
    int wt_packed[AD_MLP_MAX_LAYERS];
    for (int l = 0; l < s->n_layers; l++) {
        const mlp_layer *L = &s->layer[l];
        if (gw[l]) need += (size_t)d.groups * L->k * L->n;
        if (gb[l]) need += (size_t)d.groups * L->n;
        /* W^T is packed once for all blocks' dh = g W^T */
        wt_packed[l] = d.blocks > 1 && d.need_below[l] && !is_thin(L);
        if (wt_packed[l]) need += ad_gemm_packed_b_size(L->n, L->k);
    }
    ad_real *scratch = ad_scratch_lock(need);
    if (!scratch) {
        ad_tape_fail(t, AD_ERR_NOMEM, "ad_mlp: out of memory in the backward pass");
        return;
    }
    d.scratch = scratch;
    ad_real *p = scratch + (size_t)ad_threads_get() * per_worker;
    for (int l = 0; l < s->n_layers; l++) {
        const mlp_layer *L = &s->layer[l];
        if (gw[l]) d.wsum[l] = p, p += (size_t)d.groups * L->k * L->n;
        if (gb[l]) d.bsum[l] = p, p += (size_t)d.groups * L->n;
        if (wt_packed[l]) {
            ad_gemm_pack_b(1, L->n, L->k, L->w, L->n, p, &d.wt[l]);
            p += ad_gemm_packed_b_size(L->n, L->k);
        }
    }
    if (d.groups > 1) ad_parallel_for(d.groups, backward_group, &d);
    else backward_group(&d, 0, 0);
    for (int l = 0; l < s->n_layers; l++) {
        const mlp_layer *L = &s->layer[l];
        if (gw[l]) add_groups(d.wsum[l], gw[l], (size_t)L->k * L->n, d.groups);
        if (gb[l]) add_groups(d.bsum[l], gb[l], (size_t)L->n, d.groups);
    }
    ad_scratch_unlock();
}
static const ad_op OP_MLP = {"mlp", mlp_backward};

/* ---- the op ----------------------------------------------------------------- */

static ad_tensor *check_layers(ad_tape *t, ad_tensor *x, int n_layers, ad_tensor *const *w,
                               ad_tensor *const *b, const ad_activation *act)
{
    char got[64];
    if (x->n_dims != 2) return ad_fail_shape(t, "ad_mlp", 1, x, "a matrix [batch,k]");
    int k = x->shape[1];
    for (int l = 0; l < n_layers; l++) {
        if (w[l]->n_dims != 2 || w[l]->shape[0] != k)
            return ad_tape_fail(t, AD_ERR_SHAPE,
                                "ad_mlp: bad argument #3 (w[%d] has shape %s, expected [%d,*])",
                                l, AD_SHAPE_STR(w[l], got), k);
        k = w[l]->shape[1];
        if (b[l]->n_dims != 1 || b[l]->shape[0] != k)
            return ad_tape_fail(t, AD_ERR_SHAPE,
                                "ad_mlp: bad argument #4 (b[%d] has shape %s, expected [%d])", l,
                                AD_SHAPE_STR(b[l], got), k);
        if (act[l] != AD_ACT_IDENTITY && act[l] != AD_ACT_RELU && act[l] != AD_ACT_TANH)
            return ad_tape_fail(t, AD_ERR_ARG,
                                "ad_mlp: bad argument #5 (act[%d]: unknown activation %d)", l,
                                (int)act[l]);
    }
    return NULL;
}

ad_tensor *ad_mlp(ad_tape *t, ad_tensor *x, int n_layers, ad_tensor *const *w,
                  ad_tensor *const *b, const ad_activation *act)
{
    if (!t) return ad_tape_poison(t);
    if (n_layers < 1 || n_layers > AD_MLP_MAX_LAYERS || !w || !b || !act)
        return ad_tape_fail(t, AD_ERR_ARG,
                            "ad_mlp: bad argument #2 (%d layers, or NULL arrays; 1 to %d layers)",
                            n_layers, AD_MLP_MAX_LAYERS);
    ad_tensor *in[1 + 2 * AD_MLP_MAX_LAYERS];
    int n_in = 1 + 2 * n_layers;
    in[0] = x;
    for (int l = 0; l < n_layers; l++) {
        if (!w[l] || !b[l])
            return ad_tape_fail(t, AD_ERR_ARG, "ad_mlp: bad argument #%d (%s[%d] is NULL)",
                                w[l] ? 4 : 3, w[l] ? "b" : "w", l);
        in[1 + 2 * l] = w[l];
        in[2 + 2 * l] = b[l];
    }
    if (!ad_op_begin(t, "ad_mlp", n_in, in)) return ad_tape_poison(t);
    ad_tensor *bad = check_layers(t, x, n_layers, w, b, act);
    if (bad) return bad;
    const int m = x->shape[0];
    int shape[2] = {m, w[n_layers - 1]->shape[1]};
    ad_tensor *y = ad_tape_tensor(t, 2, shape);
    if (!y->valid) return y;
    /* the hidden outputs are kept only when a node will be recorded */
    int keep = ad_tape_grad_enabled(t);
    if (keep) {
        keep = 0;
        for (int i = 0; i < n_in; i++) keep |= in[i]->requires_grad;
    }
    mlp_saved *s = ad_tape_alloc(t, sizeof *s);
    if (!s) return ad_tape_fail(t, AD_ERR_NOMEM, "ad_mlp: out of memory");
    memcpy(s->inputs, in, (size_t)n_in * sizeof in[0]);
    s->n_layers = n_layers;
    s->m = m;
    s->rows = ad_block_rows(m);
    s->max_width = 1;
    for (int l = 0; l < n_layers; l++) {
        mlp_layer *L = &s->layer[l];
        L->w = w[l]->data;
        L->b = b[l]->data;
        L->k = w[l]->shape[0];
        L->n = w[l]->shape[1];
        L->act = act[l];
        L->wp = (ad_gemm_packed_b){0};
        if (L->n > s->max_width) s->max_width = L->n;
    }
    s->recompute_first = keep && n_layers > 1 && s->layer[0].k == 1;
    for (int l = 0; l < n_layers; l++) {
        mlp_layer *L = &s->layer[l];
        L->h = l + 1 == n_layers ? y->data : NULL;
        if (keep && l + 1 < n_layers && !(l == 0 && s->recompute_first) &&
            !(L->h = ad_tape_alloc(t, (size_t)m * L->n * sizeof(ad_real))))
            return ad_tape_fail(t, AD_ERR_NOMEM, "ad_mlp: out of memory");
    }
    if (m > 0) {
        mlp_fwd f = {s, x->data, y->data, NULL};
        int blocks = (m + s->rows - 1) / s->rows;
        /* W is packed once, in the tape's arena, for all blocks' products
         * (about the size of the layer's weights, held until the tape's
         * reset) */
        for (int l = 0; blocks > 1 && l < n_layers; l++) {
            mlp_layer *L = &s->layer[l];
            if (is_thin(L)) continue;
            ad_real *wp = ad_tape_alloc(t, ad_gemm_packed_b_size(L->k, L->n) * sizeof(ad_real));
            if (!wp) return ad_tape_fail(t, AD_ERR_NOMEM, "ad_mlp: out of memory");
            ad_gemm_pack_b(0, L->k, L->n, L->w, L->n, wp, &L->wp);
        }
        int locked = 0;
        if ((!keep && n_layers > 1) || s->recompute_first) {
            f.scratch = ad_scratch_lock((size_t)ad_threads_get() * scratch_per_worker(s));
            if (!f.scratch) return ad_tape_fail(t, AD_ERR_NOMEM, "ad_mlp: out of memory");
            locked = 1;
        }
        if (blocks > 1) {
            for (int l = 0; l < n_layers; l++)
                if (!is_thin(&s->layer[l]))
                    (void)ad_gemm_reserve_tasks(s->rows, s->layer[l].n, s->layer[l].k);
            ad_parallel_for(blocks, forward_block, &f);
        }
        else forward_block(&f, 0, 0); /* the scratch is ours: any worker index */
        if (locked) ad_scratch_unlock();
    }
    ad_node *nd = ad_tape_record_wide(t, &OP_MLP, y, n_in, s->inputs);
    if (nd) nd->ctx = s;
    return ad_op_return(t, y);
}
