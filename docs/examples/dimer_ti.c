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
 * Each state runs replica exchange on a grid of 13 inverse temperatures
 * from beta 0.5 (kT 2) to beta 2 (kT 0.5), step 0.125: every chain has a
 * copy at each temperature; a round is ROUND Metropolis steps of every
 * copy, then an attempt to swap the configurations of neighbouring
 * temperatures (the pairs (0,1), (2,3), ... in even rounds, (1,2), ... in
 * odd ones), accepted with probability
 *     min(1, exp((beta_j - beta_j+1) (U_j - U_j+1))),
 * which keeps every temperature's ensemble exact and lets the cold copies
 * borrow the hot ones' mobility.  The rounds of the first EQUIL steps are
 * dropped and the mean energy is taken over the next STEPS steps.  Chain c
 * swaps only with chain c of the neighbouring temperatures, so the chains
 * stay independent of each other and the standard error is that of the
 * chains' own means (no model of the correlations along a chain).
 * Simpson's rule integrates over beta, once with the step h = 0.125 and
 * once with 2h: a difference well beyond the noise of the points the
 * coarser rule drops would show the rule's own error.  The same integral
 * over the first and over the second half of the kept rounds shows what
 * is left of the start.
 *
 * It prints f(kT 2) - f(kT 1) and f(kT 0.5) - f(kT 1); bg-dimer's umbrella
 * values at the three temperatures must differ by the same amounts within
 * their standard errors.  The closed and the open state run in two
 * threads; every number is the same for a given seed.
 *
 *   dimer_ti [CHAINS [EQUIL [STEPS]]]     (defaults 32 60000 140000)
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
#define ROUND 1000 /* Metropolis steps of every copy between two swap attempts */
#define STRIDE 100 /* energies averaged every STRIDE steps                  */
#define D_LO 0.5   /* bg-dimer's states: closed D_LO <= d < POT_DIMER_D_SPLIT, */
#define D_HI 2.5   /* open POT_DIMER_D_SPLIT <= d <= D_HI                     */

