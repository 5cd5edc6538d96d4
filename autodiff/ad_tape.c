/* ad_tape.c - the arena, the node list, the sticky error and ad_backward. */
#include "ad_tape.h"

#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ad_alloc.h"
#include "ad_impl.h"
#include "ad_op.h"

#define ARENA_ALIGN 64
#define DEFAULT_BLOCK_BYTES ((size_t)1 << 20)

/* One arena block; blocks form a chain that is kept across resets. */
typedef struct block {
    struct block *next;   /* next block in the chain                    */
    size_t size;          /* usable bytes at mem                        */
    size_t used;          /* bytes handed out since the last reset      */
    unsigned char *mem;   /* ARENA_ALIGN-aligned start of usable memory */
} block;

struct ad_tape {
    block *first;          /* head of the block chain                    */
    block *current;        /* block that serves the next allocation      */
    size_t block_bytes;    /* minimum size of a new block                */
    size_t used;           /* bytes handed out since the last reset      */
    size_t peak;           /* largest value `used` has reached           */
    size_t reserved;       /* usable bytes of all blocks                 */
    ad_node *head, *tail;  /* recorded nodes, in order                   */
    int n_nodes;           /* number of recorded nodes                   */
    unsigned id;           /* unique among the tapes of this process     */
    unsigned gen;          /* resets so far                              */
    int grad_enabled;      /* 0: ops never record                        */
    int status;            /* AD_OK or the first error's code            */
    char message[512];     /* the first error's text                     */
    ad_tensor poison;      /* returned by every op after an error        */
};

/* What ops return when they are given no tape at all (ad_tape_new failed):
 * a zero-size invalid tensor, like every tape's own poison.  Nothing in the
 * library writes to it. */
static ad_tensor no_tape_poison = {.n_dims = 1, .valid = 0, .name = "poison"};

/* Tape ids: 0 is never used (a heap tensor's tape_id); they wrap only after
 * 2^32 - 1 tapes. */
static atomic_uint next_tape_id = 1;

ad_tape *ad_tape_new(size_t block_bytes)
{
    ad_tape *t = ad_calloc(1, sizeof *t);
    if (!t) return NULL;
    t->block_bytes = block_bytes ? block_bytes : DEFAULT_BLOCK_BYTES;
    t->grad_enabled = 1;
    do t->id = atomic_fetch_add(&next_tape_id, 1);
    while (t->id == 0);
    t->poison.n_dims = 1; /* a real, zero-size tensor: [0] */
    t->poison.shape[0] = 0;
    t->poison.size = 0;
    t->poison.valid = 0;
    t->poison.name = "poison";
    return t;
}

void ad_tape_free(ad_tape *t)
{
    if (!t) return;
    for (block *b = t->first; b;) {
        block *next = b->next;
        ad_free(b);
        b = next;
    }
    ad_free(t);
}

void ad_tape_reset(ad_tape *t)
{
    if (!t) return;
    for (block *b = t->first; b; b = b->next) b->used = 0;
    t->current = t->first;
    t->used = 0;
    t->head = t->tail = NULL;
    t->n_nodes = 0;
    t->status = AD_OK;
    t->message[0] = '\0';
    t->gen++; /* every tensor made before this is stale */
}

int ad_tape_ok(const ad_tape *t) { return t && t->status == AD_OK; }
int ad_tape_status(const ad_tape *t) { return t ? t->status : AD_ERR_ARG; }
const char *ad_tape_error(const ad_tape *t) { return t ? t->message : "no tape"; }
ad_tensor *ad_tape_poison(ad_tape *t) { return t ? &t->poison : &no_tape_poison; }

ad_tensor *ad_tape_fail(ad_tape *t, int code, const char *fmt, ...)
{
    if (!t) return &no_tape_poison;
    if (t->status == AD_OK) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(t->message, sizeof t->message, fmt, ap);
        va_end(ap);
        t->status = code ? code : AD_ERR_ARG;
    }
    return &t->poison;
}

int ad_tape_set_grad_enabled(ad_tape *t, int enabled)
{
    if (!t) return 0;
    int old = t->grad_enabled;
    t->grad_enabled = enabled != 0;
    return old;
}

