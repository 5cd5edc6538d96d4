/* ad_rng.h - seeded pseudo-random numbers (xoshiro256**, splitmix64 seeding).
 *
 * An ad_rng is a plain value owned by the caller; there is no global state.
 * (seed, stream) pairs give independent streams: the same pair always gives
 * the same numbers, on every machine and run.
 */
#ifndef LIBBG_AUTODIFF_AD_RNG_H
#define LIBBG_AUTODIFF_AD_RNG_H

#include <stddef.h>
#include <stdint.h>

#include "ad_config.h"

typedef struct ad_rng {
    uint64_t state[4];   /* xoshiro256** state, never all zero     */
    int has_spare;       /* a second normal deviate is cached      */
    double spare;        /* the cached normal deviate              */
} ad_rng;

void ad_rng_seed(ad_rng *r, uint64_t seed, uint64_t stream);
/* The seed of part `index` of a computation seeded with `seed`: output
 * index + 1 of a splitmix64 sequence started at seed.  Every derived seed of
 * the library and its programs comes from here. */
uint64_t ad_rng_derive_seed(uint64_t seed, uint64_t index);
uint64_t ad_rng_u64(ad_rng *r);
double ad_rng_uniform(ad_rng *r);           /* [0, 1), 53 random bits   */
double ad_rng_normal(ad_rng *r);            /* N(0, 1)                  */
uint64_t ad_rng_below(ad_rng *r, uint64_t n); /* uniform on {0..n-1}; 0 if n=0 */
void ad_rng_fill_uniform(ad_rng *r, ad_real *x, size_t n, ad_real lo, ad_real hi);
void ad_rng_fill_normal(ad_rng *r, ad_real *x, size_t n, ad_real mean, ad_real std);
/* A uniformly random permutation of 0..n-1 (Fisher-Yates). */
void ad_rng_permutation(ad_rng *r, int *perm, int n);

#endif
