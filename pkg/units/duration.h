#pragma once
// Moved to pkg/contract/duration.h (the contract owns the duration rule); kept so existing
// includes keep building.

#include "pkg/contract/duration.h"

namespace pipewright::units {
using contract::kDurationRule;
using contract::kMaxDurationDigits;
using contract::kMaxDurationLength;
using contract::parse_duration;
}  // namespace pipewright::units
