/* nn_params.c - registration of parameter tensors and the two blocks. */
#include "nn_params.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

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

void nn_params_zero_grad(nn_params *p)
{
    if (p && p->grads && p->size) memset(p->grads, 0, p->size * sizeof(ad_real));
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

double nn_params_grad_norm(const nn_params *p)
{
    double s = 0;
    if (!p || !p->grads) return 0;
    for (size_t i = 0; i < p->size; i++) s += (double)p->grads[i] * (double)p->grads[i];
    return sqrt(s);
}
