/* ad_print.h - the tape as text (one line per node) and as Graphviz DOT.
 * Output goes to a caller-supplied FILE; nothing is allocated. */
#ifndef LIBBG_AUTODIFF_AD_PRINT_H
#define LIBBG_AUTODIFF_AD_PRINT_H

#include <stdio.h>

#include "ad_tape.h"

/* One line per node: index, op, inputs (node ids or "leaf"), output shape,
 * and whether the output holds a gradient. */
void ad_tape_print(const ad_tape *t, FILE *out);
/* A DOT digraph: tensors as "value | grad" records, ops as small nodes. */
void ad_tape_print_dot(const ad_tape *t, FILE *out);

#endif
