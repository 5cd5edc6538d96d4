/* tutorial.c - the tutorial of autodiff/ad.h as a program: f(x) = a x^2 + b,
 * its gradient with respect to x, a and b, and the printed tape
 * (`tutorial --dot` prints the tape as Graphviz DOT instead). */
#include <stdio.h>
#include <string.h>

#include "autodiff/ad.h"

int main(int argc, char **argv)
{
    int dot = argc > 1 && strcmp(argv[1], "--dot") == 0;
    ad_tape *t = ad_tape_new(0);
    ad_tensor *a = ad_tensor_new_param(0, NULL);
    ad_tensor *b = ad_tensor_new_param(0, NULL);
    if (!t || !a || !b) return 1;
    a->data[0] = 2;
    b->data[0] = 1;
    a->name = "a"; /* names are optional; they label the printed tape */
    b->name = "b";
    ad_real xv[3] = {1, 2, 3};
    int shape[1] = {3};
    ad_tensor *x = ad_tape_input(t, 1, shape, xv);
    x->name = "x";
    ad_tensor *f = ad_add(t, ad_mul(t, a, ad_square(t, x)), b);
    ad_tensor *loss = ad_sum(t, f);
    loss->name = "loss";
    if (!ad_tape_ok(t) || ad_backward(t, loss) != AD_OK) {
        fprintf(stderr, "error: %s\n", ad_tape_error(t));
        return 1;
    }
    if (dot) {
        ad_tape_print_dot(t, stdout);
    } else {
        printf("loss = %g\n", loss->data[0]);
        printf("dloss/dx = {%g, %g, %g}   (2 a x)\n", x->grad[0], x->grad[1], x->grad[2]);
        printf("dloss/da = %g   (sum x^2)\ndloss/db = %g   (n)\n", a->grad[0], b->grad[0]);
        ad_tape_print(t, stdout);
    }
    int ok = x->grad[0] == 4 && x->grad[1] == 8 && x->grad[2] == 12 && a->grad[0] == 14 &&
             b->grad[0] == 3;
    ad_tensor_free(a);
    ad_tensor_free(b);
    ad_tape_free(t);
    return ok ? 0 : 1;
}
