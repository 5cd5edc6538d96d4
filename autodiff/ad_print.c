/* ad_print.c - text and DOT dumps of a tape (placeholder until the printer is
 * written; see ad_print.h for the format). */
#include "ad_print.h"

#include "ad_op.h"

void ad_tape_print(const ad_tape *t, FILE *out)
{
    for (const ad_node *n = ad_tape_first(t); n; n = n->next)
        fprintf(out, "t%d = %s\n", n->index, n->op->name);
}

void ad_tape_print_dot(const ad_tape *t, FILE *out)
{
    fprintf(out, "digraph tape {\n");
    for (const ad_node *n = ad_tape_first(t); n; n = n->next)
        fprintf(out, "  t%d [label=\"%s\"];\n", n->index, n->op->name);
    fprintf(out, "}\n");
}
