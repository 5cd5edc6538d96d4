/* nn.h - neural-network building blocks on the autodiff engine: parameter
 * blocks, dense layers and activations, MLPs, optimizers, checkpoints.
 * This umbrella header only includes the others.
 */
#ifndef LIBBG_NN_NN_H
#define LIBBG_NN_NN_H

#include "nn_checkpoint.h"
#include "nn_dense.h"
#include "nn_mlp.h"
#include "nn_optim.h"
#include "nn_params.h"

#endif
