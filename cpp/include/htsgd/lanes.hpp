// The SIMD lane kernels' building blocks, by concept: Philox in lanes (philox_lanes.hpp), the noise laws'
// lane transforms (law_lanes.hpp) and the 1-D step (step_lanes.hpp). The kernels built on them are
// instantiated per ISA by isa_entry (simd.hpp).
#pragma once
#include "htsgd/law_lanes.hpp"
#include "htsgd/philox_lanes.hpp"
#include "htsgd/step_lanes.hpp"
