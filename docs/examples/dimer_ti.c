/* dimer_ti.c - an independent check of the dimer's umbrella reference:
 * thermodynamic integration over temperature.
 *
 * bg-dimer's reference dF(closed - open) at each temperature comes from
 * umbrella sampling along the dimer distance d and WHAM.  This program
 * tests how those values change with temperature by a route that shares
 * none of that machinery.  With beta = 1/kT and a state A (a range of d),
 *     beta F_A(beta) = -ln Z_A(beta),   Z_A = integral over A of exp(-beta U),
 *     d(beta F_A)/d beta = <U>_A(beta)   (the mean energy restricted to A),
 * so f(beta) = beta dF(closed - open), the number bg-dimer reports in
 * units of kT, obeys
 *     f(beta_2) - f(beta_1) = integral from beta_1 to beta_2 of
 *                             <U>_closed(beta) - <U>_open(beta) d beta.
 * The states are bg-dimer's: closed 0.5 <= d < 1.5, open 1.5 <= d <= 2.5.
 * Metropolis Monte Carlo with a hard wall at the state's edges (a move that
 * leaves the state has infinite energy and is rejected) samples each
 * restricted ensemble exactly, however high the barrier between them.
 *
 * The chains of each state run on a grid of 13 inverse temperatures from
 * beta 0.5 (kT 2) to beta 2 (kT 0.5), step 0.125: first cooling from the
 * hot end, each temperature starting from the last frames of the one
 * before, then heating back from the cold end.  At each temperature the
 * first EQUIL steps are dropped and the mean energy is taken over the
 * next STEPS steps of every chain; its standard error is that of the
 * chains' own means (independent chains, so correlations along a chain
 * need no model).  Simpson's rule integrates over beta, once with the
 * step h = 0.125 and once with 2h: a difference well beyond the noise of
 * the points the coarser rule drops would show the rule's own error.  The two sweeps differ by what the chains have not forgotten of
 * the temperature before.
 *
 * It prints f(kT 2) - f(kT 1) and f(kT 0.5) - f(kT 1); bg-dimer's umbrella
 * values at the three temperatures must differ by the same amounts within
 * their standard errors.  The closed and the open state run in two
 * threads; every number is the same for a given seed.
 *
 *   dimer_ti [CHAINS [EQUIL [STEPS]]]     (defaults 64 30000 100000)
 *
 *   cc -O2 dimer_ti.c $(pkg-config --cflags --libs libbg) -o dimer_ti
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/ad.h"
#include "autodiff/fast/ad_state.h"
#include "potentials/pot_dimer.h"
#include "sampling/smp_mc.h"

#define N_BETA 13
#define BETA_LO 0.5
#define BETA_STEP 0.125
#define STRIDE 100
#define D_LO 0.5 /* bg-dimer's states: closed D_LO <= d < POT_DIMER_D_SPLIT, */
#define D_HI 2.5 /* open POT_DIMER_D_SPLIT <= d <= D_HI                     */

typedef struct state_run {
    int open;                          /* 0 closed, 1 open                    */
    const pot_potential *pot;
    int n_chains;
    long n_equil, n_steps;
    double mean[2][N_BETA], se[2][N_BETA]; /* [sweep][beta index]             */
    int status;
    char msg[256];
} state_run;

typedef struct wall_ctx {
    smp_potential_ctx pc;
    int open;
} wall_ctx;

/* The dimer's energy inside the state, +infinity outside it. */
static int wall_energy(void *vctx, const ad_real *x, int n, int dim, ad_real *u, char *msg,
                       size_t msg_len)
{
    wall_ctx *w = vctx;
    int rc = smp_potential_energy(&w->pc, x, n, dim, u, msg, msg_len);
    for (int i = 0; rc == AD_OK && i < n; i++) {
        double d = pot_dimer_distance_of(x + (size_t)i * dim);
        int inside = w->open ? d >= POT_DIMER_D_SPLIT && d <= D_HI
                             : d >= D_LO && d < POT_DIMER_D_SPLIT;
        if (!inside) u[i] = (ad_real)INFINITY;
    }
    return rc;
}

/* The dimer at distance d on the x axis, the solvent on a 6 x 6 lattice of
 * spacing 1.2 (the MC at the hot end removes the overlaps with the dimer). */
