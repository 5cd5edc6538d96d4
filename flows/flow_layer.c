/* flow_layer.c - the checked entry points of the flow-layer interface. */
#include "flow.h"

#include <stdio.h>

/* Validate x as [batch, dim] for layer l's `fn`; returns 1 if usable. */
static int check_input(const flow_layer *l, ad_tape *t, const ad_tensor *x, int dim,
                       const char *fn)
{
    if (!ad_tape_ok(t)) return 0;
    if (!l || !l->ops) {
        ad_tape_fail(t, AD_ERR_ARG, "%s: bad argument #1 (NULL layer)", fn);
        return 0;
    }
    if (!x || !x->valid) {
        ad_tape_fail(t, AD_ERR_ARG, "%s: bad argument #3 (%s tensor)", fn,
                     x ? "poisoned" : "NULL");
        return 0;
    }
    if (x->n_dims != 2 || x->shape[1] != dim) {
        char got[64];
        ad_tape_fail(t, AD_ERR_SHAPE, "%s: bad argument #3 (shape %s, expected [*,%d] for "
                     "layer %s)", fn, ad_shape_str(x->n_dims, x->shape, got, sizeof got), dim,
                     l->ops->name);
        return 0;
    }
    return 1;
}

static ad_tensor *run(const flow_layer *l, ad_tape *t, ad_tensor *in, ad_tensor **logdet,
                      int inverse)
{
    ad_tensor *ld = NULL;
    const char *fn = inverse ? "flow_layer_inverse" : "flow_layer_forward";
    if (!check_input(l, t, in, l ? (inverse ? l->dim_x : l->dim_z) : 0, fn)) {
        if (logdet) *logdet = ad_tape_poison(t);
        return ad_tape_poison(t);
    }
    ad_tensor *out = inverse ? l->ops->inverse(l, t, in, &ld) : l->ops->forward(l, t, in, &ld);
    if (ad_tape_ok(t) && (!out || !ld || ld->n_dims != 1 || ld->shape[0] != in->shape[0]))
        ad_tape_fail(t, AD_ERR_STATE, "%s: layer %s returned no output or a log-det that is "
                     "not [batch]", fn, l->ops->name);
    if (!ad_tape_ok(t)) {
        if (logdet) *logdet = ad_tape_poison(t);
        return ad_tape_poison(t);
    }
    if (logdet) *logdet = ld;
    return out;
}

ad_tensor *flow_layer_forward(const flow_layer *l, ad_tape *t, ad_tensor *z, ad_tensor **logdet)
{
    return run(l, t, z, logdet, 0);
}

ad_tensor *flow_layer_inverse(const flow_layer *l, ad_tape *t, ad_tensor *x, ad_tensor **logdet)
{
    return run(l, t, x, logdet, 1);
}

int flow_layer_parameters(const flow_layer *l, ad_tensor **out, int max_out)
{
    return l && l->ops && l->ops->parameters ? l->ops->parameters(l, out, max_out) : 0;
}

const char *flow_layer_name(const flow_layer *l) { return l && l->ops ? l->ops->name : "?"; }

void flow_layer_free(flow_layer *l)
{
    if (l && l->ops && l->ops->free) l->ops->free(l);
}

ad_tensor *flow_logdet_constant(ad_tape *t, int batch, ad_real c)
{
    return ad_full(t, 1, (int[]){batch}, c);
}
