/* flow_sequential.c - composition of flow layers. */
#include "flow_sequential.h"

#include <stdio.h>

typedef struct flow_sequential {
    flow_layer base;       /* dim_z: first layer's, dim_x: last layer's */
    flow_layer **layers;   /* owned, in forward order                   */
    int n_layers;
    int capacity;
} flow_sequential;

/* x = f_{n-1}(...f_0(z)),  log|det dx/dz| = sum_k log|det J_k| */
static ad_tensor *seq_forward(const flow_layer *l, ad_tape *t, ad_tensor *z, ad_tensor **logdet)
{
    const flow_sequential *s = (const flow_sequential *)l;
    ad_tensor *h = z, *total = NULL;
    for (int k = 0; k < s->n_layers; k++) {
        ad_tensor *ld;
        h = flow_layer_forward(s->layers[k], t, h, &ld);
        total = total ? ad_add(t, total, ld) : ld;
    }
    *logdet = total ? total : flow_logdet_constant(t, z->shape[0], 0);
    return h;
}

static ad_tensor *seq_inverse(const flow_layer *l, ad_tape *t, ad_tensor *x, ad_tensor **logdet)
{
    const flow_sequential *s = (const flow_sequential *)l;
    ad_tensor *h = x, *total = NULL;
    for (int k = s->n_layers - 1; k >= 0; k--) {
        ad_tensor *ld;
        h = flow_layer_inverse(s->layers[k], t, h, &ld);
        total = total ? ad_add(t, total, ld) : ld;
    }
    *logdet = total ? total : flow_logdet_constant(t, x->shape[0], 0);
    return h;
}

static int seq_parameters(const flow_layer *l, ad_tensor **out, int max_out)
{
    const flow_sequential *s = (const flow_sequential *)l;
    int n = 0;
    for (int k = 0; k < s->n_layers; k++) {
        int room = max_out > n ? max_out - n : 0;
        n += flow_layer_parameters(s->layers[k], out && room ? out + n : NULL, room);
    }
    return n;
}

static void seq_free(flow_layer *l)
{
    flow_sequential *s = (flow_sequential *)l;
    for (int k = 0; k < s->n_layers; k++) flow_layer_free(s->layers[k]);
    ad_free(s->layers);
    ad_free(s);
}

static const flow_layer_ops SEQUENTIAL_OPS = {"sequential", seq_forward, seq_inverse,
                                              seq_parameters, seq_free};

flow_layer *flow_sequential_new(int dim)
{
    if (dim < 1) return NULL;
    flow_sequential *s = ad_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->base.ops = &SEQUENTIAL_OPS;
    s->base.dim_z = s->base.dim_x = dim;
    return &s->base;
}

int flow_sequential_append(flow_layer *seq, flow_layer *layer, char *msg, size_t msg_len)
{
    if (!seq || seq->ops != &SEQUENTIAL_OPS || !layer) {
        flow_layer_free(layer);
        if (msg && msg_len) snprintf(msg, msg_len, "flow_sequential_append: bad argument");
        return AD_ERR_ARG;
    }
    flow_sequential *s = (flow_sequential *)seq;
    if (layer->dim_z != seq->dim_x) {
        if (msg && msg_len)
            snprintf(msg, msg_len, "flow_sequential_append: layer %s takes width %d, the "
                     "sequence ends at width %d", flow_layer_name(layer), layer->dim_z,
                     seq->dim_x);
        flow_layer_free(layer);
        return AD_ERR_SHAPE;
    }
    if (s->n_layers == s->capacity) {
        int cap = s->capacity ? 2 * s->capacity : 8;
        flow_layer **a = ad_realloc(s->layers, (size_t)cap * sizeof *a);
        if (!a) {
            flow_layer_free(layer);
            if (msg && msg_len) snprintf(msg, msg_len, "flow_sequential_append: out of memory");
            return AD_ERR_NOMEM;
        }
        s->layers = a;
        s->capacity = cap;
    }
    s->layers[s->n_layers++] = layer;
    seq->dim_x = layer->dim_x;
    return AD_OK;
}

int flow_sequential_length(const flow_layer *seq)
{
    return seq && seq->ops == &SEQUENTIAL_OPS ? ((const flow_sequential *)seq)->n_layers : 0;
}

flow_layer *flow_sequential_get(const flow_layer *seq, int i)
{
    if (!seq || seq->ops != &SEQUENTIAL_OPS) return NULL;
    const flow_sequential *s = (const flow_sequential *)seq;
    return i >= 0 && i < s->n_layers ? s->layers[i] : NULL;
}
