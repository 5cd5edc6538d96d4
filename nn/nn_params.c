/* nn_params.c - registration of parameter tensors and the two blocks. */
#include "nn_params.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "autodiff/fast/ad_pool.h"

typedef struct nn_entry {
    ad_tensor *view;     /* heap-allocated header, data/grad point into the blocks */
    nn_init init;        /* how finalize fills it (ignored for fixed tensors)      */
    ad_real *fixed;      /* owned copy of a fixed tensor's values, or NULL         */
    size_t offset;       /* position in the blocks                                 */
} nn_entry;

struct nn_params {
    nn_entry *entries;   /* registered tensors, in order           */
    int n_entries;       /* number used                            */
    int capacity;        /* number allocated                       */
    size_t size;         /* total scalars                          */
    ad_real *values;     /* value block (after finalize)           */
    ad_real *grads;      /* gradient block (after finalize)        */
    ad_tensor flat;      /* view of the whole value block          */
    int finalized;       /* blocks allocated                       */
    int grads_off;       /* nn_params_set_requires_grad(p, 0) in force */
    int status;          /* first registration error, or AD_OK     */
    char error[160];     /* its message                            */
};

nn_params *nn_params_new(void) { return ad_calloc(1, sizeof(nn_params)); }

void nn_params_free(nn_params *p)
{
    if (!p) return;
    for (int i = 0; i < p->n_entries; i++) {
        ad_free(p->entries[i].view);
        ad_free(p->entries[i].fixed);
    }
    ad_free(p->entries);
    ad_free(p->values);
    ad_free(p->grads);
    ad_free(p);
}

static void fail(nn_params *p, int code, const char *what)
{
    if (p->status != AD_OK) return;
    p->status = code;
    snprintf(p->error, sizeof p->error, "nn_params_add: %s", what);
}

static ad_tensor *add(nn_params *p, const char *name, int n_dims, const int *shape,
                      nn_init init, const ad_real *fixed)
{
    if (!p) return NULL;
    if (p->status != AD_OK) return NULL;
    if (p->finalized) {
        fail(p, AD_ERR_ARG, "tensor registered after nn_params_finalize");
        return NULL;
    }
    if (!ad_shape_valid(n_dims, shape)) {
        fail(p, AD_ERR_SHAPE, "invalid shape");
        return NULL;
    }
    if (p->n_entries == p->capacity) {
        int cap = p->capacity ? 2 * p->capacity : 16;
        nn_entry *e = ad_realloc(p->entries, (size_t)cap * sizeof *e);
        if (!e) {
            fail(p, AD_ERR_NOMEM, "out of memory");
            return NULL;
        }
        p->entries = e;
        p->capacity = cap;
    }
    nn_entry *e = &p->entries[p->n_entries];
    memset(e, 0, sizeof *e);
    e->view = ad_calloc(1, sizeof(ad_tensor));
    size_t size = ad_shape_size(n_dims, shape);
    if (e->view && fixed) {
        e->fixed = ad_malloc((size ? size : 1) * sizeof(ad_real));
        if (e->fixed && size) memcpy(e->fixed, fixed, size * sizeof(ad_real));
    }
    if (!e->view || (fixed && !e->fixed)) {
        ad_free(e->view);
        ad_free(e->fixed);
        fail(p, AD_ERR_NOMEM, "out of memory");
        return NULL;
    }
    /* The header describes the shape now; data and grad are set at finalize. */
    ad_tensor_init_view(e->view, n_dims, shape, NULL, NULL);
    e->view->name = name;
    e->init = init == NN_INIT_AUTO ? NN_INIT_GLOROT : init;
    e->offset = p->size;
    p->size += size;
    p->n_entries++;
    return e->view;
}

ad_tensor *nn_params_add(nn_params *p, const char *name, int n_dims, const int *shape,
                         nn_init init)
{
    return add(p, name, n_dims, shape, init, NULL);
}

