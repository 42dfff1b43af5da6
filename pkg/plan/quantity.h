#pragma once
// Moved to pkg/contract/quantity.h (the contract owns the quantity rules).

#include "pkg/contract/quantity.h"

namespace pipewright::plan {
using contract::canonical_quantity;
}  // namespace pipewright::plan