static void start_frame(ad_real *x, int n_solvent, double d)
{
    x[0] = (ad_real)(-d / 2);
    x[1] = 0;
    x[2] = (ad_real)(d / 2);
    x[3] = 0;
    for (int k = 0; k < n_solvent; k++) {
        x[4 + 2 * k] = (ad_real)(-3.0 + 1.2 * (k % 6));
        x[5 + 2 * k] = (ad_real)(-3.0 + 1.2 * (k / 6));
    }
}

/* Both sweeps of one state. */
static void *run_state(void *arg)
{
    state_run *s = arg;
    const int dim = s->pot->dim, nc = s->n_chains;
    const pot_dimer_params *p = s->pot->params;
    smp_mc_config mc = smp_mc_config_default(dim, 1);
    mc.n_chains = nc;
    mc.n_steps = s->n_equil + s->n_steps;
    mc.stride = STRIDE;
    long n_frames = smp_mc_n_frames(&mc), first = s->n_equil / STRIDE;
    wall_ctx w = {{s->pot, ad_tape_new(0)}, s->open};
    ad_real *x = malloc((size_t)nc * dim * sizeof *x);
    ad_real *frames = malloc((size_t)n_frames * nc * dim * sizeof *frames);
    ad_real *u = malloc((size_t)n_frames * nc * sizeof *u);
    s->status = w.pc.scratch && x && frames && u ? AD_OK : AD_ERR_NOMEM;
    if (s->status != AD_OK) snprintf(s->msg, sizeof s->msg, "out of memory");
    for (int c = 0; s->status == AD_OK && c < nc; c++)
        start_frame(x + (size_t)c * dim, p->n_solvent, s->open ? 2.05 : 0.93);
    for (int step = 0; s->status == AD_OK && step < 2 * N_BETA; step++) {
        int sweep = step / N_BETA, j = sweep == 0 ? step : 2 * N_BETA - 1 - step;
        double beta = BETA_LO + BETA_STEP * j;
        mc.kT = 1 / beta;
        mc.sigma = 0.02 * sqrt(mc.kT); /* bg-dimer's proposal */
        mc.seed = ad_rng_derive_seed(2026, (uint64_t)(100 * s->open + step));
        s->status = smp_mc_run(&mc, wall_energy, &w, x, frames, u, NULL, s->msg, sizeof s->msg);
        if (s->status != AD_OK) break;
        double sum = 0, sum2 = 0;
        for (int c = 0; c < nc; c++) {
            double m = 0;
            for (long f = first; f < n_frames; f++) m += u[f * nc + c];
            m /= (double)(n_frames - first);
            sum += m;
            sum2 += m * m;
        }
        double mean = sum / nc;
        s->mean[sweep][j] = mean;
        s->se[sweep][j] = nc > 1 ? sqrt(fmax(sum2 / nc - mean * mean, 0) / (nc - 1)) : NAN;
        memcpy(x, frames + (size_t)(n_frames - 1) * nc * dim, (size_t)nc * dim * sizeof *x);
        fprintf(stderr, "dimer_ti: %s state, %s, beta %.3f: <U> = %.3f +- %.3f\n",
                s->open ? "open" : "closed", sweep ? "heating" : "cooling", beta, mean,
                s->se[sweep][j]);
    }
    ad_tape_free(w.pc.scratch);
    free(x);
    free(frames);
    free(u);
    return NULL;
}

/* Simpson's rule for the integral of dU over the grid points lo .. hi
 * (an even number of steps of h), every `skip`-th point: value and SE. */
static void simpson(const state_run *s, int sweep, int lo, int hi, int skip, double *val,
                    double *se)
{
    int dir = hi > lo ? 1 : -1, n = dir * (hi - lo) / skip;
    double h = BETA_STEP * skip * dir, v = 0, var = 0;
    for (int i = 0; i <= n; i++) {
        int j = lo + dir * i * skip;
        double wt = (i == 0 || i == n ? 1 : i % 2 ? 4 : 2) * h / 3;
        double du = s[0].mean[sweep][j] - s[1].mean[sweep][j];
        double e2 = s[0].se[sweep][j] * s[0].se[sweep][j] + s[1].se[sweep][j] * s[1].se[sweep][j];
        v += wt * du;
        var += wt * wt * e2;
    }
    *val = v;
    *se = sqrt(var);
}

