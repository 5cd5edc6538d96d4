/* fuzz_checkpoint.c - libFuzzer target for nn_checkpoint_load.
 *
 * Every input is loaded twice into a small fixed model: as it is, and with
 * its last 8 bytes replaced by the correct checksum of the rest, so that the
 * fuzzer also reaches the shape, length and value checks behind the
 * checksum.  Properties: the status is one of the documented codes, an
 * error leaves a message and the model unchanged, success gives finite
 * values equal to the file's.
 */
#include <math.h>

#include "autodiff/ad.h"
#include "nn/nn_checkpoint.h"
#include "nn/nn_params.h"
#include "tests/fuzz/fuzz_util.h"

/* The model every input is loaded into: two trainable tensors and a fixed
 * one, 11 values.  Built once. */
static nn_params *fuzz_ckpt_model(void)
{
    static nn_params *p;
    if (!p) {
        p = nn_params_new();
        if (!p) return NULL;
        nn_params_add(p, "w", 2, (int[]){2, 3}, NN_INIT_GLOROT);
        nn_params_add(p, "b", 1, (int[]){3}, NN_INIT_ZERO);
        nn_params_add_fixed(p, "mean", 1, (int[]){2}, (const ad_real[]){0.5, -0.25});
        ad_rng rng;
        ad_rng_seed(&rng, 7, 0);
        if (nn_params_finalize(p, &rng, NULL, 0) != AD_OK) {
            nn_params_free(p);
            p = NULL;
        }
    }
    return p;
}

/* Load the file at path; check the properties. */
static int fuzz_ckpt_load_once(const char *path, const uint8_t *data, size_t size, char *why,
                               size_t why_len)
{
    nn_params *p = fuzz_ckpt_model();
    if (!p) return fuzz_violation(why, why_len, "cannot build the model");
    size_t n = nn_params_size(p);
    ad_real before[16];
    memcpy(before, nn_params_values(p), n * sizeof(ad_real));
    char msg[512] = "";
    int st = nn_checkpoint_load(p, path, msg, sizeof msg);
    if (st == AD_OK) {
        /* only a file of exactly the model's size can load */
        if (size < n * sizeof(ad_real) + 8)
            return fuzz_violation(why, why_len, "a %zu-byte file loaded", size);
        const uint8_t *vals = data + size - 8 - n * sizeof(ad_real);
        if (memcmp(vals, nn_params_values(p), n * sizeof(ad_real)) != 0)
            return fuzz_violation(why, why_len, "loaded values differ from the file's");
        for (size_t i = 0; i < n; i++)
            if (!isfinite(nn_params_values(p)[i]))
                return fuzz_violation(why, why_len, "value %zu loaded is not finite", i);
        return 0;
    }
    if (st != AD_ERR_FORMAT && st != AD_ERR_SHAPE && st != AD_ERR_IO && st != AD_ERR_NOMEM)
        return fuzz_violation(why, why_len, "undocumented status %d (%s)", st, msg);
    if (!msg[0] || strncmp(msg, "nn_checkpoint_load: ", 20) != 0)
        return fuzz_violation(why, why_len, "status %d without a message: '%s'", st, msg);
    if (memcmp(before, nn_params_values(p), n * sizeof(ad_real)) != 0)
        return fuzz_violation(why, why_len, "status %d (%s) but the model changed", st, msg);
    return 0;
}

static int fuzz_checkpoint_run(const uint8_t *data, size_t size, const char *scratch, char *why,
                               size_t why_len)
{
    if (fuzz_write_file(scratch, data, size) != 0) return 0; /* no disk: nothing to test */
    if (fuzz_ckpt_load_once(scratch, data, size, why, why_len)) return 1;
    if (size < 8) return 0;
    uint8_t *fixed = malloc(size);
    if (!fixed) return 0;
    memcpy(fixed, data, size);
    uint64_t h = nn_fnv1a64(NN_FNV1A64_INIT, fixed, size - 8);
    memcpy(fixed + size - 8, &h, 8);
    int bad = fuzz_write_file(scratch, fixed, size) == 0 &&
              fuzz_ckpt_load_once(scratch, fixed, size, why, why_len);
    free(fixed);
    return bad;
}

#ifdef LIBBG_FUZZ_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[600];
    if (fuzz_checkpoint_run(data, size, fuzz_scratch("ckpt"), why, sizeof why)) {
        fprintf(stderr, "fuzz_checkpoint: %s\n", why);
        abort();
    }
    return 0;
}
#endif
