/* ad_gemm.c - the blocked matrix product: loops over cache blocks, packing,
 * thread split and run-time choice of micro-kernel (ad_gemm_kernel.c).
 *
 * Fast path.  Speeds up: ad_matmul and the fused dense layers' products.
 * Must agree with: ad_gemm_reference (to rounding), and with itself bit for
 * bit whatever the thread count.
 *
 * The loop nest is that of optimised BLAS (Goto's algorithm), for the part
 * of C one task owns (a range of rows or of columns):
 *
 *   for jc over columns, NC at a time
 *     for pc over k, KC at a time            (the only split of the sum)
 *       pack op(B)[pc:+KC, jc:+NC] into NR-wide slivers   (a block in L2)
 *       for ic over rows, MC at a time
 *         for each MR sliver of A (stays in L1):
 *           for each NR sliver of B: micro-kernel: the MR x NR tile of C
 *           last block of k: the epilogue, if any, on the MR x NC strip
 *
 * The A sliver is the one kept in L1 because it is the small one (MR x KC,
 * 8 x 256 doubles = 16 KiB), while the NR-wide B slivers (24 or 40 x 256)
 * stream from the L2-sized B block (KC x NC = 256 x 480 doubles, 960 KiB).
 *
 * A is not packed: a transposed A (stored [k x m]) holds each step's MR
 * values side by side in one of its rows, which the kernels read in place,
 * lda apart, as they would read a packed sliver MR apart; an A that is not
 * transposed is read by the "rows" kernels, which broadcast from its MR
 * rows in place (packing it would be a transpose).  Only a bottom sliver of
 * fewer than MR rows is packed (padded with zeros).  B is packed: read in
 * place, its rows ldb apart cost the kernels more than the copy (a
 * 1024-wide B, 4 KiB per row, ran 10 % slower).  The last column sliver,
 * when narrower than NR, is packed only as wide as the whole vectors that
 * cover it and gets the kernel of that width, which writes its rows and columns of C in place; no
 * multiply-adds go to more than VL - 1 padding columns.
 *
 * Every element of C is computed by the same sequence of operations: its
 * multiply-adds in order of k, then for the first KC block
 * alpha*acc + beta*C (or alpha*acc when beta == 0), for every later block
 * alpha*acc + C.  Which tile, or which thread, computes it changes nothing.
 */
#include "ad_gemm.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "ad_gemm_impl.h"
#include "ad_pool.h"
#include "ad_state.h"

typedef struct {
    const char *name;
    int kc, mc, nc;               /* cache blocks (mc % mr == 0, nc % nr == 0) */
    const ad_gemm_kernels *k;     /* tiles, micro-kernels and packing          */
} gemm_variant;

/* The packed-B layout (gemm_block, ad_gemm_pack_b) needs NC to be a whole
 * number of NR slivers, and the row loops MC of MR rows: checked here for
 * every variant, including tuning overrides of the blocks (-D). */
#define GEMM_NC_(kc, mc, nc) (nc)
#define GEMM_MC_(kc, mc, nc) (mc)
#define GEMM_NC(blocks) GEMM_NC_(blocks)
#define GEMM_MC(blocks) GEMM_MC_(blocks)
_Static_assert(GEMM_NC(AD_GEMM_PORTABLE_BLOCKS) % AD_GEMM_PORTABLE_NR == 0 &&
                   GEMM_MC(AD_GEMM_PORTABLE_BLOCKS) % AD_GEMM_PORTABLE_MR == 0,
               "portable blocks: NC must be a multiple of NR, MC of MR");
#if AD_FAST_X86
_Static_assert(GEMM_NC(AD_GEMM_AVX2_BLOCKS) % AD_GEMM_AVX2_NR == 0 &&
                   GEMM_MC(AD_GEMM_AVX2_BLOCKS) % AD_GEMM_AVX2_MR == 0,
               "avx2 blocks: NC must be a multiple of NR, MC of MR");
_Static_assert(GEMM_NC(AD_GEMM_AVX512_BLOCKS) % AD_GEMM_AVX512_NR == 0 &&
                   GEMM_MC(AD_GEMM_AVX512_BLOCKS) % AD_GEMM_AVX512_MR == 0,
               "avx512 blocks: NC must be a multiple of NR, MC of MR");
_Static_assert(GEMM_NC(AD_GEMM_AVX512W_BLOCKS) % AD_GEMM_AVX512W_NR == 0 &&
                   GEMM_MC(AD_GEMM_AVX512W_BLOCKS) % AD_GEMM_AVX512W_MR == 0,
               "avx512w blocks: NC must be a multiple of NR, MC of MR");
