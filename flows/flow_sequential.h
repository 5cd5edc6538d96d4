/* flow_sequential.h - a composition of flow layers that sums log-dets.
 *
 * forward applies layers 0, 1, ..., n-1 (z -> x); inverse applies them in
 * reverse order (x -> z).  Log-dets add (chain rule for determinants).  The
 * sequence owns the layers appended to it and frees them with itself.
 */
#ifndef LIBBG_FLOWS_FLOW_SEQUENTIAL_H
#define LIBBG_FLOWS_FLOW_SEQUENTIAL_H

#include <stddef.h>

#include "flow.h"

/* An empty sequence (identity) of width dim; NULL if out of memory. */
flow_layer *flow_sequential_new(int dim);

/* Append `layer` at the x end.  Ownership passes to the sequence in every
 * case: on error (AD_ERR_SHAPE if layer->dim_z differs from the current
 * dim_x; AD_ERR_NOMEM) the layer is freed.  NULL layer: AD_ERR_ARG. */
int flow_sequential_append(flow_layer *seq, flow_layer *layer, char *msg, size_t msg_len);

int flow_sequential_length(const flow_layer *seq);
flow_layer *flow_sequential_get(const flow_layer *seq, int i);

#endif
