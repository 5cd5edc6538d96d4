/* ad_print.h - the tape as text (one line per node) and as Graphviz DOT.
 * Output goes to a caller-supplied FILE; nothing is allocated.
 *
 * Naming, shared by both forms: a tensor's `name` when set; else t<N> for the
 * output of node N; else the kind of a tensor that no node produced: "leaf"
 * (a tape input that needs a gradient), "param" (a caller-owned tensor that
 * needs one) or "const".  A gradient is shown as grad(name).
 */
#ifndef LIBBG_AUTODIFF_AD_PRINT_H
#define LIBBG_AUTODIFF_AD_PRINT_H

#include <stdio.h>

#include "ad_tape.h"

/* A header line, then one line per node:
 *      1  mul          param a[], t0[3]            -> t1[3]  grad
 * index, op, inputs (t<N> for node outputs, else kind and name) with their
 * shapes, the output with its shape, and "grad" once its gradient exists.
 * A last line "error: ..." when the tape holds an error. */
void ad_tape_print(const ad_tape *t, FILE *out);
/* A DOT digraph: tensors as "name | value-or-shape | grad" records (the value
 * and grad values when the tensor has one element), ops as small ellipses. */
void ad_tape_print_dot(const ad_tape *t, FILE *out);

#endif