#endif

static const gemm_variant variants[AD_GEMM_N_VARIANTS] = {
    [AD_GEMM_PORTABLE] = {"portable", AD_GEMM_PORTABLE_BLOCKS, &ad_gemm_kernels_portable},
#if AD_FAST_X86
    [AD_GEMM_AVX2] = {"avx2", AD_GEMM_AVX2_BLOCKS, &ad_gemm_kernels_avx2},
    [AD_GEMM_AVX512] = {"avx512", AD_GEMM_AVX512_BLOCKS, &ad_gemm_kernels_avx512},
    [AD_GEMM_AVX512W] = {"avx512w", AD_GEMM_AVX512W_BLOCKS, &ad_gemm_kernels_avx512w},
#endif
};

/* Products with fewer multiply-adds than this run on one thread: waking the
 * workers would cost more than it saves. */
#define PARALLEL_MIN_MADDS (1 << 20)
/* ad_gemm_pack_b splits a B of at least this many elements over threads. */
#define PARALLEL_MIN_PACK (1 << 14)

/* ---- run-time choice ---------------------------------------------------- */

static pthread_once_t detect_once = PTHREAD_ONCE_INIT;
static int cpu_has[AD_GEMM_N_VARIANTS];
static ad_gemm_variant_id best_variant = AD_GEMM_PORTABLE;

static void detect(void)
{
    cpu_has[AD_GEMM_PORTABLE] = 1;
#if AD_FAST_X86
    const ad_cpu_features *f = ad_cpu_features_get();
    cpu_has[AD_GEMM_AVX2] = f->fma && f->avx2;
    cpu_has[AD_GEMM_AVX512] = f->fma && f->avx512f;
    cpu_has[AD_GEMM_AVX512W] = cpu_has[AD_GEMM_AVX512];
#endif
    for (int v = AD_GEMM_PORTABLE; v <= AD_GEMM_AVX512; v++)
        if (cpu_has[v]) best_variant = (ad_gemm_variant_id)v;
}

int ad_gemm_variant_supported(ad_gemm_variant_id variant)
{
    pthread_once(&detect_once, detect);
    if (variant == AD_GEMM_AUTO) return 1;
    return variant > AD_GEMM_AUTO && variant < AD_GEMM_N_VARIANTS && cpu_has[variant];
}

/* With AVX-512, 5 x 40 tiles only where they divide n and 8 x 24 ones do not
 * (n = 200): elsewhere 8 x 24 with its narrower edge tile measured as fast
 * or faster (n = 100 the same; n = 38, where a 40-wide B sliver no longer
 * fits in L1, up to 1.3x faster). */
ad_gemm_variant_id ad_gemm_variant_auto(int n)
{
    pthread_once(&detect_once, detect);
    if (best_variant == AD_GEMM_AVX512 && n % AD_GEMM_AVX512W_NR == 0 &&
        n % AD_GEMM_AVX512_NR != 0)
        return AD_GEMM_AVX512W;
    return best_variant;
}

const char *ad_gemm_variant_name(ad_gemm_variant_id variant)
{
    if (variant == AD_GEMM_AUTO) return "auto";
    if (variant > AD_GEMM_AUTO && variant < AD_GEMM_N_VARIANTS && variants[variant].name)
        return variants[variant].name;
    return "?";
}

/* ---- the reference -------------------------------------------------------- */

void ad_gemm_reference(int trans_a, int trans_b, int m, int n, int k, ad_real alpha,
                       const ad_real *a, int lda, const ad_real *b, int ldb, ad_real beta,
                       ad_real *c, int ldc)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            ad_real s = 0;
            for (int p = 0; p < k; p++) {
                ad_real av = trans_a ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                ad_real bv = trans_b ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                s += av * bv;
            }
            ad_real *cij = &c[(size_t)i * ldc + j];
            *cij = beta == 0 ? alpha * s : alpha * s + beta * *cij;
        }
}

/* ---- one task: a block of C ------------------------------------------------ */

typedef struct {
    const gemm_variant *v;
    int trans_a, trans_b, m, n, k;
    ad_real alpha, beta;
    const ad_real *a, *b;
    ad_real *c;
    size_t lda, ldb, ldc;
    int split_rows; /* tasks own row ranges (else column ranges) */
    int chunk;      /* rows or columns per task                  */
    const ad_real *b_packed; /* op(B) packed whole (ad_gemm_pack_b), or NULL */
    ad_gemm_epilogue_fn epi; /* NULL: none                       */
    void *epi_ctx;
    ad_gemm_buffers *buffers; /* the caller's or the task buffers (ad_state.h), by worker */
} gemm_job;

