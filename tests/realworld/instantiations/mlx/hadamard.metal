// Our instantiation of MLX's hadamard.h kernels (MLX instantiates them at run time
// from its headers); the headers are MLX's, unmodified, from the mlx-metal wheel.
// clang-format off
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#include "mlx/backend/metal/kernels/hadamard.h"

instantiate_kernel("hadamard_256_float32", hadamard_n, float, 256, 16, 8)
instantiate_kernel("hadamard_1024_float32", hadamard_n, float, 1024, 16, 8)
instantiate_kernel("hadamard_256_float16", hadamard_n, half, 256, 16, 8)
instantiate_kernel("hadamard_1024_float16", hadamard_n, half, 1024, 16, 8)
instantiate_kernel("hadamard_256_bfloat16", hadamard_n, bfloat16_t, 256, 16, 8)
instantiate_kernel("hadamard_1024_bfloat16", hadamard_n, bfloat16_t, 1024, 16, 8)
// clang-format on
