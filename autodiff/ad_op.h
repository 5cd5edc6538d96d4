/* ad_op.h - the node interface: how an op (built-in or user-written) records
 * itself on the tape and supplies its backward pass.
 *
 * An op follows five steps (see docs/autodiff.md):
 *   1. if (!ad_op_begin(t, "name", n, inputs)) return ad_tape_poison(t);
 *   2. validate shapes; on failure return ad_tape_fail(t, AD_ERR_SHAPE, ...);
 *   3. out = ad_tape_tensor(t, ...)  (check for the poison on out-of-memory);
 *   4. compute out->data;
 *   5. n = ad_tape_record(t, &OP, out, n, inputs); if n, save what backward needs.
 * The backward function receives the node; it reads n->output->grad and
 * accumulates (+=) into ad_node_grad(t, input) for every input that requires a
 * gradient (ad_node_grad returns NULL for the others).
 * Error messages name arguments by position, counting from the first argument
 * after the tape: "ad_name: bad argument #2 (shape [4,3], expected [2,*])".
 */
#ifndef LIBBG_AUTODIFF_AD_OP_H
#define LIBBG_AUTODIFF_AD_OP_H

#include "ad_tape.h"

typedef struct ad_node ad_node;
typedef void (*ad_backward_fn)(ad_tape *t, ad_node *n);

/* Constant descriptor of an op: its printed name and its backward. */
typedef struct ad_op {
    const char *name;
    ad_backward_fn backward;
} ad_op;

struct ad_node {
    const ad_op *op;                    /* what produced the output           */
    int n_inputs;                       /* number of entries in inputs[]      */
    ad_tensor **inputs;                 /* operands, in argument order: slots,
                                           or a wide op's list in its ctx     */
    ad_tensor *output;                  /* the op's result                    */
    ad_real saved[AD_MAX_SAVED];        /* scalars kept for backward          */
    int saved_int[AD_MAX_SAVED];        /* integers kept for backward         */
    void *ctx;                          /* extra arena state (ad_tape_alloc)  */
    int index;                          /* position on the tape, from 0       */
    ad_node *prev, *next;               /* recording order                    */
    int reached;                        /* ad_backward: leads to its output   */
    ad_tensor *slots[AD_MAX_INPUTS];    /* where inputs points for most ops   */
};

/* Step 1: returns 0 (after recording an error if needed) when the tape holds
 * an error or an input is NULL or poisoned. */
int ad_op_begin(ad_tape *t, const char *op_name, int n_inputs, ad_tensor *const *inputs);
/* Step 5: records a node if grad is enabled and any input requires a
 * gradient; marks the output as requiring one.  NULL when nothing recorded
 * (or out of memory, which sets the tape error and marks `out` invalid, so an
 * op that returns `out` regardless still returns an invalid tensor).
 * n_inputs must be 1..AD_MAX_INPUTS; the node copies them into its slots. */
ad_node *ad_tape_record(ad_tape *t, const ad_op *op, ad_tensor *out,
                        int n_inputs, ad_tensor *const *inputs);
/* Step 5 for an op with more inputs than a node holds: the same, except
 * that the node keeps `inputs` itself (n->inputs == inputs) instead of a
 * copy, so the list must live as long as the recording: in t's arena,
 * usually inside the op's context (ad_tape_alloc).  A list anywhere else is
 * refused (AD_ERR_ARG).  ad_mlp records its 1 + 2 L inputs this way. */
ad_node *ad_tape_record_wide(ad_tape *t, const ad_op *op, ad_tensor *out,
                             int n_inputs, ad_tensor **inputs);
/* In backward: the gradient buffer of x (zero-filled on first use), or NULL
 * if x does not require a gradient. */
ad_real *ad_node_grad(ad_tape *t, ad_tensor *x);
/* The same, except that a buffer created by this call is not zero-filled:
 * then *fresh is 1 and the backward must write (=) every element of it
 * instead of adding; otherwise *fresh is 0 and it adds as usual.  For ops
 * whose backward writes each input element once (copies, permutations,
 * element-wise ops); an op whose inputs may be the same tensor must use
 * ad_node_grad, or ask for the fresh buffer of the input whose element it
 * writes first. */
ad_real *ad_node_grad_fresh(ad_tape *t, ad_tensor *x, int *fresh);

/* First and last nodes, for walking the tape (printing, debugging). */
ad_node *ad_tape_first(const ad_tape *t);
ad_node *ad_tape_last(const ad_tape *t);

#endif
