/* dist_check.c - the distribution layer (autodiff/ad_dist.h) under
 * `mpirun -np N`: shares, gathers, agreements, broadcasts, sums, local
 * regions, root sections, the ordered block sum, which must give the bits
 * of the serial loop for every N, and Monte Carlo with its energies spread
 * over the ranks against one rank's run.  Run by tests/mpi_test.sh for
 * N = 1, 2, 3 and 4; prints one line and exits 0 when everything holds.
 * With the argument "desync" rank 1 skips a collective: with the library's
 * default handler the calls out of step return the failure on every rank;
 * with a program's handler (print, then ad_dist_abort, as
 * apps/toolkit/app_dist.c does) the job ends with exit code 3 (1 if those
 * returns were wrong) instead of hanging. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/ad.h"
#include "autodiff/ad_dist.h"
#include "potentials/pot_double_well.h"
#include "sampling/smp_mc.h"

static int failures;

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (!(cond)) {                                                    \
            failures++;                                                   \
            fprintf(stderr, "dist-check rank %d: ", ad_dist_world_rank()); \
            fprintf(stderr, __VA_ARGS__);                                 \
            fprintf(stderr, "\n");                                        \
        }                                                                 \
    } while (0)

/* A value with a wide spread of magnitudes, so that the order of a sum
 * shows in its bits. */
static ad_real value(long block, size_t j)
{
    uint64_t h = (uint64_t)block * 0x9E3779B97F4A7C15ull + j * 0xBF58476D1CE4E5B9ull + 1;
    h ^= h >> 31;
    h *= 0x94D049BB133111EBull;
    h ^= h >> 29;
    double u = (double)(h >> 11) / 9007199254740992.0;
    return (ad_real)((u - 0.3) * pow(10.0, (double)(h % 13) - 6));
}

static void check_shares(void)
{
    int size = ad_dist_size();
    for (long n = 0; n < 40; n++) {
        long next = 0;
        for (int r = 0; r < size; r++) {
            long lo, hi;
            ad_dist_share_of(n, r, &lo, &hi);
            CHECK(lo == next && hi >= lo, "share of %ld for rank %d: [%ld, %ld)", n, r, lo, hi);
            next = hi;
        }
        CHECK(next == n, "shares of %ld end at %ld", n, next);
    }
}

static void check_gather(void)
{
    const long ns[] = {0, 1, 5, 17, 1000};
    for (size_t t = 0; t < sizeof ns / sizeof *ns; t++) {
        long n = ns[t], lo, hi;
        double *v = calloc((size_t)(n ? n : 1) * 3, sizeof *v);
        ad_dist_share(n, &lo, &hi);
        for (long i = lo; i < hi; i++)
            for (int k = 0; k < 3; k++) v[3 * i + k] = (double)i * 10 + k;
        char msg[256] = "";
        int st = ad_dist_gather(AD_OK, v, 3 * sizeof *v, n, msg, sizeof msg);
        CHECK(st == AD_OK, "gather of %ld: %s", n, msg);
        for (long i = 0; i < n; i++)
            for (int k = 0; k < 3; k++)
                CHECK(v[3 * i + k] == (double)i * 10 + k, "gather of %ld: item %ld", n, i);
        free(v);
    }
}

static void check_agree(void)
{
    int rank = ad_dist_rank(), size = ad_dist_size();
    char msg[256] = "";
    CHECK(ad_dist_agree(AD_OK, msg, sizeof msg) == AD_OK, "agree on success");
    /* the last rank and (with 3 or more) rank 1 fail: rank 1's message wins */
    int fail_here = rank == size - 1 || (size >= 3 && rank == 1);
    int code = rank == size - 1 ? AD_ERR_IO : AD_ERR_NOMEM;
    if (fail_here) snprintf(msg, sizeof msg, "failure on rank %d", rank);
    else msg[0] = '\0';
    int st = ad_dist_agree(fail_here ? code : AD_OK, msg, sizeof msg);
    int first = size >= 3 ? 1 : size - 1;
    char want[64];
    snprintf(want, sizeof want, "failure on rank %d", first);
    CHECK(st == (first == size - 1 ? AD_ERR_IO : AD_ERR_NOMEM), "agreed status %d", st);
    CHECK(strcmp(msg, want) == 0, "agreed message '%s', want '%s'", msg, want);
    /* a failed gather moves nothing */
    double v[4] = {rank, rank, rank, rank};
    st = ad_dist_gather(rank == 0 ? AD_ERR_ARG : AD_OK, v, sizeof *v, 4, msg, sizeof msg);
    CHECK(st == AD_ERR_ARG, "gather after a failure on rank 0: %d", st);
    CHECK(v[3] == rank, "a failed gather changed the data");
}