typedef struct state_run {
    int open; /* 0 closed, 1 open */
    const pot_potential *pot;
    int n_chains;
    long n_discard, n_keep;              /* rounds                              */
    double mean[N_BETA], se[N_BETA];     /* <U> over the kept rounds            */
    double half[2][N_BETA];              /* over their first and second half    */
    double swap_acc[N_BETA - 1];         /* swaps taken between j and j + 1     */
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
 * spacing 1.2 (the first rounds remove the overlaps with the dimer). */
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

/* Swap attempts between temperatures j and j + 1 for every chain; x holds
 * the configurations [temperature][chain][dim], u their energies. */
static long swap_pair(int j, int nc, int dim, ad_real *x, ad_real *u, ad_real *tmp, ad_rng *rng)
{
    long taken = 0;
    for (int c = 0; c < nc; c++) {
        ad_real *a = x + ((size_t)j * nc + c) * dim, *b = a + (size_t)nc * dim;
        double log_acc = -BETA_STEP * ((double)u[j * nc + c] - u[(j + 1) * nc + c]);
        if (log_acc >= 0 || log(ad_rng_uniform(rng)) < log_acc) {
            memcpy(tmp, a, (size_t)dim * sizeof *tmp);
            memcpy(a, b, (size_t)dim * sizeof *tmp);
            memcpy(b, tmp, (size_t)dim * sizeof *tmp);
            ad_real t = u[j * nc + c];
            u[j * nc + c] = u[(j + 1) * nc + c];
            u[(j + 1) * nc + c] = t;
            taken++;
        }
    }
    return taken;
}

/* Replica exchange in one state. */
static void *run_state(void *arg)
{
    state_run *s = arg;
    const int dim = s->pot->dim, nc = s->n_chains;
    const size_t nt = (size_t)N_BETA * nc;
    const long n_rounds = s->n_discard + s->n_keep;
    const pot_dimer_params *p = s->pot->params;
    smp_mc_config mc = smp_mc_config_default(dim, 1);
    mc.n_chains = nc;
    mc.n_steps = ROUND;
    mc.stride = STRIDE;
    const long n_frames = smp_mc_n_frames(&mc);
    wall_ctx w = {{s->pot, ad_tape_new(0)}, s->open};
    ad_real *x = malloc(nt * dim * sizeof *x), *tmp = malloc((size_t)dim * sizeof *tmp);
    ad_real *frames = malloc((size_t)n_frames * nc * dim * sizeof *frames);
    ad_real *u = malloc((size_t)n_frames * nc * sizeof *u), *u_now = malloc(nt * sizeof *u_now);
    double *sum = calloc(3 * nt, sizeof *sum); /* all kept rounds, first half, second half */
    long tried[N_BETA - 1] = {0}, taken[N_BETA - 1] = {0};
    s->status = w.pc.scratch && x && tmp && frames && u && u_now && sum ? AD_OK : AD_ERR_NOMEM;
    if (s->status != AD_OK) snprintf(s->msg, sizeof s->msg, "out of memory");
    for (size_t i = 0; s->status == AD_OK && i < nt; i++)
        start_frame(x + i * dim, p->n_solvent, s->open ? 2.05 : 0.93);
    ad_rng rng;
    ad_rng_seed(&rng, 2026, (uint64_t)s->open);
    for (long r = 0; s->status == AD_OK && r < n_rounds; r++) {
        const long kept = r - s->n_discard;
        const int h = kept < s->n_keep / 2 ? 1 : 2;
        for (int j = 0; j < N_BETA; j++) {
            ad_real *xj = x + (size_t)j * nc * dim;
            mc.kT = 1 / (BETA_LO + BETA_STEP * j);
            mc.sigma = 0.02 * sqrt(mc.kT); /* bg-dimer's proposal */
            mc.seed = ad_rng_derive_seed(2026, (uint64_t)((s->open * n_rounds + r) * N_BETA + j));
            s->status =
                smp_mc_run(&mc, wall_energy, &w, xj, frames, u, NULL, s->msg, sizeof s->msg);
            if (s->status != AD_OK) break;
            memcpy(xj, frames + (size_t)(n_frames - 1) * nc * dim, (size_t)nc * dim * sizeof *x);
            for (int c = 0; c < nc; c++) {
                u_now[j * nc + c] = u[(n_frames - 1) * nc + c];
                if (kept < 0) continue;
                double m = 0;
                for (long f = 0; f < n_frames; f++) m += u[f * nc + c];
                m /= (double)n_frames;
                sum[j * nc + c] += m;
                sum[h * nt + j * nc + c] += m;
            }
        }
        for (int j = (int)(r % 2); s->status == AD_OK && j + 1 < N_BETA; j += 2) {
            taken[j] += swap_pair(j, nc, dim, x, u_now, tmp, &rng);
            tried[j] += nc;
        }
        if (r % 20 == 19)
            fprintf(stderr, "dimer_ti: %s state, round %ld of %ld\n", s->open ? "open" : "closed",
                    r + 1, n_rounds);
    }
    const long n_half[2] = {s->n_keep / 2, s->n_keep - s->n_keep / 2};
    for (int j = 0; s->status == AD_OK && j < N_BETA; j++) {
        double a = 0, a2 = 0, q[2] = {0, 0};
        for (int c = 0; c < nc; c++) {
            double m = sum[j * nc + c] / (double)s->n_keep;
            a += m;
            a2 += m * m;
            for (int k = 0; k < 2; k++) q[k] += sum[(k + 1) * nt + j * nc + c] / (double)n_half[k];
        }
        s->mean[j] = a / nc;
        s->se[j] = sqrt(fmax(a2 / nc - s->mean[j] * s->mean[j], 0) / (nc - 1));
        for (int k = 0; k < 2; k++) s->half[k][j] = q[k] / nc;
        if (j + 1 < N_BETA) s->swap_acc[j] = (double)taken[j] / (double)tried[j];
    }
    ad_tape_free(w.pc.scratch);
    free(x);
    free(tmp);
    free(frames);
    free(u);
    free(u_now);
    free(sum);
    return NULL;
}

/* The closed - open energy difference at grid point j over all kept rounds
 * (part 0) or over their first or second half (parts 1, 2). */
static double du_at(const state_run *s, int part, int j)
{
    return part ? s[0].half[part - 1][j] - s[1].half[part - 1][j] : s[0].mean[j] - s[1].mean[j];
}

/* Simpson's rule for the integral of dU over the grid points lo .. hi
 * (an even number of steps of h), every `skip`-th point: value and SE. */
static void simpson(const state_run *s, int part, int lo, int hi, int skip, double *val,
                    double *se)
{
    int dir = hi > lo ? 1 : -1, n = dir * (hi - lo) / skip;
    double h = BETA_STEP * skip * dir, v = 0, var = 0;
    for (int i = 0; i <= n; i++) {
        int j = lo + dir * i * skip;
        double wt = (i == 0 || i == n ? 1 : i % 2 ? 4 : 2) * h / 3;
        v += wt * du_at(s, part, j);
        var += wt * wt * (s[0].se[j] * s[0].se[j] + s[1].se[j] * s[1].se[j]);
    }
    *val = v;
    *se = sqrt(var);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: dimer_ti [CHAINS [EQUIL [STEPS]]]\n");
}

int main(int argc, char **argv)
{
    long arg[3] = {32, 60000, 140000};
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        printf("\nThermodynamic integration over temperature of the dimer's dF(closed - open) / "
               "kT\nfrom kT 1 to kT 2 and to kT 0.5, by replica exchange over 13 temperatures in "
               "each\nstate: CHAINS chains per state (default 32, at least 2), the first EQUIL "
               "steps at\nevery temperature dropped (60000), STEPS steps averaged (140000, at "
               "least %d);\nboth in rounds of %d steps between swap attempts.\n",
               2 * ROUND, ROUND);
        return 0;
    }
    if (argc > 4) {
        usage(stderr);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        char *end;
        arg[i - 1] = strtol(argv[i], &end, 10);
        if (*end || arg[i - 1] < (i == 1 ? 2 : i == 2 ? 0 : 2 * ROUND) ||
            arg[i - 1] > 100000000) {
            usage(stderr);
            fprintf(stderr, "(CHAINS >= 2, EQUIL >= 0, STEPS >= %d)\n", 2 * ROUND);
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
                           .n_discard = arg[1] / ROUND, .n_keep = arg[2] / ROUND};
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
           "<= %g;\nreplica exchange, %d chains per state, %ld + %ld steps per temperature "
           "in rounds of %d\n\n",
           D_LO, POT_DIMER_D_SPLIT, POT_DIMER_D_SPLIT, D_HI, s[0].n_chains,
           s[0].n_discard * ROUND, s[0].n_keep * ROUND, ROUND);
    printf("  beta     kT | <U>closed        | <U>open          | dU = closed - open | swaps "
           "to next beta\n");
    for (int j = 0; j < N_BETA; j++) {
        printf("%6.3f %6.3f | %7.3f +- %.3f | %7.3f +- %.3f | %7.3f +- %.3f   ",
               BETA_LO + BETA_STEP * j, 1 / (BETA_LO + BETA_STEP * j), s[0].mean[j], s[0].se[j],
               s[1].mean[j], s[1].se[j], du_at(s, 0, j), hypot(s[0].se[j], s[1].se[j]));
        if (j + 1 < N_BETA) printf("| %.2f / %.2f", s[0].swap_acc[j], s[1].swap_acc[j]);
        printf("\n");
    }
    const int j1 = 4; /* beta 1 */
    printf("\nf = beta dF(closed - open), Simpson's rule over beta (h = 0.125; h = 0.25, and "
           "the\nfirst and second half of the kept rounds, in brackets):\n");
    static const struct {
        int j;
        const char *name;
    } ends[2] = {{0, "f(kT 2) - f(kT 1)  "}, {N_BETA - 1, "f(kT 0.5) - f(kT 1)"}};
    for (int e = 0; e < 2; e++) {
        double v, se, v2, h1, h2, unused;
        simpson(s, 0, j1, ends[e].j, 1, &v, &se);
        simpson(s, 0, j1, ends[e].j, 2, &v2, &unused);
        simpson(s, 1, j1, ends[e].j, 1, &h1, &unused);
        simpson(s, 2, j1, ends[e].j, 1, &h2, &unused);
        printf("  %s %7.3f +- %.3f  (2h %7.3f; halves %7.3f %7.3f)\n", ends[e].name, v, se, v2,
               h1, h2);
    }
    return 0;
}