static int round_up(int x, int to) { return (x + to - 1) / to * to; }
static int min_int(int x, int y) { return x < y ? x : y; }

/* Columns that nc columns of B take when packed: whole NR slivers, the last
 * one rounded up to whole vectors. */
static int packed_width(const ad_gemm_kernels *kn, int nc)
{
    return nc / kn->nr * kn->nr + round_up(nc % kn->nr, kn->vl);
}

/* Where block (jc, pc) of a k-step op(B) packed whole starts: each block of
 * columns jc takes k rows of its packed width, each block of k within it
 * pc rows. */
static size_t packed_block_at(const ad_gemm_kernels *kn, int k, int jc, int pc, int nc)
{
    return (size_t)jc * k + (size_t)pc * packed_width(kn, nc);
}

/* C[r0:r1, c0:c1] of the job, with packing buffers abuf and bbuf. */
static void gemm_block(const gemm_job *job, int r0, int r1, int c0, int c1, ad_real *abuf,
                       ad_real *bbuf)
{
    const gemm_variant *v = job->v;
    const ad_gemm_kernels *kn = v->k;
    const int mr = kn->mr, nr = kn->nr, vl = kn->vl;
    const ptrdiff_t lda = (ptrdiff_t)job->lda;
    for (int jc = c0; jc < c1; jc += v->nc) {
        int nc = min_int(v->nc, c1 - jc);
        for (int pc = 0; pc < job->k; pc += v->kc) {
            int kc = min_int(v->kc, job->k - pc);
            ad_real beta = pc == 0 ? job->beta : 1;
            const ad_real *bblock = bbuf;
            if (job->b_packed)
                bblock = job->b_packed + packed_block_at(kn, job->k, jc, pc, nc);
            else
                kn->pack_b(job->trans_b, job->b, job->ldb, pc, kc, jc, nc, bbuf);
            for (int ic = r0; ic < r1; ic += v->mc) {
                int mc = min_int(v->mc, r1 - ic);
                for (int ir = 0; ir < mc; ir += mr) {
                    int rows = min_int(mr, mc - ir);
                    const ad_real *ap = abuf;
                    ptrdiff_t astep = mr;
                    const ad_gemm_kernel_fn *kern = kn->packed;
                    if (rows < mr) { /* the bottom sliver, padded with zeros */
                        kn->pack_a(job->trans_a, job->a, job->lda, ic + ir, rows, pc, kc, abuf);
                    } else if (job->trans_a) { /* each step's MR values are in a row of A */
                        ap = job->a + (size_t)pc * job->lda + ic + ir;
                        astep = lda;
                    } else { /* MR rows of A, broadcast from where they lie */
                        ap = job->a + (size_t)(ic + ir) * job->lda + pc;
                        astep = lda;
                        kern = kn->rows;
                    }
                    for (int jr = 0; jr < nc; jr += nr) {
                        int cols = min_int(nr, nc - jr);
                        const ad_real *bp = bblock + (size_t)jr * kc;
                        ptrdiff_t bstep = cols == nr ? nr : round_up(cols, vl);
                        ad_real *cp = job->c + (size_t)(ic + ir) * job->ldc + jc + jr;
                        kern[(cols + vl - 1) / vl](kc, ap, astep, bp, bstep, cp,
                                                   (ptrdiff_t)job->ldc, job->alpha, beta, rows,
                                                   cols);
                    }
                    /* The last block of k: these rows x nc are final. */
                    if (job->epi && pc + kc == job->k)
                        job->epi(job->epi_ctx, job->c, (int)job->ldc, ic + ir, rows, jc, nc);
                }
            }
        }
    }
}

static void gemm_task(void *ctx, int task, int worker)
{
    const gemm_job *job = ctx;
    int lo = task * job->chunk;
    const ad_gemm_buffers *s = &job->buffers[worker];
    if (job->split_rows)
        gemm_block(job, lo, min_int(job->m, lo + job->chunk), 0, job->n, s->a, s->b);
    else
        gemm_block(job, 0, job->m, lo, min_int(job->n, lo + job->chunk), s->a, s->b);
}

/* How a product of m x n x k on `threads` threads is split (the job's
 * split_rows and chunk), into how many tasks, and the packing buffers each
 * thread needs (elements). */
