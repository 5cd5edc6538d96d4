/* flow_permute.c - permutation layers. */
#include "flow_permute.h"

#include <stdio.h>
#include <string.h>

typedef struct flow_permute {
    flow_layer base;
    int *perm;      /* [dim] forward gather index */
    int *inverse;   /* [dim] inverse gather index */
} flow_permute;

static ad_tensor *permute_forward(const flow_layer *l, ad_tape *t, ad_tensor *z,
                                  ad_tensor **logdet)
{
    const flow_permute *p = (const flow_permute *)l;
    *logdet = flow_logdet_constant(t, z->shape[0], 0);
    return ad_gather_cols(t, z, p->perm, l->dim_z);
}

static ad_tensor *permute_inverse(const flow_layer *l, ad_tape *t, ad_tensor *x,
                                  ad_tensor **logdet)
{
    const flow_permute *p = (const flow_permute *)l;
    *logdet = flow_logdet_constant(t, x->shape[0], 0);
    return ad_gather_cols(t, x, p->inverse, l->dim_x);
}

static void permute_free(flow_layer *l)
{
    flow_permute *p = (flow_permute *)l;
    ad_free(p->perm);
    ad_free(p->inverse);
    ad_free(p);
}

static const flow_layer_ops PERMUTE_OPS = {"permutation", permute_forward, permute_inverse, NULL,
                                           permute_free};

flow_layer *flow_permute_new(int dim, const int *perm, char *msg, size_t msg_len)
{
    if (dim < 1 || !perm) {
        if (msg && msg_len) snprintf(msg, msg_len, "flow_permute_new: bad arguments");
        return NULL;
    }
    flow_permute *p = ad_calloc(1, sizeof *p);
    if (p) {
        p->perm = ad_malloc((size_t)dim * sizeof(int));
        p->inverse = ad_malloc((size_t)dim * sizeof(int));
    }
    if (!p || !p->perm || !p->inverse) {
        if (p) permute_free(&p->base);
        if (msg && msg_len) snprintf(msg, msg_len, "flow_permute_new: out of memory");
        return NULL;
    }
    for (int j = 0; j < dim; j++) p->inverse[j] = -1;
    for (int j = 0; j < dim; j++) {
        if (perm[j] < 0 || perm[j] >= dim || p->inverse[perm[j]] != -1) {
            if (msg && msg_len)
                snprintf(msg, msg_len, "flow_permute_new: perm[%d] = %d is out of range or "
                         "repeated (not a permutation of 0..%d)", j, perm[j], dim - 1);
            permute_free(&p->base);
            return NULL;
        }
        p->perm[j] = perm[j];
        p->inverse[perm[j]] = j;
    }
    p->base.ops = &PERMUTE_OPS;
    p->base.dim_z = p->base.dim_x = dim;
    return &p->base;
}

flow_layer *flow_permute_random_new(int dim, ad_rng *rng, char *msg, size_t msg_len)
{
    if (dim < 1 || !rng) {
        if (msg && msg_len) snprintf(msg, msg_len, "flow_permute_random_new: bad arguments");
        return NULL;
    }
    int *perm = ad_malloc((size_t)dim * sizeof(int));
    if (!perm) {
        if (msg && msg_len) snprintf(msg, msg_len, "flow_permute_random_new: out of memory");
        return NULL;
    }
    ad_rng_permutation(rng, perm, dim);
    flow_layer *l = flow_permute_new(dim, perm, msg, msg_len);
    ad_free(perm);
    return l;
}

flow_layer *flow_permute_swap_new(int dim, flow_split_kind split, const int *mask, char *msg,
                                  size_t msg_len)
{
    flow_split s;
    if (flow_split_init(&s, dim, split, mask, 0, msg, msg_len) != AD_OK) return NULL;
    int *perm = ad_malloc((size_t)dim * sizeof(int));
    if (!perm) {
        flow_split_release(&s);
        if (msg && msg_len) snprintf(msg, msg_len, "flow_permute_swap_new: out of memory");
        return NULL;
    }
    /* Destinations cond ++ trans receive the sources trans ++ cond. */
    for (int i = 0; i < dim; i++) {
        int dst = i < s.n_cond ? s.cond[i] : s.trans[i - s.n_cond];
        int src = i < s.n_trans ? s.trans[i] : s.cond[i - s.n_trans];
        perm[dst] = src;
    }
    flow_layer *l = flow_permute_new(dim, perm, msg, msg_len);
    ad_free(perm);
    flow_split_release(&s);
    return l;
}