int ad_tape_grad_enabled(const ad_tape *t) { return t ? t->grad_enabled : 0; }
size_t ad_tape_bytes_used(const ad_tape *t) { return t ? t->used : 0; }
size_t ad_tape_bytes_peak(const ad_tape *t) { return t ? t->peak : 0; }
size_t ad_tape_bytes_reserved(const ad_tape *t) { return t ? t->reserved : 0; }
int ad_tape_n_nodes(const ad_tape *t) { return t ? t->n_nodes : 0; }
ad_node *ad_tape_first(const ad_tape *t) { return t ? t->head : NULL; }
ad_node *ad_tape_last(const ad_tape *t) { return t ? t->tail : NULL; }

/* A new block able to hold at least `bytes`, linked after t->current. */
static block *block_new(ad_tape *t, size_t bytes)
{
    size_t size = bytes > t->block_bytes ? bytes : t->block_bytes;
    if (size > SIZE_MAX - sizeof(block) - ARENA_ALIGN) return NULL;
    block *b = ad_malloc(sizeof(block) + ARENA_ALIGN + size);
    if (!b) return NULL;
    uintptr_t start = (uintptr_t)(b + 1);
    b->mem = (unsigned char *)((start + ARENA_ALIGN - 1) & ~(uintptr_t)(ARENA_ALIGN - 1));
    b->size = size;
    b->used = 0;
    if (!t->current) {
        b->next = NULL;
        t->first = b;
    } else {
        b->next = t->current->next;
        t->current->next = b;
    }
    t->reserved += size;
    return b;
}

void *ad_tape_alloc(ad_tape *t, size_t bytes)
{
    if (!t) return NULL;
    size_t need = (bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need < bytes) {
        ad_tape_fail(t, AD_ERR_NOMEM, "ad_tape_alloc: request of %zu bytes is too large", bytes);
        return NULL;
    }
    block *b = t->current;
    /* Move along the chain (kept from earlier iterations) to a block with room;
     * the same sequence of requests takes the same path, so no new blocks. */
    while (b && b->size - b->used < need) {
        b = b->next;
        if (b) b->used = 0;
    }
    if (!b) {
        b = block_new(t, need);
        if (!b) {
            ad_tape_fail(t, AD_ERR_NOMEM, "ad_tape_alloc: out of memory (%zu bytes)", bytes);
            return NULL;
        }
    }
    t->current = b;
    void *p = b->mem + b->used;
    b->used += need;
    t->used += need;
    if (t->used > t->peak) t->peak = t->used;
    return p;
}

ad_tensor *ad_tape_tensor(ad_tape *t, int n_dims, const int *shape)
{
    if (!t) return &no_tape_poison;
    if (t->status != AD_OK) return &t->poison;
    if (!ad_shape_valid(n_dims, shape)) {
        char buf[64];
        return ad_tape_fail(t, AD_ERR_SHAPE, "ad_tape_tensor: invalid shape %s",
                            n_dims >= 0 && n_dims <= AD_MAX_DIMS && shape
                                ? ad_shape_str(n_dims, shape, buf, sizeof buf) : "(bad rank)");
    }
    size_t size = ad_shape_size(n_dims, shape);
    if (size > (SIZE_MAX - sizeof(ad_tensor)) / sizeof(ad_real))
        return ad_tape_fail(t, AD_ERR_NOMEM, "ad_tape_tensor: tensor too large");
    ad_tensor *x = ad_tape_alloc(t, sizeof(ad_tensor) + size * sizeof(ad_real));
    if (!x) return &t->poison;
    memset(x, 0, sizeof *x);
    x->n_dims = n_dims;
    for (int i = 0; i < AD_MAX_DIMS; i++) x->shape[i] = i < n_dims ? shape[i] : 1;
    x->size = size;
    x->data = (ad_real *)(x + 1);
    x->valid = 1;
    ad_tape_own(t, x);
    return x;
}

void ad_tape_own(ad_tape *t, ad_tensor *x)
{
    x->on_tape = 1;
    x->tape_id = t->id;
    x->tape_gen = t->gen;
}

ad_tensor *ad_zeros(ad_tape *t, int n_dims, const int *shape)
{
    ad_tensor *x = ad_tape_tensor(t, n_dims, shape);
    if (x && x->valid && x->size) memset(x->data, 0, x->size * sizeof(ad_real));
    return x;
}

ad_tensor *ad_full(ad_tape *t, int n_dims, const int *shape, ad_real value)
{
    ad_tensor *x = ad_tape_tensor(t, n_dims, shape);
    if (x && x->valid)
        for (size_t i = 0; i < x->size; i++) x->data[i] = value;
    return x;
}