static int plan_split(const gemm_variant *v, int m, int n, int k, int threads, gemm_job *job,
                      size_t *a_need, size_t *b_need)
{
    /* Split over the longer side of C, in whole tiles (over rows when B is
     * packed already: its blocks are laid out from column 0). */
    int tiles_m = (m + v->k->mr - 1) / v->k->mr, tiles_n = (n + v->k->nr - 1) / v->k->nr;
    job->split_rows = tiles_m >= tiles_n || job->b_packed;
    int tiles = job->split_rows ? tiles_m : tiles_n;
    if (threads > tiles) threads = tiles;
    int per_task = (tiles + threads - 1) / threads;
    job->chunk = per_task * (job->split_rows ? v->k->mr : v->k->nr);
    int cols = job->split_rows ? n : job->chunk;
    /* A is packed one bottom sliver at a time (gemm_block) */
    *a_need = (size_t)v->k->mr * min_int(v->kc, k);
    *b_need = (size_t)round_up(min_int(v->nc, cols), v->k->nr) * min_int(v->kc, k);
    return ((job->split_rows ? m : n) + job->chunk - 1) / job->chunk;
}

static void gemm_run(const gemm_variant *v, int trans_a, int trans_b, int m, int n, int k,
                     ad_real alpha, const ad_real *a, int lda, const ad_real *b, int ldb,
                     const ad_real *b_packed, ad_real beta, ad_real *c, int ldc,
                     ad_gemm_epilogue_fn epi, void *epi_ctx)
{
    if (m <= 0 || n <= 0) return;
    if (k <= 0) { /* an empty sum: C = beta C */
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                ad_real *cij = &c[(size_t)i * ldc + j];
                *cij = beta == 0 ? 0 : beta * *cij;
            }
        if (epi) epi(epi_ctx, c, ldc, 0, m, 0, n);
        return;
    }
    ad_gemm_state *st = ad_gemm_state_get();
    gemm_job job = {v,   trans_a, trans_b, m,        n,   k,       alpha,     beta,
                    a,   b,       c,       (size_t)lda, (size_t)ldb, (size_t)ldc, 1, 0,
                    b_packed, epi, epi_ctx, st->caller};
    /* Inside a task of ad_parallel_for: this thread alone, with its own
     * buffers. */
    const int worker = ad_pool_worker();
    int threads = ad_threads_get();
    if ((double)m * n * k < PARALLEL_MIN_MADDS || worker >= 0) threads = 1;
    size_t a_need, b_need;
    int n_tasks = plan_split(v, m, n, k, threads, &job, &a_need, &b_need);
    if (threads > n_tasks) threads = n_tasks;

    /* Inside a task: the worker's own task buffers, without the lock (see
     * ad_state.h); otherwise the caller's buffers, taking turns. */
    if (worker >= 0) job.buffers = st->task;
    else ad_gemm_state_lock();
    int w0 = worker >= 0 ? worker : 0, w1 = worker >= 0 ? worker + 1 : threads;
    if (ad_gemm_buffers_grow(job.buffers, w0, w1, a_need, b_need)) {
        ad_parallel_for(n_tasks, gemm_task, &job); /* inline inside a task */
    } else { /* out of memory: still compute the product */
        ad_gemm_reference(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        if (epi) epi(epi_ctx, c, ldc, 0, m, 0, n);
    }
    if (worker < 0) ad_gemm_state_unlock();
}

typedef struct {
    size_t a_need, b_need;
    atomic_int failed; /* set by a thread that could not grow its buffers */
} reserve_job;

static void reserve_own_buffers(void *ctx, int task, int worker)
{
    (void)task;
    reserve_job *r = ctx;
    if (!ad_gemm_buffers_grow(ad_gemm_state_get()->task, worker, worker + 1, r->a_need, r->b_need))
        atomic_store(&r->failed, 1);
}

int ad_gemm_reserve_tasks(int m, int n, int k)
{
    if (ad_pool_worker() >= 0) return 1; /* a task grows its own buffers as it goes */
    int threads = ad_threads_get();
    if (threads <= 1 || m <= 0 || n <= 0 || k <= 0) return 1; /* serial: no task buffers */
    gemm_job plan = {0};
    reserve_job r = {0, 0, 0};
    plan_split(&variants[ad_gemm_variant_auto(n)], m, n, k, 1, &plan, &r.a_need, &r.b_need);
    ad_gemm_state *st = ad_gemm_state_get();
    ad_gemm_state_lock();
    if (threads > st->task_threads || r.a_need > st->task_a || r.b_need > st->task_b) {
        /* Grow to the largest need seen, so that alternating shapes settle. */
        if (st->task_a > r.a_need) r.a_need = st->task_a;
        if (st->task_b > r.b_need) r.b_need = st->task_b;
        ad_parallel_each(reserve_own_buffers, &r);
        if (!atomic_load(&r.failed)) {
            st->task_threads = threads;
            st->task_a = r.a_need;
            st->task_b = r.b_need;
        }
    }
    ad_gemm_state_unlock();
    return !atomic_load(&r.failed);
}

