/* pot_dimer_bench.c - time the dimer energy and forces for a batch of
 * configurations, with the fused LJ pair op and with the composed one.
 *
 *   make BUILD=build lib && cc -O2 -I. bench/pot_dimer_bench.c build/libbg.a -lm -lpthread \
 *       -o build/pot-dimer-bench && build/pot-dimer-bench [batch] [repeats]
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "potentials/pot_dimer.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* Solvent on a 6 x 6 lattice of spacing 1.2 (outermost +-3), dimer at (+-d/2, 0)
 * with the four lattice sites nearest the centre left out, plus noise. */
static void configuration(ad_real *x, int n_solvent, ad_rng *r)
{
    double d = 1.0 + ad_rng_uniform(r);
    x[0] = -d / 2;
    x[1] = 0;
    x[2] = d / 2;
    x[3] = 0;
    int k = 2;
    for (int i = 0; i < 6 && k < 2 + n_solvent; i++)
        for (int j = 0; j < 6 && k < 2 + n_solvent; j++, k++) {
            x[2 * k] = -3 + 1.2 * i + 0.05 * ad_rng_normal(r);
            x[2 * k + 1] = -3 + 1.2 * j + 0.05 * ad_rng_normal(r);
        }
}

int main(int argc, char **argv)
{
    int batch = argc > 1 ? atoi(argv[1]) : 1000, repeats = argc > 2 ? atoi(argv[2]) : 20;
    pot_dimer_params p = pot_dimer_params_seed();
    int dim = pot_dimer_dim(&p);
    ad_real *x = malloc(sizeof(ad_real) * batch * dim), *u = malloc(sizeof(ad_real) * batch);
    ad_real *f = malloc(sizeof(ad_real) * batch * dim);
    ad_rng r;
    ad_rng_seed(&r, 1, 0);
    for (int b = 0; b < batch; b++) configuration(x + (size_t)b * dim, p.n_solvent, &r);
    ad_tape *t = ad_tape_new(0);
    char msg[256];
    for (int composed = 0; composed < 2; composed++) {
        p.composed_pairs = composed;
        pot_potential pot = pot_dimer(&p);
        double best_e = INFINITY, best_f = INFINITY;
        for (int it = 0; it < repeats; it++) {
            double t0 = now();
            if (pot_energy_eval(&pot, t, x, batch, u, msg, sizeof msg) != AD_OK) {
                fprintf(stderr, "%s\n", msg);
                return 1;
            }
            double t1 = now();
            if (pot_forces(&pot, t, x, batch, u, f, msg, sizeof msg) != AD_OK) {
                fprintf(stderr, "%s\n", msg);
                return 1;
            }
            double t2 = now();
            if (t1 - t0 < best_e) best_e = t1 - t0;
            if (t2 - t1 < best_f) best_f = t2 - t1;
        }
        printf("%-8s batch %d: energy %.3f ms, energy+forces %.3f ms (best of %d); u[0] = %.6f\n",
               composed ? "composed" : "fused", batch, 1e3 * best_e, 1e3 * best_f, repeats, u[0]);
    }
    ad_tape_free(t);
    free(x);
    free(u);
    free(f);
    return 0;
}
