/* smp_hungarian.c - the Hungarian algorithm in its O(n^3) shortest-augmenting-
 * path form (Kuhn-Munkres with row/column potentials u, v), and solvent
 * relabelling built on it. */
#include "smp_hungarian.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Rows are added one at a time; for each, Dijkstra-like growth of an
 * alternating tree over columns with reduced costs c[i][j] - u[i] - v[j] >= 0
 * finds the cheapest augmenting path, after which the potentials are updated.
 * Arrays are 1-based; column 0 is the virtual start.  p[j] is the row matched
 * to column j, way[j] the previous column on the path. */
int smp_assignment_solve(const double *cost, int n, int *assign, double *total)
{
    if (n < 0 || (n > 0 && (!cost || !assign))) return AD_ERR_ARG;
    for (size_t k = 0; k < (size_t)n * (size_t)n; k++)
        if (!isfinite(cost[k])) return AD_ERR_NUMERIC;
    if (n == 0) {
        if (total) *total = 0;
        return AD_OK;
    }
    size_t m = (size_t)n + 1;
    double *u = ad_calloc(3 * m, sizeof(double));
    int *iw = ad_calloc(3 * m, sizeof(int));
    if (!u || !iw) {
        ad_free(u);
        ad_free(iw);
        return AD_ERR_NOMEM;
    }
    double *v = u + m, *minv = v + m;
    int *p = iw, *way = p + m, *used = way + m;
    for (int i = 1; i <= n; i++) {
        p[0] = i;
        int j0 = 0;
        for (int j = 0; j <= n; j++) {
            minv[j] = INFINITY;
            used[j] = 0;
        }
        do {
            used[j0] = 1;
            int i0 = p[j0], j1 = 0;
            double delta = INFINITY;
            for (int j = 1; j <= n; j++) {
                if (used[j]) continue;
                double cur = cost[(size_t)(i0 - 1) * n + (j - 1)] - u[i0] - v[j];
                if (cur < minv[j]) {
                    minv[j] = cur;
                    way[j] = j0;
                }
                if (minv[j] < delta) {
                    delta = minv[j];
                    j1 = j;
                }
            }
            for (int j = 0; j <= n; j++) {
                if (used[j]) {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
        } while (p[j0] != 0);
        do { /* augment along the path back to the start */
            int j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
        } while (j0);
    }
    double sum = 0;
    for (int j = 1; j <= n; j++) {
        assign[p[j] - 1] = j - 1;
        sum += cost[(size_t)(p[j] - 1) * n + (j - 1)];
    }
    if (total) *total = sum;
    ad_free(u);
    ad_free(iw);
    return AD_OK;
}

int smp_relabel_solvent(ad_real *x, int n_frames, int n_particles, int first_solvent,
                        const ad_real *reference, char *msg, size_t msg_len)
{
    if (n_frames < 0 || n_particles < 1 || first_solvent < 0 || first_solvent > n_particles ||
        (n_frames > 0 && (!x || !reference))) {
        if (msg && msg_len)
            snprintf(msg, msg_len, "smp_relabel_solvent: bad arguments (n_frames %d, "
                     "n_particles %d, first_solvent %d)", n_frames, n_particles, first_solvent);
        return AD_ERR_ARG;
    }
    const int ns = n_particles - first_solvent, dim = 2 * n_particles;
    for (int k = 0; k < dim; k++)
        if (!isfinite(reference[k])) {
            if (msg && msg_len)
                snprintf(msg, msg_len, "smp_relabel_solvent: reference coordinate %d is not "
                         "finite", k);
            return AD_ERR_NUMERIC;
        }
    if (ns < 2 || n_frames == 0) return AD_OK;
    double *cost = ad_malloc((size_t)ns * ns * sizeof(double));
    int *assign = ad_malloc((size_t)ns * sizeof(int));
    ad_real *copy = ad_malloc((size_t)ns * 2 * sizeof(ad_real));
    int status = (cost && assign && copy) ? AD_OK : AD_ERR_NOMEM;
    if (status != AD_OK && msg && msg_len)
        snprintf(msg, msg_len, "smp_relabel_solvent: out of memory");
    const ad_real *ref = reference + 2 * first_solvent;
    for (int f = 0; f < n_frames && status == AD_OK; f++) {
        ad_real *sol = x + (size_t)f * dim + 2 * first_solvent;
        /* cost[i][j]: reference site i against configuration particle j */
        for (int i = 0; i < ns; i++)
            for (int j = 0; j < ns; j++) {
                double dx = (double)sol[2 * j] - ref[2 * i];
                double dy = (double)sol[2 * j + 1] - ref[2 * i + 1];
                cost[(size_t)i * ns + j] = dx * dx + dy * dy;
            }
        status = smp_assignment_solve(cost, ns, assign, NULL);
        if (status != AD_OK) {
            if (msg && msg_len)
                snprintf(msg, msg_len, "smp_relabel_solvent: frame %d: %s", f,
                         status == AD_ERR_NUMERIC ? "non-finite coordinates" : "out of memory");
            break;
        }
        memcpy(copy, sol, (size_t)ns * 2 * sizeof(ad_real));
        for (int i = 0; i < ns; i++) {
            sol[2 * i] = copy[2 * assign[i]];
            sol[2 * i + 1] = copy[2 * assign[i] + 1];
        }
    }
    ad_free(cost);
    ad_free(assign);
    ad_free(copy);
    return status;
}
