// Our instantiation of MLX's softmax kernels (MLX instantiates them at run time, as its
// own softmax.metal does): the headers are MLX's, unmodified, from the mlx-metal wheel.
#include <metal_stdlib>
using namespace metal;

#include "mlx/backend/metal/kernels/utils.h"
#define SOFTMAX_N_READS 4
#define SOFTMAX_LOOPED_LIMIT 4096
#include "mlx/backend/metal/kernels/softmax.h"

#define instantiate_softmax(name, itype)                                                \
  template [[host_name("block_softmax_" #name)]] [[kernel]]                             \
  decltype(softmax_single_row<itype>) softmax_single_row<itype>;                       \
  template [[host_name("looped_softmax_" #name)]] [[kernel]]                            \
  decltype(softmax_looped<itype>) softmax_looped<itype>;

instantiate_softmax(float32, float)
instantiate_softmax(float16, half)
