// Our instantiation of MLX's arange.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/arange.h"

instantiate_kernel("arangefloat32", arange, float)
instantiate_kernel("arangefloat16", arange, half)
instantiate_kernel("arangebfloat16", arange, bfloat16_t)
instantiate_kernel("arangeint32", arange, int)
// clang-format on
