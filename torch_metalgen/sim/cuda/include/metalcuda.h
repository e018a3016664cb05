// The Metal standard library for the CUDA back end (torch_metalgen/sim/cuda): what
// <metal_stdlib> and friends resolve to when the translated source is compiled by NVRTC.
// docs/cuda.md describes the mapping and its limits.
#pragma once

#include "base.h"
#include "scalar.h"
#include "vector.h"
#include "math.h"
#include "simd.h"
#include "atomic.h"
#include "matrix.h"
#include "kernel.h"

#ifndef __METAL_VERSION__
#define __METAL_VERSION__ 310
#endif
// Apple's headers spell an always-inlined helper this way (MLX uses it).
#ifndef METAL_FUNC
#define METAL_FUNC __forceinline__
#endif
// Metal has no double; unsuffixed literals are made float by the source rewrite. Defined last
// so that no header above sees it.
#define double metal_has_no_double_use_float