int ad_gemm_variant(ad_gemm_variant_id variant, int trans_a, int trans_b, int m, int n, int k,
                    ad_real alpha, const ad_real *a, int lda, const ad_real *b, int ldb,
                    ad_real beta, ad_real *c, int ldc)
{
    if (!ad_gemm_variant_supported(variant)) return AD_ERR_ARG;
    if (variant == AD_GEMM_AUTO) variant = ad_gemm_variant_auto(n);
    gemm_run(&variants[variant], trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, NULL, beta, c,
             ldc, NULL, NULL);
    return AD_OK;
}

void ad_gemm(int trans_a, int trans_b, int m, int n, int k, ad_real alpha,
             const ad_real *a, int lda, const ad_real *b, int ldb, ad_real beta,
             ad_real *c, int ldc)
{
    gemm_run(&variants[ad_gemm_variant_auto(n)], trans_a, trans_b, m, n, k, alpha, a, lda, b,
             ldb, NULL, beta, c, ldc, NULL, NULL);
}

void ad_gemm_epilogue(int trans_a, int trans_b, int m, int n, int k, ad_real alpha,
                      const ad_real *a, int lda, const ad_real *b, int ldb, ad_real beta,
                      ad_real *c, int ldc, ad_gemm_epilogue_fn epi, void *epi_ctx)
{
    gemm_run(&variants[ad_gemm_variant_auto(n)], trans_a, trans_b, m, n, k, alpha, a, lda, b,
             ldb, NULL, beta, c, ldc, epi, epi_ctx);
}

/* ---- op(B) packed once for many products ----------------------------------- */

size_t ad_gemm_packed_b_size(int k, int n)
{
    if (k <= 0 || n <= 0) return 0;
    const gemm_variant *v = &variants[ad_gemm_variant_auto(n)];
    int last = n % v->nc ? n % v->nc : v->nc; /* columns of the last block of jc */
    return (size_t)k * ((size_t)(n - last) + (size_t)packed_width(v->k, last));
}

typedef struct {
    const gemm_variant *v;
    int trans_b, k, n, ldb;
    const ad_real *b;
    ad_real *dst;
} pack_b_job;

/* One NR-wide sliver of op(B) (task t: columns t NR ...), every block of k:
 * where gemm_block reads it, jr * kc into the (jc, pc) block. */
static void pack_b_sliver(void *ctx, int task, int worker)
{
    (void)worker;
    const pack_b_job *j = ctx;
    const gemm_variant *v = j->v;
    const int col = task * v->k->nr, jc = col / v->nc * v->nc, jr = col - jc;
    const int nc = min_int(v->nc, j->n - jc), cols = min_int(v->k->nr, j->n - col);
    for (int pc = 0; pc < j->k; pc += v->kc) {
        int kc = min_int(v->kc, j->k - pc);
        v->k->pack_b(j->trans_b, j->b, (size_t)j->ldb, pc, kc, col, cols,
                     j->dst + packed_block_at(v->k, j->k, jc, pc, nc) + (size_t)jr * kc);
    }
}

void ad_gemm_pack_b(int trans_b, int k, int n, const ad_real *b, int ldb, ad_real *dst,
                    ad_gemm_packed_b *out)
{
    const gemm_variant *v = &variants[ad_gemm_variant_auto(n)];
    pack_b_job job = {v, trans_b, k, n, ldb, b, dst};
    int slivers = (n + v->k->nr - 1) / v->k->nr;
    /* the slivers are independent copies; split when there is enough */
    if ((size_t)k * n >= PARALLEL_MIN_PACK) ad_parallel_for(slivers, pack_b_sliver, &job);
    else
        for (int t = 0; t < slivers; t++) pack_b_sliver(&job, t, 0);
    *out = (ad_gemm_packed_b){dst, b, ldb, trans_b, k, n};
}

void ad_gemm_epilogue_packed(int trans_a, int m, ad_real alpha, const ad_real *a, int lda,
                             const ad_gemm_packed_b *b, ad_real beta, ad_real *c, int ldc,
                             ad_gemm_epilogue_fn epi, void *epi_ctx)
{
    gemm_run(&variants[ad_gemm_variant_auto(b->n)], trans_a, b->trans_b, m, b->n, b->k, alpha, a,
             lda, b->b, b->ldb, b->data, beta, c, ldc, epi, epi_ctx);
}