static void check_root_and_local(void)
{
    char msg[256] = "";
    int st = AD_OK, ran = 0;
    if (ad_dist_root_begin()) {
        ran = 1;
        CHECK(ad_dist_size() == 1, "size %d inside a root section", ad_dist_size());
        /* nested: rank 0 alone already */
        int inner = AD_OK;
        if (ad_dist_root_begin()) inner = AD_ERR_IO;
        inner = ad_dist_root_end(inner, msg, sizeof msg);
        CHECK(inner == AD_ERR_IO, "nested root section");
        snprintf(msg, sizeof msg, "written by rank 0");
        st = AD_ERR_FORMAT;
    }
    st = ad_dist_root_end(st, msg, sizeof msg);
    CHECK(ran == ad_dist_is_root(), "root section ran on rank %d", ad_dist_rank());
    CHECK(st == AD_ERR_FORMAT && strcmp(msg, "written by rank 0") == 0, "root status %d '%s'", st,
          msg);
    ad_dist_local_begin();
    CHECK(ad_dist_size() == 1 && ad_dist_rank() == 0, "inside a local region");
    double v[2] = {1, 2};
    CHECK(ad_dist_gather(AD_OK, v, sizeof *v, 2, msg, sizeof msg) == AD_OK, "local gather");
    ad_dist_local_end();
    CHECK(ad_dist_size() == ad_dist_world_size(), "after a local region");
}

static void check_bcast_and_sums(void)
{
    int rank = ad_dist_rank(), size = ad_dist_size();
    char msg[256] = "";
    char text[32];
    snprintf(text, sizeof text, "from rank %d", rank);
    int st = ad_dist_bcast(AD_OK, text, sizeof text, size - 1, msg, sizeof msg);
    char want[32];
    snprintf(want, sizeof want, "from rank %d", size - 1);
    CHECK(st == AD_OK && strcmp(text, want) == 0, "bcast gave '%s'", text);
    long v[2] = {rank, 1};
    st = ad_dist_sum_long(AD_OK, v, 2, msg, sizeof msg);
    CHECK(st == AD_OK && v[0] == (long)size * (size - 1) / 2 && v[1] == size, "sum_long");
}

static void check_blocks(void)
{
    const long nbs[] = {1, 2, 3, 8, 13};
    const size_t lens[] = {1, 100, 200003};
    for (size_t a = 0; a < sizeof nbs / sizeof *nbs; a++)
        for (size_t b = 0; b < sizeof lens / sizeof *lens; b++) {
            long nb = nbs[a], lo, hi;
            size_t len = lens[b];
            ad_dist_share(nb, &lo, &hi);
            ad_real *mine = malloc((size_t)(hi > lo ? hi - lo : 1) * len * sizeof *mine);
            ad_real *out = malloc(len * sizeof *out), *want = malloc(len * sizeof *want);
            for (long k = lo; k < hi; k++)
                for (size_t j = 0; j < len; j++) mine[(size_t)(k - lo) * len + j] = value(k, j);
            for (size_t j = 0; j < len; j++) {
                want[j] = value(0, j);
                for (long k = 1; k < nb; k++) want[j] += value(k, j);
            }
            char msg[256] = "";
            int st = ad_dist_sum_blocks(AD_OK, mine, nb, len, out, msg, sizeof msg);
            CHECK(st == AD_OK, "sum_blocks: %s", msg);
            CHECK(memcmp(out, want, len * sizeof *out) == 0,
                  "sum_blocks of %ld blocks of %zu differs from the serial loop", nb, len);
            /* in place where this rank holds one block (none: out only) */
            ad_real *io = malloc(len * sizeof *io);
            const ad_real *src = hi - lo > 1 ? mine : hi > lo ? io : NULL;
            if (hi - lo == 1) memcpy(io, mine, len * sizeof *io);
            st = ad_dist_sum_blocks(AD_OK, src, nb, len, io, msg, sizeof msg);
            CHECK(st == AD_OK && memcmp(io, want, len * sizeof *io) == 0,
                  "sum_blocks of %ld blocks of %zu in place: %s", nb, len, msg);
            /* more than one block in place is refused on every rank */
            if (nb > ad_dist_size()) {
                st = ad_dist_sum_blocks(AD_OK, hi - lo > 1 ? io : src, nb, len, io, msg,
                                        sizeof msg);
                CHECK(st == AD_ERR_ARG, "sum_blocks of %ld blocks in place: status %d", nb, st);
            }
            free(io);
            free(mine);
            free(out);
            free(want);
        }
}