ad_tensor *ad_constant(ad_tape *t, int n_dims, const int *shape, const ad_real *data)
{
    ad_tensor *x = ad_tape_tensor(t, n_dims, shape);
    if (x && x->valid && x->size) {
        if (!data) return ad_tape_fail(t, AD_ERR_ARG, "ad_constant: bad argument #3 (NULL data)");
        memcpy(x->data, data, x->size * sizeof(ad_real));
    }
    return x;
}

ad_tensor *ad_scalar(ad_tape *t, ad_real value) { return ad_full(t, 0, NULL, value); }

ad_tensor *ad_tape_input(ad_tape *t, int n_dims, const int *shape, const ad_real *data)
{
    ad_tensor *x = data ? ad_constant(t, n_dims, shape, data) : ad_zeros(t, n_dims, shape);
    if (x && x->valid) x->requires_grad = 1;
    return x;
}

/* A tape tensor may only be used on the tape that made it, and only until
 * that tape's next reset: two compares.  A stale tensor whose arena slot has
 * since been reused by a new tensor of the same tape reads as that new
 * tensor and cannot be told apart; one of a freed tape cannot be read at all
 * (ad_tape.h). */
static int tensor_current(ad_tape *t, const char *op_name, int arg, const ad_tensor *x)
{
    if (!x->on_tape || (x->tape_id == t->id && x->tape_gen == t->gen)) return 1;
    if (x->tape_id != t->id)
        ad_tape_fail(t, AD_ERR_ARG, "%s: bad argument #%d (tensor from another tape)", op_name,
                     arg);
    else
        ad_tape_fail(t, AD_ERR_ARG, "%s: bad argument #%d (tensor from before ad_tape_reset)",
                     op_name, arg);
    return 0;
}

int ad_op_begin(ad_tape *t, const char *op_name, int n_inputs, ad_tensor *const *inputs)
{
    if (!t) return 0;
    if (t->status != AD_OK) return 0;
    if (n_inputs < 0 || (n_inputs > 0 && !inputs)) {
        ad_tape_fail(t, AD_ERR_ARG, "%s: %d inputs%s", op_name, n_inputs,
                     n_inputs < 0 ? "" : " and a NULL list");
        return 0;
    }
    for (int i = 0; i < n_inputs; i++) {
        if (!inputs[i]) {
            ad_tape_fail(t, AD_ERR_ARG, "%s: bad argument #%d (NULL tensor)", op_name, i + 1);
            return 0;
        }
        if (!inputs[i]->valid) {
            ad_tape_fail(t, AD_ERR_ARG, "%s: bad argument #%d (poisoned tensor)", op_name, i + 1);
            return 0;
        }
        if (!tensor_current(t, op_name, i + 1, inputs[i])) return 0;
    }
    return 1;
}

/* 1 when the `bytes` at p lie in one of t's arena blocks. */
static int in_arena(const ad_tape *t, const void *p, size_t bytes)
{
    const unsigned char *c = p;
    for (const block *b = t->first; b; b = b->next)
        if (c >= b->mem && c < b->mem + b->size && bytes <= (size_t)(b->mem + b->size - c))
            return 1;
    return 0;
}

/* Append a node for `out`; wide: the node keeps `inputs` (in the arena)
 * instead of copying it into its slots. */
static ad_node *record(ad_tape *t, const ad_op *op, ad_tensor *out, int n_inputs,
                       ad_tensor *const *inputs, ad_tensor **wide)
{
    if (!t || !out || !t->grad_enabled || t->status != AD_OK || !out->valid) return NULL;
    if (n_inputs < 1 || (!wide && n_inputs > AD_MAX_INPUTS) || !inputs || !op || !op->backward) {
        ad_tape_fail(t, AD_ERR_ARG, "%s: cannot record %d inputs (1..%d, with a backward)",
                     op && op->name ? op->name : "ad_tape_record", n_inputs,
                     wide ? INT_MAX : AD_MAX_INPUTS);
        out->valid = 0;
        return NULL;
    }
    if (wide && !in_arena(t, wide, (size_t)n_inputs * sizeof *wide)) {
        ad_tape_fail(t, AD_ERR_ARG, "%s: the input list of a wide node must be in the tape's "
                     "arena (ad_tape_alloc)", op->name ? op->name : "ad_tape_record_wide");
        out->valid = 0;
        return NULL;
    }
    int needed = 0;
    for (int i = 0; i < n_inputs; i++) needed |= inputs[i]->requires_grad;
    if (!needed) return NULL;
    ad_node *n = ad_tape_alloc(t, sizeof *n);
    if (!n) {
        out->valid = 0; /* the tape error is set; never hand out an unrecorded result */
        return NULL;
    }
    memset(n, 0, sizeof *n);
    n->op = op;
    n->n_inputs = n_inputs;
    if (wide) {
        n->inputs = wide;
    } else {
        for (int i = 0; i < n_inputs; i++) n->slots[i] = inputs[i];
        n->inputs = n->slots;
    }
    n->output = out;
    n->index = t->n_nodes++;
    n->prev = t->tail;
    if (t->tail) t->tail->next = n;
    else t->head = n;
    t->tail = n;
    out->node = n;
    out->requires_grad = 1;
    return n;
}

