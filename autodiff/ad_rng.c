/* ad_rng.c - xoshiro256** (Blackman & Vigna, 2018) seeded by splitmix64. */
#include "ad_rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t ad_rng_derive_seed(uint64_t seed, uint64_t index)
{
    uint64_t x = seed + 0x9E3779B97F4A7C15ull * index;
    return splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void ad_rng_seed(ad_rng *r, uint64_t seed, uint64_t stream)
{
    /* Mix the stream number through splitmix64 first so that neighbouring
     * (seed, stream) pairs start from unrelated states. */
    uint64_t x = seed;
    uint64_t mix = splitmix64(&x);
    x = mix ^ (stream * 0xD1B54A32D192ED03ull + 0x8CB92BA72F3D8DD7ull);
    for (int i = 0; i < 4; i++) r->state[i] = splitmix64(&x);
    if (!(r->state[0] | r->state[1] | r->state[2] | r->state[3])) r->state[0] = 1;
    r->has_spare = 0;
    r->spare = 0;
}

uint64_t ad_rng_u64(ad_rng *r)
{
    uint64_t *s = r->state;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double ad_rng_uniform(ad_rng *r) { return (double)(ad_rng_u64(r) >> 11) * 0x1.0p-53; }

double ad_rng_normal(ad_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    /* Box-Muller on (0,1] x [0,1): u1 > 0 keeps the log finite. */
    double u1 = 1.0 - ad_rng_uniform(r);
    double u2 = ad_rng_uniform(r);
    double radius = sqrt(-2.0 * log(u1));
    double angle = 6.283185307179586476925286766559 * u2;
    r->spare = radius * sin(angle);
    r->has_spare = 1;
    return radius * cos(angle);
}

uint64_t ad_rng_below(ad_rng *r, uint64_t n)
{
    if (n == 0) return 0; /* no valid answer; never divide by zero */
    /* Rejection removes the modulo bias. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do v = ad_rng_u64(r);
    while (v >= limit);
    return v % n;
}

void ad_rng_fill_uniform(ad_rng *r, ad_real *x, size_t n, ad_real lo, ad_real hi)
{
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * (ad_real)ad_rng_uniform(r);
}

void ad_rng_fill_normal(ad_rng *r, ad_real *x, size_t n, ad_real mean, ad_real std)
{
    for (size_t i = 0; i < n; i++) x[i] = mean + std * (ad_real)ad_rng_normal(r);
}

void ad_rng_permutation(ad_rng *r, int *perm, int n)
{
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)ad_rng_below(r, (uint64_t)i + 1);
        int tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
}
