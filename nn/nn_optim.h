/* nn_optim.h - Adam (with bias correction) and plain SGD over the
 * contiguous parameter block of an nn_params, with optional clipping of the
 * gradient's Euclidean norm.
 *
 * The optimizer owns its moment arrays; the nn_params (not owned) must
 * outlive it and must be finalized before nn_optim_new.
 */
#ifndef LIBBG_NN_NN_OPTIM_H
#define LIBBG_NN_NN_OPTIM_H

#include <stddef.h>

#include "nn_params.h"

typedef enum nn_optim_kind { NN_OPTIM_ADAM = 0, NN_OPTIM_SGD } nn_optim_kind;

/* Start from nn_optim_config_default(lr); a zero beta1, beta2 or eps also
 * selects its default.  nn_optim_new rejects an invalid field by name. */
typedef struct nn_optim_config {
    nn_optim_kind kind;  /* Adam or SGD                     default Adam     */
    double lr;           /* learning rate (finite, > 0; units of the        */
                         /* parameters per unit gradient)                   */
    double beta1;        /* Adam first-moment decay, in (0, 1); 0: 0.9      */
    double beta2;        /* Adam second-moment decay, in (0, 1); 0: 0.999   */
    double eps;          /* Adam denominator guard (finite, > 0); 0: 1e-8   */
    double clip_norm;    /* > 0: scale the gradient to at most this norm;   */
                         /* 0: no clipping (finite, >= 0)   default 0       */
} nn_optim_config;

/* Adam with learning rate lr, beta1 0.9, beta2 0.999, eps 1e-8, no clipping. */
nn_optim_config nn_optim_config_default(double lr);

typedef struct nn_optim nn_optim;

/* NULL with a message if the config is invalid (the field is named), p is
 * not finalized or memory runs out. */
nn_optim *nn_optim_new(nn_params *p, const nn_optim_config *cfg, char *msg, size_t msg_len);
void nn_optim_free(nn_optim *o); /* accepts NULL */

/* One update from the gradients now in the gradient block.
 *   Adam:  m = b1 m + (1-b1) g,  v = b2 v + (1-b2) g^2,
 *          w -= lr (m / (1-b1^k)) / (sqrt(v / (1-b2^k)) + eps)   (step k >= 1)
 *   SGD:   w -= lr g
 * With clip_norm > 0 and |g| > clip_norm, g is first scaled (in the gradient
 * block) to norm clip_norm.  `grad_norm` (may be NULL) receives |g| before
 * clipping.  A non-finite gradient changes nothing and returns
 * AD_ERR_NUMERIC. */
int nn_optim_step(nn_optim *o, double *grad_norm);

void nn_optim_set_lr(nn_optim *o, double lr);
double nn_optim_lr(const nn_optim *o);
long nn_optim_steps(const nn_optim *o);
/* Forget the moments and the step count (e.g. after loading a checkpoint). */
void nn_optim_reset(nn_optim *o);

#endif