ad_node *ad_tape_record(ad_tape *t, const ad_op *op, ad_tensor *out,
                        int n_inputs, ad_tensor *const *inputs)
{
    return record(t, op, out, n_inputs, inputs, NULL);
}

ad_node *ad_tape_record_wide(ad_tape *t, const ad_op *op, ad_tensor *out,
                             int n_inputs, ad_tensor **inputs)
{
    return record(t, op, out, n_inputs, inputs, inputs);
}

ad_real *ad_node_grad_fresh(ad_tape *t, ad_tensor *x, int *fresh)
{
    *fresh = 0;
    if (!x->requires_grad) return NULL;
    if (!x->grad && x->on_tape) {
        x->grad = ad_tape_alloc(t, x->size * sizeof(ad_real));
        *fresh = x->grad != NULL;
        return x->grad;
    }
    return ad_node_grad(t, x);
}

ad_real *ad_node_grad(ad_tape *t, ad_tensor *x)
{
    if (!x->requires_grad) return NULL;
    if (!x->grad) {
        /* Heap tensors and views get their buffer from their owner; a gradient
         * put in the arena would dangle after ad_tape_reset. */
        if (!x->on_tape) {
            ad_tape_fail(t, AD_ERR_ARG, "ad_backward: a heap tensor requires a gradient but "
                         "has no buffer (use ad_tensor_require_grad)");
            return NULL;
        }
        x->grad = ad_tape_alloc(t, x->size * sizeof(ad_real));
        if (!x->grad) return NULL;
        memset(x->grad, 0, x->size * sizeof(ad_real));
    }
    return x->grad;
}

int ad_backward(ad_tape *t, ad_tensor *y)
{
    if (!t) return AD_ERR_ARG;
    if (t->status != AD_OK) return t->status;
    if (!y || !y->valid) {
        ad_tape_fail(t, AD_ERR_ARG, "ad_backward: bad argument #1 (%s tensor)",
                     y ? "poisoned" : "NULL");
        return t->status;
    }
    if (!tensor_current(t, "ad_backward", 1, y)) return t->status;
    if (!y->requires_grad) {
        ad_tape_fail(t, AD_ERR_ARG, "ad_backward: the output does not depend on any tensor "
                     "that requires a gradient");
        return t->status;
    }
    /* Tape gradients start from zero on every call, so ad_backward may run
     * twice on one recording (heap parameter and view gradients, which the
     * caller owns, still accumulate).  Zeroing is a memset, never a product
     * with 0 (inf * 0 = NaN). */
    for (ad_node *n = t->head; n; n = n->next) {
        n->reached = 0;
        if (n->output->grad) memset(n->output->grad, 0, n->output->size * sizeof(ad_real));
        for (int i = 0; i < n->n_inputs; i++) {
            ad_tensor *x = n->inputs[i];
            if (x->on_tape && !x->node && x->grad) memset(x->grad, 0, x->size * sizeof(ad_real));
        }
    }
    if (y->on_tape && !y->node && y->grad) memset(y->grad, 0, y->size * sizeof(ad_real));
    ad_real *gy = ad_node_grad(t, y);
    if (!gy) return t->status;
    for (size_t i = 0; i < y->size; i++) gy[i] += 1;
    /* Only nodes that lead to y run: a node left over from an earlier
     * backward (with a zero gradient) could still turn 0 into NaN, e.g.
     * log's 0 / 0 at x = 0. */
    if (y->node) y->node->reached = 1;
    for (ad_node *n = y->node; n; n = n->prev) {
        if (!n->reached || !n->output->grad) continue; /* no gradient flowed in */
        n->op->backward(t, n);
        if (t->status != AD_OK) return t->status;
        for (int i = 0; i < n->n_inputs; i++)
            if (n->inputs[i]->node && n->inputs[i]->requires_grad) n->inputs[i]->node->reached = 1;
    }
    return AD_OK;
}