ad_tensor *nn_params_add_fixed(nn_params *p, const char *name, int n_dims, const int *shape,
                               const ad_real *values)
{
    if (p && !values) {
        fail(p, AD_ERR_ARG, "fixed tensor without values");
        return NULL;
    }
    return add(p, name, n_dims, shape, NN_INIT_ZERO, values);
}

static void fan(const ad_tensor *x, int *fan_in, int *fan_out)
{
    if (x->n_dims >= 2) {
        *fan_in = x->shape[0];
        *fan_out = x->shape[1];
    } else {
        *fan_in = 1;
        *fan_out = x->n_dims == 1 ? x->shape[0] : 1;
    }
}

static void draw(nn_entry *e, ad_real *v, ad_rng *rng)
{
    size_t n = e->view->size;
    int fi, fo;
    fan(e->view, &fi, &fo);
    if (e->fixed) {
        if (n) memcpy(v, e->fixed, n * sizeof(ad_real));
        return;
    }
    switch (e->init) {
    case NN_INIT_GLOROT: {
        ad_real a = (ad_real)sqrt(6.0 / (double)(fi + fo));
        ad_rng_fill_uniform(rng, v, n, -a, a);
        break;
    }
    case NN_INIT_HE:
        ad_rng_fill_normal(rng, v, n, 0, (ad_real)sqrt(2.0 / (double)fi));
        break;
    default:
        memset(v, 0, n * sizeof(ad_real));
        break;
    }
}

int nn_params_finalize(nn_params *p, ad_rng *rng, char *msg, size_t msg_len)
{
    if (!p) return AD_ERR_ARG;
    if (p->status != AD_OK) {
        if (msg && msg_len) snprintf(msg, msg_len, "%s", p->error);
        return p->status;
    }
    if (p->finalized) return AD_OK;
    ad_rng fallback;
    if (!rng) {
        ad_rng_seed(&fallback, 0, 0);
        rng = &fallback;
    }
    size_t n = p->size ? p->size : 1;
    ad_real *values = ad_calloc(n, sizeof(ad_real));
    ad_real *grads = ad_calloc(n, sizeof(ad_real));
    if (!values || !grads) {
        ad_free(values);
        ad_free(grads);
        if (msg && msg_len) snprintf(msg, msg_len, "nn_params_finalize: out of memory");
        return AD_ERR_NOMEM;
    }
    p->values = values;
    p->grads = grads;
    for (int i = 0; i < p->n_entries; i++) {
        nn_entry *e = &p->entries[i];
        ad_tensor *x = e->view;
        const char *name = x->name;
        int n_dims = x->n_dims, shape[AD_MAX_DIMS];
        memcpy(shape, x->shape, sizeof shape); /* init_view clears x first */
        /* Fixed tensors get no gradient buffer, so ops on them record nothing
         * and their slice of the gradient block stays 0. */
        ad_tensor_init_view(x, n_dims, shape, values + e->offset,
                            e->fixed ? NULL : grads + e->offset);
        x->name = name;
        /* A long-lived parameter, not a tape input: ad_backward accumulates
         * into heap tensors and zeroes the gradients of non-heap leaves, so
         * the view is marked as a heap tensor that owns no memory. */
        x->on_heap = 1;
        x->owns_memory = 0;
        draw(e, x->data, rng);
        ad_free(e->fixed);
        e->fixed = NULL;
    }
    ad_tensor_init_view(&p->flat, 1, (int[]){(int)p->size}, values, grads);
    p->flat.on_heap = 1;
    p->flat.name = "parameters";
    p->finalized = 1;
    return AD_OK;
}

int nn_params_finalized(const nn_params *p) { return p && p->finalized; }
int nn_params_count(const nn_params *p) { return p ? p->n_entries : 0; }
size_t nn_params_size(const nn_params *p) { return p ? p->size : 0; }

