// The orders pipeline's workers (orders-api, fraud, audit): not built yet.

#include "pkg/workers/workers.h"

namespace pipewright::workers {

std::vector<Kind> orders_workers() { return {}; }

}  // namespace pipewright::workers
