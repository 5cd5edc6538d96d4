/* ad_alloc.c - the allocation wrapper and its fault injector. */
#include "ad_alloc.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

/* Atomic: pool workers may allocate (their scratch) at the same time. */
static atomic_long fail_after = -1; /* allocations left before failure; <0: never */
static atomic_long n_allocations = 0;

void ad_alloc_fail_after(long n) { atomic_store(&fail_after, n); }
long ad_alloc_count(void) { return atomic_load(&n_allocations); }

/* Decide whether this allocation may proceed under fault injection. */
static int allowed(void)
{
    long left = atomic_load_explicit(&fail_after, memory_order_relaxed);
    for (;;) {
        if (left < 0) return 1;
        if (left == 0) return 0;
        if (atomic_compare_exchange_weak(&fail_after, &left, left - 1)) return 1;
    }
}

void *ad_malloc(size_t bytes)
{
    if (!allowed()) return NULL;
    void *p = malloc(bytes ? bytes : 1);
    if (p) atomic_fetch_add_explicit(&n_allocations, 1, memory_order_relaxed);
    return p;
}

void *ad_calloc(size_t count, size_t bytes)
{
    if (!allowed()) return NULL;
    void *p = calloc(count ? count : 1, bytes ? bytes : 1);
    if (p) atomic_fetch_add_explicit(&n_allocations, 1, memory_order_relaxed);
    return p;
}

void *ad_realloc(void *p, size_t bytes)
{
    if (!allowed()) return NULL;
    void *q = realloc(p, bytes ? bytes : 1);
    if (q) atomic_fetch_add_explicit(&n_allocations, 1, memory_order_relaxed);
    return q;
}

/* Aligned blocks keep the original pointer just before the aligned address,
 * so that ad_free_aligned can release them with plain free(). */
void *ad_malloc_aligned(size_t bytes, size_t alignment)
{
    if (alignment < sizeof(void *)) alignment = sizeof(void *);
    if (bytes > SIZE_MAX - alignment - sizeof(void *)) return NULL;
    void *raw = ad_malloc(bytes + alignment + sizeof(void *));
    if (!raw) return NULL;
    uintptr_t start = (uintptr_t)raw + sizeof(void *);
    uintptr_t aligned = (start + alignment - 1) & ~(uintptr_t)(alignment - 1);
    ((void **)aligned)[-1] = raw;
    return (void *)aligned;
}

void ad_free(void *p) { free(p); }

void ad_free_aligned(void *p)
{
    if (p) free(((void **)p)[-1]);
}