size_t nn_params_trainable_size(const nn_params *p)
{
    size_t n = 0;
    for (int i = 0; p && i < p->n_entries; i++)
        if (!nn_params_is_fixed(p, i)) n += p->entries[i].view->size;
    return n;
}

ad_tensor *nn_params_get(const nn_params *p, int i)
{
    return p && i >= 0 && i < p->n_entries ? p->entries[i].view : NULL;
}

int nn_params_is_fixed(const nn_params *p, int i)
{
    if (!p || i < 0 || i >= p->n_entries) return 0;
    const nn_entry *e = &p->entries[i];
    return p->finalized ? e->view->grad == NULL : e->fixed != NULL;
}

ad_real *nn_params_values(const nn_params *p) { return p ? p->values : NULL; }
ad_real *nn_params_grads(const nn_params *p) { return p ? p->grads : NULL; }
ad_tensor *nn_params_flat(nn_params *p) { return p && p->finalized ? &p->flat : NULL; }

/* The gradient block's passes are split over the thread pool in chunks of
 * NN_PARAMS_CHUNK: a model of a few million parameters takes a few
 * milliseconds per pass on one thread, next to steps of tens of ms. */
static int grad_chunks(const nn_params *p)
{
    return (int)((p->size + NN_PARAMS_CHUNK - 1) / NN_PARAMS_CHUNK);
}

static void zero_chunk(void *ctx, int task, int worker)
{
    (void)worker;
    const nn_params *p = ctx;
    size_t i0 = (size_t)task * NN_PARAMS_CHUNK;
    size_t n = p->size - i0 < NN_PARAMS_CHUNK ? p->size - i0 : NN_PARAMS_CHUNK;
    memset(p->grads + i0, 0, n * sizeof(ad_real));
}

void nn_params_zero_grad(nn_params *p)
{
    if (p && p->grads && p->size) ad_parallel_for(grad_chunks(p), zero_chunk, p);
}

int nn_params_set_requires_grad(nn_params *p, int on)
{
    if (!p) return 0;
    int was = !p->grads_off;
    p->grads_off = !on;
    for (int i = 0; p->finalized && i < p->n_entries; i++) {
        ad_tensor *v = p->entries[i].view;
        if (v->grad) v->requires_grad = on != 0;
    }
    return was;
}

/* The sum of squares of chunk c of the gradient block, in double. */
static double chunk_squares(const nn_params *p, int c)
{
    size_t i0 = (size_t)c * NN_PARAMS_CHUNK;
    size_t i1 = i0 + NN_PARAMS_CHUNK < p->size ? i0 + NN_PARAMS_CHUNK : p->size;
    double s = 0;
    for (size_t i = i0; i < i1; i++) s += (double)p->grads[i] * (double)p->grads[i];
    return s;
}

typedef struct {
    const nn_params *p;
    double *part; /* [chunks] */
} norm_job;

static void norm_chunk(void *ctx, int task, int worker)
{
    (void)worker;
    const norm_job *j = ctx;
    j->part[task] = chunk_squares(j->p, task);
}

/* The chunks' sums are added in chunk order, so the norm does not depend on
 * the thread count.  Their partial sums are kept on the stack for up to
 * NORM_CHUNKS chunks (16 million parameters); a larger block is summed on
 * one thread, in the same order. */
#define NORM_CHUNKS 1024

double nn_params_grad_norm(const nn_params *p)
{
    if (!p || !p->grads || !p->size) return 0;
    const int chunks = grad_chunks(p);
    double s = 0;
    if (chunks <= NORM_CHUNKS) {
        double part[NORM_CHUNKS];
        norm_job j = {p, part};
        ad_parallel_for(chunks, norm_chunk, &j);
        for (int c = 0; c < chunks; c++) s += part[c];
    } else {
        for (int c = 0; c < chunks; c++) s += chunk_squares(p, c);
    }
    return sqrt(s);
}
