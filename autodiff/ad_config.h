/* ad_config.h - the numeric configuration of the whole library, in one place.
 *
 * ad_real is the scalar type of every tensor (double unless AD_REAL_FLOAT is
 * defined at build time).  AD_MATH(exp) picks exp or expf accordingly,
 * AD_REAL_FMT is the printf conversion that prints an ad_real losslessly,
 * AD_REAL_EPS its machine epsilon and AD_REAL_MAX its largest finite value.
 */
#ifndef LIBBG_AUTODIFF_AD_CONFIG_H
#define LIBBG_AUTODIFF_AD_CONFIG_H

#ifdef AD_REAL_FLOAT
typedef float ad_real;
#define AD_MATH(fn) fn##f
#define AD_REAL_FMT "%.9g"
#define AD_REAL_EPS 1.1920928955078125e-07
#define AD_REAL_MAX 3.40282346638528859812e+38
#define AD_REAL_MIN 1.17549435082228750797e-38 /* the smallest normal number */
#else
typedef double ad_real;
#define AD_MATH(f) f
#define AD_REAL_FMT "%.17g"
#define AD_REAL_EPS 2.220446049250313e-16
#define AD_REAL_MAX 1.7976931348623157e+308
#define AD_REAL_MIN 2.2250738585072014e-308 /* the smallest normal number */
#endif

/* Largest number of dimensions a tensor may have. */
#define AD_MAX_DIMS 4
/* Number of tensor inputs a tape node holds itself: enough for every
 * primitive op (ad_where's mask and two operands; ad_dense's x, W and b) and
 * a custom op of four.  An op with more (ad_mlp: x and a weight and a bias
 * per layer) keeps its list in its own context (ad_tape_record_wide), so
 * that an ordinary node stays small. */
#define AD_MAX_INPUTS 4
/* Number of scalar slots a node can save for its backward pass. */
#define AD_MAX_SAVED 4

/* Status codes of functions that are not on a tape (0 is success). */
enum {
    AD_OK = 0,
    AD_ERR_SHAPE = -1,   /* incompatible or invalid shapes            */
    AD_ERR_NOMEM = -2,   /* an allocation failed                      */
    AD_ERR_ARG = -3,     /* an invalid argument (NULL, out of range)  */
    AD_ERR_IO = -4,      /* a file could not be read or written       */
    AD_ERR_FORMAT = -5,  /* a file is damaged or of the wrong kind    */
    AD_ERR_NUMERIC = -6, /* a non-finite number where one is required */
    AD_ERR_STATE = -7    /* an operation on a tape that holds an error */
};

#endif
