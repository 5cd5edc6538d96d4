/* ad_alloc.h - every allocation of the library goes through these functions.
 *
 * A test build can install a failing allocator (ad_alloc_fail_after) so that
 * out-of-memory paths are exercised rather than hoped for.  The returned
 * memory is owned by the caller and released with ad_free.
 */
#ifndef LIBBG_AUTODIFF_AD_ALLOC_H
#define LIBBG_AUTODIFF_AD_ALLOC_H

#include <stddef.h>

void *ad_malloc(size_t bytes);
void *ad_calloc(size_t count, size_t bytes);
void *ad_realloc(void *p, size_t bytes);
/* Memory aligned to `alignment` (a power of two, at least sizeof(void *)). */
void *ad_malloc_aligned(size_t bytes, size_t alignment);
void ad_free(void *p);
void ad_free_aligned(void *p);

/* Fault injection for tests: after `n` more successful allocations every
 * allocation fails (returns NULL).  n < 0 switches injection off.  The state is
 * process-wide, so only single-threaded tests use it. */
void ad_alloc_fail_after(long n);
/* Number of allocations made since the process started (successful ones). */
long ad_alloc_count(void);

#endif