int main(int argc, char **argv)
{
    long arg[3] = {64, 30000, 100000};
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: dimer_ti [CHAINS [EQUIL [STEPS]]]\n\nThermodynamic integration over "
               "temperature of the dimer's dF(closed - open) / kT\nfrom kT 1 to kT 2 and to kT "
               "0.5: CHAINS chains per state (default 64), the first\nEQUIL steps of each "
               "temperature dropped (30000), STEPS steps averaged (100000).\n");
        return 0;
    }
    if (argc > 4) {
        fprintf(stderr, "usage: dimer_ti [CHAINS [EQUIL [STEPS]]]\n");
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        char *end;
        arg[i - 1] = strtol(argv[i], &end, 10);
        if (*end || arg[i - 1] < (i == 2 ? 0 : i == 1 ? 2 : STRIDE) || arg[i - 1] > 100000000) {
            fprintf(stderr, "usage: dimer_ti [CHAINS [EQUIL [STEPS]]] (CHAINS >= 2, "
                            "STEPS >= %d)\n", STRIDE);
            return 2;
        }
    }
    ad_threads_set(1); /* one thread per state: the energies' own loops stay serial */
    pot_dimer_params params = pot_dimer_params_paper();
    pot_potential pot = pot_dimer(&params);
    state_run s[2];
    pthread_t th[2];
    for (int k = 0; k < 2; k++) {
        s[k] = (state_run){.open = k, .pot = &pot, .n_chains = (int)arg[0],
                           .n_equil = arg[1] / STRIDE * STRIDE, .n_steps = arg[2]};
        if (pthread_create(&th[k], NULL, run_state, &s[k])) {
            if (k) pthread_join(th[0], NULL);
            fprintf(stderr, "dimer_ti: cannot start a thread\n");
            return 2;
        }
    }
    for (int k = 0; k < 2; k++) pthread_join(th[k], NULL);
    for (int k = 0; k < 2; k++)
        if (s[k].status != AD_OK) {
            fprintf(stderr, "dimer_ti: %s state: %s\n", k ? "open" : "closed", s[k].msg);
            return 2;
        }
    printf("dimer (paper bond), restricted ensembles closed %g <= d < %g and open %g <= d "
           "<= %g;\n%d chains per state, %ld + %ld steps per temperature\n\n",
           D_LO, POT_DIMER_D_SPLIT, POT_DIMER_D_SPLIT, D_HI, s[0].n_chains, s[0].n_equil,
           s[0].n_steps);
    printf("  beta     kT | sweep   | <U>closed      | <U>open        | dU = closed - open\n");
    for (int j = 0; j < N_BETA; j++)
        for (int sw = 0; sw < 2; sw++)
            printf("%6.3f %6.3f | %-7s | %7.3f +- %.3f | %7.3f +- %.3f | %7.3f +- %.3f\n",
                   BETA_LO + BETA_STEP * j, 1 / (BETA_LO + BETA_STEP * j),
                   sw ? "heating" : "cooling", s[0].mean[sw][j], s[0].se[sw][j],
                   s[1].mean[sw][j], s[1].se[sw][j], s[0].mean[sw][j] - s[1].mean[sw][j],
                   hypot(s[0].se[sw][j], s[1].se[sw][j]));
    const int j1 = 4; /* beta 1 */
    printf("\nf = beta dF(closed - open), Simpson's rule over beta (h = 0.125; h = 0.25 in "
           "brackets):\n");
    static const struct {
        int j;
        const char *name;
    } ends[2] = {{0, "f(kT 2) - f(kT 1)  "}, {N_BETA - 1, "f(kT 0.5) - f(kT 1)"}};
    for (int e = 0; e < 2; e++)
        for (int sw = 0; sw < 2; sw++) {
            double v, se, v2, se2;
            simpson(s, sw, j1, ends[e].j, 1, &v, &se);
            simpson(s, sw, j1, ends[e].j, 2, &v2, &se2);
            printf("  %s %s: %7.3f +- %.3f  (%7.3f)\n", ends[e].name,
                   sw ? "heating" : "cooling", v, se, v2);
        }
    return 0;
}