/* Monte Carlo with enough chains to split their energies over the ranks
 * gives the frames of a run in a local region (one rank's serial loop). */
static void check_mc(void)
{
    pot_potential u = pot_double_well(NULL);
    enum { CHAINS = 96 };
    smp_mc_config c = smp_mc_config_default(2, 1.0);
    c.n_chains = CHAINS;
    c.n_steps = 200;
    c.stride = 5;
    c.seed = 7;
    ad_real x0[2 * CHAINS];
    for (int k = 0; k < CHAINS; k++) {
        x0[2 * k] = (ad_real)(k % 2 ? 1.7 : -1.8);
        x0[2 * k + 1] = (ad_real)(0.01 * k);
    }
    smp_dataset *spread = NULL, *alone = NULL;
    smp_mc_stats s1, s2;
    char msg[256] = "";
    int st = smp_mc_sample(&c, &u, x0, &spread, &s1, msg, sizeof msg);
    CHECK(st == AD_OK, "smp_mc_sample over the ranks: %s", msg);
    ad_dist_local_begin();
    int st2 = smp_mc_sample(&c, &u, x0, &alone, &s2, msg, sizeof msg);
    ad_dist_local_end();
    CHECK(st2 == AD_OK, "smp_mc_sample alone: %s", msg);
    if (spread && alone)
        CHECK(spread->n == alone->n &&
                  memcmp(spread->x, alone->x, (size_t)alone->n * 2 * sizeof(ad_real)) == 0 &&
                  s1.n_accepted == s2.n_accepted,
              "Monte Carlo over %d ranks differs from one rank's", ad_dist_size());
    smp_dataset_free(spread);
    smp_dataset_free(alone);
}

/* A program's out-of-step handler: print once, end every rank. */
static void end_job(int status, const char *msg)
{
    (void)status;
    if (ad_dist_world_rank() == 0) fprintf(stderr, "dist-check: %s\n", msg);
    ad_dist_abort(failures ? 1 : 3);
}

/* The two calls of each rank, rank 1's in the other order: both pairs are
 * out of step, and each call returns that failure. */
static void check_desync_returns(void)
{
    char msg[256] = "";
    double v[8] = {0};
    for (int call = 0; call < 2; call++) {
        int agree_first = ad_dist_world_rank() != 1;
        int st = (call == 0) == agree_first ? ad_dist_agree(AD_OK, msg, sizeof msg)
                                            : ad_dist_gather(AD_OK, v, sizeof *v, 8, msg,
                                                             sizeof msg);
        CHECK(st == AD_ERR_ARG && strstr(msg, "out of step"),
              "call %d out of step returned %d (%s)", call + 1, st, msg);
    }
}

int main(int argc, char **argv)
{
    char msg[256];
    if (ad_dist_init(&argc, &argv, msg, sizeof msg) != AD_OK) {
        fprintf(stderr, "dist-check: %s\n", msg);
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "desync") == 0) {
        check_desync_returns();
        ad_dist_on_desync(end_job);
        /* rank 1 skips the first agreement: the second one is out of step */
        if (ad_dist_world_rank() != 1) ad_dist_agree(AD_OK, msg, sizeof msg);
        double v[8] = {0};
        ad_dist_gather(AD_OK, v, sizeof *v, 8, msg, sizeof msg);
        ad_dist_agree(AD_OK, msg, sizeof msg);
        ad_dist_finalize();
        return 0; /* not reached with 2 ranks or more */
    }
    check_shares();
    check_gather();
    check_agree();
    check_root_and_local();
    check_bcast_and_sums();
    check_blocks();
    check_mc();
    long bad = failures;
    ad_dist_sum_long(AD_OK, &bad, 1, msg, sizeof msg);
    if (ad_dist_is_root())
        printf("dist-check: %s (%d ranks)\n", bad ? "FAILED" : "ok", ad_dist_size());
    ad_dist_finalize();
    return bad ? 1 : 0;
}
