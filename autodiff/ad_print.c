/* ad_print.c - text and DOT dumps of a tape (formats in ad_print.h).
 *
 * Nothing is allocated: names are built in stack buffers, and a tensor that
 * no node produced (a leaf, a parameter, a constant) is identified in the DOT
 * output by the node and slot where it first appears, found by a scan over
 * the earlier nodes (quadratic in the tape length, which is fine for a dump).
 */
#include "ad_print.h"

#include <stdio.h>
#include <string.h>

#include "ad_op.h"

/* What a tensor that no node produced is: a leaf of the tape that needs a
 * gradient (ad_tape_input), a caller-owned parameter, or a constant. */
static const char *kind(const ad_tensor *x)
{
    if (!x->requires_grad) return "const";
    return x->on_tape ? "leaf" : "param";
}

/* The tensor's printed name: its label, else t<i> for the output of node i,
 * else its kind. */
static const char *name_of(const ad_tensor *x, char *buf, size_t len)
{
    if (x->name) return x->name;
    if (x->node) {
        snprintf(buf, len, "t%d", x->node->index);
        return buf;
    }
    return kind(x);
}

void ad_tape_print(const ad_tape *t, FILE *out)
{
    if (!out) return;
    if (!t) {
        fprintf(out, "tape: none\n");
        return;
    }
    fprintf(out, "tape: %d node%s (tN is the output of node N)\n", ad_tape_n_nodes(t),
            ad_tape_n_nodes(t) == 1 ? "" : "s");
    if (ad_tape_first(t))
        fprintf(out, "node  op           inputs                      -> output\n");
    for (const ad_node *n = ad_tape_first(t); n; n = n->next) {
        char inputs[256] = "", item[96], name[48], shape[48];
        size_t at = 0;
        for (int i = 0; i < n->n_inputs; i++) {
            const ad_tensor *x = n->inputs[i];
            ad_shape_str(x->n_dims, x->shape, shape, sizeof shape);
            if (x->node)
                snprintf(item, sizeof item, "%s%s", name_of(x, name, sizeof name), shape);
            else if (x->name)
                snprintf(item, sizeof item, "%s %s%s", kind(x), x->name, shape);
            else
                snprintf(item, sizeof item, "%s%s", kind(x), shape);
            int w = snprintf(inputs + at, sizeof inputs - at, "%s%s", i ? ", " : "", item);
            if (w < 0 || (size_t)w >= sizeof inputs - at) break;
            at += (size_t)w;
        }
        const ad_tensor *y = n->output;
        ad_shape_str(y->n_dims, y->shape, shape, sizeof shape);
        fprintf(out, "%4d  %-12s %-27s -> %s%s%s\n", n->index, n->op->name, inputs,
                name_of(y, name, sizeof name), shape, y->grad ? "  grad" : "");
    }
    if (!ad_tape_ok(t)) fprintf(out, "error: %s\n", ad_tape_error(t));
}

/* Write s with the characters that are special in a DOT record label
 * escaped. */
static void put_escaped(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (strchr("{}|<>\"\\", *s)) fputc('\\', out);
        fputc(*s, out);
    }
}

/* One record vertex: "name | value-or-shape | grad". */
static void dot_tensor(FILE *out, const char *id, const ad_tensor *x)
{
    char name[48], shape[48];
    const char *nm = name_of(x, name, sizeof name);
    fprintf(out, "  %s [shape=record, label=\"{", id);
    put_escaped(out, nm);
    if (x->size == 1)
        fprintf(out, " | %.4g | ", (double)x->data[0]);
    else
        fprintf(out, " | %s | ", ad_shape_str(x->n_dims, x->shape, shape, sizeof shape));
    if (!x->grad) {
        fprintf(out, "no grad");
    } else {
        fprintf(out, "grad(");
        put_escaped(out, nm);
        if (x->size == 1) fprintf(out, ") %.4g", (double)x->grad[0]);
        else fprintf(out, ")");
    }
    fprintf(out, "}\"];\n");
}

/* Node and slot of the first appearance of x as an input (a vertex id for a
 * tensor that no node produced). */
static void first_use(const ad_tape *t, const ad_tensor *x, int *node, int *slot)
{
    for (const ad_node *n = ad_tape_first(t); n; n = n->next)
        for (int i = 0; i < n->n_inputs; i++)
            if (n->inputs[i] == x) {
                *node = n->index;
                *slot = i;
                return;
            }
    *node = *slot = -1; /* not reached for an input of a recorded node */
}

void ad_tape_print_dot(const ad_tape *t, FILE *out)
{
    if (!out) return;
    fprintf(out, "digraph tape {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n");
    for (const ad_node *n = t ? ad_tape_first(t) : NULL; n; n = n->next) {
        char id[32];
        fprintf(out, "  op%d [shape=ellipse, label=\"%s\"];\n", n->index, n->op->name);
        for (int i = 0; i < n->n_inputs; i++) {
            const ad_tensor *x = n->inputs[i];
            if (x->node) {
                snprintf(id, sizeof id, "t%d", x->node->index);
            } else {
                int j, s;
                first_use(t, x, &j, &s);
                snprintf(id, sizeof id, "in%d_%d", j, s);
                if (j == n->index && s == i) dot_tensor(out, id, x);
            }
            fprintf(out, "  %s -> op%d;\n", id, n->index);
        }
        snprintf(id, sizeof id, "t%d", n->index);
        dot_tensor(out, id, n->output);
        fprintf(out, "  op%d -> %s;\n", n->index, id);
    }
    fprintf(out, "}\n");
}
