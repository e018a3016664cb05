// Stand-in for Apple's Metal Performance Primitives (MSL 4.0; torch_metalgen simulator):
// see metalsim/mpp.h for what it provides.
#pragma once
#include "../metalsim/mpp.h"
